/* ctest-labels: unit;valgrind
 * Opening a journal (issue 11, item 6): an SQLite file of another application passed as
 * --journal is refused with a clear message and left byte for byte as it was (no tables added,
 * no WAL, no mode change, no side files); an empty file becomes a journal carrying pcaprun's
 * application_id; a journal from before that mark is still ours, and gets it. */
#include "check.h"
#include "err.h"
#include "journal.h"
#include "vg.h"
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static const char *at(const char *name) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Makes a database at path with `sql` run in it. */
static void make_db(const char *path, const char *sql) {
  sqlite3 *db;
  CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(1 << 20);
  *len = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int int_pragma(const char *path, const char *pragma) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int v = -1;
  sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
  if (sqlite3_prepare_v2(db, pragma, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* path must be refused (RT_EINVAL, a message containing `says`) and left exactly as it was. */
static void refused_unchanged(const char *path, const char *says) {
  size_t before_len, after_len;
  char side[160], err[512] = "";
  chmod(path, 0644);
  char *before = slurp(path, &before_len);
  rt_journal *j = NULL;
  CHECK_INT(rt_journal_open(path, 0, &j, err, sizeof err), RT_EINVAL);
  CHECK(j == NULL);
  CHECK_CONTAINS(err, says);
  CHECK_CONTAINS(err, path);
  char *after = slurp(path, &after_len);
  CHECK(before && after && before_len == after_len && memcmp(before, after, before_len) == 0);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
  snprintf(side, sizeof side, "%s-wal", path);
  CHECK(!exists(side));
  snprintf(side, sizeof side, "%s-shm", path);
  CHECK(!exists(side));
  /* a reader says the same */
  CHECK_INT(rt_journal_open(path, 1, &j, err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, says);
  free(before);
  free(after);
}

static void t_foreign_refused(void) {
  make_db(at("app.db"), "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
                        "INSERT INTO notes(body) VALUES('keep me');");
  refused_unchanged(at("app.db"), "another application's SQLite database");
  make_db(at("wal.db"), "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  refused_unchanged(at("wal.db"), "another application's SQLite database");
  /* someone else's mark, even without tables */
  make_db(at("marked.db"), "PRAGMA application_id=1234;");
  refused_unchanged(at("marked.db"), "another application's SQLite database");
  /* our version number but not our tables */
  make_db(at("version.db"), "CREATE TABLE accounts(x); PRAGMA user_version=1;");
  refused_unchanged(at("version.db"), "another application's SQLite database");
  /* a newer format of ours */
  make_db(at("newer.db"), "PRAGMA application_id=1346589269; PRAGMA user_version=99;"
                          "CREATE TABLE kv(key);");
  refused_unchanged(at("newer.db"), "newer pcaprun");
  /* not a database at all */
  FILE *f = fopen(at("text.db"), "w");
  fputs("not a database, not at all; long enough to be read as a header .........................\n"
        "..........................................................................................\n", f);
  fclose(f);
  refused_unchanged(at("text.db"), "not an SQLite database");
}

static void t_new_and_old_journals(void) {
  char err[512];
  rt_journal *j;
  CHECK_INT(rt_journal_open(at("new.db"), 0, &j, err, sizeof err), 0);
  rt_journal_close(j);
  CHECK_INT(int_pragma(at("new.db"), "PRAGMA application_id"), 0x50435255);
  CHECK_INT(int_pragma(at("new.db"), "PRAGMA user_version"), RT_JOURNAL_VERSION);
  CHECK_INT(rt_journal_open(at("new.db"), 1, &j, err, sizeof err), 0);
  rt_journal_close(j);
  /* a journal from before the mark: our schema and version, application_id 0 */
  sqlite3 *db;
  sqlite3_open(at("new.db"), &db);
  CHECK_INT(sqlite3_exec(db, "PRAGMA application_id=0;", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  CHECK_INT(int_pragma(at("new.db"), "PRAGMA application_id"), 0);
  CHECK_INT(rt_journal_open(at("new.db"), 1, &j, err, sizeof err), 0); /* a reader leaves it */
  rt_journal_close(j);
  CHECK_INT(int_pragma(at("new.db"), "PRAGMA application_id"), 0);
  CHECK_INT(rt_journal_open(at("new.db"), 0, &j, err, sizeof err), 0); /* a writer marks it */
  rt_journal_close(j);
  CHECK_INT(int_pragma(at("new.db"), "PRAGMA application_id"), 0x50435255);
  /* an empty file is a new journal to a writer, nothing to a reader */
  fclose(fopen(at("empty.db"), "w"));
  CHECK_INT(rt_journal_open(at("empty.db"), 1, &j, err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, "is not a pcaprun journal (it is empty)");
  CHECK_INT(rt_journal_open(at("empty.db"), 0, &j, err, sizeof err), 0);
  rt_journal_close(j);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  snprintf(dir, sizeof dir, "/tmp/pcaprun-journal-open-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  RUN(t_foreign_refused);
  RUN(t_new_and_old_journals);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) return 1;
  return check_done();
}
