/* The journal's alerts: what a daemon (pcaprun serve) accepted, recorded durably before it
 * answers the sender, and the playbook runs each started. Plain values in and out, like the rest
 * of the journal (journal.h); the statements are in journal.c. */
#include "err.h"
#include "journal_internal.h"
#include <stdlib.h>
#include <string.h>

int rt_journal_alerts_add(rt_journal *j, rt_jalert_in *in, int n) {
  int rc = jx(j, JS_SYNC_FULL, ""); /* on disk before the sender hears "accepted" */
  if (rc == 0) rc = jbegin(j);
  double now = rt_wall();
  for (int i = 0; rc == 0 && i < n; i++) {
    sqlite3_stmt *st;
    rc = jx(j, JS_ALERT_ADD, "ssds", in[i].source, in[i].dedup, now, in[i].payload);
    in[i].duplicate = rc == 0 && sqlite3_changes(j->db) == 0;
    in[i].id = 0;
    if (rc == 0 && jrow(st = jq(j, JS_ALERT_ID, "ss", in[i].source, in[i].dedup))) {
      in[i].id = sqlite3_column_int64(st, 0);
      sqlite3_reset(st);
    }
    if (rc == 0 && !in[i].id) rc = RT_EIO;
  }
  rc = jend(j, rc);
  jx(j, JS_SYNC_NORMAL, "");
  return rc;
}

int rt_journal_alert_claim(rt_journal *j, int64_t id, const char *kind, const char *correlation, const char *target,
                           int *claimed) {
  *claimed = 0;
  int rc = jbegin(j);
  if (rc) return rc;
  sqlite3_stmt *st = jq(j, JS_ALERT_GET, "i", id);
  if (jrow(st)) {
    const char *state = jtext(st, 4), *owner = jtext(st, 5);
    *claimed = state && (strcmp(state, "queued") == 0 ||
                         (strcmp(state, "running") == 0 && !rt_journal_alive(j, owner)));
    sqlite3_reset(st);
  }
  if (*claimed) rc = jx(j, JS_ALERT_CLAIM, "isdsss", id, j->self, rt_wall(), kind, correlation, target);
  rc = jend(j, rc);
  if (rc) *claimed = 0;
  return rc;
}

int rt_journal_alert_finish(rt_journal *j, int64_t id, const char *state, const char *note, const char *kind,
                            const char *correlation, const char *target) {
  return jx(j, JS_ALERT_FINISH, "isdssss", id, state, rt_wall(), note, kind, correlation, target);
}

int rt_journal_alert_capture(rt_journal *j, int64_t id, const char *capture_id) {
  return jx(j, JS_ALERT_CAPTURE, "is", id, capture_id);
}

/* Column col as JSON: numbers as numbers, text as strings, NULL left out. */
static void set_col(json_t *o, const char *name, sqlite3_stmt *st, int col) {
  switch (sqlite3_column_type(st, col)) {
  case SQLITE_INTEGER: json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, col))); break;
  case SQLITE_FLOAT: json_object_set_new(o, name, json_real(sqlite3_column_double(st, col))); break;
  case SQLITE_NULL: break;
  default: json_object_set_new(o, name, json_string(jtext(st, col) ? jtext(st, col) : "")); break;
  }
}

json_t *rt_journal_alert_get(rt_journal *j, int64_t id) {
  static const char *const names[] = {"id", "source", "received", "payload", "state", NULL, "runs", "started",
                                      "finished", "kind", "correlation", "target", "note"};
  sqlite3_stmt *st = jq(j, JS_ALERT_GET, "i", id);
  if (!jrow(st)) return NULL;
  json_t *o = json_object();
  for (int i = 0; i < 13; i++)
    if (names[i]) set_col(o, names[i], st, i);
  if (jtext(st, 5)) json_object_set_new(o, "owner_running", json_boolean(rt_journal_alive(j, jtext(st, 5))));
  /* the list as stored, when it is one (the journal's rows are read as untrusted) */
  json_t *caps = jtext(st, 13) ? json_loads(jtext(st, 13), 0, NULL) : NULL;
  if (!json_is_array(caps)) {
    json_decref(caps);
    caps = json_array();
  }
  json_object_set_new(o, "captures", caps);
  sqlite3_reset(st);
  return o;
}

int rt_journal_alerts_pending(rt_journal *j, int64_t *ids, int max, int *n) {
  *n = 0;
  sqlite3_stmt *st = jq(j, JS_ALERT_PENDING, "");
  while (jrow(st)) {
    const char *owner = jtext(st, 1);
    if (*n < max && (!owner || !rt_journal_alive(j, owner))) ids[(*n)++] = sqlite3_column_int64(st, 0);
  }
  return st ? 0 : RT_EIO;
}

int rt_journal_alerts_related(rt_journal *j, const char *source, const char *correlation, int64_t *ids, int max,
                              int *n) {
  *n = 0;
  sqlite3_stmt *st = jq(j, JS_ALERT_RELATED, "ss", source, correlation);
  while (jrow(st))
    if (*n < max) ids[(*n)++] = sqlite3_column_int64(st, 0);
  return st ? 0 : RT_EIO;
}

int rt_journal_alert_last(rt_journal *j, const char *target, int64_t except, double *when) {
  *when = 0;
  sqlite3_stmt *st = jq(j, JS_ALERT_LAST, "si", target, except);
  if (!st) return RT_EIO;
  if (jrow(st)) {
    *when = jnum(st, 0);
    sqlite3_reset(st);
  }
  return 0;
}
