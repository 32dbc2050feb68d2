/* The journal: a crash-safe record of what the runtime asked the API to do, in SQLite (WAL), so
 * that a run killed at any moment can be started again and get exactly the captures it asked
 * for — none lost, none created twice, no partial file presented as complete — and so that
 * several pcaprun processes on one host share the API's limits.
 *
 * This is a storage layer: it takes plain values (an account's row id, an intent, a spec's text,
 * a capture's fields) and answers with plain values (a claim: go, wait, adopt, reconcile); what
 * the runtime does with them is decided by the PCAPs client (runtime/pcaps/). It knows nothing of
 * calls, captures in memory or limiters.
 *
 * What it holds, per account (base URL + account id); never a token, never an R2 secret:
 *   intents    one per logical create (the stable intent id the script passes): the request body
 *              with destination_conf's credentials redacted, the process working on it, whether
 *              and when it was first sent (written and synced before the create goes out), and
 *              the capture id once known;
 *   captures   the captures the runtime made or follows: type, status, colo, times;
 *   downloads  by path: capture, partial / done / invalid, bytes, packets;
 *   slots      full captures that may be pending or running, and full creates claimed, with the
 *              process that follows each (the account-wide full-capture slot);
 *   accounts   also the simple-create rate: the earliest time the next simple create may be sent
 *              and the process with one in flight;
 *   budget     the request budget of each credential identity ("principal"): one row per request
 *              sent in the last window or in flight, shared by every process and account;
 *   kv         small values scripts keep across runs (schedule state), and the key that makes
 *              credential fingerprints;
 *   alerts     (not per account) alerts a daemon accepted (pcaprun serve): source, the
 *              delivery's dedup key, the payload as received, and the playbook runs they started
 *              (state, process, times, the captures they made).
 *
 * Processes are named "BOOTID:PID:STARTTIME" (boot id and start time from /proc), so a pid reused
 * after a crash or a reboot never passes for the process that wrote a row. Rows of a process that
 * is gone are taken over, never dropped blindly: a full capture it followed is handed to the
 * claimer to adopt; a create it sent whose outcome is unknown is reconciled by listing the
 * account's captures, no sooner than RT_JOURNAL_GRACE after its death was first seen.
 *
 * All calls are made on the loop thread and are short (one small transaction each; a statement
 * waits at most 5 s for another process's transaction). Functions return 0 or a negative RT_E*
 * code; outcomes go into output parameters. */
#ifndef PCAPRUN_JOURNAL_H
#define PCAPRUN_JOURNAL_H
#include <jansson.h>
#include <stdint.h>
#include "rt.h"
#include "spec.h"

#define RT_JOURNAL_VERSION 3
/* Real seconds after a process is first seen gone before what it had in flight is resolved by
 * listing: a create it sent just before dying may still be reaching the API. */
#define RT_JOURNAL_GRACE 2.0
/* The most full captures of processes now gone one claim hands over for adoption. */
#define RT_JOURNAL_MAX_ADOPT 16

/* Opens the journal at path, creating it (mode 0600, and the directories above it) unless
 * readonly; a readonly open changes nothing (and reads a journal it may not write beside). A
 * file that is not a journal of this format (another application's SQLite database) is refused
 * before anything is written to it. Returns 0, or RT_EIO / RT_EINVAL (not a journal, or one of
 * another format) with a message in err. */
int rt_journal_open(const char *path, int readonly, rt_journal **out, char *err, size_t errlen);
void rt_journal_close(rt_journal *j);
const char *rt_journal_path(const rt_journal *j);
/* The last failure, for messages ("" when none). */
const char *rt_journal_error(const rt_journal *j);
/* ${XDG_STATE_HOME:-$HOME/.local/state}/pcaprun/journal.db, malloc'd; NULL without a HOME. */
char *rt_journal_default_path(void);
/* The runtime's journal, opening the default one (rt->journal_default) the first time it is
 * needed; when that fails, the run goes on without one (warned once). NULL when there is none. */
rt_journal *rt_journal_use(rt_runtime *rt);

/* This process's name, and whether the process named `owner` still runs (this one included). */
const char *rt_journal_self(const rt_journal *j);
int rt_journal_alive(const rt_journal *j, const char *owner);

/* The row id of the account (base_url, account_id), made when new. Returns 0 or RT_EIO. */
int rt_journal_account(rt_journal *j, const char *base_url, const char *account_id, int64_t *id);

/* A 32-byte secret kept in the journal (made at random the first time), for keyed hashes that
 * several processes must agree on (credential fingerprints). Returns 0 or RT_EIO. */
int rt_journal_secret(rt_journal *j, unsigned char key[32]);

/* ---- captures as the journal records them ---- */

typedef struct rt_jcapture {
  char id[33];
  char intent[40];        /* "" when unknown */
  int type;               /* RT_CAP_SIMPLE / RT_CAP_FULL */
  const char *status;     /* "pending", ... */
  char colo[64];
  double submitted;       /* epoch s, 0 when unknown */
  double time_limit;      /* API s, 0 when unknown */
  int holds_slot;         /* full: pending or running, followed by this process */
} rt_jcapture;

/* Records a capture's state; a full one's slot row follows holds_slot (taken by this process, or
 * freed). */
int rt_journal_capture(rt_journal *j, int64_t account, const rt_jcapture *cap);
/* Is the capture journaled as made for another intent than `intent`? */
int rt_journal_taken(rt_journal *j, int64_t account, const char *id, const char *intent);

/* ---- creates: intents and the limits they claim ---- */

/* What an intent's journal row says, read without a lock (a hint: the claim decides), against
 * the spec a create now asks for (rt_journal_spec). */
typedef struct rt_jintent {
  int found;
  int conflict;           /* journaled for another request (journaled_spec, cut) */
  char journaled_spec[256];
  char capture_id[33];    /* the capture it made, "" when not known */
  int busy;               /* another live process is creating it */
} rt_jintent;
int rt_journal_intent(rt_journal *j, int64_t account, const char *intent, const char *spec, rt_jintent *out);

typedef struct rt_jclaim_req {
  int64_t account;
  const char *intent;
  int type;               /* RT_CAP_SIMPLE / RT_CAP_FULL */
  const char *spec;       /* the body as journaled (rt_journal_spec) */
  int full_slots;         /* full: how many may be pending or running at once */
  double sample_gap;      /* simple: real seconds between creates (0: no limit) */
  double max_pause;       /* simple: the longest wait a recorded pause may impose, real s */
  uint64_t poll_ms;       /* how soon to ask again while another process holds something */
} rt_jclaim_req;

enum rt_jclaim_outcome {
  RT_JC_GO,         /* claimed: the intent is this process's and the limit taken; send it */
  RT_JC_WAIT,       /* ask again in wait_ms: another process holds the limit or the intent */
  RT_JC_ADOPT,      /* the intent made capture_id already: get it instead of creating */
  RT_JC_RECONCILE,  /* its creator died after sending: list, match (first_sent), then claim again */
  RT_JC_RESOLVE,    /* a full create of a process now gone may have made a capture: list the
                       account's captures, adopt what holds the slot, rt_journal_resolved, claim again */
  RT_JC_CONFLICT,   /* the intent was journaled for another request (journaled_spec) */
};

typedef struct rt_jclaim {
  int outcome;
  uint64_t wait_ms;                  /* WAIT */
  int by_process;                    /* WAIT: for another live process (not a timer) */
  char capture_id[33];               /* ADOPT */
  double first_sent;                 /* RECONCILE: when the intent was first sent */
  int64_t slot;                      /* GO, full: the slot row this process now holds */
  char journaled_spec[256];          /* CONFLICT (cut) */
  int nadopt;                        /* full captures of processes now gone, now this process's */
  rt_jcapture adopt[RT_JOURNAL_MAX_ADOPT];
} rt_jclaim;

/* In one transaction: the intent (is it made, or being made by another process?) and the limit it
 * needs (the full slot, or the simple-create rate), and on GO the intent row owned by this
 * process. So one intent is sent by one process, and the others get its capture. */
int rt_journal_claim(rt_journal *j, const rt_jclaim_req *req, rt_jclaim *out);
/* Just before the create goes out: the intent is marked sent, durably (synchronous=FULL). The
 * create must not be sent when this fails. */
int rt_journal_sent(rt_journal *j, int64_t account, const char *intent);
/* The create made capture `cap`: the intent's capture id, the capture, and the claim (a slot row
 * `slot`, or the simple-create rate: the next one no sooner than `sample_gap` from now) become the
 * capture's. */
int rt_journal_created(rt_journal *j, int64_t account, const char *intent, int64_t slot, double sample_gap,
                       const rt_jcapture *cap);
/* Gives up a claim that did not make a capture (as far as is known). `maybe_applied`: it was sent
 * and its outcome is unknown, so the slot stays taken (orphaned) until a list resolves it, the
 * next simple create waits a whole gap, and whoever runs the intent next reconciles it first.
 * Otherwise an intent never sent is forgotten. */
int rt_journal_unclaim(rt_journal *j, int64_t account, const char *intent, int type, int64_t slot,
                       double sample_gap, int maybe_applied);
/* A list sent after a RESOLVE claim succeeded: the orphaned full claims older than `since` are
 * settled (what they made, if anything, was adopted from it). */
int rt_journal_resolved(rt_journal *j, int64_t account, double since);
/* The full captures processes now gone were following on this account: their slot rows become
 * this process's and they are returned for adoption (at most RT_JOURNAL_MAX_ADOPT). */
int rt_journal_orphans(rt_journal *j, int64_t account, rt_jcapture *out, int max, int *n);

/* The API asked to wait before the next simple create: no process sends one before until_wall. */
int rt_journal_pause(rt_journal *j, int64_t account, double until_wall);
/* Forgets every pause (pcaprun journal --clear-pauses). */
int rt_journal_clear_pauses(rt_journal *j);

/* The body as journaled: compact, keys sorted, destination_conf's credentials redacted (its
 * other parameters stay: another region is another capture request) and offset_time left out (a
 * rerun computes it anew from its clock; it is the same logical capture). malloc'd, NULL on
 * ENOMEM. */
char *rt_journal_spec(const json_t *body);

/* ---- the request budget of a principal (credential identity), shared between processes ---- */

/* Takes a place for one request: at most n requests of `principal` sent in any `window` real
 * seconds or in flight, across processes. *row is the place (0 when none was taken: wait
 * *wait_ms, then ask again). */
int rt_journal_budget_take(rt_journal *j, const char *principal, unsigned n, double window, uint64_t poll_ms,
                           int64_t *row, uint64_t *wait_ms);
/* The request was sent (counted from now) or, sent = 0, never left (the place is free). */
int rt_journal_budget_done(rt_journal *j, int64_t row, int sent);

/* ---- downloads ---- */
enum { RT_JOURNAL_DL_PARTIAL, RT_JOURNAL_DL_DONE, RT_JOURNAL_DL_INVALID };
/* Records the download to path (made absolute); packets < 0: unknown. */
int rt_journal_download(rt_journal *j, int64_t account, const char *path, const char *capture_id, int state,
                        uint64_t bytes, int64_t packets);
/* Is the file at path journaled as another capture's download than capture_id? */
int rt_journal_download_other(rt_journal *j, const char *path, const char *capture_id);

/* ---- lookups and values (the Lua binding) ---- */

/* What the journal knows of an intent of the account: {intent, type, first_sent, capture_id,
 * status, colo, submitted, downloads: [{path, capture_id, state, bytes, packets}]}, or NULL. */
json_t *rt_journal_lookup(rt_journal *j, int64_t account, const char *intent);
/* What the journal knows of the download to path: {path (absolute), capture_id, state, bytes,
 * packets}, or NULL. */
json_t *rt_journal_download_info(rt_journal *j, const char *path);
/* The value stored under key (JSON), or NULL. */
json_t *rt_journal_get(rt_journal *j, const char *key);
/* Stores value under key (NULL deletes). */
int rt_journal_set(rt_journal *j, const char *key, const json_t *value);

/* ---- alerts a daemon accepted (journal_alerts.c) ---- */

/* One alert to record: its source ("cloudflare", ...), the delivery's dedup key and the payload as
 * received (JSON text, no secret). Out: its row id, and whether it was recorded before. */
typedef struct rt_jalert_in {
  const char *source, *dedup, *payload;
  int64_t id;
  int duplicate;
} rt_jalert_in;
/* Records n alerts in one transaction, durably (synchronous=FULL: on disk, power loss included,
 * when this returns 0), so that a sender told "accepted" never loses one. A redelivery (same
 * source and dedup key) changes nothing and comes back as a duplicate with the first one's id. */
int rt_journal_alerts_add(rt_journal *j, rt_jalert_in *in, int n);

/* A playbook run starts for alert id, with what the daemon made of it (kind, correlation id,
 * target; NULL when none). *claimed is 1 when the alert was queued, or running in a process now
 * gone (run again: runs counts it), and is now this process's; 0 when another live process runs
 * it or it has finished. */
int rt_journal_alert_claim(rt_journal *j, int64_t id, const char *kind, const char *correlation, const char *target,
                           int *claimed);
/* The alert is handled: state "done", "failed" or "skipped" (never run: the cooldown, no route,
 * dry run), with a note for people (NULL: none), and what the daemon made of it when it never
 * claimed it. */
int rt_journal_alert_finish(rt_journal *j, int64_t id, const char *state, const char *note, const char *kind,
                            const char *correlation, const char *target);
/* A run of alert id made capture capture_id (recorded once). */
int rt_journal_alert_capture(rt_journal *j, int64_t id, const char *capture_id);
/* The alert: {id, source, received, payload (text), state, owner_running (while it has an
 * owner), runs, started, finished, kind, correlation, target, note, captures: [ids]}, or NULL. */
json_t *rt_journal_alert_get(rt_journal *j, int64_t id);
/* Alerts still to handle, oldest first: queued, or running in a process now gone. Writes at
 * most max ids into ids and their number into *n. */
int rt_journal_alerts_pending(rt_journal *j, int64_t *ids, int max, int *n);
/* Ids of the alerts of `source` with this correlation id (a START and its END), oldest first. */
int rt_journal_alerts_related(rt_journal *j, const char *source, const char *correlation, int64_t *ids, int max,
                              int *n);
/* When a playbook run last started for `target` for another alert than `except` (epoch s), or 0. */
int rt_journal_alert_last(rt_journal *j, const char *target, int64_t except, double *when);

/* ---- the command line: pcaprun journal PATH [--json] [--clear-pauses] ---- */
int rt_journal_main(int argc, char **argv);

#endif
