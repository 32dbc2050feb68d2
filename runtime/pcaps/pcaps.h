/* The PCAPs client: principals (whose request budget a call spends), accounts (the limits the
 * API keeps per account), capture records the runtime follows, and API calls.
 *
 * Files of this concept (runtime/pcaps/):
 *   account.c   accounts, credentials and principals; attaching the journal
 *   ops.c       the table of operations: method, path, accepted answers, how an answer is read
 *   call.c      one state machine for every call: admission, send, retry, reconcile
 *   capture.c   capture records, the poller, who holds the full slot, adoption, stops
 *   download.c  a download's file: PATH.part, resume, checks, bounds, rename
 *
 * A call's life:
 *   admit (full-capture gate -> simple-capture rate -> the journal's claim -> request budget, in
 *   that fixed order) -> send -> classify the answer -> done | retry after backoff | reconcile
 *   (a create whose outcome is unknown: list before creating again) | adopt (the full slot is
 *   held by a capture made elsewhere).
 *
 * Who owns a call at every moment (interruptions: a task canceled, a call's timeout, SIGINT):
 *   - until a create is sent, its task: an interruption drops it, nothing exists;
 *   - once sent and while its outcome is unknown, the runtime follows it to the end: the task
 *     is told when the outcome is known (at most --http-timeout later), with the capture it
 *     made; a full capture whose caller gave up is stopped at once so the account's one slot is
 *     not held for nothing; if the outcome is still unknown then, the task is told so and the
 *     runtime keeps following it in the background (the run does not end before it knows);
 *   - a stop once sent is finished by the runtime (it is idempotent and frees the slot);
 *   - a download's bytes stay in PATH.part (resumed by the next attempt or run).
 * Calls are C only. A task waits for one through call->w; internal calls (the poller, stops the
 * runtime makes) finish through call->on_done. */
#ifndef PCAPRUN_PCAPS_H
#define PCAPRUN_PCAPS_H
#include <jansson.h>
#include "apiparse.h"
#include "http.h"
#include "journal.h"
#include "limit.h"
#include "partfile.h"
#include "pcapcheck.h"
#include "rt.h"
#include "scheduler.h"
#include "spec.h"

typedef struct rt_principal rt_principal;
typedef struct rt_account rt_account;
typedef struct rt_capture rt_capture;
typedef struct rt_call rt_call;

/* ---- principals and credentials (account.c) ---- */

/* A credential identity: whose request budget calls spend. Cloudflare counts 1200 requests per
 * 5 minutes per user, across every account, tool and token of that user; pcaprun keys the
 * budget by what it can know of the user: a keyed hash of an API token, or the email of an
 * email + key pair, per server. Shared by every account and client using it, and by processes
 * sharing a journal (which keeps the hash's key, so they agree). Never holds a secret. */
struct rt_principal {
  rt_list link;               /* in rt->principals */
  rt_runtime *rt;
  char server[128];           /* scheme://host[:port] of the endpoint */
  char id[80];                /* "token:<16 hex digits>" or "email:<address>" */
  char key[224];              /* server + id: the journal's name for the budget */
  rt_window api;              /* the request budget */
  uint64_t requests;          /* sent with it by this process */
};

enum { RT_ID_TOKEN, RT_ID_EMAIL };
/* The principal of a credential (an API token, or an email) at the endpoint base_url. Returns
 * NULL on ENOMEM. The token is hashed at once and not kept. */
rt_principal *rt_principal_get(rt_runtime *rt, const char *base_url, int kind, const char *value);

/* Credentials: the header lines to send, shared (refcounted) by the client that owns them, its
 * calls and the captures they made (whose pollers need them). Wiped when the last ref goes.
 * Secret: never logged, never shown to Lua. */
typedef struct rt_creds {
  int refs;
  char *auth[2];
  rt_principal *principal;    /* whose budget they spend (the runtime's, not refcounted) */
} rt_creds;

/* Returns new credentials with one ref, or NULL on ENOMEM. */
rt_creds *rt_creds_new(const char *line1, const char *line2, rt_principal *p);
rt_creds *rt_creds_ref(rt_creds *c);
void rt_creds_unref(rt_creds *c);

/* ---- accounts (account.c) ---- */

struct rt_account {
  rt_list link;
  rt_runtime *rt;
  char *base_url;           /* no trailing slash */
  char account_id[33];
  char host[64];            /* for messages */
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
  /* the journal (journal.h): the run's, attached when the account is made */
  rt_journal *journal;
  int64_t journal_id;       /* the account's row */
  double journal_resolve;   /* wall time of a claim that asked for a resolving list, or 0 */
};

/* Finds or makes the account for (base_url, account_id): the unit the limits apply to,
 * whichever credentials a call uses. A new account is recorded in the run's journal, and the
 * full captures processes now gone were following there are adopted (followed with creds).
 * Returns NULL and a message on a bad base URL or ENOMEM. */
rt_account *rt_account_get(rt_runtime *rt, const char *base_url, const char *account_id, rt_creds *creds,
                           char *err, size_t errlen);
/* Stops pollers and in-flight internal calls, frees every account and principal (shutdown). */
void rt_accounts_close(rt_runtime *rt);
/* The real seconds between simple creates, plus a margin for clocks (the journal's gap). */
double rt_account_sample_gap(const rt_account *a);

/* ---- captures (capture.c) ---- */

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
  double packet_limit;            /* of the create that made it (bounds a download), 0 unknown */
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

rt_capture *rt_capture_find(rt_account *a, const char *id);
/* Records (or refreshes) a capture from an API object seen with creds. Returns the record, NULL
 * on ENOMEM. */
rt_capture *rt_capture_update(rt_account *a, rt_creds *creds, const json_t *obj, const rt_capinfo *info);
/* A create of this run made (or found, or adopted from the journal) the capture: it is claimed
 * for `intent` with `priority`, and the full slot settles: the create's gate permit (with_gate)
 * becomes the capture's while it is pending or running (*took_gate), or is the caller's to give
 * back (after it has journaled the capture); a capture that holds the slot without one takes a
 * place all the same. */
rt_capture *rt_capture_made(rt_account *a, rt_creds *creds, const json_t *obj, const rt_capinfo *info,
                            const char *intent, int priority, int with_gate, int *took_gate);
/* The capture as the journal records it. */
void rt_capture_record(const rt_capture *cap, rt_jcapture *out);
/* Every full capture in `list` (a list answer) that holds the slot and that this run did not
 * make is followed: it holds a place in the gate until it ends. Returns how many. */
int rt_capture_adopt_holders(rt_account *a, rt_creds *creds, const json_t *list);
/* Follows a full capture that a process now gone was following (the journal's record of it). */
void rt_capture_adopt_journaled(rt_account *a, rt_creds *creds, const rt_jcapture *rec);
/* Stops a full capture that holds the slot (once; the runtime owns the stop, and the run does
 * not end before it is sent), logging why. */
void rt_capture_stop(rt_capture *cap, const char *why);
/* Makes sure the runtime polls the capture until it no longer needs to. */
void rt_capture_watch(rt_capture *cap);
void rt_capture_stop_polling(rt_capture *cap);
/* Polls again soon (after a stop was sent). */
void rt_capture_repoll(rt_capture *cap);
/* Queues a task in cap:wait(); returns 0 when the capture is already terminal (w unused). */
int rt_capture_wait(rt_capture *cap, rt_capwait *cw);

/* ---- operations (ops.c) ---- */

enum rt_call_kind {
  RT_CALL_CREATE, RT_CALL_GET, RT_CALL_LIST, RT_CALL_STOP, RT_CALL_DOWNLOAD,
  RT_CALL_OWN_LIST, RT_CALL_OWN_ADD, RT_CALL_OWN_VALIDATE, RT_CALL_OWN_DELETE, RT_CALL_KINDS
};

/* How an operation's 2xx answer is read. */
enum rt_answer {
  RT_ANS_CAPTURE,   /* envelope; result is a capture object */
  RT_ANS_CAPTURES,  /* envelope; result is a list of captures (null: none) */
  RT_ANS_OBJECT,    /* envelope; result is an object (ownership) */
  RT_ANS_LIST,      /* envelope; result is a list (null: none) */
  RT_ANS_EMPTY,     /* 204, no body */
  RT_ANS_FILE,      /* the body is a pcap file, streamed to disk */
};

typedef struct rt_op {
  int kind;
  const char *name;         /* "pcap.create": in errors and logs */
  const char *method;
  const char *path;         /* after /accounts/{account}/pcaps; "%s" stands for the call's id */
  const char *accept;
  int answer;               /* enum rt_answer */
  int creates;              /* not idempotent: a fresh connection, never retried blindly */
  int reconcile;            /* creates: the list that finds what it made */
} rt_op;

const rt_op *rt_op_of(int kind);
/* Builds the HTTP request of operation op for call c (URL, headers, credentials, body). Returns
 * 0 or RT_ENOMEM. */
int rt_op_request(const rt_op *op, rt_call *c, rt_http_req *r);

/* ---- downloads (download.c) ---- */

typedef struct rt_download {
  rt_partfile file;         /* PATH.part, locked (flock) against other processes */
  uint64_t offset_best;     /* the most the file has held: progress is going past it */
  int64_t max_packets;      /* the capture's packet_limit bounds the file */
  double deadline;          /* wall time: the whole download ends by then */
  int no_range;             /* the server encodes its bodies: offsets are not the file's */
  int done;                 /* PATH holds the capture's download (now, or another process's) */
} rt_download;

/* ---- calls (call.c) ---- */

/* Create-only state. */
typedef struct rt_create {
  int type;                 /* RT_CAP_SIMPLE / RT_CAP_FULL */
  int priority, preempt;
  char intent[40];          /* X-Pcaprun-Intent */
  char *spec;               /* the body as the journal keeps it (made when first needed) */
  int checked;              /* the journal's intent was read before admission */
  int unknown;              /* it was sent and whether it made a capture is not known */
  double first_sent;        /* when it was first sent, by this run or (journaled) an earlier one */
  int64_t slot;             /* the journal's slot row this claim holds (full) */
  int interrupted;          /* RT_ECANCELED / RT_ETIMEDOUT: its task gave up while it was sent */
  uv_timer_t *settle;       /* how long the task waits for the outcome after that */
} rt_create;

enum { RT_OWNER_TASK, RT_OWNER_RUNTIME };

struct rt_call {
  rt_wait w;                /* first: a task parks on it */
  rt_list link;             /* in acct->calls */
  rt_account *acct;
  rt_creds *creds;
  const rt_op *op;          /* what the call does */
  int phase;
  int sub;                  /* a sub-request in progress: list to reconcile or adopt, get to verify */
  rt_http_req req;
  rt_waiter waiter;
  int queued_on;            /* limiter the waiter is queued on */
  unsigned held;            /* permits held (HOLD_*) */
  int64_t budget_row;       /* the journal's place in the request budget */
  int attempts, limited;    /* transient failures; 429s */
  uv_timer_t *timer;        /* backoff */
  int owner;                /* RT_OWNER_*: who is told of the outcome */
  int starting;             /* inside rt_call_start: completion is returned, not signalled */
  int said_wait;            /* logged that it waits for something held through the journal */
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
  char *path;               /* download */
  rt_create create;
  rt_download *dl;          /* download: opened when admitted */
};

rt_call *rt_call_new(rt_account *a, rt_creds *creds, int kind);
/* Starts the call. Returns RT_EAGAIN (in progress: park on c->w or wait for on_done) or an error
 * code when it failed at once (c->message says why). */
int rt_call_start(rt_call *c);
/* Has the call ended (its outcome known)? */
int rt_call_done(const rt_call *c);
/* The owner (a task's box) lets go: frees a finished call; a running one goes on, the runtime's
 * (the run waits for it before it ends). */
void rt_call_release(rt_call *c);
void rt_call_free(rt_call *c);

/* ---- downloads (download.c), for call.c ---- */

/* Opens PATH.part for capture cap_id (locking it against other processes: RT_EAGAIN, and no
 * *out, while one holds it), resuming what is there when it is a valid start of a pcap of that capture; when
 * the journal shows PATH complete for cap_id (another process got there first), d->done. The
 * download may hold at most packet_limit records (0: the API's maximum) and must end within
 * `seconds`. Returns 0, RT_EAGAIN, or an error with a message in (*out)->message. */
int rt_download_open(rt_account *a, const char *path, const char *cap_id, double packet_limit, double seconds,
                     rt_download **out);
/* Prepares the next attempt of the transfer: Range from what the file holds, identity encoding,
 * the time left. Returns 0, or RT_ETIMEDOUT when the download's deadline has passed. */
int rt_download_prepare(rt_download *d, rt_http_req *r);
/* Completes a finished transfer: validates, fsyncs and renames PATH.part to PATH (nothing to do
 * when d->done). Returns 0, RT_EAGAIN when the file ends inside a record (a cut transfer: resume
 * it), or an error (RT_EPCAP: it is not a pcap). */
int rt_download_finish(rt_account *a, rt_download *d, const char *cap_id);
/* The API has nothing past the .part (416 to its Range): completes it like rt_download_finish
 * when it is a whole pcap (then d->done); otherwise empties it and returns RT_EAGAIN (download
 * it again). */
int rt_download_whole(rt_account *a, rt_download *d, const char *cap_id);
/* Closes the file (and its lock). After a failure on the content (rc RT_EPCAP) its bytes are
 * kept as PATH.invalid; after any other, PATH.part stays for the next attempt. Frees d. */
void rt_download_close(rt_account *a, rt_download *d, const char *cap_id, int rc);

#endif
