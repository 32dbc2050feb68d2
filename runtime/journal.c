/* The journal's file, schema and records: opening (mode 0600, WAL, busy timeout, versioned
 * schema, migration from older formats), the statements, process names and liveness, captures,
 * downloads, lookups and script values. Intents and the limits shared between processes are in
 * journal_share.c, a daemon's alerts in journal_alerts.c. */
#include "err.h"
#include "fsutil.h"
#include "journal_internal.h"
#include "log.h"
#include "spec.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000     /* the longest a statement waits for another process's transaction */
#define KEEP_SECONDS (30 * 86400) /* finished captures are forgotten this long after they were last seen */

static const char schema[] =
  "CREATE TABLE accounts("
  "  id INTEGER PRIMARY KEY, base_url TEXT NOT NULL, account_id TEXT NOT NULL,"
  "  simple_next REAL NOT NULL DEFAULT 0,"   /* no simple create before this wall time */
  "  simple_owner TEXT,"                     /* the process with a simple create in flight */
  "  paused_until REAL NOT NULL DEFAULT 0,"  /* the API asked to wait (429) until this wall time */
  "  UNIQUE(base_url, account_id));"
  "CREATE TABLE intents("
  "  account INTEGER NOT NULL, intent TEXT NOT NULL, type TEXT NOT NULL,"
  "  spec TEXT NOT NULL,"                    /* the body, destination_conf's credentials redacted */
  "  first_sent REAL NOT NULL, owner TEXT, orphaned REAL, capture_id TEXT,"
  "  sent INTEGER NOT NULL DEFAULT 1,"       /* 0: claimed, never sent (first_sent is the claim) */
  "  PRIMARY KEY(account, intent)) WITHOUT ROWID;"
  "CREATE TABLE captures("
  "  account INTEGER NOT NULL, id TEXT NOT NULL, intent TEXT, type TEXT NOT NULL,"
  "  status TEXT NOT NULL, colo TEXT, submitted REAL, time_limit REAL, updated REAL NOT NULL,"
  "  PRIMARY KEY(account, id)) WITHOUT ROWID;"
  "CREATE TABLE downloads("
  "  path TEXT PRIMARY KEY, account INTEGER NOT NULL, capture_id TEXT NOT NULL,"
  "  state TEXT NOT NULL, bytes INTEGER NOT NULL, packets INTEGER, updated REAL NOT NULL);"
  "CREATE INDEX downloads_capture ON downloads(account, capture_id);"
  "CREATE TABLE slots("                      /* the full-capture slot: holders and claims */
  "  id INTEGER PRIMARY KEY, account INTEGER NOT NULL, intent TEXT, capture_id TEXT,"
  "  owner TEXT, since REAL NOT NULL, orphaned REAL);"
  "CREATE UNIQUE INDEX slots_capture ON slots(account, capture_id);"
  "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL);";

/* Format 2 over format 1: intents say whether they were sent, pauses are kept apart from the
 * simple-create rate (so they can be cleared), and the request budget is shared. */
static const char schema_budget[] =
  "CREATE TABLE budget("                     /* one row per request in the window or in flight */
  "  id INTEGER PRIMARY KEY, principal TEXT NOT NULL, owner TEXT, at REAL);"
  "CREATE INDEX budget_principal ON budget(principal, at);";
/* Format 3 over format 2: alerts a daemon (pcaprun serve) accepted, and the playbook runs they
 * started (journal_alerts.c). */
static const char schema_alerts[] =
  "CREATE TABLE alerts("
  "  id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
  "  dedup TEXT NOT NULL,"                   /* the delivery's key: a redelivery is the same row */
  "  received REAL NOT NULL, payload TEXT NOT NULL,"
  "  state TEXT NOT NULL DEFAULT 'queued',"  /* queued, running, then done, failed, skipped */
  "  owner TEXT,"                            /* the process running its playbook */
  "  runs INTEGER NOT NULL DEFAULT 0,"       /* playbook runs started (more than 1: resumed) */
  "  started REAL, finished REAL, kind TEXT, correlation TEXT, target TEXT, note TEXT,"
  "  captures TEXT NOT NULL DEFAULT '[]',"   /* ids of the captures its runs made (JSON) */
  "  UNIQUE(source, dedup));"
  "CREATE INDEX alerts_state ON alerts(state, id);"
  "CREATE INDEX alerts_correlation ON alerts(source, correlation);"
  "CREATE INDEX alerts_target ON alerts(target, started);";
static const char migrate_1_2[] =
  "ALTER TABLE intents ADD COLUMN sent INTEGER NOT NULL DEFAULT 1;"
  "ALTER TABLE accounts ADD COLUMN paused_until REAL NOT NULL DEFAULT 0;"
  "UPDATE intents SET spec = json_remove(spec, '$.offset_time') WHERE json_valid(spec);";

static const char *const sql[JS_COUNT] = {
  [JS_BEGIN] = "BEGIN IMMEDIATE",
  [JS_COMMIT] = "COMMIT",
  [JS_ROLLBACK] = "ROLLBACK",
  [JS_SYNC_FULL] = "PRAGMA synchronous=FULL",
  [JS_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
  [JS_ACCOUNT_ADD] = "INSERT OR IGNORE INTO accounts(base_url, account_id) VALUES(?1, ?2)",
  [JS_ACCOUNT_ID] = "SELECT id FROM accounts WHERE base_url = ?1 AND account_id = ?2",
  [JS_INTENT_GET] = "SELECT type, spec, first_sent, owner, orphaned, capture_id, sent FROM intents"
                    " WHERE account = ?1 AND intent = ?2",
  [JS_INTENT_PUT] = "INSERT INTO intents(account, intent, type, spec, first_sent, owner, sent)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0) ON CONFLICT(account, intent)"
                    " DO UPDATE SET owner = excluded.owner, orphaned = NULL",
  [JS_INTENT_OWN] = "UPDATE intents SET owner = ?3, orphaned = ?4 WHERE account = ?1 AND intent = ?2",
  [JS_INTENT_SENT] = "UPDATE intents SET first_sent = CASE WHEN sent THEN first_sent ELSE ?3 END, sent = 1"
                     " WHERE account = ?1 AND intent = ?2",
  [JS_INTENT_DONE] = "UPDATE intents SET capture_id = ?3 WHERE account = ?1 AND intent = ?2",
  [JS_INTENT_FORGET] = "DELETE FROM intents WHERE account = ?1 AND intent = ?2 AND sent = 0 AND capture_id IS NULL",
  [JS_CAPTURE_PUT] = "INSERT INTO captures(account, id, intent, type, status, colo, submitted,"
                     " time_limit, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                     " ON CONFLICT(account, id) DO UPDATE SET intent = coalesce(excluded.intent, intent),"
                     " status = excluded.status, colo = coalesce(excluded.colo, colo),"
                     " submitted = coalesce(excluded.submitted, submitted),"
                     " time_limit = coalesce(excluded.time_limit, time_limit), updated = excluded.updated",
  [JS_CAPTURE_GET] = "SELECT intent, type, status, colo, submitted, time_limit FROM captures"
                     " WHERE account = ?1 AND id = ?2",
  [JS_SLOT_LIST] = "SELECT id, capture_id, owner, orphaned FROM slots WHERE account = ?1",
  [JS_SLOT_CLAIM] = "INSERT INTO slots(account, intent, owner, since) VALUES(?1, ?2, ?3, ?4)",
  [JS_SLOT_HOLD] = "INSERT INTO slots(account, intent, capture_id, owner, since) VALUES(?1, ?2, ?3, ?4, ?5)"
                   " ON CONFLICT(account, capture_id) DO UPDATE SET owner = excluded.owner, orphaned = NULL",
  [JS_SLOT_SET] = "UPDATE slots SET owner = ?2, orphaned = ?3 WHERE id = ?1",
  [JS_SLOT_DROP] = "DELETE FROM slots WHERE id = ?1",
  [JS_SLOT_FREE] = "DELETE FROM slots WHERE account = ?1 AND capture_id = ?2",
  [JS_SLOT_DROP_INTENT] = "DELETE FROM slots WHERE account = ?1 AND intent = ?2 AND capture_id IS NULL",
  [JS_SLOT_RESOLVED] = "DELETE FROM slots WHERE account = ?1 AND capture_id IS NULL AND owner IS NULL"
                       " AND orphaned <= ?2",
  [JS_SAMPLE_GET] = "SELECT simple_next, simple_owner, paused_until FROM accounts WHERE id = ?1",
  [JS_SAMPLE_SET] = "UPDATE accounts SET simple_next = max(simple_next, ?2), simple_owner = ?3 WHERE id = ?1",
  [JS_SAMPLE_PAUSE] = "UPDATE accounts SET paused_until = max(paused_until, ?2) WHERE id = ?1",
  [JS_PAUSE_CLEAR] = "UPDATE accounts SET paused_until = 0 WHERE paused_until > 0",
  [JS_BUDGET_TAKE] = "INSERT INTO budget(principal, owner) SELECT ?1, ?2 WHERE (SELECT count(*) FROM budget"
                     " WHERE principal = ?1 AND (at IS NULL OR at > ?3)) < ?4",
  [JS_BUDGET_SENT] = "UPDATE budget SET at = ?2, owner = NULL WHERE id = ?1",
  [JS_BUDGET_FREE] = "DELETE FROM budget WHERE id = ?1",
  [JS_BUDGET_OLDEST] = "SELECT min(at) FROM budget WHERE principal = ?1 AND at > ?2",
  [JS_BUDGET_INFLIGHT] = "SELECT id, owner FROM budget WHERE principal = ?1 AND at IS NULL",
  [JS_BUDGET_PRUNE] = "DELETE FROM budget WHERE at < ?1",
  [JS_DL_PUT] = "INSERT INTO downloads(path, account, capture_id, state, bytes, packets, updated)"
                " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(path) DO UPDATE SET"
                " account = excluded.account, capture_id = excluded.capture_id, state = excluded.state,"
                " bytes = excluded.bytes, packets = excluded.packets, updated = excluded.updated",
  [JS_DL_GET] = "SELECT path, capture_id, state, bytes, packets FROM downloads WHERE path = ?1",
  [JS_DL_OF] = "SELECT path, capture_id, state, bytes, packets FROM downloads WHERE account = ?1"
               " AND capture_id = ?2 ORDER BY path",
  [JS_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
  [JS_KV_PUT] = "INSERT INTO kv(key, value, updated) VALUES(?1, ?2, ?3) ON CONFLICT(key)"
                " DO UPDATE SET value = excluded.value, updated = excluded.updated",
  [JS_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
  [JS_ALERT_ADD] = "INSERT INTO alerts(source, dedup, received, payload) VALUES(?1, ?2, ?3, ?4)"
                   " ON CONFLICT(source, dedup) DO NOTHING",
  [JS_ALERT_ID] = "SELECT id FROM alerts WHERE source = ?1 AND dedup = ?2",
  [JS_ALERT_GET] = "SELECT id, source, received, payload, state, owner, runs, started, finished, kind,"
                   " correlation, target, note, captures FROM alerts WHERE id = ?1",
  [JS_ALERT_CLAIM] = "UPDATE alerts SET state = 'running', owner = ?2, runs = runs + 1, started = ?3,"
                     " kind = ?4, correlation = ?5, target = ?6 WHERE id = ?1",
  [JS_ALERT_FINISH] = "UPDATE alerts SET state = ?2, owner = NULL, finished = ?3, note = ?4,"
                      " kind = coalesce(kind, ?5), correlation = coalesce(correlation, ?6),"
                      " target = coalesce(target, ?7) WHERE id = ?1",
  [JS_ALERT_CAPTURE] = "UPDATE alerts SET captures = json_insert(captures, '$[#]', ?2) WHERE id = ?1"
                       " AND NOT EXISTS (SELECT 1 FROM json_each(alerts.captures) WHERE value = ?2)",
  [JS_ALERT_PENDING] = "SELECT id, owner FROM alerts WHERE state IN ('queued', 'running') ORDER BY id",
  [JS_ALERT_RELATED] = "SELECT id FROM alerts WHERE source = ?1 AND correlation = ?2 ORDER BY id",
  [JS_ALERT_LAST] = "SELECT max(started) FROM alerts WHERE target = ?1 AND id != ?2",
};

/* ---- statements ---- */

static void complain(rt_journal *j, const char *what) {
  snprintf(j->error, sizeof j->error, "%s", sqlite3_errmsg(j->db));
  if (j->failed++) return; /* once: a broken disk would otherwise flood the log */
  rt_log(RT_LOG_ERROR, "journal.error", "the journal cannot be written; resuming this run may repeat work",
         "path", j->path, "op", what, "error", j->error, NULL);
}

static sqlite3_stmt *vbind(rt_journal *j, int which, const char *types, va_list ap) {
  sqlite3_stmt *st = j->st[which];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  int rc = sqlite3_bind_parameter_count(st) == (int)strlen(types) ? SQLITE_OK : SQLITE_RANGE; /* a bug */
  for (int i = 1; types[i - 1] && rc == SQLITE_OK; i++) {
    switch (types[i - 1]) {
    case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
    case 'd': {
      double d = va_arg(ap, double);
      rc = isnan(d) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, d);
      break;
    }
    case 's': {
      const char *s = va_arg(ap, const char *);
      rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
      break;
    }
    default: rc = sqlite3_bind_null(st, i); break;
    }
  }
  if (rc != SQLITE_OK) {
    complain(j, sql[which]);
    return NULL;
  }
  return st;
}

sqlite3_stmt *jq(rt_journal *j, int which, const char *types, ...) {
  va_list ap;
  va_start(ap, types);
  sqlite3_stmt *st = vbind(j, which, types, ap);
  va_end(ap);
  return st;
}

int jx(rt_journal *j, int which, const char *types, ...) {
  va_list ap;
  va_start(ap, types);
  sqlite3_stmt *st = vbind(j, which, types, ap);
  va_end(ap);
  int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
  if (st) sqlite3_reset(st);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
  complain(j, sql[which]);
  return RT_EIO;
}

int jbegin(rt_journal *j) { return jx(j, JS_BEGIN, ""); }

int jend(rt_journal *j, int rc) {
  if (rc == 0 && jx(j, JS_COMMIT, "") == 0) return 0;
  if (!sqlite3_get_autocommit(j->db)) jx(j, JS_ROLLBACK, "");
  return rc ? rc : RT_EIO;
}

int jrow(sqlite3_stmt *st) {
  if (!st) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) return 1;
  sqlite3_reset(st);
  return 0;
}

const char *jtext(sqlite3_stmt *st, int col) { return (const char *)sqlite3_column_text(st, col); }

/* ---- processes ---- */

/* The start time (clock ticks since boot) and state of a process, from /proc. */
static int proc_stat(long pid, unsigned long long *start, char *state) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  /* after ") ": state (field 3), then fields 4..21, then starttime (22) */
  if (!p || sscanf(p + 2, "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                   state, start) != 2)
    return -1;
  return 0;
}

static void read_line(const char *path, char *out, size_t size) {
  out[0] = 0;
  FILE *f = fopen(path, "re");
  if (!f) return;
  if (fgets(out, (int)size, f)) out[strcspn(out, "\n")] = 0;
  fclose(f);
}

static void name_self(rt_journal *j) {
  unsigned long long start = 0;
  char state;
  read_line("/proc/sys/kernel/random/boot_id", j->boot_id, sizeof j->boot_id);
  if (proc_stat((long)getpid(), &start, &state) != 0) start = 0;
  snprintf(j->self, sizeof j->self, "%s:%ld:%llu", j->boot_id, (long)getpid(), start);
}

int rt_journal_alive(const rt_journal *j, const char *owner) {
  if (!owner) return 0;
  if (strcmp(owner, j->self) == 0) return 1;
  const char *c1 = strchr(owner, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (!c2) return 0;
  if ((size_t)(c1 - owner) != strlen(j->boot_id) || strncmp(owner, j->boot_id, (size_t)(c1 - owner)) != 0)
    return 0; /* written before the last reboot */
  long pid = strtol(c1 + 1, NULL, 10);
  unsigned long long want = strtoull(c2 + 1, NULL, 10), start;
  char state;
  if (pid <= 0) return 0;
  if (!want || !j->boot_id[0]) return kill((pid_t)pid, 0) == 0 || errno == EPERM; /* no /proc */
  if (proc_stat(pid, &start, &state) != 0) return 0;
  return start == want && state != 'Z' && state != 'X'; /* the same process, not a reused pid */
}

/* ---- opening ---- */

/* The journal and its -wal and -shm files: owner only. SQLite gives the latter the database
 * file's mode; this makes sure of all three, also for a journal made by something else. */
static void private_mode(const char *path) {
  char side[4096];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    struct stat st;
    snprintf(side, sizeof side, "%s%s", path, suffix[i]);
    if (stat(side, &st) == 0 && (st.st_mode & 077)) chmod(side, st.st_mode & 0700);
  }
}

static int exec_sql(rt_journal *j, const char *text) {
  return sqlite3_exec(j->db, text, NULL, NULL, NULL) == SQLITE_OK ? 0 : RT_EIO;
}

/* At open, before the loop runs: switching to WAL can be refused at once, without the busy
 * handler, while another process is making the same new journal; try again for a while. */
static int exec_patient(rt_journal *j, const char *text) {
  for (int waited = 0;; waited += 10) {
    int rc = sqlite3_exec(j->db, text, NULL, NULL, NULL);
    if (rc == SQLITE_OK) return 0;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= BUSY_TIMEOUT_MS) return RT_EIO;
    usleep(10000);
  }
}

/* Keeps the journal from growing without bound (a recurring job adds a few rows a run): forgets
 * the intents, captures and finished downloads of captures that ended KEEP_SECONDS ago. A
 * partial download, an intent without its capture, a slot row and the values stay. */
static void prune(rt_journal *j) {
  char text[1024];
  double cutoff = rt_wall() - KEEP_SECONDS;
  snprintf(text, sizeof text,
           "BEGIN IMMEDIATE;"
           "DELETE FROM intents WHERE EXISTS (SELECT 1 FROM captures c WHERE c.account = intents.account"
           "  AND c.id = intents.capture_id AND c.updated < %.0f AND c.status IN ('success', 'complete', 'failed'));"
           "DELETE FROM captures WHERE updated < %.0f AND status IN ('success', 'complete', 'failed')"
           "  AND NOT EXISTS (SELECT 1 FROM slots s WHERE s.account = captures.account AND s.capture_id = captures.id);"
           "DELETE FROM downloads WHERE updated < %.0f AND state != 'partial';"
           "COMMIT;", cutoff, cutoff, cutoff);
  if (exec_sql(j, text) && !sqlite3_get_autocommit(j->db)) exec_sql(j, "ROLLBACK");
}

/* The journal's mark in the SQLite header ("PCRU"): a database with another application_id, or
 * with tables and none, is not ours and is never changed. */
#define APPLICATION_ID 0x50435255

static const char our_tables[] =
  "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
  " ('accounts', 'intents', 'captures', 'downloads', 'slots', 'kv')";

/* What a file holds, read without writing anything. */
typedef struct kind {
  int app, version, tables, ours; /* application_id, user_version, tables, ours of them */
} kind;

static int int_query(rt_journal *j, const char *text, int *out) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(j->db, text, -1, &st, NULL) != SQLITE_OK) return RT_EIO;
  int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : RT_EIO;
  if (rc == 0) *out = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc;
}

/* Reads the four in one snapshot (a transaction of its own unless one is open: another process
 * may be making this very journal meanwhile). Returns 0, or RT_EINVAL (not an SQLite database) /
 * RT_EIO (cannot be read) with a message in err. */
static int identify(rt_journal *j, kind *k, char *err, size_t errlen) {
  int own = sqlite3_get_autocommit(j->db);
  int rc = own ? exec_sql(j, "BEGIN") : 0;
  if (rc == 0)
    rc = int_query(j, "PRAGMA application_id", &k->app) || int_query(j, "PRAGMA user_version", &k->version) ||
                 int_query(j, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &k->tables) ||
                 int_query(j, our_tables, &k->ours)
             ? RT_EIO : 0;
  if (rc) {
    int notadb = sqlite3_errcode(j->db) == SQLITE_NOTADB;
    snprintf(err, errlen, notadb ? "%s is not a pcaprun journal (not an SQLite database)"
             : "cannot read the journal %s: %s", j->path, sqlite3_errmsg(j->db));
    rc = notadb ? RT_EINVAL : RT_EIO;
  }
  if (own && !sqlite3_get_autocommit(j->db)) exec_sql(j, rc ? "ROLLBACK" : "COMMIT");
  return rc;
}

static int is_empty(const kind *k) { return k->app == 0 && k->version == 0 && k->tables == 0; }

/* Ours: our application_id, or (a journal made before it was set) one of our formats and our
 * tables. */
static int is_ours(const kind *k) {
  return k->app == APPLICATION_ID ||
         (k->app == 0 && k->version >= 1 && k->version <= RT_JOURNAL_VERSION && k->ours == 6);
}

static int user_version(rt_journal *j) {
  int v = -1;
  return int_query(j, "PRAGMA user_version", &v) ? -1 : v;
}

/* Brings a new, empty journal (from 0) or one of an older format (1, 2) to the current format,
 * marked as ours, in one transaction that another process making or migrating the same journal
 * waits for. */
static int upgrade(rt_journal *j, int from) {
  char text[sizeof schema + sizeof schema_budget + sizeof migrate_1_2 + sizeof schema_alerts + 96];
  snprintf(text, sizeof text, "%s %s %s PRAGMA user_version=%d; PRAGMA application_id=%d;",
           from == 0 ? schema : from == 1 ? migrate_1_2 : "", from < 2 ? schema_budget : "", schema_alerts,
           RT_JOURNAL_VERSION, APPLICATION_ID);
  int rc = exec_sql(j, "BEGIN IMMEDIATE");
  if (rc == 0 && user_version(j) == from) rc = exec_sql(j, text);
  if (rc == 0) rc = exec_sql(j, "COMMIT");
  if (rc && !sqlite3_get_autocommit(j->db)) exec_sql(j, "ROLLBACK");
  return rc;
}

/* Refuses what this pcaprun cannot use, saying what it is. */
static int refuse(rt_journal *j, const kind *k, int readonly, char *err, size_t errlen) {
  if (is_ours(k) && k->version > RT_JOURNAL_VERSION)
    snprintf(err, errlen, "%s is a journal of a newer pcaprun (format %d; this one reads %d)", j->path,
             k->version, RT_JOURNAL_VERSION);
  else if (is_ours(k) && readonly)
    snprintf(err, errlen, "%s is a journal of an older pcaprun (format %d); open it once without "
             "--read-only to upgrade it", j->path, k->version);
  else if (is_ours(k))
    snprintf(err, errlen, "%s is a journal of an older pcaprun (format %d; this one reads %d)", j->path,
             k->version, RT_JOURNAL_VERSION);
  else if (is_empty(k))
    snprintf(err, errlen, "%s is not a pcaprun journal (it is empty)", j->path);
  else
    snprintf(err, errlen, "%s is not a pcaprun journal but another application's SQLite database; "
             "it was left as it is (give --journal a new file)", j->path);
  return RT_EINVAL;
}

/* What the file is, before anything is written to it: an empty file becomes a new journal, a
 * journal of ours is used (upgraded from an older format first), anything else (another
 * application's database, a newer format) is refused and left byte for byte as it was — no
 * table, no WAL, no mode change. */
static int setup(rt_journal *j, int readonly, char *err, size_t errlen) {
  kind k = {0};
  sqlite3_busy_timeout(j->db, BUSY_TIMEOUT_MS);
  int rc = identify(j, &k, err, errlen);
  if (rc) return rc;
  int fresh = !readonly && is_empty(&k);
  if (!fresh && (!is_ours(&k) || k.version > RT_JOURNAL_VERSION || (readonly && k.version < RT_JOURNAL_VERSION)))
    return refuse(j, &k, readonly, err, errlen);
  if (!readonly && (exec_patient(j, "PRAGMA journal_mode=WAL") || exec_sql(j, "PRAGMA synchronous=NORMAL"))) {
    snprintf(err, errlen, "cannot use %s as a journal: %s", j->path, sqlite3_errmsg(j->db));
    return RT_EIO;
  }
  if (!readonly && k.version < RT_JOURNAL_VERSION) { /* new or older: made or migrated here, or meanwhile */
    if (upgrade(j, k.version)) {
      snprintf(err, errlen, "cannot %s the journal %s: %s", k.version ? "upgrade" : "create", j->path,
               sqlite3_errmsg(j->db));
      return RT_EIO;
    }
    if ((rc = identify(j, &k, err, errlen))) return rc;
    if (!is_ours(&k) || k.version != RT_JOURNAL_VERSION) return refuse(j, &k, readonly, err, errlen);
  } else if (!readonly && k.app == 0) { /* a journal from before the mark: give it the mark */
    char mark[64];
    snprintf(mark, sizeof mark, "PRAGMA application_id=%d", APPLICATION_ID);
    exec_sql(j, mark);
  }
  for (int i = 0; i < JS_COUNT; i++)
    if (sqlite3_prepare_v3(j->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i], NULL) != SQLITE_OK) {
      snprintf(err, errlen, "journal %s: %s", j->path, sqlite3_errmsg(j->db));
      return RT_EIO;
    }
  if (!readonly) {
    private_mode(j->path);
    prune(j);
  }
  return 0;
}

/* A reader that may not write beside the journal cannot make the -shm file SQLite wants for a
 * WAL database: it reads the file as it is (immutable), which is all of it when no -wal file
 * holds changes not yet in it. */
static int open_immutable(rt_journal *j) {
  char side[4096], uri[3 * 4096 + 32];
  struct stat st;
  snprintf(side, sizeof side, "%s-wal", j->path);
  if (stat(side, &st) == 0 && st.st_size > 0) return RT_EIO;
  size_t n = (size_t)snprintf(uri, sizeof uri, "file:");
  for (const unsigned char *p = (const unsigned char *)j->path; *p && n + 4 < sizeof uri; p++)
    n += (size_t)(isalnum(*p) || strchr("/-._~", *p) ? snprintf(uri + n, sizeof uri - n, "%c", *p)
                                                     : snprintf(uri + n, sizeof uri - n, "%%%02X", *p));
  snprintf(uri + n, sizeof uri - n, "?immutable=1");
  sqlite3_close(j->db);
  j->db = NULL;
  return sqlite3_open_v2(uri, &j->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK ? 0 : RT_EIO;
}

int rt_journal_open(const char *path, int readonly, rt_journal **out, char *err, size_t errlen) {
  *out = NULL;
  rt_journal *j = calloc(1, sizeof *j);
  if (!j || !(j->path = strdup(path))) {
    free(j);
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  name_self(j);
  int rc = RT_EIO;
  if (!readonly) { /* create it owner-only before SQLite does, so it is never readable by others */
    int fd = rt_mkdir_parents(path) == 0 ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (fd < 0) {
      snprintf(err, errlen, "cannot create the journal %s: %s", path, strerror(errno));
      goto fail;
    }
    close(fd);
  }
  /* a reader opens read-write if it may (reading a WAL journal needs its -shm), never creating */
  int opened = sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE, NULL);
  if (opened != SQLITE_OK && readonly) {
    sqlite3_close(j->db);
    opened = sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READONLY, NULL);
  }
  if (opened != SQLITE_OK) {
    snprintf(err, errlen, "cannot open the journal %s: %s", path, j->db ? sqlite3_errmsg(j->db) : "out of memory");
    goto fail;
  }
  rc = setup(j, readonly, err, errlen);
  if (rc == RT_EIO && readonly && open_immutable(j) == 0) rc = setup(j, readonly, err, errlen);
  if (rc == 0) {
    *out = j;
    return 0;
  }
fail:
  rt_journal_close(j);
  return rc;
}

void rt_journal_close(rt_journal *j) {
  if (!j) return;
  for (int i = 0; i < JS_COUNT; i++) sqlite3_finalize(j->st[i]);
  sqlite3_close(j->db);
  free(j->path);
  free(j);
}

const char *rt_journal_path(const rt_journal *j) { return j->path; }

char *rt_journal_default_path(void) {
  const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  char buf[4096];
  if (state && state[0] == '/') snprintf(buf, sizeof buf, "%s/pcaprun/journal.db", state);
  else if (home && home[0]) snprintf(buf, sizeof buf, "%s/.local/state/pcaprun/journal.db", home);
  else return NULL;
  return strdup(buf);
}

rt_journal *rt_journal_use(rt_runtime *rt) {
  if (rt->journal || !rt->journal_default) return rt->journal;
  char err[512];
  if (rt_journal_open(rt->journal_default, 0, &rt->journal, err, sizeof err))
    rt_log(RT_LOG_WARN, "journal", "running without a journal (see --journal)", "error", err, NULL);
  free(rt->journal_default);
  rt->journal_default = NULL;
  return rt->journal;
}

const char *rt_journal_error(const rt_journal *j) { return j->error; }

const char *rt_journal_self(const rt_journal *j) { return j->self; }

/* ---- accounts ---- */

int rt_journal_account(rt_journal *j, const char *base_url, const char *account_id, int64_t *id) {
  sqlite3_stmt *st;
  *id = 0;
  if (jx(j, JS_ACCOUNT_ADD, "ss", base_url, account_id) == 0 &&
      jrow(st = jq(j, JS_ACCOUNT_ID, "ss", base_url, account_id))) {
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  return *id ? 0 : RT_EIO;
}

/* A stored key: 64 hex digits. */
static int parse_key(const json_t *v, unsigned char key[32]) {
  const char *hex = json_string_value(v);
  if (!hex || strlen(hex) != 64) return -1;
  for (int i = 0; i < 32; i++) {
    unsigned x;
    if (sscanf(hex + 2 * i, "%2x", &x) != 1) return -1;
    key[i] = (unsigned char)x;
  }
  return 0;
}

int rt_journal_secret(rt_journal *j, unsigned char key[32]) {
  static const char name[] = "pcaprun/principal-key";
  int rc = jbegin(j); /* two processes may make one at once: the first stored wins */
  json_t *there = rc ? NULL : rt_journal_get(j, name);
  if (rc == 0 && parse_key(there, key) != 0) {
    char text[65];
    rc = rt_random_bytes(key, 32);
    for (int i = 0; rc == 0 && i < 32; i++) snprintf(text + 2 * i, 3, "%02x", key[i]);
    json_t *mine = rc ? NULL : json_string(text);
    if (rc == 0) rc = mine ? rt_journal_set(j, name, mine) : RT_ENOMEM;
    json_decref(mine);
  }
  json_decref(there);
  return jend(j, rc);
}

const char *rt_journal_type_name(int type) { return type == RT_CAP_FULL ? "full" : "simple"; }

char *rt_journal_spec(const json_t *body) {
  json_t *copy = json_copy((json_t *)body);
  const char *dest = json_string_value(json_object_get(copy, "destination_conf"));
  if (copy && dest) {
    char red[2048];
    json_object_set_new(copy, "destination_conf", json_string(rt_spec_redact_secrets(dest, red, sizeof red)));
  }
  if (copy) json_object_del(copy, "offset_time");
  char *text = copy ? json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(copy);
  return text;
}

/* ---- captures ---- */

static double or_nan(double v) { return v > 0 ? v : NAN; }

int rt_journal_put_capture(rt_journal *j, int64_t account, const rt_jcapture *cap) {
  double now = rt_wall();
  const char *intent = cap->intent[0] ? cap->intent : NULL;
  int rc = jx(j, JS_CAPTURE_PUT, "isssssddd", account, cap->id, intent, rt_journal_type_name(cap->type),
              cap->status, cap->colo[0] ? cap->colo : NULL, or_nan(cap->submitted), or_nan(cap->time_limit), now);
  if (rc == 0 && cap->type == RT_CAP_FULL)
    rc = cap->holds_slot ? jx(j, JS_SLOT_HOLD, "isssd", account, intent, cap->id, j->self, now)
                         : jx(j, JS_SLOT_FREE, "is", account, cap->id);
  return rc;
}

int rt_journal_capture(rt_journal *j, int64_t account, const rt_jcapture *cap) {
  int rc = jbegin(j);
  return rc ? rc : jend(j, rt_journal_put_capture(j, account, cap));
}

int rt_journal_taken(rt_journal *j, int64_t account, const char *id, const char *intent) {
  sqlite3_stmt *st = jq(j, JS_CAPTURE_GET, "is", account, id);
  if (!jrow(st)) return 0;
  int other = jtext(st, 0) && strcmp(jtext(st, 0), intent) != 0;
  sqlite3_reset(st);
  return other;
}

/* ---- downloads ---- */

/* Downloads are known by absolute path (a restarted run may start elsewhere). */
static const char *abs_path(const char *path, char *buf, size_t size) {
  char cwd[2048];
  if (path[0] == '/' || !getcwd(cwd, sizeof cwd)) snprintf(buf, size, "%s", path);
  else snprintf(buf, size, "%s/%s", cwd, path);
  return buf;
}

int rt_journal_download_other(rt_journal *j, const char *path, const char *capture_id) {
  char abs[4096];
  sqlite3_stmt *st = jq(j, JS_DL_GET, "s", abs_path(path, abs, sizeof abs));
  if (!jrow(st)) return 0;
  int other = strcmp(jtext(st, 1), capture_id) != 0;
  sqlite3_reset(st);
  return other;
}

int rt_journal_download(rt_journal *j, int64_t account, const char *path, const char *capture_id, int state,
                        uint64_t bytes, int64_t packets) {
  static const char *const names[] = {"partial", "done", "invalid"};
  char abs[4096];
  abs_path(path, abs, sizeof abs);
  if (packets >= 0)
    return jx(j, JS_DL_PUT, "sissiid", abs, account, capture_id, names[state], (int64_t)bytes, packets, rt_wall());
  return jx(j, JS_DL_PUT, "sissind", abs, account, capture_id, names[state], (int64_t)bytes, rt_wall());
}

/* ---- lookups ---- */

static void set_num(json_t *o, const char *k, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) != SQLITE_NULL) json_object_set_new(o, k, json_real(sqlite3_column_double(st, col)));
}

static void set_text(json_t *o, const char *k, sqlite3_stmt *st, int col) {
  if (jtext(st, col)) json_object_set_new(o, k, json_string(jtext(st, col)));
}

/* A row of JS_DL_GET or JS_DL_OF as {path, capture_id, state, bytes, packets}. */
static json_t *download_json(sqlite3_stmt *st) {
  json_t *d = json_object();
  set_text(d, "path", st, 0);
  set_text(d, "capture_id", st, 1);
  set_text(d, "state", st, 2);
  json_object_set_new(d, "bytes", json_integer(sqlite3_column_int64(st, 3)));
  if (sqlite3_column_type(st, 4) != SQLITE_NULL) json_object_set_new(d, "packets", json_integer(sqlite3_column_int64(st, 4)));
  return d;
}

json_t *rt_journal_lookup(rt_journal *j, int64_t account, const char *intent) {
  sqlite3_stmt *st = jq(j, JS_INTENT_GET, "is", account, intent);
  if (!jrow(st)) return NULL;
  json_t *o = json_pack("{s:s}", "intent", intent);
  set_text(o, "type", st, 0);
  set_num(o, "first_sent", st, 2);
  set_text(o, "capture_id", st, 5);
  sqlite3_reset(st);
  const char *id = json_string_value(json_object_get(o, "capture_id"));
  if (!id) return o;
  if (jrow(st = jq(j, JS_CAPTURE_GET, "is", account, id))) {
    set_text(o, "status", st, 2);
    set_text(o, "colo", st, 3);
    set_num(o, "submitted", st, 4);
    sqlite3_reset(st);
  }
  json_t *dls = json_array();
  for (st = jq(j, JS_DL_OF, "is", account, id); jrow(st);) json_array_append_new(dls, download_json(st));
  json_object_set_new(o, "downloads", dls);
  return o;
}

json_t *rt_journal_download_info(rt_journal *j, const char *path) {
  char abs[4096];
  sqlite3_stmt *st = jq(j, JS_DL_GET, "s", abs_path(path, abs, sizeof abs));
  if (!jrow(st)) return NULL;
  json_t *d = download_json(st);
  sqlite3_reset(st);
  return d;
}

json_t *rt_journal_get(rt_journal *j, const char *key) {
  sqlite3_stmt *st = jq(j, JS_KV_GET, "s", key);
  if (!jrow(st)) return NULL;
  json_t *v = json_loads(jtext(st, 0), JSON_DECODE_ANY, NULL);
  sqlite3_reset(st);
  return v;
}

int rt_journal_set(rt_journal *j, const char *key, const json_t *value) {
  if (!value) return jx(j, JS_KV_DEL, "s", key);
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
  if (!text) return RT_ENOMEM;
  int rc = jx(j, JS_KV_PUT, "ssd", key, text, rt_wall());
  free(text);
  return rc;
}
