/* API calls: admission through the limits, the request, and what to do with the answer
 * (runtime/API.md#11-client-policy): done; retry after a backoff with full jitter (idempotent calls); wait
 * for retry-after (429; bounded by the limit's own window); reconcile a create whose outcome is
 * unknown by listing before creating again; find the capture that holds the full slot when the
 * API says it is taken. Who owns a call at each step, and what an interruption does there, is
 * in pcaps.h. What an answer means for the captures (who holds the slot) is capture.c's. */
#include "backoff.h"
#include "err.h"
#include "journal.h"
#include "log.h"
#include "pcaps.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PH_NEW, PH_ADMIT, PH_SEND, PH_BACKOFF, PH_DONE };
/* What a call holds: in-process permits, and the journal's claim (the intent with its slot or
 * simple-create turn) and its place in the shared request budget. */
enum { HOLD_GATE = 1, HOLD_SAMPLE = 2, HOLD_API = 4, HOLD_CLAIM = 8, HOLD_BUDGET = 16 };
enum { SUB_NONE, SUB_RECONCILE, SUB_ADOPT, SUB_VERIFY, SUB_RESUME };

#define BACKOFF_BASE 1.0    /* API s */
#define BACKOFF_CAP 60.0    /* API s */
#define MAX_LIMITED 100     /* 429s one call will sit through */
#define RECONCILE_SKEW 120  /* s of clock difference tolerated when matching a create */

static void advance(rt_call *c);
static void finish(rt_call *c, int rc);
static void retry_ms(rt_call *c, uint64_t ms);

static int is_create(const rt_call *c) { return c->op->kind == RT_CALL_CREATE; }
static int needs_gate(const rt_call *c) { return is_create(c) && !c->sub && c->create.type == RT_CAP_FULL; }
static int needs_sample(const rt_call *c) { return is_create(c) && !c->sub && c->create.type == RT_CAP_SIMPLE; }
static int needs_claim(const rt_call *c) { return is_create(c) && !c->sub && c->acct->journal; }
static int needs_file(const rt_call *c) { return c->op->kind == RT_CALL_DOWNLOAD && !c->sub; }

/* The request the call's current step sends: the operation itself, or a sub-request's. */
static const rt_op *step_op(const rt_call *c) {
  if (c->sub == SUB_VERIFY || c->sub == SUB_RESUME) return rt_op_of(RT_CALL_GET);
  if (c->sub) return rt_op_of(c->op->reconcile ? c->op->reconcile : RT_CALL_LIST);
  return c->op;
}

/* How soon to ask the journal again about something another process holds: an API second,
 * within bounds. */
static uint64_t poll_ms(const rt_runtime *rt) {
  uint64_t ms = rt_api_ms(rt, 1.0);
  return ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
}

/* ---- lifecycle ---- */

static int call_cancel(rt_wait *w, int rc);
static void on_granted(rt_waiter *wt);
static void on_http_done(rt_http_req *r);

rt_call *rt_call_new(rt_account *a, rt_creds *creds, int kind) {
  rt_call *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->acct = a;
  c->creds = rt_creds_ref(creds);
  c->op = rt_op_of(kind);
  c->retry_after = -1;
  c->w.cancel = call_cancel;
  c->w.timeout_rc = RT_ETIMEDOUT;
  c->w.what = kind == RT_CALL_CREATE ? "a create" : kind == RT_CALL_DOWNLOAD ? "a download" : "an API call";
  c->waiter.granted = on_granted;
  c->waiter.user = c;
  rt_list_init(&c->waiter.link);
  rt_http_req_init(&c->req);
  rt_list_push(&a->calls, &c->link);
  return c;
}

static void cancel_queued(rt_call *c) {
  rt_account *a = c->acct;
  if (c->queued_on == HOLD_GATE) rt_gate_cancel(&a->full, &c->waiter);
  else if (c->queued_on == HOLD_SAMPLE) rt_window_cancel(&a->sample, &c->waiter);
  else if (c->queued_on == HOLD_API) rt_window_cancel(&c->creds->principal->api, &c->waiter);
  c->queued_on = 0;
}

void rt_call_free(rt_call *c) {
  if (!c) return;
  rt_http_req_free(&c->req);
  cancel_queued(c);
  rt_timer_free(&c->timer);
  rt_timer_free(&c->create.settle);
  if (c->dl) rt_download_close(c->acct, c->dl, c->id, RT_ECANCELED);
  free(c->create.spec);
  json_decref(c->body);
  json_decref(c->result);
  json_decref(c->cf_errors);
  free(c->path);
  if (c->owner == RT_OWNER_RUNTIME) c->acct->rt->background--;
  rt_creds_unref(c->creds);
  rt_list_unlink(&c->link);
  free(c);
}

int rt_call_done(const rt_call *c) { return c->phase == PH_DONE; }

static void stop_now(rt_call *c, int rc);

/* Must the call finish although nobody waits for it: a create that may have been applied, a stop
 * on its way (it frees the slot)? */
static int must_finish(const rt_call *c) {
  return c->phase != PH_DONE && ((is_create(c) && c->create.unknown) || (c->op->kind == RT_CALL_STOP && c->phase == PH_SEND));
}

void rt_call_release(rt_call *c) {
  if (!must_finish(c)) {
    if (c->phase != PH_DONE && c->phase != PH_NEW) stop_now(c, RT_ECANCELED);
    rt_call_free(c);
  } else if (c->owner != RT_OWNER_RUNTIME) {
    c->owner = RT_OWNER_RUNTIME;
    c->acct->rt->background++;
  }
}

/* Gives up what the call holds. Sent work counts: a request that may have reached the API is
 * committed to the budget, not released; a create that may have been applied keeps its journal
 * claim until a list resolves it. */
static void drop_permits(rt_call *c) {
  rt_account *a = c->acct;
  cancel_queued(c);
  if (c->held & HOLD_API) rt_window_commit(&c->creds->principal->api);
  if (c->held & HOLD_BUDGET) rt_journal_budget_done(a->journal, c->budget_row, 1);
  if (c->held & HOLD_SAMPLE) rt_window_release(&a->sample);
  if (c->held & HOLD_GATE) rt_gate_release(&a->full);
  if (c->held & HOLD_CLAIM)
    rt_journal_unclaim(a->journal, a->journal_id, c->create.intent, c->create.type, c->create.slot,
                       rt_account_sample_gap(a), c->create.unknown);
  c->held = 0;
  c->budget_row = 0;
  c->create.slot = 0;
}

static void finish(rt_call *c, int rc) {
  c->rc = rc;
  c->phase = PH_DONE;
  c->sub = SUB_NONE;
  drop_permits(c);
  rt_timer_free(&c->create.settle);
  if (c->dl) {
    rt_download_close(c->acct, c->dl, c->id, rc);
    c->dl = NULL;
  }
  if (c->starting) return; /* rt_call_start returns the outcome */
  if (c->on_done) c->on_done(c);
  else if (c->owner == RT_OWNER_RUNTIME) rt_call_free(c);
  else rt_wait_done(&c->w, c->create.interrupted ? c->create.interrupted : rc);
}

/* Finishes with message (which may be c->message itself). */
static void fail(rt_call *c, int rc, const char *message) {
  if (message != c->message) snprintf(c->message, sizeof c->message, "%.383s", message);
  finish(c, rc);
}

/* The task waited as long as it would for the outcome of its interrupted create: it is told the
 * outcome is unknown, and the runtime goes on following the create alone. */
static void on_settle(uv_timer_t *t) {
  rt_call *c = t->data;
  rt_log(RT_LOG_WARN, "create.unknown", "the outcome of a create whose task gave up is still unknown; "
         "pcaprun keeps following it and stops a full capture it made", "intent", c->create.intent, NULL);
  rt_wait_done(&c->w, c->create.interrupted);
}

/* Cancel or timeout of the waiting task (scheduler.h: returns 0 when the call stopped, RT_EAGAIN
 * when it goes on and completes the wait itself). */
static int call_cancel(rt_wait *w, int rc) {
  rt_call *c = (rt_call *)w;
  if (c->phase == PH_DONE) return 0;
  if (is_create(c) && c->create.unknown) { /* sent: it may exist remotely; never abandoned */
    if (!c->create.interrupted) {
      rt_runtime *rt = c->acct->rt;
      c->create.interrupted = rc;
      if ((c->create.settle = rt_timer_new(rt, c))) {
        uint64_t ms = (uint64_t)(rt->opt.http_timeout * 1000) + 1000;
        rt_timer_start(c->create.settle, on_settle, ms);
        w->bound_ms = rt_now_ms(rt) + ms;
      }
      char secs[32];
      snprintf(secs, sizeof secs, "%.0f", rt->opt.http_timeout + 1);
      rt_log(RT_LOG_INFO, "create.interrupted", "the task gave up while its create was in flight: "
             "waiting for the answer to know whether it made a capture", "intent", c->create.intent,
             "at_most_seconds", secs, NULL);
    }
    return c->create.settle ? RT_EAGAIN : 0;
  }
  if (c->op->kind == RT_CALL_STOP && c->phase == PH_SEND) return 0; /* goes on, the runtime's */
  stop_now(c, rc);
  return 0;
}

/* Ends the call where it stands: the transfer aborted, what it holds given back. */
static void stop_now(rt_call *c, int rc) {
  rt_http_cancel(&c->req);
  if (c->timer) uv_timer_stop(c->timer);
  c->rc = rc;
  c->phase = PH_DONE;
  drop_permits(c);
  if (c->dl) {
    rt_download_close(c->acct, c->dl, c->id, rc);
    c->dl = NULL;
  }
}

/* ---- admission ---- */

static void on_granted(rt_waiter *wt) {
  rt_call *c = wt->user;
  c->held |= (unsigned)c->queued_on;
  c->queued_on = 0;
  advance(c);
}

/* A full create with preempt: stop lower-priority full captures holding the slot. */
static void preempt(rt_call *c) {
  RT_LIST_EACH(it, &c->acct->captures) {
    rt_capture *h = RT_CONTAINER(it, rt_capture, link);
    if (h->holds_slot && !h->stop_sent && h->priority < c->create.priority)
      rt_capture_stop(h, "stopping a lower-priority full capture to free the slot");
  }
}

static void log_wait(rt_call *c, int which) {
  char secs[32];
  if (which == HOLD_SAMPLE) {
    uint64_t at = rt_window_next_ms(&c->acct->sample), now = rt_now_ms(c->acct->rt);
    snprintf(secs, sizeof secs, "%.1f", at > now ? rt_ms_api(c->acct->rt, at - now) : 0.0);
    rt_log(RT_LOG_INFO, "limit.wait", "waiting for the simple-capture rate limit", "seconds",
           at == UINT64_MAX ? NULL : secs, NULL); /* unknown while the previous create is in flight */
  } else if (which == HOLD_GATE) {
    snprintf(secs, sizeof secs, "%u", c->acct->full.nwaiters);
    rt_log(RT_LOG_INFO, "limit.wait", "waiting for the full-capture slot", "queued", secs, NULL);
  }
}

/* Waiting for something another process holds through the journal: said once per call. */
static void journal_wait(rt_call *c, uint64_t ms, const char *what) {
  if (!c->said_wait) rt_log(RT_LOG_INFO, "limit.wait", what, "op", c->op->name, NULL);
  c->said_wait = 1;
  retry_ms(c, ms);
}

/* Before admission: the journal's word on the intent (made already: adopt it without waiting for
 * any limit; being made by another process: wait). Returns 0 when the call waits or failed. */
static void conflict(rt_call *c, const char *journaled) {
  snprintf(c->message, sizeof c->message, "intent '%s' is journaled for a different capture request "
           "(%.200s); a changed capture needs a new intent", c->create.intent, journaled);
  finish(c, RT_EINVAL);
}

/* The create's body as the journal keeps it, or NULL (ENOMEM). */
static const char *journal_spec(rt_call *c) {
  if (!c->create.spec) c->create.spec = rt_journal_spec(c->body);
  return c->create.spec;
}

static int precheck(rt_call *c) {
  rt_account *a = c->acct;
  rt_jintent in;
  c->create.checked = 1;
  if (!a->journal) return 1;
  const char *spec = journal_spec(c);
  int rc = spec ? rt_journal_intent(a->journal, a->journal_id, c->create.intent, spec, &in) : RT_ENOMEM;
  if (rc) {
    snprintf(c->message, sizeof c->message, "cannot read the journal %s: %s", rt_journal_path(a->journal),
             rt_journal_error(a->journal));
    finish(c, rc);
    return 0;
  }
  if (in.conflict) {
    conflict(c, in.journaled_spec);
    return 0;
  }
  if (in.capture_id[0]) snprintf(c->id, sizeof c->id, "%s", in.capture_id);
  if (in.busy) {
    c->create.checked = 0;
    journal_wait(c, poll_ms(a->rt), "another pcaprun process is creating this intent: waiting for its outcome");
    return 0;
  }
  return 1;
}

/* The journal's claim of the intent and its limit. Returns 0 to go on, -1 when the call waits or
 * failed. */
static int claim(rt_call *c) {
  rt_account *a = c->acct;
  const char *spec = journal_spec(c);
  if (!spec) { fail(c, RT_ENOMEM, "out of memory"); return -1; }
  rt_jclaim_req req = {a->journal_id, c->create.intent, c->create.type, spec, a->rt->opt.full_slots,
                       c->create.type == RT_CAP_SIMPLE ? rt_account_sample_gap(a) : 0,
                       rt_api_ms(a->rt, a->rt->opt.sample_interval) / 1000.0, poll_ms(a->rt)};
  rt_jclaim out;
  int rc = rt_journal_claim(a->journal, &req, &out);
  for (int i = 0; i < out.nadopt; i++) rt_capture_adopt_journaled(a, c->creds, &out.adopt[i]);
  if (rc) {
    snprintf(c->message, sizeof c->message, "cannot use the journal %s: %s", rt_journal_path(a->journal),
             rt_journal_error(a->journal));
    finish(c, rc);
    return -1;
  }
  switch (out.outcome) {
  case RT_JC_GO:
    c->held |= HOLD_CLAIM;
    c->create.slot = out.slot;
    return 0;
  case RT_JC_WAIT:
    journal_wait(c, out.wait_ms, !out.by_process ? "waiting for a limit recorded in the journal"
                 : c->create.type == RT_CAP_FULL
                   ? "waiting for the full-capture slot held through the journal (another pcaprun, or one that died)"
                   : "waiting for the simple-capture rate limit shared through the journal");
    return -1;
  case RT_JC_ADOPT:
    snprintf(c->id, sizeof c->id, "%s", out.capture_id);
    c->sub = SUB_RESUME;
    return 0;
  case RT_JC_RECONCILE: /* its creator died after sending: list and match before creating */
    c->create.first_sent = out.first_sent;
    c->create.unknown = 1;
    c->sub = SUB_RECONCILE;
    return 0;
  case RT_JC_RESOLVE:
    a->journal_resolve = rt_wall(); /* the list must be sent after this */
    c->sub = SUB_ADOPT;
    return 0;
  default:
    conflict(c, out.journaled_spec);
    return -1;
  }
}

/* The request budget shared through the journal. Returns 0 to go on, -1 when the call waits. */
static int budget(rt_call *c) {
  rt_account *a = c->acct;
  rt_runtime *rt = a->rt;
  int64_t row = 0;
  uint64_t wait = 0;
  if (rt_journal_budget_take(a->journal, c->creds->principal->key, (unsigned)rt->opt.api_budget,
                             rt_api_ms(rt, rt->opt.api_window) / 1000.0, poll_ms(rt), &row, &wait) == 0 &&
      !row) {
    journal_wait(c, wait, "waiting for the request budget this credential shares with other pcaprun processes");
    return -1;
  }
  c->budget_row = row; /* 0 when the journal failed: the in-process budget still holds */
  c->held |= HOLD_BUDGET;
  return 0;
}

static void file_answer(rt_call *c);

/* A download's file, opened when the download is admitted: 0 to go on, -1 when it waits for
 * another process's download to the same path, or failed (or found the file already there). */
static int open_file(rt_call *c) {
  rt_account *a = c->acct;
  double limit = !c->cap ? 0 : c->cap->packet_limit > 0 ? c->cap->packet_limit
                                : json_number_value(json_object_get(c->cap->obj, "packet_limit"));
  double seconds = fmax(a->rt->opt.http_timeout, 60.0) * 10;
  int rc = rt_download_open(a, c->path, c->id, limit, seconds, &c->dl);
  if (rc == RT_EAGAIN) {
    journal_wait(c, poll_ms(a->rt), "another process is downloading to the same path: waiting for it");
    return -1;
  }
  if (rc) {
    fail(c, rc, c->dl ? c->dl->file.message : "out of memory");
    return -1;
  }
  if (c->dl->done) { /* another process (or run) downloaded it there already */
    file_answer(c);
    return -1;
  }
  return 0;
}

static void send_request(rt_call *c);

static void advance(rt_call *c) {
  rt_account *a = c->acct;
  c->phase = PH_ADMIT;
  if (is_create(c) && !c->create.checked && !precheck(c)) return;
  if (is_create(c) && c->id[0] && !c->sub) c->sub = SUB_RESUME; /* never created again */
  for (;;) {
    int which = 0, rc = 0;
    c->waiter.priority = c->create.priority;
    if (needs_gate(c) && !(c->held & HOLD_GATE)) which = HOLD_GATE, rc = rt_gate_acquire(&a->full, &c->waiter);
    else if (needs_sample(c) && !(c->held & HOLD_SAMPLE)) which = HOLD_SAMPLE, rc = rt_window_acquire(&a->sample, &c->waiter);
    else if (needs_claim(c) && !(c->held & HOLD_CLAIM)) {
      if (claim(c)) return;
      continue;
    } else if (needs_file(c) && !c->dl) {
      if (open_file(c)) return;
      continue;
    } else if (!(c->held & HOLD_API)) which = HOLD_API, rc = rt_window_acquire(&c->creds->principal->api, &c->waiter);
    else if (a->journal && !(c->held & HOLD_BUDGET)) {
      if (budget(c)) return;
      continue;
    } else if (needs_gate(c) && !a->full_checked) {
      /* The run's first full create: holding the slot, list once for a full capture made
       * elsewhere that already holds it (runtime/API.md#11-client-policy). */
      a->full_checked = 1;
      c->sub = SUB_ADOPT;
      continue;
    } else break;
    if (rc == 0) { c->held |= (unsigned)which; continue; }
    if (rc == RT_EAGAIN) {
      c->queued_on = which;
      log_wait(c, which);
      if (which == HOLD_GATE && c->create.preempt) preempt(c);
      return;
    }
    fail(c, rc, "too many calls are waiting for this account's limits (see --max-waiters)");
    return;
  }
  send_request(c);
}

/* ---- requests ---- */

static void send_request(rt_call *c) {
  rt_account *a = c->acct;
  const rt_op *op = step_op(c);
  if (op->creates) { /* durable before the create can reach the API */
    if (op->kind == RT_CALL_CREATE && a->journal && rt_journal_sent(a->journal, a->journal_id, c->create.intent)) {
      snprintf(c->message, sizeof c->message, "cannot write the intent to the journal %s: %s",
               rt_journal_path(a->journal), rt_journal_error(a->journal));
      finish(c, RT_EIO);
      return;
    }
    c->create.unknown = 1;
    if (!c->create.first_sent) c->create.first_sent = rt_wall();
  }
  rt_http_req *r = &c->req;
  rt_http_req_free(r);
  rt_http_req_init(r);
  r->user = c;
  r->done = on_http_done;
  r->timeout = a->rt->opt.http_timeout;
  r->max_body = a->rt->opt.max_body;
  int rc = rt_op_request(op, c, r);
  if (rc == 0 && op->answer == RT_ANS_FILE) rc = rt_download_prepare(c->dl, r);
  if (rc == 0) rc = rt_http_start(a->rt->http, r);
  if (rc) {
    fail(c, rc, rc == RT_ENOMEM ? "out of memory" : rc == RT_ETIMEDOUT && c->dl ? c->dl->file.message : rt_strerror(rc));
    return;
  }
  c->phase = PH_SEND;
}

/* ---- retries ---- */

static void on_backoff(uv_timer_t *t) { advance(t->data); }

static void retry_ms(rt_call *c, uint64_t ms) {
  if (!c->timer && !(c->timer = rt_timer_new(c->acct->rt, c))) {
    fail(c, RT_ENOMEM, "out of memory");
    return;
  }
  c->phase = PH_BACKOFF;
  rt_timer_start(c->timer, on_backoff, ms);
}

static void retry_in(rt_call *c, double api_seconds) { retry_ms(c, rt_api_ms(c->acct->rt, api_seconds)); }

/* Full jitter (API s). */
static double backoff(rt_call *c, int n) { return rt_backoff_full_jitter(c->acct->rt, n, BACKOFF_BASE, BACKOFF_CAP); }

/* A create whose task gave up is never sent again: once it is known not to have made a capture
 * (a definitive refusal, or a list that shows none), it ends. Returns 1 when it ended. */
static int give_up_if_interrupted(rt_call *c) {
  if (!is_create(c) || !c->create.interrupted || c->create.unknown) return 0;
  snprintf(c->message, sizeof c->message, "the create's task gave up and the create made no capture");
  finish(c, c->create.interrupted);
  return 1;
}

static void transient(rt_call *c, int rc, int ambiguous) {
  const char *op = step_op(c)->name; /* what failed (before a reconcile becomes the next step) */
  if (++c->attempts >= c->acct->rt->opt.retries) {
    size_t n = strlen(c->message);
    if (n < sizeof c->message - 40)
      snprintf(c->message + n, sizeof c->message - n, " (gave up after %d attempts)", c->attempts);
    finish(c, rc);
    return;
  }
  if (ambiguous) c->sub = SUB_RECONCILE; /* the create may have happened: list before trying again */
  /* at least what a 503's retry-after asks (within the budget's window), never less than the backoff */
  double wait = fmax(rt_clamp_seconds(c->retry_after, c->acct->rt->opt.api_window), backoff(c, c->attempts));
  char secs[32], attempt[32];
  snprintf(secs, sizeof secs, "%.1f", wait);
  snprintf(attempt, sizeof attempt, "%d/%d", c->attempts + 1, c->acct->rt->opt.retries);
  rt_log(c->attempts == 1 ? RT_LOG_INFO : RT_LOG_WARN, "api.retry", "API call failed; trying again",
         "op", op, "error", c->message, "in_seconds", secs, "attempt", attempt, NULL);
  retry_in(c, wait);
}

/* How long to wait after a 429 (API s): what the API says, within the limit's own window (a
 * longer wait than the window that counts is not one the API can need; logged when cut). */
static double pause_seconds(rt_call *c, double window) {
  double asked = c->retry_after >= 0 ? c->retry_after : backoff(c, c->limited + 1);
  double wait = rt_clamp_seconds(asked, window);
  char got[32], secs[32];
  snprintf(got, sizeof got, "%.0f", fmin(asked, 1e15));
  snprintf(secs, sizeof secs, "%.0f", ceil(wait));
  if (wait < asked)
    rt_log(RT_LOG_WARN, "api.rate_limited", "the API asked for a longer wait than the limit's own window; "
           "waiting the window", "op", step_op(c)->name, "asked_seconds", got, "seconds", secs, NULL);
  else
    rt_log(RT_LOG_WARN, "api.rate_limited", "rate-limited by the API: waiting", "op", step_op(c)->name,
           "seconds", secs, NULL);
  return wait;
}

static int global_limit(const rt_call *c) {
  json_t *code = json_object_get(json_array_get(c->cf_errors, 0), "code");
  return json_integer_value(code) == 971 || json_integer_value(code) == 10100;
}

/* A 429, before its place in the budget is given back: the pause comes first, so that giving
 * it back lets no waiter through. The simple-capture limit pauses the account's creates (and,
 * through the journal, other processes'); anything else pauses the credential's requests. */
static void pause_limit(rt_call *c) {
  rt_account *a = c->acct;
  rt_runtime *rt = a->rt;
  if (needs_sample(c) && !global_limit(c)) {
    double wait = pause_seconds(c, rt->opt.sample_interval);
    rt_window_pause(&a->sample, rt_now_ms(rt) + rt_api_ms(rt, wait));
    if (a->journal) rt_journal_pause(a->journal, a->journal_id, rt_wall() + (double)rt_api_ms(rt, wait) / 1000.0);
  } else if (!(needs_gate(c) && !global_limit(c))) { /* a full create's own 429 is the slot's */
    double wait = pause_seconds(c, rt->opt.api_window);
    rt_window_pause(&c->creds->principal->api, rt_now_ms(rt) + rt_api_ms(rt, wait));
  }
}

/* 429: the request was not applied. Wait (pause_limit) and try again. */
static void limited(rt_call *c) {
  rt_account *a = c->acct;
  if (++c->limited > MAX_LIMITED) { finish(c, RT_ERATELIMIT); return; }
  if (needs_sample(c)) { /* the turn goes back; the create queues again behind the pause */
    if (c->held & HOLD_SAMPLE) rt_window_release(&a->sample);
    if (c->held & HOLD_CLAIM)
      rt_journal_unclaim(a->journal, a->journal_id, c->create.intent, c->create.type, 0, rt_account_sample_gap(a), 0);
    c->held &= ~(unsigned)(HOLD_SAMPLE | HOLD_CLAIM);
  }
  advance(c);
}

/* The API refused a full create because a full capture is pending or running: find it (list),
 * let it hold the slot until it ends, then try again. */
static void full_busy(rt_call *c) {
  if (++c->limited > MAX_LIMITED) { finish(c, RT_ERATELIMIT); return; }
  /* The gate (and the journal's claim) stays held while we look: releasing it would let another
   * create of ours out, whose capture this list would then take for one made elsewhere. Adopting
   * a real one releases it. */
  rt_log(RT_LOG_WARN, "capture.slot_busy", "the API refused the full create: the slot is taken (or "
         "limited); looking for the capture that holds it", "op", c->op->name, NULL);
  c->sub = SUB_ADOPT;
  retry_in(c, rt_clamp_seconds(c->retry_after >= 0 ? c->retry_after : 1.0 + backoff(c, c->limited),
                               c->acct->rt->opt.api_window));
}

/* ---- answers ---- */

/* Numbers compare by value (60 == 60.0), everything else structurally. */
static int json_same(const json_t *x, const json_t *y) {
  if (json_is_number(x) && json_is_number(y)) return json_number_value(x) == json_number_value(y);
  if (json_is_object(x) && json_is_object(y)) {
    if (json_object_size(x) != json_object_size(y)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)x, k, v)
      if (!json_same(v, json_object_get(y, k))) return 0;
    return 1;
  }
  return json_equal(x, y);
}

/* Does a listed capture match the create we sent? Keys the object leaves out are not held
 * against it (responses omit some request fields); an absent filter equals {}. */
static int create_matches(const json_t *body, const json_t *obj) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)body, k, v) {
    if (!strcmp(k, "system") || !strcmp(k, "offset_time")) continue;
    json_t *o = json_object_get(obj, k);
    if (!o && !strcmp(k, "colo_name")) o = json_object_get(obj, "colo");
    if (o && !json_same(v, o)) return 0;
  }
  json_t *f = json_object_get(obj, "filter_v1");
  if (!json_object_get(body, "filter_v1") && json_object_size(f) > 0) return 0;
  return 1;
}

/* Reconcile: the earliest capture no create of ours has claimed, submitted after our first
 * attempt, that matches (one adopted as "made elsewhere" may be ours: its answer was lost). */
static const json_t *find_created(rt_call *c, const json_t *list) {
  rt_account *a = c->acct;
  const json_t *best = NULL;
  double best_t = 0;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    rt_capinfo info;
    char why[128];
    if (rt_capinfo_parse(item, &info, why, sizeof why) || info.type != c->create.type) continue;
    if (info.submitted < c->create.first_sent - RECONCILE_SKEW) continue; /* made before our first attempt */
    const rt_capture *known = rt_capture_find(a, info.id);
    if ((known && known->intent[0] && strcmp(known->intent, c->create.intent) != 0) ||
        (a->journal && rt_journal_taken(a->journal, a->journal_id, info.id, c->create.intent)))
      continue; /* another create's (of this run, or journaled) */
    if (!create_matches(c->body, item)) continue;
    if (!best || info.submitted < best_t) best = item, best_t = info.submitted;
  }
  return best;
}

static const json_t *find_bucket(rt_call *c, const json_t *list) {
  const char *uri = json_string_value(json_object_get(c->body, "destination_conf"));
  const json_t *best = NULL;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    const char *d = json_string_value(json_object_get(item, "destination_conf"));
    if (d && uri && strcmp(d, uri) == 0) best = item; /* the newest registration wins */
  }
  return best;
}

/* The create's capture is known: made now, found by a reconcile, or journaled (how says which).
 * The journal first: a create the gate lets through next claims the slot there too. */
static int created(rt_call *c, const json_t *obj, const char *how) {
  rt_account *a = c->acct;
  rt_capinfo info;
  char why[160];
  if (rt_capinfo_parse(obj, &info, why, sizeof why)) {
    snprintf(c->message, sizeof c->message, "create answered with a malformed capture: %s", why);
    return RT_EPROTO;
  }
  int took = 0;
  rt_capture *cap = rt_capture_made(a, c->creds, obj, &info, c->create.intent, c->create.priority,
                                    c->held & HOLD_GATE, &took);
  if (!cap) return RT_ENOMEM;
  c->cap = cap;
  c->create.unknown = 0;
  if (json_number_value(json_object_get(c->body, "packet_limit")) > 0)
    cap->packet_limit = json_number_value(json_object_get(c->body, "packet_limit"));
  if (a->journal) {
    rt_jcapture rec;
    rt_capture_record(cap, &rec);
    rt_journal_created(a->journal, a->journal_id, c->create.intent, c->create.slot,
                       (c->held & HOLD_CLAIM) && cap->type == RT_CAP_SIMPLE ? rt_account_sample_gap(a) : 0, &rec);
    cap->journaled = 1;
  }
  c->held &= ~(unsigned)HOLD_CLAIM;
  c->create.slot = 0;
  if ((c->held & HOLD_GATE) && !took) rt_gate_release(&a->full);
  c->held &= ~(unsigned)HOLD_GATE;
  if (c->held & HOLD_SAMPLE) {
    rt_window_commit(&a->sample);
    c->held &= ~(unsigned)HOLD_SAMPLE;
  }
  rt_log(RT_LOG_INFO, "capture.created", how, "id", cap->id, "intent", c->create.intent,
         "type", cap->type == RT_CAP_FULL ? "full" : "simple", "colo", cap->colo[0] ? cap->colo : NULL, NULL);
  if (c->create.interrupted || c->owner == RT_OWNER_RUNTIME)
    rt_capture_stop(cap, "the task that asked for this full capture gave up while it was being created: stopping it, so that it does not hold the slot");
  return 0;
}

/* A 2xx answer to a sub-request. Returns 0 when the call is finished, RT_EAGAIN to go on. */
static int sub_answer(rt_call *c, const json_t *result) {
  rt_account *a = c->acct;
  int sub = c->sub;
  c->sub = SUB_NONE;
  if (sub == SUB_VERIFY) {
    rt_capinfo info;
    char why[128];
    if (rt_capinfo_parse(result, &info, why, sizeof why)) {
      snprintf(c->message, sizeof c->message, "malformed capture: %s", why);
      return RT_EPROTO;
    }
    rt_capture *cap = rt_capture_update(a, c->creds, result, &info);
    if (c->op->kind == RT_CALL_DOWNLOAD) { /* a capture this run had not seen: ready to download? */
      c->cap = cap;
      if (info.type == RT_CAP_FULL) {
        snprintf(c->message, sizeof c->message, "full captures are delivered to their bucket, not downloaded");
        return RT_ESTATE;
      }
      if (info.status == RT_ST_FAILED) {
        snprintf(c->message, sizeof c->message, "capture failed: it has no file to download");
        return RT_ESTATE;
      }
      if (info.status != RT_ST_SUCCESS && info.status != RT_ST_COMPLETE) {
        snprintf(c->message, sizeof c->message, "capture is %s, not ready: wait for it first", info.status_raw);
        return RT_ESTATE;
      }
      return RT_EAGAIN;
    }
    /* stop was refused: fine if the capture no longer runs */
    if (info.type == RT_CAP_SIMPLE) {
      snprintf(c->message, sizeof c->message, "only full captures can be stopped");
      return RT_ESTATE;
    }
    if (!rt_status_holds_slot(info.status)) { c->cap = cap; return 0; }
    return RT_EAPI;
  }
  if (sub == SUB_RESUME) return created(c, result, "capture resumed from the journal");
  const json_t *list = json_is_array(result) ? result : NULL;
  if (sub == SUB_ADOPT) {
    /* Found ones hold the slot now: give ours back (here and in the journal) and queue behind them. */
    if (list && rt_capture_adopt_holders(a, c->creds, list) && (c->held & (HOLD_GATE | HOLD_CLAIM))) {
      if (c->held & HOLD_GATE) rt_gate_release(&a->full);
      if (c->held & HOLD_CLAIM)
        rt_journal_unclaim(a->journal, a->journal_id, c->create.intent, c->create.type, c->create.slot, 0, 0);
      c->held &= ~(unsigned)(HOLD_GATE | HOLD_CLAIM);
      c->create.slot = 0;
    }
    if (a->journal_resolve > 0) rt_journal_resolved(a->journal, a->journal_id, a->journal_resolve);
    a->journal_resolve = 0;
    if (!list || !is_create(c) || !c->create.unknown) return RT_EAGAIN;
    /* a create sent before (by this run or a journaled one) may be among them: reconcile too */
  }
  const json_t *hit = !list ? NULL : is_create(c) ? find_created(c, list) : find_bucket(c, list);
  if (!hit) { /* not made: create again (unless its task gave up) */
    if (is_create(c)) c->create.unknown = 0;
    return RT_EAGAIN;
  }
  rt_log(RT_LOG_INFO, "api.reconciled", "found what the failed call had made; not creating it again",
         "op", c->op->name, "id", json_string_value(json_object_get(hit, "id")), NULL);
  if (is_create(c)) return created(c, hit, "capture found by a reconcile") ? RT_EAGAIN : 0;
  c->result = json_incref((json_t *)hit);
  return 0;
}

static int main_answer(rt_call *c, const json_t *result) {
  rt_account *a = c->acct;
  rt_capinfo info;
  char why[160];
  switch (c->op->answer) {
  case RT_ANS_CAPTURE:
    if (is_create(c)) return created(c, result, "capture created");
    if (rt_capinfo_parse(result, &info, why, sizeof why)) {
      snprintf(c->message, sizeof c->message, "malformed capture: %s", why);
      return RT_EPROTO;
    }
    c->cap = rt_capture_update(a, c->creds, result, &info);
    return c->cap ? 0 : RT_ENOMEM;
  case RT_ANS_CAPTURES: {
    size_t i;
    json_t *item;
    c->result = json_is_array(result) ? json_incref((json_t *)result) : json_array();
    json_array_foreach(c->result, i, item)
      if (rt_capinfo_parse(item, &info, why, sizeof why) == 0) rt_capture_update(a, c->creds, item, &info);
    return 0;
  }
  case RT_ANS_LIST:
    c->result = json_is_array(result) ? json_incref((json_t *)result) : json_array();
    return 0;
  case RT_ANS_EMPTY:
    if (c->op->kind == RT_CALL_STOP && (c->cap = rt_capture_find(a, c->id))) {
      c->cap->stop_sent = 1;
      if (!c->cap->poll) rt_capture_repoll(c->cap);
    }
    return 0;
  default:
    if (!json_is_object(result)) {
      snprintf(c->message, sizeof c->message, "the API answered without a result object");
      return RT_EPROTO;
    }
    c->result = json_incref((json_t *)result);
    return 0;
  }
}

static void remember_errors(rt_call *c, rt_envelope *env) {
  json_decref(c->cf_errors);
  c->cf_errors = env->errors ? json_incref(env->errors) : NULL;
}

/* A file download's 2xx answer: the body is on disk; complete it. */
static void file_answer(rt_call *c) {
  rt_partfile *f = &c->dl->file;
  int rc = rt_download_finish(c->acct, c->dl, c->id);
  if (rc == RT_EAGAIN) { /* the body ended inside a record: resume from there */
    snprintf(c->message, sizeof c->message, "download ended early (%.300s)", f->message);
    transient(c, RT_EPCAP, 0);
    return;
  }
  if (rc == 0) {
    if (c->cap) c->cap->packets = (int64_t)f->check.packets;
    c->result = json_pack("{s:s, s:I, s:I, s:i}", "path", c->path, "bytes", (json_int_t)f->offset,
                          "packets", (json_int_t)f->check.packets, "linktype", (int)f->check.linktype);
    if (!c->result) rc = RT_ENOMEM;
  }
  if (rc) snprintf(c->message, sizeof c->message, "%.383s", f->message);
  finish(c, rc);
}

static void on_http_done(rt_http_req *r) {
  rt_call *c = r->user;
  rt_account *a = c->acct;
  rt_runtime *rt = a->rt;
  rt_principal *p = c->creds->principal;
  const rt_op *op = step_op(c);
  a->requests++;
  p->requests++;
  if (!(c->sub == SUB_VERIFY && c->op->kind == RT_CALL_STOP)) c->http_status = r->status; /* the stop's answer counts */
  c->retry_after = r->retry_after;
  if (r->status == 429) {
    rt_envelope env;
    if (rt_envelope_parse(r->resp, r->resp_len, &env) == 0) remember_errors(c, &env);
    rt_envelope_free(&env);
    pause_limit(c);
  } else if (r->ratelimit_left == 0 && r->ratelimit_reset > 0) {
    double wait = rt_clamp_seconds(r->ratelimit_reset, rt->opt.api_window);
    char secs[32];
    snprintf(secs, sizeof secs, "%.0f", ceil(wait));
    rt_log(RT_LOG_INFO, "api.budget_spent", "the API says the request budget is spent: pausing", "seconds", secs, NULL);
    rt_window_pause(&p->api, rt_now_ms(rt) + rt_api_ms(rt, wait));
  }
  if (c->held & HOLD_API) rt_window_commit(&p->api);
  if (c->held & HOLD_BUDGET) rt_journal_budget_done(a->journal, c->budget_row, 1);
  c->held &= ~(unsigned)(HOLD_API | HOLD_BUDGET);
  c->budget_row = 0;
  int sub = c->sub, creates = op->creates;

  if (r->abort_rc) { /* we stopped the transfer: a bad pcap, a full disk, a huge body, an encoded resume */
    if (r->abort_rc == RT_EAGAIN) { transient(c, RT_ETRANSPORT, 0); return; } /* restart the file */
    if (c->dl && c->dl->file.message[0]) snprintf(c->message, sizeof c->message, "%.383s", c->dl->file.message);
    else snprintf(c->message, sizeof c->message, "response body larger than %zu bytes", r->max_body);
    if (creates) { transient(c, r->abort_rc, 1); return; } /* made or not? list before anything else */
    finish(c, r->abort_rc);
    return;
  }
  if (r->curl_code != CURLE_OK) {
    snprintf(c->message, sizeof c->message, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_code));
    if (c->dl && c->dl->file.offset > c->dl->offset_best) { /* got further: resumes with a fresh budget */
      c->dl->offset_best = c->dl->file.offset;
      c->attempts = 0;
    }
    transient(c, RT_ETRANSPORT, creates);
    return;
  }
  /* The .part already holds all there is (a run stopped between the last byte and the rename). */
  if (op->answer == RT_ANS_FILE && r->status == 416 && r->range_from > 0) {
    int rc = rt_download_whole(a, c->dl, c->id);
    snprintf(c->message, sizeof c->message, "%.383s", c->dl->file.message);
    if (rc == RT_EAGAIN) transient(c, RT_EPCAP, 0); /* not a whole pcap: from the start */
    else if (rc == 0) file_answer(c);
    else fail(c, rc, c->dl->file.message);
    return;
  }
  if (r->status >= 200 && r->status < 300 && op->answer == RT_ANS_FILE) { file_answer(c); return; }
  if (r->status >= 200 && r->status < 300 && op->answer == RT_ANS_EMPTY) { finish(c, main_answer(c, NULL)); return; }
  rt_envelope env;
  int prc = rt_envelope_parse(r->resp, r->resp_len, &env);
  if (r->status >= 200 && r->status < 300) {
    int rc = prc ? RT_EPROTO : env.success ? 0 : RT_EAPI;
    if (rc == 0) rc = sub ? sub_answer(c, env.result) : main_answer(c, env.result);
    else snprintf(c->message, sizeof c->message, "%s", env.message);
    rt_envelope_free(&env);
    if (rc == 0) finish(c, 0);
    else if (rc == RT_EAGAIN && !give_up_if_interrupted(c)) advance(c);
    else if (rc == RT_EPROTO) transient(c, RT_EPROTO, creates);
    else if (rc != RT_EAGAIN) finish(c, rc);
    return;
  }
  /* An error status: keep Cloudflare's code and message. */
  if (prc == 0) {
    remember_errors(c, &env);
    snprintf(c->message, sizeof c->message, "%s", env.message);
  } else {
    snprintf(c->message, sizeof c->message, "HTTP %ld from the API", r->status);
  }
  rt_envelope_free(&env);
  long st = r->status;
  if (st == 408 || st >= 500) { transient(c, RT_EAPI, creates); return; }
  if (creates) c->create.unknown = 0; /* any other answer says it was not applied */
  if (give_up_if_interrupted(c)) return;
  if (st == 429 || (st == 409 && needs_gate(c))) {
    if (needs_gate(c) && !global_limit(c)) full_busy(c); else limited(c);
  } else if (op->kind == RT_CALL_STOP && st >= 400 && st < 500) {
    c->sub = SUB_VERIFY; /* runtime/API.md#12-unknowns U12: re-read; a finished capture needs no stop */
    advance(c);
  } else {
    finish(c, st == 404 ? RT_ENOTFOUND : RT_EAPI);
  }
}

int rt_call_start(rt_call *c) {
  if (c->acct->rt->closing) return RT_ESHUTDOWN;
  if (c->op->kind == RT_CALL_DOWNLOAD && (!c->cap || (c->cap->status != RT_ST_SUCCESS && c->cap->status != RT_ST_COMPLETE)))
    c->sub = SUB_VERIFY; /* not known to be ready: look before asking for the file */
  c->starting = 1;
  advance(c);
  c->starting = 0;
  return c->phase == PH_DONE ? c->rc : RT_EAGAIN;
}
