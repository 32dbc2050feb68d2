/* Shared by the journal's files: journal.c (the file, the schema, statements, processes,
 * records), journal_share.c (intents and the limits shared between processes),
 * journal_alerts.c (a daemon's alerts) and journal_show.c (the command line). */
#ifndef PCAPRUN_JOURNAL_INTERNAL_H
#define PCAPRUN_JOURNAL_INTERNAL_H
#include "apiparse.h"
#include "journal.h"
#include <sqlite3.h>

/* Prepared statements, by name; the SQL is in journal.c. */
enum {
  JS_BEGIN, JS_COMMIT, JS_ROLLBACK, JS_SYNC_FULL, JS_SYNC_NORMAL,
  JS_ACCOUNT_ADD, JS_ACCOUNT_ID,
  JS_INTENT_GET, JS_INTENT_PUT, JS_INTENT_OWN, JS_INTENT_SENT, JS_INTENT_DONE, JS_INTENT_FORGET,
  JS_CAPTURE_PUT, JS_CAPTURE_GET,
  JS_SLOT_LIST, JS_SLOT_CLAIM, JS_SLOT_HOLD, JS_SLOT_SET, JS_SLOT_DROP, JS_SLOT_FREE,
  JS_SLOT_DROP_INTENT, JS_SLOT_RESOLVED,
  JS_SAMPLE_GET, JS_SAMPLE_SET, JS_SAMPLE_PAUSE, JS_PAUSE_CLEAR,
  JS_BUDGET_TAKE, JS_BUDGET_SENT, JS_BUDGET_FREE, JS_BUDGET_OLDEST, JS_BUDGET_INFLIGHT,
  JS_BUDGET_PRUNE,
  JS_DL_PUT, JS_DL_GET, JS_DL_OF,
  JS_KV_GET, JS_KV_PUT, JS_KV_DEL,
  JS_ALERT_ADD, JS_ALERT_ID, JS_ALERT_GET, JS_ALERT_CLAIM, JS_ALERT_FINISH, JS_ALERT_CAPTURE,
  JS_ALERT_PENDING, JS_ALERT_RELATED, JS_ALERT_LAST,
  JS_COUNT
};

struct rt_journal {
  sqlite3 *db;
  char *path;
  char self[96];               /* this process: "BOOTID:PID:STARTTIME" */
  char boot_id[40];
  int failed;                  /* statements that failed (the first is logged) */
  char error[256];             /* the last failure */
  unsigned budget_takes;       /* places taken (old rows are pruned every so often) */
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
/* Column as a double, 0 when NULL. */
static inline double jnum(sqlite3_stmt *st, int col) { return sqlite3_column_double(st, col); }

const char *rt_journal_type_name(int type);
/* Inside a transaction: the capture's row, and a full one's slot row after holds_slot. */
int rt_journal_put_capture(rt_journal *j, int64_t account, const rt_jcapture *cap);

#endif
