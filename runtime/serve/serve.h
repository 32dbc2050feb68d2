/* pcaprun serve: a daemon that receives alerts (Cloudflare Notifications webhooks, PagerDuty v3
 * webhooks, Prometheus Alertmanager) and hands them to the script's playbooks.
 *
 * Files of this concept (runtime/serve/, and bindings/l_daemon.c):
 *   serve_cli.c     the command line's own options, start-up and shutdown
 *   serve_http.c    libmicrohttpd in external mode on the runtime's libuv loop: requests, bodies
 *                   (bounded), answers; /healthz and /metrics
 *   serve_verify.c  each sender's proof, checked before anything else is parsed, in constant time
 *   serve_intake.c  a verified body into alerts: shape checks, dedup keys, the journal, the queue
 *   serve_metrics.c the Prometheus text exposition
 *   l_daemon.c      the Lua module pcaprun.daemon (the queue, runs, captures, secrets) under the
 *                   stdlib's pcaprun.serve (routes, guards, reload, drain) and pcaprun.alert
 *                   (normalised events, filter_v1)
 *
 * One thread: libmicrohttpd runs inside the loop (its epoll descriptor watched by a uv_poll, its
 * timeouts by a uv_timer), so a request is answered on the thread that owns Lua and the journal.
 * An accepted alert is in the journal (synchronously, on disk) before the sender hears 202; a
 * redelivery is recognised by its dedup key and runs nothing. Accepted alerts wait in a bounded
 * queue of journal ids (the alerts themselves stay in the journal): when it is full, senders get
 * 503 with Retry-After. Secrets (the webhook secrets, the bearer token) are kept here only, come
 * from the environment or the script, and are never logged, journaled, shown in metrics or
 * readable from Lua. */
#ifndef PCAPRUN_SERVE_H
#define PCAPRUN_SERVE_H
#include <stddef.h>
#include <stdint.h>
#include "rt.h"
#include "scheduler.h"

enum { RT_SRC_CLOUDFLARE, RT_SRC_PAGERDUTY, RT_SRC_ALERTMANAGER, RT_SRC_COUNT };
/* "cloudflare", "pagerduty", "alertmanager". */
const char *rt_serve_source_name(int src);
int rt_serve_source_parse(const char *name);

/* The command line of pcaprun serve, beside the runtime's own options. Negative: not given. */
typedef struct rt_serve_cli {
  const char *listen;      /* HOST:PORT (default 127.0.0.1:8080; port 0 picks one) */
  int dry_run;             /* --dry-run */
  int max_running;         /* --max-running N */
  int queue;               /* --queue N: accepted alerts not yet handed to a playbook (1000) */
  double cooldown;         /* --cooldown SECS (API time) */
  double grace;            /* --grace SECS (API time) */
  size_t max_body;         /* --max-body BYTES (1 MiB) */
} rt_serve_cli;

void rt_serve_cli_default(rt_serve_cli *c);
/* Is `name` an option of pcaprun serve: 1 with a value, 0 without, -1 not one. */
int rt_serve_option_kind(const char *name);
/* Applies option `name` (value NULL for a flag). Returns 0, or 2 after printing a usage error. */
int rt_serve_option(rt_serve_cli *c, const char *name, const char *value);
extern const char rt_serve_usage[];

/* Reasons a request is refused, for the metrics. */
enum { RT_REJ_AUTH, RT_REJ_MALFORMED, RT_REJ_TOO_LARGE, RT_REJ_OVERFLOW, RT_REJ_DRAINING, RT_REJ_JOURNAL,
       RT_REJ_COUNT };

/* A task in daemon.next(). */
typedef struct rt_serve_wait {
  rt_wait w;
  rt_list link;
} rt_serve_wait;

typedef struct rt_serve {
  rt_runtime *rt;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;
  uv_timer_t timer;
  int handles;                    /* libuv handles open (poll and timer) */
  char url[160];                  /* the base URL it listens on, e.g. http://127.0.0.1:8080 */
  rt_serve_cli cli;
  char *secret[RT_SRC_COUNT];     /* the webhook secrets and the bearer token (NULL: not set) */
  /* accepted alerts not yet handed out: a ring of journal ids */
  int64_t *queue;
  unsigned qhead, qlen, qcap;
  int reload;                     /* the journal may hold pending alerts the ring had no room for */
  rt_list waiters;                /* rt_serve_wait.link */
  int draining;                   /* SIGTERM: hooks answer 503, nothing more is handed out */
  /* counters */
  uint64_t received[RT_SRC_COUNT], deduplicated[RT_SRC_COUNT];
  uint64_t rejected[RT_SRC_COUNT][RT_REJ_COUNT];
  uint64_t running, finished, failed, skipped;
} rt_serve;

/* Starts the daemon on rt's loop: the secrets from the environment, the alerts the journal still
 * holds (queued, or running in a process now gone), the HTTP server; prints the base URL as the
 * first line of stdout. The executable then makes pcaprun.daemon (luaopen_pcaprun_daemon)
 * requirable, as it does the emulator's module. Returns 0, or 2 after printing why. */
int rt_serve_start(rt_runtime *rt, const rt_serve_cli *c, rt_serve **out);
/* Stops the HTTP server and frees the daemon (after the tasks have finished). NULL: no-op. */
void rt_serve_stop(rt_serve *s);

/* ---- serve_http.c ---- */
/* Binds `listen` and runs libmicrohttpd on the loop. Returns 0 or an error with a message. */
int rt_serve_http_start(rt_serve *s, char *err, size_t errlen);
/* Stops serving. Returns 1 when libuv still holds the daemon's handles: it is then freed when
 * they are closed (the loop runs once more at shutdown); 0 when the caller frees it. */
int rt_serve_http_stop(rt_serve *s);

/* ---- serve_verify.c ---- */
/* Constant-time equality of a secret and what a request carried (any lengths). */
int rt_serve_secret_equal(const char *given, const char *secret);
/* Does the X-PagerDuty-Signature header ("v1=<hex>[,v1=<hex>...]") carry an HMAC-SHA256 of the
 * body with secret? Any of several (a rotation) will do. */
int rt_serve_pd_signed(const char *header, const char *body, size_t len, const char *secret);
/* Is `authorization` "Bearer <token>"? */
int rt_serve_bearer(const char *authorization, const char *token);
/* The lowercase hex SHA-256 of data (65 bytes with the NUL). */
void rt_serve_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- serve_intake.c ---- */
typedef struct rt_serve_req {
  int source;                     /* RT_SRC_*, or -1: no such hook */
  const char *cf_auth;            /* cf-webhook-auth */
  const char *pd_signature;       /* X-PagerDuty-Signature */
  const char *webhook_id;         /* X-Webhook-Id */
  const char *authorization;
  const char *body;
  size_t len;
  int too_large;
} rt_serve_req;

typedef struct rt_serve_answer {
  int status;
  int retry_after;                /* seconds, 0: no header */
  char body[512];
} rt_serve_answer;

/* Is the request's proof good (before its body is read, for the senders that prove themselves in
 * a header: then the body need not be kept)? 1 yes, 0 no, -1 not known yet (a signed body). */
int rt_serve_early_auth(rt_serve *s, const rt_serve_req *q);
/* Verifies, checks and records the request's alerts, queues them, and says what to answer. */
void rt_serve_intake(rt_serve *s, const rt_serve_req *q, rt_serve_answer *a);
/* Queues alert id for a playbook (wakes a task in daemon.next()). Returns 0 or RT_ELIMITED. */
int rt_serve_enqueue(rt_serve *s, int64_t id);
/* Takes the oldest queued id; 0 when none (refilling the ring from the journal first). */
int64_t rt_serve_dequeue(rt_serve *s);
/* Fills the ring with the alerts the journal holds as pending (at start, and when it had no room). */
void rt_serve_load_pending(rt_serve *s);

/* ---- serve_metrics.c ---- */
/* The Prometheus text exposition (format 0.0.4), malloc'd; NULL on ENOMEM. */
char *rt_serve_metrics(rt_serve *s);

/* ---- l_daemon.c ---- */
int luaopen_pcaprun_daemon(lua_State *L);

#endif
