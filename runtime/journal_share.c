/* Limits shared through the journal by the pcaprun processes of one host, and what a process that
 * is gone leaves behind (runtime/API.md#9-limits, #11-client-policy).
 *
 * Each process keeps its own limiters (limit.c); a create that one of them admits must also
 * claim the limit here, in a BEGIN IMMEDIATE transaction, before it is sent:
 *   simple   accounts.simple_next (no simple create before it) and simple_owner (one in flight).
 *            A created capture moves simple_next an interval ahead; an owner that is gone may
 *            have had its create applied at any moment before now, so simple_next becomes now +
 *            an interval.
 *   full     slots: one row per full capture that may be pending or running (with its id) or
 *            full create in flight (without), each tracked by a live process or orphaned. At
 *            most full_slots rows may be live. An orphan with an id is adopted (its capture is
 *            polled here until it leaves pending/running); one without an id may have made a
 *            capture, so once RT_JOURNAL_GRACE has passed the claimer lists the account's
 *            captures, adopts what holds the slot, and only then drops it.
 * A claim that must wait is retried on a timer: at the known time (simple), or after a short
 * poll (a slot another process holds). Nothing blocks the loop beyond one short transaction. */
#include "err.h"
#include "journal_internal.h"
#include "log.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ADOPT 16

/* The capture as the journal last saw it, recorded here (when this process does not know it). */
static rt_capture *from_journal(rt_journal *j, rt_account *a, rt_creds *creds, const char *id) {
  rt_capture *cap = rt_capture_find(a, id);
  if (cap) return cap;
  json_t *obj = json_pack("{s:s, s:s, s:s}", "id", id, "type", "full", "status", "pending");
  char intent[40] = "";
  sqlite3_stmt *st = jq(j, JS_CAPTURE_GET, "is", a->journal_id, id);
  if (obj && jrow(st)) {
    if (jtext(st, 0)) snprintf(intent, sizeof intent, "%s", jtext(st, 0));
    json_object_set_new(obj, "status", json_string(jtext(st, 2)));
    if (jtext(st, 3)) json_object_set_new(obj, "colo_name", json_string(jtext(st, 3)));
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
      char when[40];
      rt_time_format(sqlite3_column_double(st, 4), when, sizeof when);
      json_object_set_new(obj, "submitted", json_string(when));
    }
    if (sqlite3_column_type(st, 5) != SQLITE_NULL)
      json_object_set_new(obj, "time_limit", json_real(sqlite3_column_double(st, 5)));
    sqlite3_reset(st);
  }
  rt_capinfo info;
  char why[128];
  if (obj && rt_capinfo_parse(obj, &info, why, sizeof why) == 0 && (cap = rt_capture_update(a, creds, obj, &info)))
    snprintf(cap->intent, sizeof cap->intent, "%s", intent);
  json_decref(obj);
  return cap;
}

/* Follows a full capture that a process now gone was tracking: it holds the slot here. */
static void adopt(rt_journal *j, rt_account *a, rt_creds *creds, const char *id) {
  rt_capture *cap = from_journal(j, a, creds, id);
  if (!cap) return;
  rt_log(RT_LOG_INFO, "capture.adopt", "following a full capture that a pcaprun process now gone was tracking",
         "id", id, "intent", cap->intent[0] ? cap->intent : NULL, NULL);
  if (rt_status_holds_slot(cap->status)) rt_capture_hold(cap);
  else rt_journal_capture(cap); /* it left pending/running unseen: the slot row goes */
}

typedef struct slot_scan {
  int live;                     /* rows tracked by a live process (adopted ones included) */
  int unresolved;               /* orphaned claims: a create that may have made a capture */
  double resolve_at;            /* wall time when all of them may be resolved by a list */
  int nadopt;
  char adopt[MAX_ADOPT][33];
} slot_scan;

/* Inside a transaction: counts the account's slot rows, marks the ones whose process is gone as
 * orphaned, and takes over orphans with a capture id (to adopt once committed). */
static int scan_slots(rt_journal *j, rt_account *a, slot_scan *s) {
  memset(s, 0, sizeof *s);
  int64_t ids[64];
  double orphaned[64];
  char caps[64][33];
  int n = 0, rc = 0;
  double now = rt_wall();
  sqlite3_stmt *st = jq(j, JS_SLOT_LIST, "i", a->journal_id);
  while (jrow(st)) {
    const char *owner = jtext(st, 2);
    if (owner && rt_journal_alive(j, owner)) { s->live++; continue; }
    if (n == 64) { s->live++; continue; } /* more than anyone should have: count it taken */
    ids[n] = sqlite3_column_int64(st, 0);
    snprintf(caps[n], sizeof caps[n], "%s", jtext(st, 1) ? jtext(st, 1) : "");
    orphaned[n] = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 3);
    n++;
  }
  for (int i = 0; i < n && rc == 0; i++) {
    if (caps[i][0] && s->nadopt < MAX_ADOPT) {
      rc = jx(j, JS_SLOT_SET, "isn", ids[i], j->self);
      memcpy(s->adopt[s->nadopt++], caps[i], sizeof caps[i]);
      s->live++;
      continue;
    }
    if (caps[i][0]) { s->live++; continue; }
    if (!orphaned[i]) rc = jx(j, JS_SLOT_SET, "ind", ids[i], now), orphaned[i] = now;
    s->unresolved++;
    s->resolve_at = fmax(s->resolve_at, orphaned[i] + RT_JOURNAL_GRACE);
  }
  return rc;
}

static void adopt_all(rt_journal *j, rt_account *a, rt_creds *creds, const slot_scan *s) {
  for (int i = 0; i < s->nadopt; i++) adopt(j, a, creds, s->adopt[i]);
}

void rt_journal_attach(rt_account *a, rt_creds *creds) {
  if (a->journal_attached || !rt_journal_use(a->rt)) return;
  a->journal_attached = 1;
  rt_journal *j = rt_journal_of(a);
  slot_scan s;
  if (!j || jbegin(j)) return;
  if (jend(j, scan_slots(j, a, &s)) == 0) adopt_all(j, a, creds, &s);
}

static int claim_sample(rt_journal *j, rt_call *c, uint64_t *wait_ms) {
  rt_account *a = c->acct;
  double now = rt_wall(), next = 0;
  char owner[96] = "";
  int rc = jbegin(j);
  sqlite3_stmt *st = rc ? NULL : jq(j, JS_SAMPLE_GET, "i", a->journal_id);
  if (jrow(st)) {
    next = sqlite3_column_double(st, 0);
    if (jtext(st, 1)) snprintf(owner, sizeof owner, "%s", jtext(st, 1));
    sqlite3_reset(st);
  }
  if (rc) return rc;
  if (owner[0] && strcmp(owner, j->self) != 0) {
    if (rt_journal_alive(j, owner)) {
      *wait_ms = jpoll_ms(a->rt);
      return jend(j, 0) ? RT_EIO : RT_EAGAIN;
    }
    /* its create may have been applied at any moment until now, or a little later still */
    next = fmax(next, now + RT_JOURNAL_GRACE + jgap(a->rt));
    rc = jx(j, JS_SAMPLE_SET, "idn", a->journal_id, next);
  }
  if (rc == 0 && next > now) {
    *wait_ms = (uint64_t)ceil((next - now) * 1000);
    return jend(j, 0) ? RT_EIO : RT_EAGAIN;
  }
  if (rc == 0) rc = jx(j, JS_SAMPLE_SET, "ids", a->journal_id, 0.0, j->self);
  if ((rc = jend(j, rc)) == 0) c->journal_claim = 1;
  return rc;
}

static int claim_full(rt_journal *j, rt_call *c, uint64_t *wait_ms) {
  rt_account *a = c->acct;
  slot_scan s;
  double now = rt_wall();
  int rc = jbegin(j), out = 0;
  if (rc || (rc = scan_slots(j, a, &s))) return jend(j, rc ? rc : RT_EIO);
  if (s.live >= a->rt->opt.full_slots) {
    *wait_ms = jpoll_ms(a->rt);
    out = RT_EAGAIN;
  } else if (s.unresolved && now < s.resolve_at) {
    *wait_ms = (uint64_t)ceil((s.resolve_at - now) * 1000);
    out = RT_EAGAIN;
  } else if (s.unresolved) {
    a->journal_resolve = now; /* the list must be sent after this */
    out = RT_JOURNAL_RESOLVE;
  } else if ((rc = jx(j, JS_SLOT_CLAIM, "issd", a->journal_id, c->intent, j->self, now)) == 0) {
    c->journal_slot = sqlite3_last_insert_rowid(j->db);
  }
  if ((rc = jend(j, rc))) return rc;
  adopt_all(j, a, c->creds, &s);
  if (out == 0) c->journal_claim = 1;
  return out;
}

int rt_journal_claim(rt_call *c, uint64_t *wait_ms) {
  rt_journal *j = rt_journal_of(c->acct);
  if (!j || c->journal_claim > 0) return 0;
  if (c->cap_type == RT_CAP_SIMPLE && c->acct->rt->opt.sample_interval <= 0) return 0; /* no limit to share */
  int rc = c->cap_type == RT_CAP_FULL ? claim_full(j, c, wait_ms) : claim_sample(j, c, wait_ms);
  if (rc == RT_EAGAIN && !c->journal_claim) { /* once per call: say why nothing happens */
    c->journal_claim = -1;
    rt_log(RT_LOG_INFO, "limit.wait", c->cap_type == RT_CAP_FULL
             ? "waiting for the full-capture slot held through the journal (another pcaprun, or one that died)"
             : "waiting for the simple-capture rate limit shared through the journal", NULL);
  }
  if (rc == RT_EIO) snprintf(c->message, sizeof c->message, "cannot use the journal %s: %s", j->path, j->error);
  return rc;
}

void rt_journal_unclaim(rt_call *c, int maybe_applied) {
  rt_account *a = c->acct;
  rt_journal *j = rt_journal_of(a);
  double now = rt_wall();
  if (j && c->journal_claim > 0 && c->cap_type == RT_CAP_FULL) {
    /* unknown outcome: the row stays, orphaned, until a list shows what the create did */
    if (maybe_applied) jx(j, JS_SLOT_SET, "ind", c->journal_slot, now);
    else jx(j, JS_SLOT_DROP, "i", c->journal_slot);
  } else if (j && c->journal_claim > 0) {
    jx(j, JS_SAMPLE_SET, "idn", a->journal_id, maybe_applied ? now + RT_JOURNAL_GRACE + jgap(a->rt) : 0.0);
  }
  if (j && maybe_applied) /* whoever runs the intent next reconciles it first */
    jx(j, JS_INTENT_OWN, "isnd", a->journal_id, c->intent, now);
  c->journal_claim = 0;
  c->journal_slot = 0;
}

void rt_journal_pause(rt_account *a, double until_wall) {
  rt_journal *j = rt_journal_of(a);
  if (j) jx(j, JS_SAMPLE_PAUSE, "id", a->journal_id, until_wall);
}

void rt_journal_resolved(rt_account *a) {
  rt_journal *j = a->journal_resolve > 0 ? rt_journal_of(a) : NULL;
  if (j) jx(j, JS_SLOT_RESOLVED, "id", a->journal_id, a->journal_resolve - RT_JOURNAL_GRACE);
  a->journal_resolve = 0;
}
