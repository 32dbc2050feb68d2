/* ctest-labels: unit;valgrind;journal
 * The journal without the network: the file (mode 0600, format version, newer formats refused),
 * process names and liveness (a pid reused, a zombie, another boot), values, intents (new,
 * reconcile, adopt, a spec that changed, another live process at it, a creator that died and its
 * grace), and the limits two processes share through it — the simple-create rate and the full
 * slot: claims, waits, a claim whose create may have been applied (resolved by a list after the
 * grace), a holder that died with its capture (adopted). Two "processes" are two runtimes on two
 * connections, the second one named after a real child process that the test keeps alive or
 * kills. */
#include "check.h"
#include "err.h"
#include "journal_internal.h"
#include "vg.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACCT "0123456789abcdef0123456789abcdef"
#define ID1 "11111111111111111111111111111111"

static char dir[] = "/tmp/test_journal.XXXXXX";
static char path[256];

typedef struct proc { uv_loop_t loop; rt_runtime rt; rt_account *a; } proc;

static void proc_open(proc *p, const char *self) {
  memset(p, 0, sizeof *p);
  uv_loop_init(&p->loop);
  p->rt.loop = &p->loop;
  rt_options_default(&p->rt.opt);
  rt_list_init(&p->rt.accounts);
  char err[256];
  CHECK_INT(rt_journal_open(path, 0, &p->rt.journal, err, sizeof err), 0);
  if (self) snprintf(p->rt.journal->self, sizeof p->rt.journal->self, "%s", self);
  p->a = rt_account_get(&p->rt, "http://127.0.0.1:9/client/v4", ACCT, err, sizeof err);
  CHECK(p->a != NULL);
}

static void proc_close(proc *p) {
  rt_accounts_close(&p->rt);
  rt_journal_close(p->rt.journal);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&p->loop), 0);
}

static rt_call *create_call(proc *p, int type, const char *intent, int port) {
  rt_call *c = rt_call_new(p->a, NULL, RT_CALL_CREATE, "pcap.create");
  c->cap_type = type;
  snprintf(c->intent, sizeof c->intent, "%s", intent);
  c->body = type == RT_CAP_FULL
    ? json_pack("{s:s, s:s, s:i, s:s, s:s}", "system", "magic-transit", "type", "full", "time_limit", 60,
                "colo_name", "ORD", "destination_conf", "r2://b/p?account-id=1&access-key-id=k&secret-access-key=SeCrEt")
    : json_pack("{s:s, s:s, s:i, s:i, s:{s:i}}", "system", "magic-transit", "type", "simple", "time_limit", 5,
                "packet_limit", 10, "filter_v1", "destination_port", port);
  return c;
}

/* A child that stays alive until killed, and the journal name of that process. */
static pid_t child_name(char *out, size_t size, const rt_journal *j) {
  pid_t pid = fork();
  if (pid == 0) { pause(); _exit(0); }
  char file[64], buf[1024];
  unsigned long long start = 0;
  for (int i = 0; i < 100 && !start; i++) { /* until the child shows in /proc */
    snprintf(file, sizeof file, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(file, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    if (p) sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &start);
  }
  snprintf(out, size, "%s:%d:%llu", j->boot_id, (int)pid, start);
  return pid;
}

/* Runs raw SQL on the journal (to play a process that died, or time passing). */
static void sql(proc *p, const char *text) { CHECK_INT(sqlite3_exec(p->rt.journal->db, text, NULL, NULL, NULL), SQLITE_OK); }

static void t_file(void) {
  proc a;
  proc_open(&a, NULL);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  json_t *v = json_pack("{s:i}", "n", 7);
  CHECK_INT(rt_journal_set(a.rt.journal, "k", v), 0);
  json_decref(v);
  v = rt_journal_get(a.rt.journal, "k");
  CHECK_INT(json_integer_value(json_object_get(v, "n")), 7);
  json_decref(v);
  CHECK_INT(rt_journal_set(a.rt.journal, "k", NULL), 0);
  CHECK(rt_journal_get(a.rt.journal, "k") == NULL);
  proc_close(&a);
  char side[300];
  snprintf(side, sizeof side, "%s-wal", path);
  CHECK(stat(side, &st) != 0 || (st.st_mode & 0777) == 0600);

  /* a newer format is refused, and left alone */
  sqlite3 *db;
  CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  rt_journal *j;
  char err[256];
  CHECK_INT(rt_journal_open(path, 0, &j, err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, "newer pcaprun");
  CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT(sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static int count(proc *p, const char *query) {
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_prepare_v2(p->rt.journal->db, query, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* Opening forgets captures that ended more than 30 days ago, with their intents and files. */
static void t_prune(void) {
  proc a;
  proc_open(&a, NULL);
  sql(&a, "INSERT INTO intents VALUES (1, 'old', 'simple', '{}', 1, NULL, NULL, 'a1'),"
          " (1, 'new', 'simple', '{}', 1, NULL, NULL, 'a2'), (1, 'never', 'simple', '{}', 1, NULL, NULL, NULL);"
          "INSERT INTO captures VALUES (1, 'a1', 'old', 'simple', 'success', NULL, 1, 5, 1000),"
          " (1, 'a2', 'new', 'simple', 'success', NULL, 1, 5, strftime('%s', 'now')),"
          " (1, 'a3', NULL, 'full', 'running', NULL, 1, 5, 1000);"
          "INSERT INTO downloads VALUES ('/x/old.pcap', 1, 'a1', 'done', 10, 1, 1000),"
          " ('/x/part.pcap', 1, 'a1', 'partial', 5, NULL, 1000);");
  proc_close(&a);
  proc_open(&a, NULL);
  CHECK_INT(count(&a, "SELECT count(*) FROM intents"), 2);    /* new, never */
  CHECK_INT(count(&a, "SELECT count(*) FROM captures"), 2);   /* a2, a3 (still running) */
  CHECK_INT(count(&a, "SELECT count(*) FROM downloads"), 1);  /* the partial one */
  sql(&a, "DELETE FROM intents; DELETE FROM captures; DELETE FROM downloads;");
  proc_close(&a);
}

static void t_alive(void) {
  proc a;
  proc_open(&a, NULL);
  rt_journal *j = a.rt.journal;
  char name[96], other[200];
  CHECK(rt_journal_alive(j, j->self));
  pid_t pid = child_name(name, sizeof name, j);
  CHECK(rt_journal_alive(j, name));
  snprintf(other, sizeof other, "%s:%d:%llu", j->boot_id, (int)pid, 1ULL); /* the pid, another start */
  CHECK(!rt_journal_alive(j, other));
  snprintf(other, sizeof other, "00000000-0000-0000-0000-000000000000%s", strchr(name, ':'));
  CHECK(!rt_journal_alive(j, other)); /* before a reboot */
  kill(pid, SIGKILL);
  for (int i = 0; i < 200 && rt_journal_alive(j, name); i++) usleep(5000);
  CHECK(!rt_journal_alive(j, name)); /* a zombie is gone too */
  waitpid(pid, NULL, 0);
  CHECK(!rt_journal_alive(j, name));
  CHECK(!rt_journal_alive(j, NULL) && !rt_journal_alive(j, "garbage"));
  proc_close(&a);
}

/* Two processes on one journal: a, and b, which the journal takes for a live child process. */
static pid_t pair_open(proc *a, proc *b) {
  char name[96];
  proc_open(a, NULL);
  pid_t pid = child_name(name, sizeof name, a->rt.journal);
  proc_open(b, name);
  return pid;
}

static void pair_close(proc *a, proc *b, pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  proc_close(b);
  proc_close(a);
}

static void t_intents(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  uint64_t wait = 0;
  rt_call *c = create_call(&a, RT_CAP_SIMPLE, "t.one", 1);
  CHECK_INT(rt_journal_resume(c, &wait), RT_JOURNAL_NEW);
  c->sent_wall = rt_wall();
  CHECK_INT(rt_journal_intent(c), 0);
  rt_call *again = create_call(&a, RT_CAP_SIMPLE, "t.one", 1);
  CHECK_INT(rt_journal_resume(again, &wait), RT_JOURNAL_RECONCILE); /* this process: list first */
  CHECK(again->sent_wall == c->sent_wall);
  rt_call *changed = create_call(&a, RT_CAP_SIMPLE, "t.one", 2);
  CHECK_INT(rt_journal_resume(changed, &wait), RT_EINVAL);
  CHECK_CONTAINS(changed->message, "different capture request");
  rt_call *elsewhere = create_call(&b, RT_CAP_SIMPLE, "t.one", 1);
  CHECK_INT(rt_journal_resume(elsewhere, &wait), RT_EAGAIN); /* a live process is creating it */

  /* its creator dies: the others wait the grace, then reconcile */
  sql(&a, "UPDATE intents SET owner = 'x:1:1'");
  CHECK_INT(rt_journal_resume(elsewhere, &wait), RT_EAGAIN);
  CHECK(wait >= (uint64_t)(RT_JOURNAL_GRACE * 1000) - 50 && wait <= (uint64_t)(RT_JOURNAL_GRACE * 1000));
  sql(&a, "UPDATE intents SET orphaned = orphaned - 10");
  CHECK_INT(rt_journal_resume(elsewhere, &wait), RT_JOURNAL_RECONCILE);
  rt_call *third = create_call(&a, RT_CAP_SIMPLE, "t.one", 1);
  CHECK_INT(rt_journal_resume(third, &wait), RT_EAGAIN); /* now b owns it */

  /* once the capture is known, everyone adopts it */
  json_t *obj = json_pack("{s:s, s:s, s:s}", "id", ID1, "type", "simple", "status", "pending");
  rt_capinfo info;
  char why[64];
  CHECK_INT(rt_capinfo_parse(obj, &info, why, sizeof why), 0);
  rt_capture *cap = rt_capture_update(b.a, NULL, obj, &info);
  json_decref(obj);
  snprintf(cap->intent, sizeof cap->intent, "t.one");
  rt_journal_created(elsewhere, cap);
  CHECK_INT(rt_journal_resume(third, &wait), RT_JOURNAL_ADOPT);
  CHECK_STR(third->id, ID1);
  CHECK(rt_journal_taken(a.a, ID1, "t.other") && !rt_journal_taken(a.a, ID1, "t.one"));
  json_t *info_j = rt_journal_lookup(a.rt.journal, a.a, "t.one");
  CHECK_STR(json_string_value(json_object_get(info_j, "capture_id")), ID1);
  CHECK_STR(json_string_value(json_object_get(info_j, "status")), "pending");
  json_decref(info_j);
  pair_close(&a, &b, pid);
}

static void t_sample(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  double gap = jgap(&a.rt);
  uint64_t wait = 0;
  rt_call *ca = create_call(&a, RT_CAP_SIMPLE, "s.a", 1), *cb = create_call(&b, RT_CAP_SIMPLE, "s.b", 2);
  CHECK_INT(rt_journal_claim(ca, &wait), 0);
  CHECK_INT(rt_journal_claim(cb, &wait), RT_EAGAIN); /* one in flight elsewhere */
  CHECK(wait == jpoll_ms(&b.rt));
  json_t *obj = json_pack("{s:s, s:s, s:s}", "id", ID1, "type", "simple", "status", "pending");
  rt_capinfo info;
  char why[64];
  rt_capinfo_parse(obj, &info, why, sizeof why);
  rt_journal_created(ca, rt_capture_update(a.a, NULL, obj, &info));
  json_decref(obj);
  CHECK_INT(rt_journal_claim(cb, &wait), RT_EAGAIN); /* created: an interval from now */
  CHECK(wait > (uint64_t)(gap * 1000) - 100 && wait <= (uint64_t)(gap * 1000) + 1);
  sql(&a, "UPDATE accounts SET simple_next = 0");
  CHECK_INT(rt_journal_claim(cb, &wait), 0);
  rt_journal_unclaim(cb, 0); /* not sent: free at once */
  CHECK_INT(rt_journal_claim(ca, &wait), 0);

  /* the process with a create in flight dies: it may still be applied; wait grace + interval */
  sql(&a, "UPDATE accounts SET simple_owner = 'x:1:1'");
  ca->journal_claim = 0;
  CHECK_INT(rt_journal_claim(cb, &wait), RT_EAGAIN);
  CHECK(wait > (uint64_t)((RT_JOURNAL_GRACE + gap) * 1000) - 100);
  rt_journal_pause(b.a, rt_wall() + 1000); /* a 429 asks everyone to wait */
  sql(&a, "UPDATE accounts SET simple_owner = NULL");
  CHECK_INT(rt_journal_claim(ca, &wait), RT_EAGAIN);
  CHECK(wait > 999000);
  pair_close(&a, &b, pid);
}

static void t_full(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  uint64_t wait = 0;
  rt_call *ca = create_call(&a, RT_CAP_FULL, "f.a", 0), *cb = create_call(&b, RT_CAP_FULL, "f.b", 0);
  CHECK_INT(rt_journal_claim(ca, &wait), 0);
  CHECK_INT(rt_journal_claim(cb, &wait), RT_EAGAIN); /* the slot is a's (claim in flight) */
  rt_journal_unclaim(ca, 1); /* sent, outcome unknown: the slot stays taken, unresolved */
  CHECK_INT(rt_journal_claim(cb, &wait), RT_EAGAIN);
  CHECK(wait > (uint64_t)(RT_JOURNAL_GRACE * 1000) - 100); /* a list, but only after the grace */
  sql(&a, "UPDATE slots SET orphaned = orphaned - 10");
  CHECK_INT(rt_journal_claim(cb, &wait), RT_JOURNAL_RESOLVE);
  rt_journal_resolved(b.a); /* the list showed nothing holding the slot */
  CHECK_INT(rt_journal_claim(cb, &wait), 0);

  /* b's capture holds the slot; b dies; a adopts the capture (and polls it) */
  json_t *obj = json_pack("{s:s, s:s, s:s, s:s}", "id", ID1, "type", "full", "status", "pending", "colo_name", "ORD");
  rt_capinfo info;
  char why[64];
  rt_capinfo_parse(obj, &info, why, sizeof why);
  rt_capture *cap = rt_capture_update(b.a, NULL, obj, &info);
  json_decref(obj);
  snprintf(cap->intent, sizeof cap->intent, "f.b");
  cap->holds_slot = 1;
  rt_journal_created(cb, cap);
  rt_call *ca2 = create_call(&a, RT_CAP_FULL, "f.a", 0);
  CHECK_INT(rt_journal_claim(ca2, &wait), RT_EAGAIN);
  CHECK(rt_capture_find(a.a, ID1) == NULL);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_INT(rt_journal_claim(ca2, &wait), RT_EAGAIN); /* adopted: it holds the slot here now */
  rt_capture *mine = rt_capture_find(a.a, ID1);
  CHECK(mine && mine->holds_slot && !strcmp(mine->intent, "f.b") && !strcmp(mine->colo, "ORD"));
  CHECK_INT(a.a->full.in_use, 1);
  obj = json_pack("{s:s, s:s, s:s}", "id", ID1, "type", "full", "status", "conversion_pending");
  rt_capinfo_parse(obj, &info, why, sizeof why);
  rt_capture_update(a.a, NULL, obj, &info); /* it leaves running: the slot is free everywhere */
  json_decref(obj);
  CHECK_INT(a.a->full.in_use, 0);
  CHECK_INT(rt_journal_claim(ca2, &wait), 0);
  proc_close(&b);
  proc_close(&a);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/journal.db", dir);
  RUN(t_file);
  RUN(t_prune);
  RUN(t_alive);
  RUN(t_intents);
  RUN(t_sample);
  RUN(t_full);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  return check_done();
}
