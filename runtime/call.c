/* API calls: admission through the account's limiters, the request, and what to do with the
 * answer (runtime/API.md#11-client-policy): done; retry after a backoff with full jitter (idempotent calls);
 * wait for retry-after (429, never capped); reconcile a create whose outcome is unknown by listing
 * before creating again; find the capture that holds the full slot when the API says it is taken. */
#include "err.h"
#include "journal.h"
#include "log.h"
#include "pcaps.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PH_NEW, PH_ADMIT, PH_SEND, PH_BACKOFF, PH_DONE };
enum { HOLD_GATE = 1, HOLD_SAMPLE = 2, HOLD_API = 4, HOLD_JOURNAL = 8 /* admitted by the journal too */ };
enum { SUB_NONE, SUB_RECONCILE, SUB_ADOPT, SUB_VERIFY, SUB_RESUME };
enum { OUT_OK, OUT_TRANSIENT, OUT_AMBIGUOUS, OUT_LIMITED, OUT_FULL_BUSY, OUT_FAILED };

#define BACKOFF_BASE 1.0    /* API s */
#define BACKOFF_CAP 60.0    /* API s */
#define MAX_LIMITED 100     /* 429s one call will sit through */
#define RECONCILE_SKEW 120  /* s of clock difference tolerated when matching a create */

static void advance(rt_call *c);
static void finish(rt_call *c, int rc);

static int is_create(const rt_call *c) { return c->kind == RT_CALL_CREATE || c->kind == RT_CALL_OWN_ADD; }

/* ---- lifecycle ---- */

static void call_cancel(rt_wait *w);
static void on_granted(rt_waiter *wt);
static void on_http_done(rt_http_req *r);

rt_call *rt_call_new(rt_account *a, rt_creds *creds, int kind, const char *opname) {
  rt_call *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->acct = a;
  c->creds = rt_creds_ref(creds);
  c->kind = kind;
  c->opname = opname;
  c->fd = -1;
  c->retry_after = -1;
  c->w.cancel = call_cancel;
  c->w.timeout_rc = RT_ETIMEDOUT;
  c->waiter.granted = on_granted;
  c->waiter.user = c;
  rt_list_init(&c->waiter.link);
  rt_http_req_init(&c->req);
  rt_list_push(&a->calls, &c->link);
  return c;
}

static void timer_closed(uv_handle_t *h) { free(h); }

void rt_call_free(rt_call *c) {
  if (!c) return;
  rt_http_req_free(&c->req);
  if (c->queued_on == HOLD_GATE) rt_gate_cancel(&c->acct->full, &c->waiter);
  else if (c->queued_on == HOLD_SAMPLE) rt_window_cancel(&c->acct->sample, &c->waiter);
  else if (c->queued_on == HOLD_API) rt_window_cancel(&c->acct->api, &c->waiter);
  if (c->timer) uv_close((uv_handle_t *)c->timer, timer_closed);
  rt_download_close(c);
  json_decref(c->body);
  json_decref(c->result);
  json_decref(c->cf_errors);
  free(c->path);
  free(c->part);
  rt_creds_unref(c->creds);
  rt_list_unlink(&c->link);
  free(c);
}

void rt_call_release(rt_call *c) {
  if (c->phase == PH_DONE) rt_call_free(c);
  else c->detached = 1;
}

/* May a create that did not succeed have been applied? Only an answer that says so rules it out. */
static int maybe_applied(const rt_call *c) {
  return c->sent_wall > 0 && c->rc != 0 && !(c->http_status >= 400 && c->http_status < 500 && c->http_status != 408);
}

/* Gives up what the call holds. Sent work counts: a request that may have reached the API is
 * committed to the budget, not released. */
static void drop_permits(rt_call *c) {
  rt_account *a = c->acct;
  if (c->queued_on == HOLD_GATE) rt_gate_cancel(&a->full, &c->waiter);
  else if (c->queued_on == HOLD_SAMPLE) rt_window_cancel(&a->sample, &c->waiter);
  else if (c->queued_on == HOLD_API) rt_window_cancel(&a->api, &c->waiter);
  c->queued_on = 0;
  if (c->held & HOLD_API) rt_window_commit(&a->api);
  if (c->held & HOLD_SAMPLE) rt_window_release(&a->sample);
  if (c->held & HOLD_GATE) rt_gate_release(&a->full);
  c->held = 0;
  if (c->kind == RT_CALL_CREATE) rt_journal_unclaim(c, maybe_applied(c));
}

/* Cancel or timeout of the waiting task. A create that may already exist remotely is never
 * abandoned: it goes on, detached, until the runtime knows whether it made a capture. */
static void call_cancel(rt_wait *w) {
  rt_call *c = (rt_call *)w;
  if (is_create(c) && c->sent_wall > 0) {
    c->detached = 1; /* the task is woken now (canceled); the call frees itself when done */
    return;
  }
  rt_http_cancel(&c->req);
  if (c->timer) uv_timer_stop(c->timer);
  drop_permits(c);
  c->phase = PH_DONE;
  c->rc = RT_ECANCELED;
}

static void finish(rt_call *c, int rc) {
  c->rc = rc;
  c->phase = PH_DONE;
  c->sub = SUB_NONE;
  drop_permits(c);
  if (c->kind == RT_CALL_DOWNLOAD) rt_download_close(c);
  if (c->starting) return; /* rt_call_start returns the outcome */
  if (c->on_done) c->on_done(c);
  else if (c->detached) rt_call_free(c);
  else rt_wait_done(&c->w, rc);
}

/* Finishes with message (which may be c->message itself). */
static void fail(rt_call *c, int rc, const char *message) {
  if (message != c->message) snprintf(c->message, sizeof c->message, "%s", message);
  finish(c, rc);
}

/* ---- admission ---- */

/* Gives back the full-capture slot the call was admitted to, here and in the journal. */
static void release_gate(rt_call *c) {
  if (c->held & HOLD_GATE) {
    rt_gate_release(&c->acct->full);
    c->held &= ~(unsigned)HOLD_GATE;
  }
  rt_journal_unclaim(c, 0);
  c->held &= ~(unsigned)HOLD_JOURNAL;
}

static int needs_gate(const rt_call *c) { return c->kind == RT_CALL_CREATE && !c->sub && c->cap_type == RT_CAP_FULL; }
static int needs_sample(const rt_call *c) { return c->kind == RT_CALL_CREATE && !c->sub && c->cap_type == RT_CAP_SIMPLE; }

static void on_granted(rt_waiter *wt) {
  rt_call *c = wt->user;
  c->held |= (unsigned)c->queued_on;
  c->queued_on = 0;
  advance(c);
}

/* A full create with preempt: stop lower-priority full captures holding the slot. */
static void stop_done(rt_call *s) {
  if (s->rc) rt_log(RT_LOG_WARN, "capture.preempt", "could not stop the lower-priority capture",
                    "id", s->id, "error", s->message, NULL);
  rt_call_free(s);
}

static void preempt(rt_call *c) {
  RT_LIST_EACH(it, &c->acct->captures) {
    rt_capture *h = RT_CONTAINER(it, rt_capture, link);
    if (!h->holds_slot || h->stop_sent || h->priority >= c->priority) continue;
    rt_call *s = rt_call_new(c->acct, h->creds, RT_CALL_STOP, "pcap.stop");
    if (!s) return;
    snprintf(s->id, sizeof s->id, "%s", h->id);
    s->on_done = stop_done;
    h->stop_sent = 1;
    rt_log(RT_LOG_INFO, "capture.preempt", "stopping a lower-priority full capture to free the slot",
           "id", h->id, NULL);
    if (rt_call_start(s) != RT_EAGAIN) rt_call_free(s);
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

/* Acquires what the next request needs, in a fixed order, then sends it. */
static void send_request(rt_call *c);
static void retry_ms(rt_call *c, uint64_t ms);

/* A create asks the journal first whether an earlier run (or process) already went after its
 * intent: adopt the capture it made, or reconcile before creating. Returns 0 when the call
 * waits or failed. */
static int resume(rt_call *c) {
  uint64_t wait = 0;
  int rc = rt_journal_resume(c, &wait);
  if (rc == RT_EAGAIN) { retry_ms(c, wait); return 0; }
  if (rc < 0) { finish(c, rc); return 0; }
  c->journal_checked = 1;
  if (rc == RT_JOURNAL_RECONCILE) c->sub = SUB_RECONCILE;
  return 1;
}

/* The cross-process part of admission: 0 to go on, or the call waits or failed. */
static int claim(rt_call *c) {
  uint64_t wait = 0;
  int rc = rt_journal_claim(c, &wait);
  if (rc == RT_EAGAIN) { retry_ms(c, wait); return -1; }
  if (rc == RT_JOURNAL_RESOLVE) c->sub = SUB_ADOPT; /* list, adopt what holds the slot, then claim */
  else if (rc) { finish(c, rc); return -1; }
  else c->held |= HOLD_JOURNAL;
  return 0;
}

static void advance(rt_call *c) {
  rt_account *a = c->acct;
  c->phase = PH_ADMIT;
  if (c->kind == RT_CALL_CREATE && !c->journal_checked && !resume(c)) return;
  if (c->kind == RT_CALL_CREATE && c->id[0] && !c->sub) c->sub = SUB_RESUME; /* never created again */
  for (;;) {
    int which = 0, rc = 0;
    c->waiter.priority = c->priority;
    if (needs_gate(c) && !(c->held & HOLD_GATE)) which = HOLD_GATE, rc = rt_gate_acquire(&a->full, &c->waiter);
    else if (needs_sample(c) && !(c->held & HOLD_SAMPLE)) which = HOLD_SAMPLE, rc = rt_window_acquire(&a->sample, &c->waiter);
    else if ((needs_gate(c) || needs_sample(c)) && !(c->held & HOLD_JOURNAL) && rt_journal_use(a->rt)) {
      if (claim(c)) return;
      continue;
    } else if (!(c->held & HOLD_API)) which = HOLD_API, rc = rt_window_acquire(&a->api, &c->waiter);
    else if (needs_gate(c) && !a->full_checked) {
      /* The run's first full create: holding the slot, list once for a full capture made
       * elsewhere that already holds it (runtime/API.md#9-limits). */
      a->full_checked = 1;
      c->sub = SUB_ADOPT;
      break;
    } else break;
    if (rc == 0) { c->held |= (unsigned)which; continue; }
    if (rc == RT_EAGAIN) {
      c->queued_on = which;
      log_wait(c, which);
      if (which == HOLD_GATE && c->preempt) preempt(c);
      return;
    }
    fail(c, rc, "too many calls are waiting for this account's limits (see --max-waiters)");
    return;
  }
  send_request(c);
}

/* ---- requests ---- */

static int add_header(rt_http_req *r, const char *name, const char *value) {
  char line[512];
  snprintf(line, sizeof line, "%s: %s", name, value);
  return rt_http_req_header(r, line);
}

static int build_request(rt_call *c) {
  rt_account *a = c->acct;
  rt_http_req *r = &c->req;
  rt_http_req_free(r);
  rt_http_req_init(r);
  r->user = c;
  r->done = on_http_done;
  r->timeout = a->rt->opt.http_timeout;
  r->max_body = a->rt->opt.max_body;
  int kind = c->sub == SUB_VERIFY || c->sub == SUB_RESUME ? RT_CALL_GET
           : c->sub ? (c->kind == RT_CALL_OWN_ADD ? RT_CALL_OWN_LIST : RT_CALL_LIST) : c->kind;
  const char *suffix = "", *accept = "application/json";
  json_t *body = NULL;
  char tail[128] = "";
  switch (kind) {
  case RT_CALL_CREATE: strcpy(r->method, "POST"); body = c->body; break;
  case RT_CALL_LIST: break;
  case RT_CALL_GET: snprintf(tail, sizeof tail, "/%s", c->id); break;
  case RT_CALL_STOP: strcpy(r->method, "PUT"); snprintf(tail, sizeof tail, "/%s", c->id); suffix = "/stop"; accept = "*/*"; break;
  case RT_CALL_DOWNLOAD:
    snprintf(tail, sizeof tail, "/%s", c->id);
    suffix = "/download";
    accept = "application/vnd.tcpdump.pcap";
    r->timeout = 0;
    r->stall_timeout = a->rt->opt.http_timeout;
    r->sink = NULL; /* set by rt_download_open's caller below */
    break;
  case RT_CALL_OWN_LIST: strcpy(tail, "/ownership"); break;
  case RT_CALL_OWN_ADD: strcpy(r->method, "POST"); strcpy(tail, "/ownership"); body = c->body; break;
  case RT_CALL_OWN_VALIDATE: strcpy(r->method, "POST"); strcpy(tail, "/ownership/validate"); body = c->body; break;
  case RT_CALL_OWN_DELETE: strcpy(r->method, "DELETE"); snprintf(tail, sizeof tail, "/ownership/%s", c->id); accept = "*/*"; break;
  }
  char url[2048];
  snprintf(url, sizeof url, "%s/accounts/%s/pcaps%s%s", a->base_url, a->account_id, tail, suffix);
  if (rt_http_req_url(r, url) || add_header(r, "Accept", accept) || rt_http_req_header(r, "Expect:"))
    return RT_ENOMEM;
  for (int i = 0; i < 2; i++)
    if (c->creds && c->creds->auth[i] && rt_http_req_header(r, c->creds->auth[i])) return RT_ENOMEM;
  if (kind == RT_CALL_CREATE && c->intent[0] && add_header(r, "X-Pcaprun-Intent", c->intent)) return RT_ENOMEM;
  r->fresh_connect = kind == RT_CALL_CREATE || kind == RT_CALL_OWN_ADD;
  if (body) {
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int rc = !text || add_header(r, "Content-Type", "application/json") || rt_http_req_body(r, text, strlen(text));
    free(text);
    if (rc) return RT_ENOMEM;
  }
  if (kind == RT_CALL_DOWNLOAD) return rt_download_open(c);
  return 0;
}

static void send_request(rt_call *c) {
  if (c->kind == RT_CALL_CREATE && !c->sub && c->sent_wall == 0) {
    c->sent_wall = rt_wall();
    int jrc = rt_journal_intent(c); /* durable before the create can reach the API */
    if (jrc) {
      c->sent_wall = 0;
      finish(c, jrc);
      return;
    }
  }
  int rc = build_request(c);
  if (rc == 0) rc = rt_http_start(c->acct->rt->http, &c->req);
  if (rc) {
    fail(c, rc, rc == RT_ENOMEM ? "out of memory" : c->message[0] ? c->message : rt_strerror(rc));
    return;
  }
  c->phase = PH_SEND;
  if (is_create(c) && !c->sub && c->sent_wall == 0) c->sent_wall = rt_wall();
}

/* ---- retries ---- */

static void on_backoff(uv_timer_t *t) { advance(t->data); }

static void retry_ms(rt_call *c, uint64_t ms) {
  if (!c->timer) {
    c->timer = malloc(sizeof *c->timer);
    if (!c->timer) { fail(c, RT_ENOMEM, "out of memory"); return; }
    uv_timer_init(c->acct->rt->loop, c->timer);
    c->timer->data = c;
  }
  c->phase = PH_BACKOFF;
  uv_timer_start(c->timer, on_backoff, ms, 0);
}

static void retry_in(rt_call *c, double api_seconds) { retry_ms(c, rt_api_ms(c->acct->rt, api_seconds)); }

/* Full jitter: uniform in [0, min(cap, base * 2^(n-1))] (API s). */
static double backoff(rt_call *c, int n) {
  double ceiling = fmin(BACKOFF_CAP, BACKOFF_BASE * pow(2, n - 1));
  return ceiling * rt_random(c->acct->rt);
}

static void transient(rt_call *c, int rc, int ambiguous) {
  if (++c->attempts >= c->acct->rt->opt.retries) {
    size_t n = strlen(c->message);
    if (n < sizeof c->message - 40)
      snprintf(c->message + n, sizeof c->message - n, " (gave up after %d attempts)", c->attempts);
    finish(c, rc);
    return;
  }
  if (ambiguous) c->sub = SUB_RECONCILE; /* the create may have happened: list before trying again */
  rt_log(RT_LOG_DEBUG, "api.retry", "retrying after a transient failure", "op", c->opname,
         "error", c->message, NULL);
  /* at least what a 503's retry-after asks, and never less than the backoff */
  retry_in(c, fmax(c->retry_after, backoff(c, c->attempts)));
}

/* 429: the request was not applied. Wait as long as the API says, however long. */
static void limited(rt_call *c) {
  rt_account *a = c->acct;
  if (++c->limited > MAX_LIMITED) { finish(c, RT_ERATELIMIT); return; }
  double wait = c->retry_after >= 0 ? c->retry_after : backoff(c, c->limited);
  uint64_t until = rt_now_ms(a->rt) + rt_api_ms(a->rt, wait);
  char secs[32];
  snprintf(secs, sizeof secs, "%.0f", ceil(wait));
  int global = c->cf_errors && (c->http_status == 429) &&
               (json_integer_value(json_object_get(json_array_get(c->cf_errors, 0), "code")) == 971 ||
                json_integer_value(json_object_get(json_array_get(c->cf_errors, 0), "code")) == 10100);
  if (needs_sample(c) && !global) { /* the per-minute simple-capture limit, most likely */
    rt_window_pause(&a->sample, until); /* first: the release must not let a waiter through */
    if (c->held & HOLD_SAMPLE) { rt_window_release(&a->sample); c->held &= ~(unsigned)HOLD_SAMPLE; }
    rt_journal_unclaim(c, 0);
    c->held &= ~(unsigned)HOLD_JOURNAL;
    rt_journal_pause(a, rt_wall() + (double)rt_api_ms(a->rt, wait) / 1000.0);
  } else {
    rt_window_pause(&a->api, until);
  }
  rt_log(RT_LOG_WARN, "api.rate_limited", "rate-limited by the API: waiting", "op", c->opname,
         "seconds", secs, NULL);
  advance(c);
}

/* The API refused a full create because a full capture is pending or running: find it (list),
 * let it hold the slot until it ends, then try again. */
static void full_busy(rt_call *c) {
  if (++c->limited > MAX_LIMITED) { finish(c, RT_ERATELIMIT); return; }
  /* The gate (and the journal's claim) stays held while we look: releasing it would let another
   * create of ours out, whose capture this list would then take for one made elsewhere. Adopting
   * a real one releases it. */
  rt_log(RT_LOG_WARN, "capture.slot_busy", "the API says a full capture is already pending or running; looking for it",
         "op", c->opname, NULL);
  c->sub = SUB_ADOPT;
  retry_in(c, c->retry_after >= 0 ? c->retry_after : 1.0 + backoff(c, c->limited));
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
  const json_t *best = NULL;
  double best_t = 0;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    rt_capinfo info;
    char why[128];
    if (rt_capinfo_parse(item, &info, why, sizeof why) || info.type != c->cap_type) continue;
    if (info.submitted < c->sent_wall - RECONCILE_SKEW) continue; /* made before our first attempt */
    const rt_capture *known = rt_capture_find(c->acct, info.id);
    if ((known && known->intent[0] && strcmp(known->intent, c->intent) != 0) ||
        rt_journal_taken(c->acct, info.id, c->intent))
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

/* Records every full capture that holds the slot and that this run did not make. */
static int adopt_holders(rt_call *c, const json_t *list) {
  int adopted = 0;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    rt_capinfo info;
    char why[128];
    if (rt_capinfo_parse(item, &info, why, sizeof why) || info.type != RT_CAP_FULL ||
        !rt_status_holds_slot(info.status))
      continue;
    rt_capture *known = rt_capture_find(c->acct, info.id);
    if (known && (known->claimed || known->holds_slot)) continue;
    rt_capture *cap = rt_capture_update(c->acct, c->creds, item, &info);
    if (!cap) continue;
    rt_capture_hold(cap);
    rt_log(RT_LOG_INFO, "capture.adopt", "a full capture made elsewhere holds the slot; waiting for it",
           "id", info.id, "status", info.status_raw, NULL);
    adopted++;
  }
  c->acct->full_checked = 1;
  return adopted;
}

/* The create's capture is known: made now, found by a reconcile, or journaled (how says which). */
static int created(rt_call *c, const json_t *obj, const char *how) {
  rt_capinfo info;
  char why[160];
  if (rt_capinfo_parse(obj, &info, why, sizeof why)) {
    snprintf(c->message, sizeof c->message, "create answered with a malformed capture: %s", why);
    return RT_EPROTO;
  }
  rt_capture *cap = rt_capture_update(c->acct, c->creds, obj, &info);
  if (!cap) return RT_ENOMEM;
  c->cap = cap;
  cap->priority = c->priority;
  cap->claimed = 1;
  snprintf(cap->intent, sizeof cap->intent, "%s", c->intent);
  int holds = cap->type == RT_CAP_FULL && rt_status_holds_slot(cap->status) && !cap->holds_slot;
  if (c->held & HOLD_GATE) { /* the slot now belongs to the capture until it leaves pending/running */
    c->held &= ~(unsigned)HOLD_GATE;
    if (holds) {
      cap->holds_slot = 1;
      rt_capture_watch(cap);
    } else { /* already over (a reconciled create), or already holding (adopted): not twice */
      rt_gate_release(&c->acct->full);
    }
  } else if (holds) { /* found or resumed, not made by this attempt: it holds a slot all the same */
    rt_capture_hold(cap);
  }
  if (c->held & HOLD_SAMPLE) {
    rt_window_commit(&c->acct->sample);
    c->held &= ~(unsigned)HOLD_SAMPLE;
  }
  rt_journal_created(c, cap); /* the claim is the capture's now */
  c->held &= ~(unsigned)HOLD_JOURNAL;
  rt_log(RT_LOG_INFO, "capture.created", how, "id", cap->id, "intent", c->intent,
         "type", cap->type == RT_CAP_FULL ? "full" : "simple", "colo", cap->colo[0] ? cap->colo : NULL, NULL);
  return 0;
}

/* A 2xx answer to a sub-request. Returns 0 when the call is finished, RT_EAGAIN to go on. */
static int sub_answer(rt_call *c, const json_t *result) {
  int sub = c->sub;
  c->sub = SUB_NONE;
  if (sub == SUB_VERIFY) {
    rt_capinfo info;
    char why[128];
    if (rt_capinfo_parse(result, &info, why, sizeof why)) {
      snprintf(c->message, sizeof c->message, "malformed capture: %s", why);
      return RT_EPROTO;
    }
    rt_capture *cap = rt_capture_update(c->acct, c->creds, result, &info);
    if (c->kind == RT_CALL_DOWNLOAD) { /* a capture this run had not seen: ready to download? */
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
    /* Found ones hold the slot now: give ours back and queue behind them. */
    if (list && adopt_holders(c, list)) release_gate(c);
    rt_journal_resolved(c->acct);
    if (!list || c->kind != RT_CALL_CREATE || c->sent_wall == 0) return RT_EAGAIN;
    /* a create sent before (by this run or a journaled one) may be among them: reconcile too */
  }
  if (!list) return RT_EAGAIN; /* null: nothing there */
  const json_t *hit = c->kind == RT_CALL_CREATE ? find_created(c, list) : find_bucket(c, list);
  if (!hit) return RT_EAGAIN; /* not made: create again */
  rt_log(RT_LOG_INFO, "api.reconciled", "found what the failed call had made; not creating it again",
         "op", c->opname, "id", json_string_value(json_object_get(hit, "id")), NULL);
  if (c->kind == RT_CALL_CREATE) return created(c, hit, "capture found by a reconcile") ? RT_EAGAIN : 0;
  c->result = json_incref((json_t *)hit);
  return 0;
}

static int main_answer(rt_call *c, const json_t *result) {
  rt_capinfo info;
  char why[160];
  switch (c->kind) {
  case RT_CALL_CREATE: return created(c, result, "capture created");
  case RT_CALL_GET:
    if (rt_capinfo_parse(result, &info, why, sizeof why)) {
      snprintf(c->message, sizeof c->message, "malformed capture: %s", why);
      return RT_EPROTO;
    }
    c->cap = rt_capture_update(c->acct, c->creds, result, &info);
    return c->cap ? 0 : RT_ENOMEM;
  case RT_CALL_LIST: {
    size_t i;
    json_t *item;
    c->result = json_is_array(result) ? json_incref((json_t *)result) : json_array();
    json_array_foreach(c->result, i, item)
      if (rt_capinfo_parse(item, &info, why, sizeof why) == 0) rt_capture_update(c->acct, c->creds, item, &info);
    return 0;
  }
  case RT_CALL_STOP: {
    rt_capture *cap = rt_capture_find(c->acct, c->id);
    if (cap) {
      cap->stop_sent = 1;
      if (!cap->poll) rt_capture_repoll(cap);
    }
    c->cap = cap;
    return 0;
  }
  case RT_CALL_OWN_LIST:
    c->result = json_is_array(result) ? json_incref((json_t *)result) : json_array();
    return 0;
  case RT_CALL_OWN_DELETE: return 0;
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

static void on_http_done(rt_http_req *r) {
  rt_call *c = r->user;
  rt_account *a = c->acct;
  rt_runtime *rt = a->rt;
  a->requests++;
  if (c->held & HOLD_API) { rt_window_commit(&a->api); c->held &= ~(unsigned)HOLD_API; }
  if (r->ratelimit_left == 0 && r->ratelimit_reset > 0)
    rt_window_pause(&a->api, rt_now_ms(rt) + rt_api_ms(rt, r->ratelimit_reset));
  if (!(c->sub == SUB_VERIFY && c->kind == RT_CALL_STOP)) c->http_status = r->status; /* the stop's answer counts */
  c->retry_after = r->retry_after;
  int sub = c->sub, kind = sub == SUB_VERIFY || sub == SUB_RESUME ? RT_CALL_GET : sub ? RT_CALL_LIST : c->kind;

  if (r->abort_rc) { /* we stopped the transfer: a bad pcap, a full disk, a huge body */
    if (r->abort_rc == RT_EPCAP || r->abort_rc == RT_EIO) { finish(c, r->abort_rc); return; }
    snprintf(c->message, sizeof c->message, "response body larger than %zu bytes", r->max_body);
    finish(c, r->abort_rc);
    return;
  }
  if (r->curl_code != CURLE_OK) {
    snprintf(c->message, sizeof c->message, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_code));
    if (c->offset > c->offset_best) { /* a download that got further resumes with a fresh budget */
      c->offset_best = c->offset;
      c->attempts = 0;
    }
    transient(c, RT_ETRANSPORT, is_create(c) && !sub);
    return;
  }
  /* The .part already holds all there is (a run stopped between the last byte and the rename). */
  if (kind == RT_CALL_DOWNLOAD && r->status == 416 && r->range_from > 0) {
    int rc = rt_download_whole(c);
    if (rc == RT_EAGAIN) transient(c, RT_EPCAP, 0); /* not a whole pcap: from the start */
    else finish(c, rc);
    return;
  }
  /* 204 (stop, delete) and 2xx downloads carry no envelope. */
  if (r->status >= 200 && r->status < 300 && (r->status == 204 || kind == RT_CALL_DOWNLOAD)) {
    int rc = kind == RT_CALL_DOWNLOAD ? rt_download_finish(c) : main_answer(c, NULL);
    if (rc == RT_EAGAIN) { /* the body ended inside a record: resume from there */
      snprintf(c->message, sizeof c->message, "download ended early (%s)", c->check.error);
      transient(c, RT_EPCAP, 0);
      return;
    }
    finish(c, rc);
    return;
  }
  rt_envelope env;
  int prc = rt_envelope_parse(r->resp, r->resp_len, &env);
  if (r->status >= 200 && r->status < 300) {
    int rc = prc ? RT_EPROTO : env.success ? 0 : RT_EAPI;
    if (rc == 0) rc = sub ? sub_answer(c, env.result) : main_answer(c, env.result);
    else snprintf(c->message, sizeof c->message, "%s", env.message);
    rt_envelope_free(&env);
    if (rc == 0) finish(c, 0);
    else if (rc == RT_EAGAIN) advance(c);
    else if (rc == RT_EPROTO) transient(c, RT_EPROTO, c->kind == RT_CALL_CREATE && !sub);
    else finish(c, rc);
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
  if (st == 429 || (st == 409 && needs_gate(c))) {
    if (needs_gate(c)) full_busy(c); else limited(c);
  } else if (st == 408 || st >= 500) {
    transient(c, RT_EAPI, is_create(c) && !sub);
  } else if (kind == RT_CALL_STOP && st >= 400 && st < 500) {
    c->sub = SUB_VERIFY; /* runtime/API.md#12-unknowns U12: re-read; a finished capture needs no stop */
    advance(c);
  } else {
    finish(c, st == 404 ? RT_ENOTFOUND : RT_EAPI);
  }
}

int rt_call_start(rt_call *c) {
  if (c->acct->rt->closing) return RT_ESHUTDOWN;
  rt_journal_attach(c->acct, c->creds);
  if (c->kind == RT_CALL_DOWNLOAD && (!c->cap || (c->cap->status != RT_ST_SUCCESS && c->cap->status != RT_ST_COMPLETE)))
    c->sub = SUB_VERIFY; /* not known to be ready: look before asking for the file */
  c->starting = 1;
  advance(c);
  c->starting = 0;
  return c->phase == PH_DONE ? c->rc : RT_EAGAIN;
}
