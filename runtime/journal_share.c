/* Intents and the limits shared through the journal by the pcaprun processes of one host, and
 * what a process that is gone leaves behind (runtime/API.md#9-limits, #11-client-policy).
 *
 * A create claims, in one BEGIN IMMEDIATE transaction, its intent and the limit it needs:
 *   intent   made already (a capture id): adopt it; being made by another live process: wait;
 *            sent by a process now gone with no known outcome: reconcile (list) once the grace
 *            has passed; otherwise it becomes this process's.
 *   simple   accounts.simple_next (no simple create before it), simple_owner (one in flight) and
 *            paused_until (the API asked to wait). A created capture moves simple_next a gap
 *            ahead; an owner that is gone may have had its create applied at any moment before
 *            now, so simple_next becomes now + a gap.
 *   full     slots: one row per full capture that may be pending or running (with its id) or
 *            full create claimed (without), each followed by a live process or orphaned. At
 *            most full_slots rows may be live. An orphan with an id is handed to the claimer to
 *            adopt (its capture is polled there until it leaves pending/running); one without an
 *            id may have made a capture, so once RT_JOURNAL_GRACE has passed the claimer lists
 *            the account's captures, adopts what holds the slot, and only then drops it.
 * The request budget of a principal is a table of requests: in flight (at NULL, with the
 * process) or sent at `at`; a place is taken by one INSERT that counts the window first.
 * Nothing waits inside the journal: a claim that must wait says how long, and the caller asks
 * again on a timer. */
#include "err.h"
#include "journal_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the full-capture slot ---- */

typedef struct slot_scan {
  int live;                     /* rows followed by a live process (adopted ones included) */
  int unresolved;               /* orphaned claims: a create that may have made a capture */
  double resolve_at;            /* wall time when all of them may be resolved by a list */
} slot_scan;

/* The capture the journal last saw, as a record to adopt. */
static void read_capture(rt_journal *j, int64_t account, const char *id, rt_jcapture *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->id, sizeof out->id, "%.32s", id);
  out->type = RT_CAP_FULL;
  out->status = "pending";
  out->holds_slot = 1;
  sqlite3_stmt *st = jq(j, JS_CAPTURE_GET, "is", account, id);
  if (!jrow(st)) return;
  static const char *const known[] = {"pending", "running", "conversion_pending", "conversion_running",
                                      "success", "complete", "failed", "unknown"};
  for (unsigned i = 0; jtext(st, 2) && i < sizeof known / sizeof known[0]; i++)
    if (strcmp(jtext(st, 2), known[i]) == 0) out->status = known[i]; /* a static string */
  if (jtext(st, 0)) snprintf(out->intent, sizeof out->intent, "%s", jtext(st, 0));
  if (jtext(st, 3)) snprintf(out->colo, sizeof out->colo, "%s", jtext(st, 3));
  out->submitted = jnum(st, 4);
  out->time_limit = jnum(st, 5);
  sqlite3_reset(st);
}

/* Inside a transaction: counts the account's slot rows, marks the ones whose process is gone as
 * orphaned, and takes over orphans with a capture id (returned in adopt[], to follow). */
static int scan_slots(rt_journal *j, int64_t account, slot_scan *s, rt_jcapture *adopt, int max, int *nadopt) {
  memset(s, 0, sizeof *s);
  int64_t ids[64];
  double orphaned[64];
  char caps[64][33];
  int n = 0, rc = 0;
  double now = rt_wall();
  sqlite3_stmt *st = jq(j, JS_SLOT_LIST, "i", account);
  while (jrow(st)) {
    const char *owner = jtext(st, 2);
    if (owner && rt_journal_alive(j, owner)) { s->live++; continue; }
    if (n == 64) { s->live++; continue; } /* more than anyone should have: count it taken */
    ids[n] = sqlite3_column_int64(st, 0);
    snprintf(caps[n], sizeof caps[n], "%s", jtext(st, 1) ? jtext(st, 1) : "");
    orphaned[n] = jnum(st, 3);
    n++;
  }
  for (int i = 0; i < n && rc == 0; i++) {
    if (caps[i][0]) { /* a capture of a process now gone: it is the claimer's to follow now */
      s->live++;
      if (*nadopt < max) {
        rc = jx(j, JS_SLOT_SET, "isn", ids[i], j->self);
        read_capture(j, account, caps[i], &adopt[(*nadopt)++]);
      }
      continue;
    }
    if (!orphaned[i]) rc = jx(j, JS_SLOT_SET, "ind", ids[i], now), orphaned[i] = now;
    s->unresolved++;
    s->resolve_at = fmax(s->resolve_at, orphaned[i] + RT_JOURNAL_GRACE);
  }
  return rc;
}

int rt_journal_orphans(rt_journal *j, int64_t account, rt_jcapture *out, int max, int *n) {
  slot_scan s;
  *n = 0;
  int rc = jbegin(j);
  return rc ? rc : jend(j, scan_slots(j, account, &s, out, max, n));
}

/* Inside the claim's transaction: the full slot. */
static int claim_full(rt_journal *j, const rt_jclaim_req *req, rt_jclaim *out) {
  slot_scan s;
  double now = rt_wall();
  int rc = scan_slots(j, req->account, &s, out->adopt, RT_JOURNAL_MAX_ADOPT, &out->nadopt);
  if (rc) return rc;
  if (s.live >= req->full_slots) {
    out->outcome = RT_JC_WAIT;
    out->by_process = 1;
    out->wait_ms = req->poll_ms;
  } else if (s.unresolved && now < s.resolve_at) {
    out->outcome = RT_JC_WAIT;
    out->wait_ms = (uint64_t)ceil((s.resolve_at - now) * 1000);
  } else if (s.unresolved) {
    out->outcome = RT_JC_RESOLVE;
  } else if ((rc = jx(j, JS_SLOT_CLAIM, "issd", req->account, req->intent, j->self, now)) == 0) {
    out->slot = sqlite3_last_insert_rowid(j->db);
  }
  return rc;
}

/* Inside the claim's transaction: the simple-create rate. */
static int claim_simple(rt_journal *j, const rt_jclaim_req *req, rt_jclaim *out) {
  double now = rt_wall(), next = 0;
  char owner[96] = "";
  sqlite3_stmt *st = jq(j, JS_SAMPLE_GET, "i", req->account);
  if (jrow(st)) {
    next = fmax(jnum(st, 0), jnum(st, 2));
    if (jtext(st, 1)) snprintf(owner, sizeof owner, "%s", jtext(st, 1));
    sqlite3_reset(st);
  }
  /* a recorded wait is never longer than the longest the API may ask: a bogus row cannot block */
  next = fmin(next, now + req->sample_gap + req->max_pause);
  int rc = 0;
  if (owner[0] && strcmp(owner, j->self) != 0) {
    if (rt_journal_alive(j, owner)) {
      out->outcome = RT_JC_WAIT;
      out->by_process = 1;
      out->wait_ms = req->poll_ms;
      return 0;
    }
    /* its create may have been applied at any moment until now, or a little later still */
    next = fmax(next, now + RT_JOURNAL_GRACE + req->sample_gap);
    rc = jx(j, JS_SAMPLE_SET, "idn", req->account, next);
  }
  if (rc == 0 && next > now) {
    out->outcome = RT_JC_WAIT;
    out->wait_ms = (uint64_t)ceil((next - now) * 1000);
    return 0;
  }
  return rc ? rc : jx(j, JS_SAMPLE_SET, "ids", req->account, 0.0, j->self);
}

/* ---- intents ---- */

int rt_journal_intent(rt_journal *j, int64_t account, const char *intent, const char *spec, rt_jintent *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = jq(j, JS_INTENT_GET, "is", account, intent);
  if (!jrow(st)) return 0;
  out->found = 1;
  if ((out->conflict = strcmp(jtext(st, 1), spec) != 0))
    snprintf(out->journaled_spec, sizeof out->journaled_spec, "%s", jtext(st, 1));
  if (jtext(st, 5)) snprintf(out->capture_id, sizeof out->capture_id, "%s", jtext(st, 5));
  const char *owner = jtext(st, 3);
  out->busy = !out->capture_id[0] && owner && strcmp(owner, j->self) != 0 && rt_journal_alive(j, owner);
  sqlite3_reset(st);
  return 0;
}

/* Inside the claim's transaction: what the intent's row says. Returns 0 with out->outcome set
 * when the intent decides (adopt, wait, reconcile, conflict), or 1 to go on to the limit. */
static int claim_intent(rt_journal *j, const rt_jclaim_req *req, rt_jclaim *out, int *rc) {
  sqlite3_stmt *st = jq(j, JS_INTENT_GET, "is", req->account, req->intent);
  if (!jrow(st)) return 1;
  char owner[96] = "";
  int same = strcmp(jtext(st, 1), req->spec) == 0, sent = sqlite3_column_int(st, 6);
  if (!same) snprintf(out->journaled_spec, sizeof out->journaled_spec, "%s", jtext(st, 1));
  out->first_sent = jnum(st, 2);
  if (jtext(st, 3)) snprintf(owner, sizeof owner, "%s", jtext(st, 3));
  double orphaned = jnum(st, 4), now = rt_wall();
  if (jtext(st, 5)) snprintf(out->capture_id, sizeof out->capture_id, "%s", jtext(st, 5));
  sqlite3_reset(st);
  if (!same) {
    out->outcome = RT_JC_CONFLICT;
  } else if (out->capture_id[0]) {
    out->outcome = RT_JC_ADOPT;
  } else if (owner[0] && strcmp(owner, j->self) != 0 && rt_journal_alive(j, owner)) {
    out->outcome = RT_JC_WAIT; /* its creator is at it: wait for the outcome */
    out->by_process = 1;
    out->wait_ms = req->poll_ms;
  } else if (strcmp(owner, j->self) != 0 && sent) {
    /* its creator is gone after sending: let a create it sent just before dying land, then list */
    if (!orphaned || now < orphaned + RT_JOURNAL_GRACE) {
      if (!orphaned) orphaned = now, *rc = jx(j, JS_INTENT_OWN, "isnd", req->account, req->intent, now);
      out->outcome = RT_JC_WAIT;
      out->wait_ms = (uint64_t)ceil((orphaned + RT_JOURNAL_GRACE - now) * 1000);
    } else {
      *rc = jx(j, JS_INTENT_OWN, "issn", req->account, req->intent, j->self);
      out->outcome = RT_JC_RECONCILE;
    }
  } else {
    return 1; /* this process's own (a retry), or one never sent */
  }
  return 0;
}

int rt_journal_claim(rt_journal *j, const rt_jclaim_req *req, rt_jclaim *out) {
  memset(out, 0, sizeof *out);
  out->outcome = RT_JC_GO;
  int rc = jbegin(j);
  if (rc) return rc;
  if (claim_intent(j, req, out, &rc) && rc == 0) {
    if (req->type == RT_CAP_FULL) rc = claim_full(j, req, out);
    else if (req->sample_gap > 0) rc = claim_simple(j, req, out);
    if (rc == 0 && out->outcome == RT_JC_GO)
      rc = jx(j, JS_INTENT_PUT, "isssds", req->account, req->intent, rt_journal_type_name(req->type), req->spec,
              rt_wall(), j->self);
  }
  if ((rc = jend(j, rc))) {
    out->nadopt = 0; /* rolled back: nothing was handed over */
    out->slot = 0;
  }
  return rc;
}

int rt_journal_sent(rt_journal *j, int64_t account, const char *intent) {
  int rc = jx(j, JS_SYNC_FULL, ""); /* durable before the create can reach the API, power loss included */
  if (rc == 0) rc = jx(j, JS_INTENT_SENT, "isd", account, intent, rt_wall());
  jx(j, JS_SYNC_NORMAL, "");
  return rc;
}

int rt_journal_created(rt_journal *j, int64_t account, const char *intent, int64_t slot, double sample_gap,
                       const rt_jcapture *cap) {
  int rc = jbegin(j);
  if (rc) return rc;
  if (intent && intent[0]) rc = jx(j, JS_INTENT_DONE, "iss", account, intent, cap->id);
  if (rc == 0) rc = rt_journal_put_capture(j, account, cap);
  /* the claim (and a dead process's claim for this intent) now is the capture's */
  if (rc == 0 && cap->type == RT_CAP_FULL) {
    if (slot) rc = jx(j, JS_SLOT_DROP, "i", slot);
    if (rc == 0 && intent && intent[0]) rc = jx(j, JS_SLOT_DROP_INTENT, "is", account, intent);
  } else if (rc == 0 && sample_gap > 0) {
    rc = jx(j, JS_SAMPLE_SET, "idn", account, rt_wall() + sample_gap);
  }
  return jend(j, rc);
}

int rt_journal_unclaim(rt_journal *j, int64_t account, const char *intent, int type, int64_t slot,
                       double sample_gap, int maybe_applied) {
  double now = rt_wall();
  int rc = jbegin(j);
  if (rc) return rc;
  if (type == RT_CAP_FULL && slot)
    /* unknown outcome: the row stays, orphaned, until a list shows what the create did */
    rc = maybe_applied ? jx(j, JS_SLOT_SET, "ind", slot, now) : jx(j, JS_SLOT_DROP, "i", slot);
  else if (type == RT_CAP_SIMPLE && sample_gap > 0)
    rc = jx(j, JS_SAMPLE_SET, "idn", account, maybe_applied ? now + RT_JOURNAL_GRACE + sample_gap : 0.0);
  if (rc == 0)
    rc = maybe_applied ? jx(j, JS_INTENT_OWN, "isnd", account, intent, now) /* the next run reconciles */
                       : jx(j, JS_INTENT_FORGET, "is", account, intent);
  return jend(j, rc);
}

int rt_journal_resolved(rt_journal *j, int64_t account, double since) {
  return jx(j, JS_SLOT_RESOLVED, "id", account, since - RT_JOURNAL_GRACE);
}

int rt_journal_pause(rt_journal *j, int64_t account, double until_wall) {
  return jx(j, JS_SAMPLE_PAUSE, "id", account, until_wall);
}

int rt_journal_clear_pauses(rt_journal *j) { return jx(j, JS_PAUSE_CLEAR, ""); }

/* ---- the request budget ---- */

/* Requests in flight of processes now gone: counted as sent now (they may have reached the API). */
static int settle_dead(rt_journal *j, const char *principal) {
  int64_t dead[64];
  int n = 0, rc = 0;
  sqlite3_stmt *st = jq(j, JS_BUDGET_INFLIGHT, "s", principal);
  while (jrow(st))
    if (n < 64 && !rt_journal_alive(j, jtext(st, 1))) dead[n++] = sqlite3_column_int64(st, 0);
  double now = rt_wall();
  for (int i = 0; i < n && rc == 0; i++) rc = jx(j, JS_BUDGET_SENT, "id", dead[i], now);
  return rc;
}

int rt_journal_budget_take(rt_journal *j, const char *principal, unsigned n, double window, uint64_t poll_ms,
                           int64_t *row, uint64_t *wait_ms) {
  double now = rt_wall();
  *row = 0;
  *wait_ms = 0;
  if (++j->budget_takes % 1024 == 1) jx(j, JS_BUDGET_PRUNE, "d", now - window);
  int rc = jx(j, JS_BUDGET_TAKE, "ssdi", principal, j->self, now - window, (int64_t)n);
  if (rc) return rc;
  if (sqlite3_changes(j->db) == 1) {
    *row = sqlite3_last_insert_rowid(j->db);
    return 0;
  }
  /* full: the oldest sent request leaves the window first; with none, only in-flight ones hold it */
  if ((rc = settle_dead(j, principal))) return rc;
  sqlite3_stmt *st = jq(j, JS_BUDGET_OLDEST, "sd", principal, now - window);
  double oldest = 0;
  if (jrow(st)) {
    oldest = jnum(st, 0);
    sqlite3_reset(st);
  }
  *wait_ms = oldest > 0 ? (uint64_t)ceil((oldest + window - now) * 1000) + 1 : poll_ms;
  return 0;
}

int rt_journal_budget_done(rt_journal *j, int64_t row, int sent) {
  if (!row) return 0;
  return sent ? jx(j, JS_BUDGET_SENT, "id", row, rt_wall()) : jx(j, JS_BUDGET_FREE, "i", row);
}
