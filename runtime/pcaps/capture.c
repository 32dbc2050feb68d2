/* Capture records, who holds the full-capture slot, adoption, stops, and the poller. The runtime
 * follows every capture that holds the full-capture slot, or that a task waits for, until it no
 * longer needs to — whether or not the script polls.
 * Polling is adaptive (runtime/API.md#6-statuses): the first poll lands near the expected end
 * (submitted + time_limit + what this account's captures have shown to be typical lateness), a
 * full capture's next near its expected end of conversion (learned too), then a short backoff that
 * grows by half each time. One poll at a time per capture, shared by all waiters. */
#include "err.h"
#include "journal.h"
#include "log.h"
#include "pcaps.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_SLACK 0.2      /* API s after the expected end */
#define POLL_FIRST 0.25     /* API s: first backoff step */
#define POLL_CAP 15.0       /* API s: longest backoff step */
#define POLL_FAIL_CAP 60.0  /* API s: backoff after failed polls */
#define POLL_MAX_DELAY 86400.0 /* real s: the longest a poll waits, whatever the times say */

static void schedule(rt_capture *cap);

static void wake_waiters(rt_capture *cap, int rc) {
  RT_LIST_EACH(it, &cap->waiters) {
    rt_capwait *cw = RT_CONTAINER(it, rt_capwait, link);
    rt_list_unlink(&cw->link);
    rt_wait_done(&cw->w, rc);
  }
}

void rt_capture_record(const rt_capture *cap, rt_jcapture *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->id, sizeof out->id, "%s", cap->id);
  snprintf(out->intent, sizeof out->intent, "%s", cap->intent);
  out->type = cap->type;
  out->status = rt_status_name(cap->status);
  snprintf(out->colo, sizeof out->colo, "%s", cap->colo);
  out->submitted = cap->submitted;
  out->time_limit = cap->time_limit;
  out->holds_slot = cap->holds_slot;
}

static void journal(rt_capture *cap) {
  rt_jcapture rec;
  rt_capture_record(cap, &rec);
  if (rt_journal_capture(cap->acct->journal, cap->acct->journal_id, &rec) == 0) cap->journaled = 1;
}

rt_capture *rt_capture_update(rt_account *a, rt_creds *creds, const json_t *obj, const rt_capinfo *info) {
  rt_capture *cap = rt_capture_find(a, info->id);
  if (!cap) {
    cap = calloc(1, sizeof *cap);
    if (!cap) return NULL;
    cap->acct = a;
    cap->creds = rt_creds_ref(creds);
    cap->packets = -1;
    snprintf(cap->id, sizeof cap->id, "%s", info->id);
    rt_list_init(&cap->waiters);
    rt_list_push(&a->captures, &cap->link);
    cap->status = -1;
  }
  json_t *copy = json_deep_copy(obj);
  if (copy) {
    json_decref(cap->obj);
    cap->obj = copy;
  }
  int old = cap->status;
  cap->type = info->type;
  cap->status = info->status;
  if (info->colo[0]) snprintf(cap->colo, sizeof cap->colo, "%s", info->colo);
  if (info->submitted > 0) cap->submitted = info->submitted;
  if (info->time_limit > 0) cap->time_limit = info->time_limit;
  if (old != cap->status) {
    cap->backoff = 0;
    if (old >= 0)
      rt_log(RT_LOG_DEBUG, "capture.status", "capture status changed", "id", cap->id,
             "status", rt_status_name(cap->status), NULL);
  }
  int released = cap->holds_slot && !rt_status_holds_slot(cap->status);
  if (released) {
    cap->holds_slot = 0;
    rt_log(RT_LOG_DEBUG, "capture.slot", "full capture left pending/running: slot free", "id", cap->id, NULL);
  }
  /* the journal first: a create the gate lets through next claims the slot there too */
  if (cap->journaled && a->journal && (released || old != cap->status)) journal(cap);
  if (released) rt_gate_release(&a->full);
  if (rt_status_terminal(cap->status)) wake_waiters(cap, 0);
  return cap;
}

/* The capture (full, pending or running, made elsewhere or found) holds the account's full slot
 * from now until it leaves pending/running: it takes a place in the gate, is journaled, polled. */
static void hold(rt_capture *cap) {
  if (cap->holds_slot) return;
  cap->holds_slot = 1;
  rt_gate_force(&cap->acct->full);
  if (cap->acct->journal) journal(cap);
  rt_capture_watch(cap);
}

rt_capture *rt_capture_made(rt_account *a, rt_creds *creds, const json_t *obj, const rt_capinfo *info,
                            const char *intent, int priority, int with_gate, int *took_gate) {
  *took_gate = 0;
  rt_capture *cap = rt_capture_update(a, creds, obj, info);
  if (!cap) return NULL;
  cap->priority = priority;
  cap->claimed = 1;
  snprintf(cap->intent, sizeof cap->intent, "%s", intent);
  if (cap->type != RT_CAP_FULL || !rt_status_holds_slot(cap->status) || cap->holds_slot) return cap;
  if (with_gate) { /* the create's permit now belongs to the capture until it leaves pending/running */
    cap->holds_slot = 1;
    *took_gate = 1;
    rt_capture_watch(cap);
  } else { /* found or resumed, not made by this attempt: it holds a slot all the same */
    hold(cap);
  }
  return cap;
}

int rt_capture_adopt_holders(rt_account *a, rt_creds *creds, const json_t *list) {
  int adopted = 0;
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    rt_capinfo info;
    char why[128];
    if (rt_capinfo_parse(item, &info, why, sizeof why) || info.type != RT_CAP_FULL ||
        !rt_status_holds_slot(info.status))
      continue;
    rt_capture *known = rt_capture_find(a, info.id);
    if (known && (known->claimed || known->holds_slot)) continue;
    rt_capture *cap = rt_capture_update(a, creds, item, &info);
    if (!cap) continue;
    hold(cap);
    rt_log(RT_LOG_INFO, "capture.adopt", "a full capture made elsewhere holds the slot; waiting for it",
           "id", info.id, "status", info.status_raw, NULL);
    adopted++;
  }
  a->full_checked = 1;
  return adopted;
}

void rt_capture_adopt_journaled(rt_account *a, rt_creds *creds, const rt_jcapture *rec) {
  rt_capture *cap = rt_capture_find(a, rec->id);
  if (!cap) { /* the capture as the journal last saw it */
    json_t *obj = json_pack("{s:s, s:s, s:s}", "id", rec->id, "type", "full", "status", rec->status);
    if (obj && rec->colo[0]) json_object_set_new(obj, "colo_name", json_string(rec->colo));
    if (obj && rec->submitted > 0) {
      char when[40];
      rt_time_format(rec->submitted, when, sizeof when);
      json_object_set_new(obj, "submitted", json_string(when));
    }
    if (obj && rec->time_limit > 0) json_object_set_new(obj, "time_limit", json_real(rec->time_limit));
    rt_capinfo info;
    char why[128];
    if (obj && rt_capinfo_parse(obj, &info, why, sizeof why) == 0 && (cap = rt_capture_update(a, creds, obj, &info)))
      snprintf(cap->intent, sizeof cap->intent, "%s", rec->intent);
    json_decref(obj);
    if (!cap) return;
  }
  rt_log(RT_LOG_INFO, "capture.adopt", "following a full capture that a pcaprun process now gone was following",
         "id", rec->id, "intent", cap->intent[0] ? cap->intent : NULL, NULL);
  if (rt_status_holds_slot(cap->status)) hold(cap);
  else if (a->journal) journal(cap); /* it left pending/running unseen: the slot row goes */
}

/* A stop the runtime sent for its own reasons (preemption, a caller that gave up) has ended. */
static void stop_done(rt_call *s) {
  if (s->rc) rt_log(RT_LOG_WARN, "capture.stop", "could not stop the full capture", "id", s->id,
                    "error", s->message, NULL);
  rt_call_free(s);
}

void rt_capture_stop(rt_capture *cap, const char *why) {
  if (cap->type != RT_CAP_FULL || !cap->holds_slot || cap->stop_sent) return;
  rt_call *s = rt_call_new(cap->acct, cap->creds, RT_CALL_STOP);
  if (!s) return;
  snprintf(s->id, sizeof s->id, "%s", cap->id);
  s->on_done = stop_done;
  s->owner = RT_OWNER_RUNTIME; /* the run does not end before it is done */
  cap->acct->rt->background++;
  cap->stop_sent = 1;
  rt_log(RT_LOG_INFO, "capture.stop", why, "id", cap->id, NULL);
  if (rt_call_start(s) != RT_EAGAIN) stop_done(s);
}

static int needs_polling(const rt_capture *cap) {
  return !rt_status_terminal(cap->status) && !cap->poll_error_rc &&
         (cap->holds_slot || !rt_list_empty(&cap->waiters));
}

/* Phases the poller tells apart: before the milestone that matters (simple: done; full: out of
 * pending/running, which frees the slot), converting (full), terminal. */
static int phase_of(const rt_capture *cap) {
  if (rt_status_terminal(cap->status)) return 2;
  if (cap->type == RT_CAP_FULL && !rt_status_holds_slot(cap->status)) return 1;
  return 0;
}

static void ewma(double *est, double sample) { *est = *est > 0 ? 0.5 * *est + 0.5 * sample : sample; }

/* After a poll that found a new phase: the change happened between the previous poll and this
 * one; take the middle as its time, learn how long the phase lasted beyond its nominal length,
 * and start the next phase there. */
static void learn(rt_capture *cap, int old_phase, int new_phase) {
  rt_account *a = cap->acct;
  double F = a->rt->opt.time_scale;
  if (cap->submitted <= 0 || cap->stop_sent) return;
  double nominal_end = cap->submitted + cap->time_limit * F;
  double lo = old_phase == 0 ? fmax(cap->prev_poll_wall, nominal_end) : fmax(cap->prev_poll_wall, cap->phase_start);
  double hi = cap->poll_wall, at = hi >= lo ? (lo + hi) / 2 : hi;
  if (old_phase == 0 && cap->time_limit > 0) ewma(&a->late[cap->type], fmax(0, (at - nominal_end) / F));
  if (old_phase == 1 && new_phase == 2 && cap->phase_start > 0) ewma(&a->convert, fmax(0, (at - cap->phase_start) / F));
  cap->phase_start = at;
}

static void on_poll_done(rt_call *p) {
  rt_capture *cap = p->user;
  cap->poll = NULL;
  if (p->rc == 0) {
    cap->poll_failures = 0;
    int now = phase_of(cap);
    if (now != cap->phase) {
      learn(cap, cap->phase, now);
      cap->phase = now;
    }
  } else if (p->rc == RT_ENOTFOUND || (p->rc == RT_EAPI && p->http_status >= 400 && p->http_status < 500 &&
                                       p->http_status != 408 && p->http_status != 429)) {
    snprintf(cap->poll_error, sizeof cap->poll_error, "%s", p->message);
    cap->poll_error_rc = p->rc;
    rt_log(RT_LOG_ERROR, "capture.poll", "cannot follow the capture any more", "id", cap->id,
           "error", p->message, NULL);
    wake_waiters(cap, p->rc);
  } else {
    cap->poll_failures++;
    rt_log(RT_LOG_WARN, "capture.poll", "polling the capture failed; will try again", "id", cap->id,
           "error", p->message, NULL);
  }
  rt_call_free(p);
  schedule(cap);
}

static void on_poll_timer(uv_timer_t *t) {
  rt_capture *cap = t->data;
  if (cap->poll || !needs_polling(cap)) return;
  rt_call *p = rt_call_new(cap->acct, cap->creds, RT_CALL_GET);
  if (!p) return;
  snprintf(p->id, sizeof p->id, "%s", cap->id);
  p->user = cap;
  p->on_done = on_poll_done;
  cap->poll = p;
  cap->polls++;
  cap->phase = phase_of(cap);
  cap->prev_poll_wall = cap->poll_wall;
  cap->poll_wall = rt_wall();
  int rc = rt_call_start(p);
  if (rc != RT_EAGAIN) {
    p->rc = rc;
    on_poll_done(p);
  }
}

/* When to poll next: at the expected end if it is still ahead, else after a growing backoff. */
static void schedule(rt_capture *cap) {
  rt_runtime *rt = cap->acct->rt;
  if (cap->poll || !needs_polling(cap) || rt->closing) {
    if (cap->timer) uv_timer_stop(cap->timer);
    return;
  }
  if (!cap->timer && !(cap->timer = rt_timer_new(rt, cap))) return;
  rt_account *a = cap->acct;
  double F = rt->opt.time_scale, now_wall = rt_wall(), delay, due = 0;
  int phase = phase_of(cap);
  if (phase == 0 && cap->submitted > 0 && !cap->stop_sent)
    due = cap->submitted + (cap->time_limit + a->late[cap->type] + POLL_SLACK) * F;
  else if (phase == 1 && cap->phase_start > 0 && a->convert > 0)
    due = cap->phase_start + (a->convert + POLL_SLACK) * F;
  if (cap->poll_failures) {
    delay = fmin(POLL_FAIL_CAP, POLL_FIRST * pow(2, cap->poll_failures)) * F;
  } else if (due > now_wall + POLL_FIRST * F) {
    delay = due - now_wall;
  } else {
    cap->backoff = cap->backoff > 0 ? fmin(cap->backoff * 1.5, POLL_CAP) : POLL_FIRST;
    delay = cap->backoff * F;
  }
  rt_timer_start(cap->timer, on_poll_timer, (uint64_t)ceil(rt_clamp_seconds(delay, POLL_MAX_DELAY) * 1000));
}

void rt_capture_watch(rt_capture *cap) {
  if (cap->poll || (cap->timer && uv_is_active((uv_handle_t *)cap->timer))) return;
  schedule(cap);
}

void rt_capture_repoll(rt_capture *cap) {
  cap->backoff = 0;
  if (cap->timer) uv_timer_stop(cap->timer);
  schedule(cap);
}

void rt_capture_stop_polling(rt_capture *cap) {
  if (cap->poll) {
    rt_call_free(cap->poll);
    cap->poll = NULL;
  }
  rt_timer_free(&cap->timer);
  wake_waiters(cap, RT_ESHUTDOWN);
}

int rt_capture_wait(rt_capture *cap, rt_capwait *cw) {
  if (rt_status_terminal(cap->status)) return 0;
  if (cap->poll_error_rc) return cap->poll_error_rc;
  cw->cap = cap;
  rt_list_push(&cap->waiters, &cw->link);
  rt_capture_watch(cap);
  return RT_EAGAIN;
}
