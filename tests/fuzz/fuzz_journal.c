/* Fuzz target: the journal reading its own rows when they are hostile — a journal file someone
 * edited, a bug, a disk that lied. Each input makes a new journal (rt_journal_open), then writes
 * rows into its tables straight through SQLite, every column any type (SQLite does not enforce
 * declared types): NULL, integers (extremes included), reals (NaN, infinities), text with NULs
 * or megabytes long, blobs. Then pcaprun reads it the ways it does: rt_journal_get of every key,
 * rt_journal_download_info of every path, and `pcaprun journal PATH` in text or --json (the first
 * byte's low bit). Oracles: nothing crashes or leaks; `pcaprun journal` still opens the journal
 * and exits 0 (its output goes to /dev/null). Rows are laid out as: table (byte), then per column a type (byte)
 * and its value (8 bytes for numbers; a length byte and that many bytes for text and blobs; a
 * length byte of 255 makes a 1 MiB text of the next byte). Tables are numbered in name order
 * (accounts, alerts, budget, captures, downloads, intents, kv, slots in format 3). */
#include "err.h"
#include "fuzz.h"
#include "journal.h"
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[256];

static void cleanup(void) {
  const char *const suffix[] = {"", "-wal", "-shm"};
  char side[300];
  for (int i = 0; i < 3; i++) {
    snprintf(side, sizeof side, "%s%s", path, suffix[i]);
    unlink(side);
  }
  rmdir(dir);
}

/* The journal's tables and their column counts, read from a new journal (so the target follows
 * the schema as it changes). */
static struct { char name[32]; int cols; } tables[16];
static int ntables;

static void learn_tables(sqlite3 *db) {
  sqlite3_stmt *st, *cols;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st, NULL);
  while (sqlite3_step(st) == SQLITE_ROW && ntables < 16) {
    char q[64];
    snprintf(tables[ntables].name, sizeof tables[0].name, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(q, sizeof q, "SELECT * FROM %s", tables[ntables].name);
    if (sqlite3_prepare_v2(db, q, -1, &cols, NULL) != SQLITE_OK) continue;
    tables[ntables++].cols = sqlite3_column_count(cols);
    sqlite3_finalize(cols);
  }
  sqlite3_finalize(st);
  FUZZ_CHECK(ntables > 0, "no tables in a new journal");
}

typedef struct cursor { const uint8_t *p, *end; } cursor;

static int byte(cursor *c) { return c->p < c->end ? *c->p++ : -1; }

static uint64_t u64(cursor *c) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | (uint64_t)(c->p < c->end ? *c->p++ : 0);
  return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "/dev/shm/pcaprun-fuzz-journal-XXXXXX"); /* syncs cost nothing there */
  if (!mkdtemp(dir)) {
    snprintf(dir, sizeof dir, "/tmp/pcaprun-fuzz-journal-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
  }
  snprintf(path, sizeof path, "%s/journal.db", dir);
  atexit(cleanup);
  FUZZ_CHECK(freopen("/dev/null", "w", stdout), "stdout");
  return 0;
}

static void bind_value(sqlite3_stmt *st, int col, cursor *c) {
  static char big[1 << 20];
  int type = byte(c), n;
  uint64_t v;
  double d;
  switch (type < 0 ? 0 : type % 7) {
  case 0: sqlite3_bind_null(st, col); break;
  case 1: sqlite3_bind_int64(st, col, (sqlite3_int64)u64(c)); break;
  case 2:
    v = u64(c);
    memcpy(&d, &v, sizeof d); /* any bit pattern: NaN, infinities, denormals */
    sqlite3_bind_double(st, col, d);
    break;
  case 3: case 4:
    n = byte(c);
    if (n == 255) { /* a huge text */
      memset(big, byte(c) & 0xff, sizeof big);
      sqlite3_bind_text(st, col, big, sizeof big, SQLITE_STATIC);
      break;
    }
    n = n < 0 ? 0 : n;
    if (n > c->end - c->p) n = (int)(c->end - c->p);
    if (type % 7 == 3) sqlite3_bind_text(st, col, (const char *)c->p, n, SQLITE_TRANSIENT);
    else sqlite3_bind_blob(st, col, c->p, n, SQLITE_TRANSIENT);
    c->p += n;
    break;
  case 5: sqlite3_bind_int64(st, col, byte(c) % 4); break; /* small ids: rows that join */
  default: sqlite3_bind_text(st, col, "0123456789abcdef0123456789abcdef", -1, SQLITE_STATIC); break;
  }
}

static void each_text(sqlite3 *db, const char *query, rt_journal *j, int download) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK) return;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    if (!text) continue;
    json_t *v = download ? rt_journal_download_info(j, text) : rt_journal_get(j, text);
    json_decref(v);
  }
  sqlite3_finalize(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char side[300], err[512];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  rt_journal *j;
  FUZZ_CHECK(rt_journal_open(path, 0, &j, err, sizeof err) == 0, "new journal: %s", err);
  sqlite3 *db;
  FUZZ_CHECK(sqlite3_open(path, &db) == SQLITE_OK, "sqlite3_open");
  if (!ntables) learn_tables(db);
  cursor c = {data, data + size};
  for (int rows = 0; rows < 32 && c.p < c.end; rows++) {
    int t = byte(&c) % ntables;
    char sql[160];
    int n = snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s VALUES(?", tables[t].name);
    for (int i = 1; i < tables[t].cols; i++) n += snprintf(sql + n, sizeof sql - (size_t)n, ",?");
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    sqlite3_stmt *st;
    FUZZ_CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    for (int col = 1; col <= tables[t].cols; col++) bind_value(st, col, &c);
    sqlite3_step(st); /* NOT NULL and key constraints may refuse a row: fine */
    sqlite3_finalize(st);
  }
  each_text(db, "SELECT key FROM kv", j, 0);
  each_text(db, "SELECT path FROM downloads", j, 1);
  sqlite3_close(db);
  rt_journal_close(j);

  /* text or JSON, by the input's first byte (each open prepares every statement: slow) */
  char *args[] = {"journal", path, size && data[0] & 1 ? "--json" : NULL, NULL};
  FUZZ_CHECK(rt_journal_main(args[2] ? 3 : 2, args) == 0, "pcaprun journal %s failed (the journal no "
             "longer opens?)", args[2] ? "--json" : "");
  return 0;
}
