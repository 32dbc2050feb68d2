/* Shared by the journal's files: journal.c (the file, the schema, statements, records),
 * journal_share.c (limits shared between processes, adoption) and journal_show.c (the CLI). */
#ifndef PCAPRUN_JOURNAL_INTERNAL_H
#define PCAPRUN_JOURNAL_INTERNAL_H
#include "journal.h"
#include <sqlite3.h>

/* Prepared statements, by name; the SQL is in journal.c. */
enum {
  JS_BEGIN, JS_COMMIT, JS_ROLLBACK, JS_SYNC_FULL, JS_SYNC_NORMAL,
  JS_ACCOUNT_ADD, JS_ACCOUNT_ID,
  JS_INTENT_GET, JS_INTENT_PUT, JS_INTENT_OWN, JS_INTENT_DONE,
  JS_CAPTURE_PUT, JS_CAPTURE_GET,
  JS_SLOT_LIST, JS_SLOT_CLAIM, JS_SLOT_HOLD, JS_SLOT_SET, JS_SLOT_DROP, JS_SLOT_FREE,
  JS_SLOT_DROP_INTENT, JS_SLOT_RESOLVED,
  JS_SAMPLE_GET, JS_SAMPLE_SET, JS_SAMPLE_PAUSE,
  JS_DL_PUT, JS_DL_GET, JS_DL_OF,
  JS_KV_GET, JS_KV_PUT, JS_KV_DEL,
  JS_COUNT
};

struct rt_journal {
  sqlite3 *db;
  char *path;
  char self[96];               /* this process: "BOOTID:PID:STARTTIME" */
  char boot_id[40];
  int failed;                  /* statements that failed (the first is logged) */
  char error[256];             /* the last failure */
  sqlite3_stmt *st[JS_COUNT];
};

/* Binds arguments to statement `which` by a type string — 'i' int64, 'd' double, 's' text (NULL
 * binds null), 'n' null — and returns it ready to step, or NULL (logged). */
sqlite3_stmt *jq(rt_journal *j, int which, const char *types, ...);
/* Runs a statement to completion. Returns 0 or RT_EIO (logged once). */
int jx(rt_journal *j, int which, const char *types, ...);
/* BEGIN IMMEDIATE (waits for other processes up to the busy timeout). jend commits when rc is 0
 * (returning 0, or RT_EIO when the commit fails) and otherwise rolls back, returning rc. */
int jbegin(rt_journal *j);
int jend(rt_journal *j, int rc);
/* Steps a query: 1 with a row to read (then sqlite3_reset it once read: a statement left
 * stepped keeps an old snapshot of the journal), 0 at the end (reset done) or on an error. */
int jrow(sqlite3_stmt *st);
/* Column as a string that may be NULL. */
const char *jtext(sqlite3_stmt *st, int col);

/* Real seconds between simple creates (the account's interval, plus a margin for clocks). */
static inline double jgap(const rt_runtime *rt) { return rt_api_ms(rt, rt->opt.sample_interval) / 1000.0 + 0.005; }

/* How soon to look again at a limit another process holds: an API second, within bounds. */
static inline uint64_t jpoll_ms(const rt_runtime *rt) {
  uint64_t ms = rt_api_ms(rt, 1.0);
  return ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
}

/* Is the process named `owner` still running (this one included)? */
int rt_journal_alive(const rt_journal *j, const char *owner);
/* The journal of the account's runtime, with the account recorded; NULL when none. */
rt_journal *rt_journal_of(rt_account *a);

#endif
