/* ctest-labels: unit;valgrind;journal;serve
 * The journal's alerts alone (journal_alerts.c), as a daemon uses them: a delivery recorded once
 * whatever the redeliveries (several in one transaction), a playbook run claimed by one process,
 * taken over from a process now gone (counted as a second run), never from a live one, never
 * once finished; what is pending after a restart; captures recorded once; an END finding its
 * START by correlation id; the last run for a target (the cooldown); and a journal of format 2
 * upgraded to hold alerts. Two "processes" are two connections, one renamed. */
#include "check.h"
#include "err.h"
#include "journal_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_journal_alerts.XXXXXX";
static char path[256];

static rt_journal *open_journal(void) {
  rt_journal *j = NULL;
  char err[256];
  CHECK_INT(rt_journal_open(path, 0, &j, err, sizeof err), 0);
  return j;
}

static const char *state_of(rt_journal *j, int64_t id) {
  static char state[32];
  json_t *a = rt_journal_alert_get(j, id);
  snprintf(state, sizeof state, "%s", a ? json_string_value(json_object_get(a, "state")) : "(none)");
  json_decref(a);
  return state;
}

static void t_record_once(void) {
  rt_journal *j = open_journal();
  rt_jalert_in in[2] = {{"alertmanager", "k1", "{\"n\":1}", 0, 0}, {"alertmanager", "k2", "{\"n\":2}", 0, 0}};
  CHECK_INT(rt_journal_alerts_add(j, in, 2), 0);
  CHECK(in[0].id > 0 && in[1].id > in[0].id);
  CHECK(!in[0].duplicate && !in[1].duplicate);
  /* redelivered twice: the same rows, nothing new */
  for (int k = 0; k < 2; k++) {
    rt_jalert_in again = {"alertmanager", "k2", "{\"n\":2}", 0, 0};
    CHECK_INT(rt_journal_alerts_add(j, &again, 1), 0);
    CHECK(again.duplicate);
    CHECK_INT(again.id, in[1].id);
  }
  /* the same key from another source is another alert */
  rt_jalert_in other = {"pagerduty", "k2", "{}", 0, 0};
  CHECK_INT(rt_journal_alerts_add(j, &other, 1), 0);
  CHECK(!other.duplicate);
  json_t *a = rt_journal_alert_get(j, in[0].id);
  CHECK_STR(json_string_value(json_object_get(a, "payload")), "{\"n\":1}");
  CHECK_STR(json_string_value(json_object_get(a, "state")), "queued");
  CHECK_INT(json_array_size(json_object_get(a, "captures")), 0);
  json_decref(a);
  CHECK(rt_journal_alert_get(j, 9999) == NULL);
  int64_t ids[8];
  int n;
  CHECK_INT(rt_journal_alerts_pending(j, ids, 8, &n), 0);
  CHECK_INT(n, 3);
  CHECK_INT(ids[0], in[0].id);
  rt_journal_close(j);
  unlink(path);
}

static void t_claims(void) {
  rt_journal *a = open_journal(), *b = open_journal();
  snprintf(b->self, sizeof b->self, "%s:%d:1", b->boot_id, 999999); /* another process, of this boot */
  rt_jalert_in in = {"cloudflare", "d1", "{}", 0, 0};
  CHECK_INT(rt_journal_alerts_add(a, &in, 1), 0);
  int claimed;
  CHECK_INT(rt_journal_alert_claim(a, in.id, "dos_attack_l4", "corr-1", "198.51.100.0/24", &claimed), 0);
  CHECK_INT(claimed, 1);
  CHECK_STR(state_of(a, in.id), "running");
  /* a live process runs it: nobody else claims it, and it is not pending */
  CHECK_INT(rt_journal_alert_claim(b, in.id, NULL, NULL, NULL, &claimed), 0);
  CHECK_INT(claimed, 0);
  CHECK_INT(rt_journal_alert_claim(a, in.id, NULL, NULL, NULL, &claimed), 0);
  CHECK_INT(claimed, 0);
  int64_t ids[4];
  int n;
  CHECK_INT(rt_journal_alerts_pending(b, ids, 4, &n), 0);
  CHECK_INT(n, 0);
  /* its process died (a pid of before the last boot): pending again, claimed, a second run */
  char sqlbuf[256];
  snprintf(sqlbuf, sizeof sqlbuf, "UPDATE alerts SET owner = 'another-boot:1:1' WHERE id = %lld", (long long)in.id);
  CHECK_INT(sqlite3_exec(a->db, sqlbuf, NULL, NULL, NULL), SQLITE_OK);
  CHECK_INT(rt_journal_alerts_pending(b, ids, 4, &n), 0);
  CHECK_INT(n, 1);
  CHECK_INT(rt_journal_alert_claim(b, in.id, "dos_attack_l4", "corr-1", "198.51.100.0/24", &claimed), 0);
  CHECK_INT(claimed, 1);
  json_t *row = rt_journal_alert_get(b, in.id);
  CHECK_INT(json_integer_value(json_object_get(row, "runs")), 2);
  CHECK(json_is_true(json_object_get(row, "owner_running")));
  CHECK_STR(json_string_value(json_object_get(row, "correlation")), "corr-1");
  json_decref(row);
  /* captures: each recorded once */
  CHECK_INT(rt_journal_alert_capture(b, in.id, "aaaa"), 0);
  CHECK_INT(rt_journal_alert_capture(b, in.id, "bbbb"), 0);
  CHECK_INT(rt_journal_alert_capture(b, in.id, "aaaa"), 0);
  row = rt_journal_alert_get(a, in.id);
  json_t *caps = json_object_get(row, "captures");
  CHECK_INT(json_array_size(caps), 2);
  CHECK_STR(json_string_value(json_array_get(caps, 1)), "bbbb");
  json_decref(row);
  /* finished: never claimed again, not pending */
  CHECK_INT(rt_journal_alert_finish(b, in.id, "done", "ok", NULL, NULL, NULL), 0);
  CHECK_STR(state_of(a, in.id), "done");
  CHECK_INT(rt_journal_alert_claim(a, in.id, NULL, NULL, NULL, &claimed), 0);
  CHECK_INT(claimed, 0);
  CHECK_INT(rt_journal_alerts_pending(a, ids, 4, &n), 0);
  CHECK_INT(n, 0);
  /* a skipped alert keeps what the daemon made of it */
  rt_jalert_in end = {"cloudflare", "d2", "{}", 0, 0};
  CHECK_INT(rt_journal_alerts_add(a, &end, 1), 0);
  CHECK_INT(rt_journal_alert_finish(a, end.id, "skipped", "cooldown", "dos_attack_l4", "corr-1", "198.51.100.0/24"), 0);
  CHECK_INT(rt_journal_alerts_related(a, "cloudflare", "corr-1", ids, 4, &n), 0);
  CHECK_INT(n, 2);
  CHECK_INT(ids[0], in.id);
  CHECK_INT(ids[1], end.id);
  CHECK_INT(rt_journal_alerts_related(a, "pagerduty", "corr-1", ids, 4, &n), 0);
  CHECK_INT(n, 0);
  /* the cooldown's question: when did a run last start for this target, this alert aside */
  double when;
  CHECK_INT(rt_journal_alert_last(a, "198.51.100.0/24", end.id, &when), 0);
  CHECK(when > 0 && when <= rt_wall());
  CHECK_INT(rt_journal_alert_last(a, "198.51.100.0/24", in.id, &when), 0);
  CHECK(when == 0); /* the skipped one never started */
  CHECK_INT(rt_journal_alert_last(a, "203.0.113.9", 0, &when), 0);
  CHECK(when == 0);
  rt_journal_close(a);
  rt_journal_close(b);
  unlink(path);
}

/* A journal of format 2 (before alerts) gets the table when opened, keeping its rows. */
static void t_upgrade_2(void) {
  rt_journal *j = open_journal();
  CHECK_INT(sqlite3_exec(j->db, "DROP TABLE alerts; PRAGMA user_version=2;"
                         "INSERT INTO kv VALUES('kept', '1', 0)", NULL, NULL, NULL), SQLITE_OK);
  rt_journal_close(j);
  j = open_journal();
  json_t *v = rt_journal_get(j, "kept");
  CHECK_INT(json_integer_value(v), 1);
  json_decref(v);
  rt_jalert_in in = {"pagerduty", "w1", "{}", 0, 0};
  CHECK_INT(rt_journal_alerts_add(j, &in, 1), 0);
  CHECK(in.id > 0 && !in.duplicate);
  rt_journal_close(j);
  unlink(path);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/journal.db", dir);
  RUN(t_record_once);
  RUN(t_claims);
  RUN(t_upgrade_2);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) return 1;
  return check_done();
}
