/* ctest-labels: unit;valgrind;journal
 * The journal alone, as a storage layer (no runtime, no network): the file (mode 0600, format
 * version, a newer format refused, format 1 upgraded), pruning, process names and liveness (a
 * pid reused, a zombie, another boot), values and the shared secret, and what two processes
 * share through it: intents claimed atomically with their limit (one sends, the other waits and
 * then adopts), a spec that changed, a creator that died (its grace, then reconcile), the
 * simple-create rate, the full slot (claims, an unknown outcome resolved by a list, a holder that
 * died with its capture handed over for adoption), pauses (bounded, cleared), and the request
 * budget of a principal. Two "processes" are two connections, the second named after a real
 * child process that the test keeps alive or kills. */
#include "check.h"
#include "err.h"
#include "journal_internal.h"
#include "vg.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ID1 "11111111111111111111111111111111"
#define SPEC1 "{\"packet_limit\":10,\"type\":\"simple\"}"
#define SPEC2 "{\"packet_limit\":20,\"type\":\"simple\"}"
#define FULL "{\"colo_name\":\"ORD\",\"type\":\"full\"}"
#define GAP 0.5

static char dir[] = "/tmp/test_journal.XXXXXX";
static char path[256];

typedef struct proc { rt_journal *j; int64_t acct; } proc;

static void proc_open(proc *p, const char *self) {
  char err[256];
  CHECK_INT(rt_journal_open(path, 0, &p->j, err, sizeof err), 0);
  if (self) snprintf(p->j->self, sizeof p->j->self, "%s", self);
  CHECK_INT(rt_journal_account(p->j, "http://127.0.0.1:9/client/v4", "0123456789abcdef0123456789abcdef", &p->acct), 0);
}

static void proc_close(proc *p) { rt_journal_close(p->j); }

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
static void sql(proc *p, const char *text) { CHECK_INT(sqlite3_exec(p->j->db, text, NULL, NULL, NULL), SQLITE_OK); }

static int count(proc *p, const char *query) {
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_prepare_v2(p->j->db, query, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

static rt_jclaim claim(proc *p, const char *intent, int type, const char *spec) {
  rt_jclaim_req req = {p->acct, intent, type, spec, 1, type == RT_CAP_SIMPLE ? GAP : 0, 60, 25};
  rt_jclaim out;
  CHECK_INT(rt_journal_claim(p->j, &req, &out), 0);
  return out;
}

static rt_jcapture capture(const char *id, const char *intent, int type, const char *status, int holds) {
  rt_jcapture c;
  memset(&c, 0, sizeof c);
  snprintf(c.id, sizeof c.id, "%s", id);
  snprintf(c.intent, sizeof c.intent, "%s", intent);
  snprintf(c.colo, sizeof c.colo, "ORD");
  c.type = type;
  c.status = status;
  c.holds_slot = holds;
  return c;
}

/* Two processes on one journal: a, and b, which the journal takes for a live child process. */
static pid_t pair_open(proc *a, proc *b) {
  char name[96];
  proc_open(a, NULL);
  pid_t pid = child_name(name, sizeof name, a->j);
  proc_open(b, name);
  return pid;
}

static void pair_close(proc *a, proc *b, pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  proc_close(b);
  proc_close(a);
  unlink(path);
}

static void t_file(void) {
  proc a;
  proc_open(&a, NULL);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  json_t *v = json_pack("{s:i}", "n", 7);
  CHECK_INT(rt_journal_set(a.j, "k", v), 0);
  json_decref(v);
  v = rt_journal_get(a.j, "k");
  CHECK_INT(json_integer_value(json_object_get(v, "n")), 7);
  json_decref(v);
  CHECK_INT(rt_journal_set(a.j, "k", NULL), 0);
  CHECK(rt_journal_get(a.j, "k") == NULL);
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
  unlink(path);
}

/* A journal of format 1 (pcaprun before this one) is upgraded when opened, keeping its rows. */
static void t_upgrade(void) {
  sqlite3 *db;
  CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT(sqlite3_exec(db,
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, base_url TEXT NOT NULL, account_id TEXT NOT NULL,"
    " simple_next REAL NOT NULL DEFAULT 0, simple_owner TEXT, UNIQUE(base_url, account_id));"
    "CREATE TABLE intents(account INTEGER NOT NULL, intent TEXT NOT NULL, type TEXT NOT NULL, spec TEXT NOT NULL,"
    " first_sent REAL NOT NULL, owner TEXT, orphaned REAL, capture_id TEXT, PRIMARY KEY(account, intent)) WITHOUT ROWID;"
    "CREATE TABLE captures(account INTEGER NOT NULL, id TEXT NOT NULL, intent TEXT, type TEXT NOT NULL,"
    " status TEXT NOT NULL, colo TEXT, submitted REAL, time_limit REAL, updated REAL NOT NULL, PRIMARY KEY(account, id)) WITHOUT ROWID;"
    "CREATE TABLE downloads(path TEXT PRIMARY KEY, account INTEGER NOT NULL, capture_id TEXT NOT NULL,"
    " state TEXT NOT NULL, bytes INTEGER NOT NULL, packets INTEGER, updated REAL NOT NULL);"
    "CREATE INDEX downloads_capture ON downloads(account, capture_id);"
    "CREATE TABLE slots(id INTEGER PRIMARY KEY, account INTEGER NOT NULL, intent TEXT, capture_id TEXT,"
    " owner TEXT, since REAL NOT NULL, orphaned REAL);"
    "CREATE UNIQUE INDEX slots_capture ON slots(account, capture_id);"
    "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL);"
    "INSERT INTO accounts(base_url, account_id) VALUES('http://127.0.0.1:9/client/v4', '0123456789abcdef0123456789abcdef');"
    "INSERT INTO intents VALUES(1, 'old.one', 'simple',"
    " '{\"offset_time\":\"2026-01-01T00:00:00Z\",\"packet_limit\":10,\"type\":\"simple\"}', 5, NULL, NULL, NULL);"
    "PRAGMA user_version=1;", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  proc a;
  proc_open(&a, NULL);
  CHECK_INT(count(&a, "PRAGMA user_version"), RT_JOURNAL_VERSION);
  CHECK_INT(count(&a, "SELECT sent FROM intents WHERE intent = 'old.one'"), 1); /* format 1 wrote sent ones */
  /* the spec without offset_time, as this format keeps it: a rerun of the same intent matches */
  rt_jintent in;
  CHECK_INT(rt_journal_intent(a.j, a.acct, "old.one", SPEC1, &in), 0);
  CHECK(in.found && !in.conflict);
  proc_close(&a);
  unlink(path);
}

/* Opening forgets captures that ended more than 30 days ago, with their intents and files. */
static void t_prune(void) {
  proc a;
  proc_open(&a, NULL);
  sql(&a, "INSERT INTO intents VALUES (1, 'old', 'simple', '{}', 1, NULL, NULL, 'a1', 1),"
          " (1, 'new', 'simple', '{}', 1, NULL, NULL, 'a2', 1), (1, 'never', 'simple', '{}', 1, NULL, NULL, NULL, 1);"
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
  proc_close(&a);
  unlink(path);
}

static void t_alive(void) {
  proc a;
  proc_open(&a, NULL);
  rt_journal *j = a.j;
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
  unlink(path);
}

/* Both processes of a journal agree on the secret that keys credential fingerprints. */
static void t_secret(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  unsigned char ka[32], kb[32], zero[32] = {0};
  CHECK_INT(rt_journal_secret(a.j, ka), 0);
  CHECK_INT(rt_journal_secret(b.j, kb), 0);
  CHECK(memcmp(ka, kb, 32) == 0 && memcmp(ka, zero, 32) != 0);
  pair_close(&a, &b, pid);
}

static void t_intents(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  rt_jintent in;
  /* one intent, two processes: the first claims it; the second waits for its outcome */
  rt_jclaim c = claim(&a, "t.one", RT_CAP_SIMPLE, SPEC1);
  CHECK_INT(c.outcome, RT_JC_GO);
  CHECK_INT(rt_journal_sent(a.j, a.acct, "t.one"), 0);
  c = claim(&b, "t.one", RT_CAP_SIMPLE, SPEC1);
  CHECK_INT(c.outcome, RT_JC_WAIT);
  CHECK(c.by_process && c.wait_ms == 25);
  CHECK_INT(rt_journal_intent(b.j, b.acct, "t.one", SPEC1, &in), 0);
  CHECK(in.found && in.busy && !in.capture_id[0]);
  c = claim(&a, "t.one", RT_CAP_SIMPLE, SPEC2);
  CHECK_INT(c.outcome, RT_JC_CONFLICT);
  CHECK_CONTAINS(c.journaled_spec, "\"packet_limit\":10");
  CHECK_INT(rt_journal_intent(a.j, a.acct, "t.one", SPEC2, &in), 0);
  CHECK(in.conflict);

  /* its creator dies after sending: the others wait the grace, then reconcile */
  sql(&a, "UPDATE intents SET owner = 'x:1:1'; UPDATE accounts SET simple_owner = NULL");
  c = claim(&b, "t.one", RT_CAP_SIMPLE, SPEC1);
  CHECK_INT(c.outcome, RT_JC_WAIT);
  CHECK(c.wait_ms >= (uint64_t)(RT_JOURNAL_GRACE * 1000) - 50 && c.wait_ms <= (uint64_t)(RT_JOURNAL_GRACE * 1000));
  sql(&a, "UPDATE intents SET orphaned = orphaned - 10");
  c = claim(&b, "t.one", RT_CAP_SIMPLE, SPEC1);
  CHECK_INT(c.outcome, RT_JC_RECONCILE);
  CHECK(c.first_sent > 0);
  CHECK_INT(claim(&a, "t.one", RT_CAP_SIMPLE, SPEC1).outcome, RT_JC_WAIT); /* now b's */

  /* once the capture is known, everyone adopts it */
  rt_jcapture cap = capture(ID1, "t.one", RT_CAP_SIMPLE, "pending", 0);
  c = claim(&b, "t.one", RT_CAP_SIMPLE, SPEC1); /* b's list found nothing: it claims the rate */
  CHECK_INT(c.outcome, RT_JC_GO);
  CHECK_INT(rt_journal_created(b.j, b.acct, "t.one", 0, GAP, &cap), 0);
  c = claim(&a, "t.one", RT_CAP_SIMPLE, SPEC1);
  CHECK_INT(c.outcome, RT_JC_ADOPT);
  CHECK_STR(c.capture_id, ID1);
  CHECK(rt_journal_taken(a.j, a.acct, ID1, "t.other") && !rt_journal_taken(a.j, a.acct, ID1, "t.one"));
  json_t *info = rt_journal_lookup(a.j, a.acct, "t.one");
  CHECK_STR(json_string_value(json_object_get(info, "capture_id")), ID1);
  CHECK_STR(json_string_value(json_object_get(info, "status")), "pending");
  json_decref(info);

  /* a claim given up before it was sent is forgotten; one whose outcome is unknown is not */
  CHECK_INT(claim(&a, "t.two", RT_CAP_FULL, FULL).outcome, RT_JC_GO);
  int64_t slot = claim(&a, "t.three", RT_CAP_FULL, FULL).slot; /* full_slots 1: waits */
  CHECK(slot == 0);
  sql(&a, "DELETE FROM slots");
  rt_jclaim two = claim(&a, "t.two", RT_CAP_FULL, FULL);
  CHECK_INT(rt_journal_unclaim(a.j, a.acct, "t.two", RT_CAP_FULL, two.slot, 0, 0), 0);
  CHECK_INT(rt_journal_intent(a.j, a.acct, "t.two", FULL, &in), 0);
  CHECK(!in.found);
  two = claim(&a, "t.two", RT_CAP_FULL, FULL);
  CHECK_INT(rt_journal_sent(a.j, a.acct, "t.two"), 0);
  CHECK_INT(rt_journal_unclaim(a.j, a.acct, "t.two", RT_CAP_FULL, two.slot, 0, 1), 0);
  CHECK_INT(count(&a, "SELECT count(*) FROM intents WHERE intent = 't.two' AND orphaned IS NOT NULL"), 1);
  CHECK_INT(count(&a, "SELECT count(*) FROM slots WHERE orphaned IS NOT NULL"), 1);
  pair_close(&a, &b, pid);
}

static void t_sample(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  CHECK_INT(claim(&a, "s.a", RT_CAP_SIMPLE, SPEC1).outcome, RT_JC_GO);
  rt_jclaim c = claim(&b, "s.b", RT_CAP_SIMPLE, SPEC2);
  CHECK_INT(c.outcome, RT_JC_WAIT); /* one in flight elsewhere */
  CHECK(c.by_process && c.wait_ms == 25);
  rt_jcapture cap = capture(ID1, "s.a", RT_CAP_SIMPLE, "pending", 0);
  CHECK_INT(rt_journal_created(a.j, a.acct, "s.a", 0, GAP, &cap), 0);
  c = claim(&b, "s.b", RT_CAP_SIMPLE, SPEC2);
  CHECK_INT(c.outcome, RT_JC_WAIT); /* created: a gap from now */
  CHECK(c.wait_ms > (uint64_t)(GAP * 1000) - 100 && c.wait_ms <= (uint64_t)(GAP * 1000) + 1);
  sql(&a, "UPDATE accounts SET simple_next = 0");
  CHECK_INT(claim(&b, "s.b", RT_CAP_SIMPLE, SPEC2).outcome, RT_JC_GO);
  CHECK_INT(rt_journal_unclaim(b.j, b.acct, "s.b", RT_CAP_SIMPLE, 0, GAP, 0), 0); /* not sent: free at once */
  CHECK_INT(claim(&a, "s.c", RT_CAP_SIMPLE, SPEC1).outcome, RT_JC_GO);

  /* the process with a create in flight dies: it may still be applied; wait grace + gap */
  sql(&a, "UPDATE accounts SET simple_owner = 'x:1:1'");
  c = claim(&b, "s.b", RT_CAP_SIMPLE, SPEC2);
  CHECK_INT(c.outcome, RT_JC_WAIT);
  CHECK(c.wait_ms > (uint64_t)((RT_JOURNAL_GRACE + GAP) * 1000) - 100);

  /* a 429 asks everyone to wait — but never longer than the API's longest plausible ask (here
   * gap + 60 s), whatever a row says; and pcaprun journal --clear-pauses forgets it */
  sql(&a, "UPDATE accounts SET simple_owner = NULL, simple_next = 0");
  CHECK_INT(rt_journal_pause(b.j, b.acct, rt_wall() + 1e9), 0);
  c = claim(&a, "s.c", RT_CAP_SIMPLE, SPEC1);
  CHECK_INT(c.outcome, RT_JC_WAIT);
  CHECK(c.wait_ms > 59000 && c.wait_ms <= (uint64_t)((60 + GAP) * 1000) + 1);
  CHECK_INT(rt_journal_clear_pauses(b.j), 0);
  CHECK_INT(claim(&a, "s.c", RT_CAP_SIMPLE, SPEC1).outcome, RT_JC_GO);
  pair_close(&a, &b, pid);
}

static void t_full(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  rt_jclaim ca = claim(&a, "f.a", RT_CAP_FULL, FULL);
  CHECK_INT(ca.outcome, RT_JC_GO);
  CHECK_INT(claim(&b, "f.b", RT_CAP_FULL, FULL).outcome, RT_JC_WAIT); /* the slot is a's (claim in flight) */
  CHECK_INT(rt_journal_sent(a.j, a.acct, "f.a"), 0);
  CHECK_INT(rt_journal_unclaim(a.j, a.acct, "f.a", RT_CAP_FULL, ca.slot, 0, 1), 0); /* outcome unknown */
  rt_jclaim c = claim(&b, "f.b", RT_CAP_FULL, FULL);
  CHECK_INT(c.outcome, RT_JC_WAIT);
  CHECK(c.wait_ms > (uint64_t)(RT_JOURNAL_GRACE * 1000) - 100); /* a list, but only after the grace */
  sql(&a, "UPDATE slots SET orphaned = orphaned - 10");
  CHECK_INT(claim(&b, "f.b", RT_CAP_FULL, FULL).outcome, RT_JC_RESOLVE);
  CHECK_INT(rt_journal_resolved(b.j, b.acct, rt_wall()), 0); /* the list showed nothing holding the slot */
  rt_jclaim cb = claim(&b, "f.b", RT_CAP_FULL, FULL);
  CHECK_INT(cb.outcome, RT_JC_GO);

  /* b's capture holds the slot; b dies; a's next claim hands it over for adoption */
  rt_jcapture cap = capture(ID1, "f.b", RT_CAP_FULL, "pending", 1);
  CHECK_INT(rt_journal_created(b.j, b.acct, "f.b", cb.slot, 0, &cap), 0);
  c = claim(&a, "f.c", RT_CAP_FULL, FULL);
  CHECK_INT(c.outcome, RT_JC_WAIT);
  CHECK_INT(c.nadopt, 0);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  c = claim(&a, "f.c", RT_CAP_FULL, FULL);
  CHECK_INT(c.outcome, RT_JC_WAIT); /* adopted: it holds the slot here now */
  CHECK_INT(c.nadopt, 1);
  CHECK(!strcmp(c.adopt[0].id, ID1) && !strcmp(c.adopt[0].intent, "f.b") && !strcmp(c.adopt[0].colo, "ORD"));
  CHECK_INT(count(&a, "SELECT count(*) FROM slots WHERE owner IS NULL OR owner != ''"), 1);
  cap = capture(ID1, "f.b", RT_CAP_FULL, "conversion_pending", 0); /* it leaves running: free everywhere */
  CHECK_INT(rt_journal_capture(a.j, a.acct, &cap), 0);
  CHECK_INT(claim(&a, "f.c", RT_CAP_FULL, FULL).outcome, RT_JC_GO);
  proc_close(&b);
  proc_close(&a);
  unlink(path);
}

/* The request budget of a principal, across processes: n per window, in flight included; a place
 * freed when its request never left; requests in flight of a process now gone count as sent. */
static void t_budget(void) {
  proc a, b;
  pid_t pid = pair_open(&a, &b);
  int64_t row[4];
  uint64_t wait;
  for (int i = 0; i < 2; i++) {
    CHECK_INT(rt_journal_budget_take(a.j, "p1", 3, 10, 30, &row[i], &wait), 0);
    CHECK(row[i] > 0);
  }
  CHECK_INT(rt_journal_budget_take(b.j, "p1", 3, 10, 30, &row[2], &wait), 0);
  CHECK(row[2] > 0);
  CHECK_INT(rt_journal_budget_take(b.j, "p1", 3, 10, 30, &row[3], &wait), 0);
  CHECK(row[3] == 0 && wait == 30); /* all three in flight: ask again soon */
  CHECK_INT(rt_journal_budget_take(b.j, "p2", 3, 10, 30, &row[3], &wait), 0);
  CHECK(row[3] > 0); /* another principal has its own */
  CHECK_INT(rt_journal_budget_done(a.j, row[0], 0), 0); /* never left: free again */
  CHECK_INT(rt_journal_budget_take(b.j, "p1", 3, 10, 30, &row[0], &wait), 0);
  CHECK(row[0] > 0);
  CHECK_INT(rt_journal_budget_done(a.j, row[1], 1), 0); /* sent: counted for the window */
  CHECK_INT(rt_journal_budget_take(b.j, "p1", 3, 10, 30, &row[3], &wait), 0);
  CHECK(row[3] == 0 && wait > 9000 && wait <= 10001);
  kill(pid, SIGKILL); /* b dies with two in flight: they count as sent now */
  waitpid(pid, NULL, 0);
  CHECK_INT(rt_journal_budget_take(a.j, "p1", 3, 10, 30, &row[3], &wait), 0);
  CHECK(row[3] == 0 && wait > 9000);
  CHECK_INT(count(&a, "SELECT count(*) FROM budget WHERE principal = 'p1' AND at IS NULL"), 0);
  sql(&a, "UPDATE budget SET at = at - 11");
  CHECK_INT(rt_journal_budget_take(a.j, "p1", 3, 10, 30, &row[3], &wait), 0);
  CHECK(row[3] > 0); /* the window has passed */
  proc_close(&b);
  proc_close(&a);
  unlink(path);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/journal.db", dir);
  RUN(t_file);
  RUN(t_upgrade);
  RUN(t_prune);
  RUN(t_alive);
  RUN(t_secret);
  RUN(t_intents);
  RUN(t_sample);
  RUN(t_full);
  RUN(t_budget);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  return check_done();
}
