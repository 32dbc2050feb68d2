/* The journal: a crash-safe record of what the runtime asked the API to do, in SQLite (WAL), so
 * that a run killed at any moment can be started again and get exactly the captures it asked
 * for — none lost, none created twice, no partial file presented as complete — and so that
 * several pcaprun processes on one host share an account's limits.
 *
 * What it holds, per account (base URL + account id); never a token, never an R2 secret:
 *   intents    one per logical create (the stable intent id the script passes): the request body
 *              with destination_conf redacted, when it was first sent (written and synced before
 *              the create goes out), the process working on it, and the capture id once known;
 *   captures   the captures the runtime made or tracks: type, status, colo, times;
 *   downloads  by path: capture, partial / done / invalid, bytes, packets;
 *   slots      full captures that may be pending or running, and full creates in flight, with
 *              the process that tracks each (the account-wide full-capture slot);
 *   accounts   also the simple-create rate: the earliest time the next simple create may be sent
 *              and the process with one in flight;
 *   kv         small values scripts keep across runs (schedule state).
 *
 * Processes are named "BOOTID:PID:STARTTIME" (boot id and start time from /proc), so a pid reused
 * after a crash or a reboot never passes for the process that wrote a row. Rows of a process that
 * is gone are taken over, never dropped blindly: a full capture it tracked is adopted (polled
 * until it leaves pending/running); a full create it had in flight is resolved by listing the
 * account's captures, no sooner than RT_JOURNAL_GRACE after its death was first seen.
 *
 * All calls are made on the loop thread and are short (one small transaction each; a statement
 * waits at most 5 s for another process's transaction). Hooks are no-ops when the runtime has no
 * journal (rt->journal == NULL). Functions return 0 or RT_E*. */
#ifndef PCAPRUN_JOURNAL_H
#define PCAPRUN_JOURNAL_H
#include "pcaps.h"

#define RT_JOURNAL_VERSION 1
/* Real seconds after a process is first seen gone before what it had in flight is resolved by
 * listing: a create it sent just before dying may still be reaching the API. */
#define RT_JOURNAL_GRACE 2.0

/* Opens the journal at path, creating it (mode 0600, and the directories above it) unless
 * readonly; a readonly open changes nothing (and reads a journal it may not write beside). A
 * file that is not a journal of this format (another application's SQLite database) is refused
 * before anything is written to it. Returns 0, or RT_EIO / RT_EINVAL (not a journal, or one of
 * another format) with a message in err. */
int rt_journal_open(const char *path, int readonly, rt_journal **out, char *err, size_t errlen);
void rt_journal_close(rt_journal *j);
const char *rt_journal_path(const rt_journal *j);
/* ${XDG_STATE_HOME:-$HOME/.local/state}/pcaprun/journal.db, malloc'd; NULL without a HOME. */
char *rt_journal_default_path(void);
/* The runtime's journal, opening the default one (rt->journal_default) the first time it is
 * needed; when that fails, the run goes on without one (warned once). NULL when there is none. */
rt_journal *rt_journal_use(rt_runtime *rt);

/* ---- hooks of the call state machine (call.c) ---- */

/* Outcomes of rt_journal_resume and rt_journal_claim besides 0 and RT_E* codes. */
enum { RT_JOURNAL_NEW = 0, RT_JOURNAL_ADOPT = 1, RT_JOURNAL_RECONCILE = 2, RT_JOURNAL_RESOLVE = 3 };

/* The first time an account is used: records it, and adopts the full captures that processes now
 * gone were tracking (they hold the slot again here, and are polled). */
void rt_journal_attach(rt_account *a, rt_creds *creds);
/* Before a create is admitted: has this intent been journaled? Returns RT_JOURNAL_NEW (create
 * it), RT_JOURNAL_ADOPT (c->id is the capture it made: get that instead), RT_JOURNAL_RECONCILE
 * (c->sent_wall is its first attempt: list and match before creating), RT_EAGAIN (another live
 * process is creating it, or its creator died just now: ask again in *wait_ms), or RT_EINVAL
 * (the intent was journaled for another request body; c->message says so). */
int rt_journal_resume(rt_call *c, uint64_t *wait_ms);
/* Before a create is first sent: the intent, durably (synchronous=FULL). RT_EIO on failure: the
 * create must then not be sent. */
int rt_journal_intent(rt_call *c);
/* The create's capture is known (created, reconciled or adopted): records its id for the intent,
 * and hands the call's claim on the account's limits to the capture. */
void rt_journal_created(rt_call *c, rt_capture *cap);
/* Is the capture journaled as made for another intent (by this process or another)? */
int rt_journal_taken(rt_account *a, const char *id, const char *intent);
/* Syncs the capture's record and its slot row with the runtime's view (status, holds_slot). */
void rt_journal_capture(rt_capture *cap);

/* Cross-process admission of a create that holds the in-process permit (gate or sample).
 * Returns 0 (claimed, or nothing to claim: no journal, no limit), RT_EAGAIN (another process holds the limit: try again in *wait_ms), or
 * RT_JOURNAL_RESOLVE (a full create of a process now gone may have made a capture: list the
 * account's captures, adopt the holders, then call rt_journal_resolved and claim again). */
int rt_journal_claim(rt_call *c, uint64_t *wait_ms);
/* Gives up a claim that did not become a capture. `maybe_applied`: the create may have been
 * applied (it was sent and its outcome is unknown), so the slot stays taken until a list
 * resolves it, and the next simple create waits a whole interval. */
void rt_journal_unclaim(rt_call *c, int maybe_applied);
/* The API asked to wait before the next simple create (429): no process sends one before until. */
void rt_journal_pause(rt_account *a, double until_wall);
/* A list sent after a RT_JOURNAL_RESOLVE claim succeeded: the unresolved full creates it covers
 * are settled (the captures they made, if any, were adopted from it). */
void rt_journal_resolved(rt_account *a);

/* ---- downloads (download.c) ---- */
enum { RT_JOURNAL_DL_PARTIAL, RT_JOURNAL_DL_DONE, RT_JOURNAL_DL_INVALID };
void rt_journal_download(rt_call *c, int state);
/* Is the file at c->path journaled as another capture's download (so its .part is not ours)? */
int rt_journal_foreign_part(rt_call *c);

/* ---- lookups and values (the Lua binding) ---- */

/* What the journal knows of an intent of the account: {intent, type, first_sent, capture_id,
 * status, colo, submitted, downloads: [{path, capture_id, state, bytes, packets}]}, or NULL. */
json_t *rt_journal_lookup(rt_journal *j, rt_account *a, const char *intent);
/* What the journal knows of the download to path: {path (absolute), capture_id, state, bytes,
 * packets}, or NULL. */
json_t *rt_journal_download_info(rt_journal *j, const char *path);
/* The value stored under key (JSON), or NULL. */
json_t *rt_journal_get(rt_journal *j, const char *key);
/* Stores value under key (NULL deletes). */
int rt_journal_set(rt_journal *j, const char *key, const json_t *value);

/* ---- the command line: pcaprun journal PATH [--json] ---- */
int rt_journal_main(int argc, char **argv);

#endif
