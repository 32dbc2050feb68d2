/* The PCAPs client: accounts (credentials + limiters), capture records the runtime tracks, and
 * API calls — one state machine for every operation:
 *
 *   admit (full-capture gate -> simple-capture rate -> request budget, in that fixed order)
 *   -> send -> classify the answer -> done | retry after backoff | reconcile (create) | adopt (full limit)
 *
 * Calls are C only. A task waits for one through call->w; internal calls (the poller that tracks a
 * capture's status, a preemptive stop) finish through call->on_done. A call whose task goes away
 * while its create is on the wire is detached, not aborted: the runtime still learns the capture
 * it made and tracks its slot. */
#ifndef PCAPRUN_PCAPS_H
#define PCAPRUN_PCAPS_H
#include <jansson.h>
#include "apiparse.h"
#include "http.h"
#include "limit.h"
#include "pcapcheck.h"
#include "rt.h"
#include "scheduler.h"
#include "spec.h"

typedef struct rt_account rt_account;
typedef struct rt_capture rt_capture;
typedef struct rt_call rt_call;

/* Credentials: the header lines to send, shared (refcounted) by the client that owns them, its
 * calls and the captures they made (whose pollers need them). Wiped when the last ref goes.
 * Secret: never logged, never shown to Lua. */
typedef struct rt_creds {
  int refs;
  char *auth[2];
} rt_creds;

/* Returns new credentials with one ref, or NULL on ENOMEM. */
rt_creds *rt_creds_new(const char *line1, const char *line2);
rt_creds *rt_creds_ref(rt_creds *c);
void rt_creds_unref(rt_creds *c);

struct rt_account {
  rt_list link;
  rt_runtime *rt;
  char *base_url;           /* no trailing slash */
  char account_id[33];
  char host[64];            /* for messages */
  rt_window api;            /* request budget */
  rt_window sample;         /* simple-capture creates */
  rt_gate full;             /* full captures pending or running */
  rt_list captures;         /* rt_capture.link: every capture this run has seen */
  int full_checked;         /* listed once for full captures made elsewhere */
  rt_list calls;            /* rt_call.link: calls in progress */
  /* Learned from this account's captures, API s (see capture.c): how long after the nominal end
   * (submitted + time_limit) a capture reaches its first milestone (simple: done; full: leaves
   * running), and how long a full capture then converts. */
  double late[3];
  double convert;
  uint64_t requests;        /* HTTP requests sent */
  /* journal (journal.h) */
  int64_t journal_id;       /* the account's row, 0 until recorded */
  int journal_attached;     /* what processes now gone left was adopted */
  double journal_resolve;   /* wall time of a claim that asked for a resolving list, or 0 */
};

struct rt_capture {
  rt_list link;
  rt_account *acct;
  rt_creds *creds;                /* of the call that first saw it: its poller uses them */
  char id[33];
  int type;
  int status;
  char colo[64];
  double submitted, time_limit;   /* epoch s (server clock), API s */
  json_t *obj;                    /* latest capture object from the API */
  int holds_slot;                 /* holds acct->full */
  int priority;                   /* of the create that made it (preemption) */
  int claimed;                    /* a create call of this run made it (or adopted it as its own) */
  int stop_sent;
  /* polling */
  uv_timer_t *timer;
  rt_call *poll;                  /* in flight */
  double backoff;                 /* API s, after a poll that found it unfinished */
  double poll_wall, prev_poll_wall; /* when the last two polls started */
  int phase;                      /* 0: before the milestone, 1: converting (full), 2: terminal */
  double phase_start;             /* estimated wall time the current phase began */
  int polls;
  int poll_failures;
  rt_list waiters;                /* rt_capwait.link: tasks in cap:wait() */
  char poll_error[384];           /* a poll failed for good: waiters get this */
  int poll_error_rc;
  /* download */
  int64_t packets;                /* from the downloaded file, -1 unknown */
  /* journal */
  char intent[40];                /* the create that made it, "" when unknown */
  int journaled;                  /* recorded in the journal: status changes are too */
};

/* A task in cap:wait(). */
typedef struct rt_capwait {
  rt_wait w;
  rt_list link;
  rt_capture *cap;
} rt_capwait;

enum rt_call_kind {
  RT_CALL_CREATE, RT_CALL_GET, RT_CALL_LIST, RT_CALL_STOP, RT_CALL_DOWNLOAD,
  RT_CALL_OWN_LIST, RT_CALL_OWN_ADD, RT_CALL_OWN_VALIDATE, RT_CALL_OWN_DELETE,
};

struct rt_call {
  rt_wait w;                /* first: a task parks on it */
  rt_list link;             /* in acct->calls */
  rt_account *acct;
  rt_creds *creds;
  int kind;
  const char *opname;       /* "pcap.create" */
  int phase;
  int sub;                  /* a sub-request in progress: list to reconcile or adopt, get to verify */
  rt_http_req req;
  rt_waiter waiter;
  int queued_on;            /* limiter the waiter is queued on */
  unsigned held;            /* permits held (HOLD_*) */
  int attempts, limited;    /* transient failures; 429s */
  uv_timer_t *timer;        /* backoff */
  int detached;
  int starting;             /* inside rt_call_start: completion is returned, not signalled */
  void (*on_done)(rt_call *c);
  void *user;
  /* outcome */
  int rc;
  long http_status;
  double retry_after;       /* API s, -1 */
  json_t *cf_errors;        /* owned */
  char message[384];
  json_t *result;           /* owned */
  rt_capture *cap;          /* create, get, stop, download */
  /* inputs */
  char id[33];
  json_t *body;             /* create, ownership add/validate */
  int cap_type;             /* create */
  int priority, preempt;    /* create (full) */
  char intent[40];          /* create: X-Pcaprun-Intent */
  double sent_wall;         /* create: when first sent (by this run or, journaled, an earlier one) */
  int journal_checked;      /* create: the journal was asked about the intent */
  int journal_claim;        /* create: 1 holds the limit's claim in the journal, -1 waited for it */
  int64_t journal_slot;     /* full create: the claim's slot row */
  /* download */
  char *path, *part;
  int fd;
  rt_pcapcheck check;
  uint64_t offset;          /* bytes of the file on disk */
  uint64_t offset_best;     /* the most the file has held: progress is going past it */
};

/* ---- accounts (account.c) ---- */
/* Finds or creates the account for (base_url, account_id): the unit the limits apply to,
 * whichever credentials a call uses. Returns NULL and a message on a bad base URL or ENOMEM. */
rt_account *rt_account_get(rt_runtime *rt, const char *base_url, const char *account_id,
                           char *err, size_t errlen);
/* Stops pollers and in-flight internal calls, frees every account (shutdown). */
void rt_accounts_close(rt_runtime *rt);
rt_capture *rt_capture_find(rt_account *a, const char *id);

/* ---- captures (capture.c) ---- */
/* Records (or refreshes) a capture from an API object seen with creds. Returns the record, NULL
 * on ENOMEM. */
rt_capture *rt_capture_update(rt_account *a, rt_creds *creds, const json_t *obj, const rt_capinfo *info);
/* The capture (full, pending or running, made elsewhere or found) holds the account's full slot
 * from now until it leaves pending/running: takes a place in the gate, journals it, polls it. */
void rt_capture_hold(rt_capture *cap);
/* Makes sure the runtime polls the capture until it no longer needs to. */
void rt_capture_watch(rt_capture *cap);
void rt_capture_stop_polling(rt_capture *cap);
/* Polls again soon (after a stop was sent). */
void rt_capture_repoll(rt_capture *cap);
/* Queues a task in cap:wait(); returns 0 when the capture is already terminal (w unused). */
int rt_capture_wait(rt_capture *cap, rt_capwait *cw);

/* ---- calls (call.c) ---- */
rt_call *rt_call_new(rt_account *a, rt_creds *creds, int kind, const char *opname);
/* Starts the call. Returns RT_EAGAIN (in progress: park on c->w or wait for on_done) or an error
 * code when it failed at once (c->message says why). */
int rt_call_start(rt_call *c);
/* The owner (a task's box) lets go: frees a finished call, detaches a running one. */
void rt_call_release(rt_call *c);
void rt_call_free(rt_call *c);

/* ---- downloads (download.c) ---- */
/* Prepares c (kind DOWNLOAD, c->path set) to stream into PATH.part, resuming what is there. */
int rt_download_open(rt_call *c);
/* Completes a finished transfer: validates, fsyncs and renames PATH.part to PATH. Returns 0,
 * RT_EAGAIN when the file ends inside a record (resume the download), or an error. */
int rt_download_finish(rt_call *c);
void rt_download_close(rt_call *c);
/* The API has nothing past the .part (416 to its Range): completes it like rt_download_finish
 * when it is a whole pcap; otherwise empties it and returns RT_EAGAIN (download it again). */
int rt_download_whole(rt_call *c);

#endif
