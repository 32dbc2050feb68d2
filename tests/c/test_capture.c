/* ctest-labels: unit;emu;valgrind
 * ctest-timeout: 300
 * runtime/pcaps/capture.c: capture records, who holds the account's full-capture slot (a place
 * in acct->full), adoption of full captures made elsewhere (a list, the journal), stops the
 * runtime sends, and the poller that follows a capture to its end for its waiters — against the
 * in-process emulator with its clock stepped by the test. */
#include "rt_emu_test.h"

static rt_fix F;

#define BUCKET "s3://demo/pcaps?region=us-east-1"
#define EMU_CFG "{\"auto_validate_buckets\":true}"
#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddd"

/* A capture object as the API sends one, submitted now. */
static json_t *capobj(const char *id, const char *type, const char *status) {
  char when[40];
  rt_time_format(rt_wall(), when, sizeof when);
  return json_pack("{s:s, s:s, s:s, s:s, s:f}", "id", id, "type", type, "status", status, "submitted", when,
                   "time_limit", 60.0);
}

static rt_capture *record(json_t *obj) {
  rt_capinfo info;
  char why[128];
  CHECK_INT(rt_capinfo_parse(obj, &info, why, sizeof why), 0);
  rt_capture *cap = rt_capture_update(F.acct, F.creds, obj, &info);
  json_decref(obj);
  CHECK(cap != NULL);
  return cap;
}

static rt_capture *made(json_t *obj, int with_gate, int *took) {
  rt_capinfo info;
  char why[128];
  CHECK_INT(rt_capinfo_parse(obj, &info, why, sizeof why), 0);
  rt_capture *cap = rt_capture_made(F.acct, F.creds, obj, &info, "intent-1", 0, with_gate, took);
  json_decref(obj);
  CHECK(cap != NULL);
  return cap;
}

/* The emulator's capture id as the runtime records it (a GET answer's object). */
static rt_capture *record_emulated(const char *id) {
  http_res r = api_fmt(&F.emu, "GET", NULL, "/pcaps/%s", id);
  rt_capture *cap = record(json_incref(jpath(r.json, "result")));
  http_free(&r);
  return cap;
}

/* The emulator's list, adopted as rt_capture_adopt_holders sees it. Returns how many it took. */
static int adopt_emulated(void) {
  http_res r = api(&F.emu, "GET", "/pcaps", NULL);
  int n = rt_capture_adopt_holders(F.acct, F.creds, jpath(r.json, "result"));
  http_free(&r);
  return n;
}

/* cw set up as a task's cap:wait() on cap, which must wait (the capture has not ended). */
static void wait_on(rt_capture *cap, rt_capwait *cw) {
  memset(cw, 0, sizeof *cw);
  CHECK_INT(rt_capture_wait(cap, cw), RT_EAGAIN);
}

/* A full capture made on the emulator by another tool, adopted from a list as the slot's holder;
 * its id in id (33 bytes). */
static rt_capture *held_elsewhere(char *id) {
  CHECK_INT(create_capture(&F.emu, FULL_BODY_FOR(BUCKET), id), 200);
  CHECK_INT(adopt_emulated(), 1);
  rt_capture *cap = rt_capture_find(F.acct, id);
  CHECK(cap && cap->holds_slot);
  return cap;
}

static int grants;
static void on_grant(rt_waiter *w) { (void)w; grants++; }

/* ---- who holds the slot ---- */

static void t_create_permit_becomes_the_captures(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  rt_waiter w = {.granted = on_grant};
  rt_list_init(&w.link);
  CHECK_INT(rt_gate_acquire(&F.acct->full, &w), 0); /* the create's permit */
  int took = -1;
  rt_capture *cap = made(capobj(ID_A, "full", "pending"), 1, &took);
  CHECK_INT(took, 1);
  CHECK_INT(cap->holds_slot, 1);
  CHECK_INT(cap->claimed, 1);
  CHECK_INT(F.acct->full.in_use, 1); /* moved, not taken twice */
  CHECK(cap->timer && uv_is_active((uv_handle_t *)cap->timer)); /* followed until it ends */
  rt_fix_stop(&F);
}

static void t_found_capture_takes_a_place_of_its_own(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  int took = -1;
  rt_capture *cap = made(capobj(ID_A, "full", "running"), 0, &took); /* a reconcile found it */
  CHECK_INT(took, 0);
  CHECK_INT(cap->holds_slot, 1);
  CHECK_INT(F.acct->full.in_use, 1);
  rt_capture *simple = made(capobj(ID_B, "simple", "pending"), 0, &took);
  CHECK_INT(simple->holds_slot, 0);
  CHECK_INT(F.acct->full.in_use, 1);
  rt_fix_stop(&F);
}

static void t_leaving_running_passes_the_slot_on(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  int took;
  rt_capture *cap = made(capobj(ID_A, "full", "running"), 0, &took);
  rt_waiter w = {.granted = on_grant};
  rt_list_init(&w.link);
  grants = 0;
  CHECK_INT(rt_gate_acquire(&F.acct->full, &w), RT_EAGAIN);
  record(capobj(ID_A, "full", "conversion_pending"));
  CHECK_INT(cap->holds_slot, 0);
  CHECK_INT(grants, 1);              /* the next in line has it */
  CHECK_INT(F.acct->full.in_use, 1);
  record(capobj(ID_A, "full", "success"));
  CHECK_INT(F.acct->full.in_use, 1); /* released once only */
  rt_fix_stop(&F);
}

static void t_unknown_status_keeps_the_slot(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  int took;
  rt_capture *cap = made(capobj(ID_A, "full", "running"), 0, &took);
  record(capobj(ID_A, "full", "some_new_status"));
  CHECK_INT(cap->status, RT_ST_UNKNOWN);
  CHECK_INT(cap->holds_slot, 1);
  CHECK_INT(F.acct->full.in_use, 1);
  rt_fix_stop(&F);
}

/* ---- adoption ---- */

static void t_adopts_only_running_full_captures_made_elsewhere(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  int took;
  made(capobj(ID_D, "full", "pending"), 0, &took); /* this run's */
  json_t *list = json_pack("[o, o, o, o]", capobj(ID_A, "full", "running"), capobj(ID_B, "full", "success"),
                           capobj(ID_C, "simple", "pending"), capobj(ID_D, "full", "pending"));
  CHECK_INT(rt_capture_adopt_holders(F.acct, F.creds, list), 1);
  rt_capture *a = rt_capture_find(F.acct, ID_A);
  CHECK(a && a->holds_slot && !a->claimed);
  CHECK(rt_capture_find(F.acct, ID_B) == NULL && rt_capture_find(F.acct, ID_C) == NULL);
  CHECK_INT(F.acct->full.in_use, 2);
  CHECK_INT(F.acct->full_checked, 1);
  CHECK_INT(rt_capture_adopt_holders(F.acct, F.creds, list), 0); /* already followed */
  CHECK_INT(F.acct->full.in_use, 2);
  json_decref(list);
  rt_fix_stop(&F);
}

static void t_adopts_what_the_journal_says_a_dead_process_followed(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  rt_jcapture running = {.id = ID_A, .intent = "theirs", .type = RT_CAP_FULL, .status = "running",
                         .submitted = rt_wall(), .time_limit = 60};
  rt_jcapture ended = {.id = ID_B, .intent = "old", .type = RT_CAP_FULL, .status = "success"};
  rt_capture_adopt_journaled(F.acct, F.creds, &running);
  rt_capture_adopt_journaled(F.acct, F.creds, &ended);
  rt_capture *a = rt_capture_find(F.acct, ID_A), *b = rt_capture_find(F.acct, ID_B);
  CHECK(a && a->holds_slot && a->status == RT_ST_RUNNING);
  if (a) CHECK_STR(a->intent, "theirs");
  CHECK(b && !b->holds_slot);
  CHECK_INT(F.acct->full.in_use, 1);
  rt_fix_stop(&F);
}

/* ---- stops ---- */

static void t_stop_is_sent_once_and_frees_the_slot(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  char id[33];
  rt_capture *cap = held_elsewhere(id);
  if (!cap) { rt_fix_stop(&F); return; }
  rt_capture_stop(cap, "test");
  CHECK_INT(cap->stop_sent, 1);
  CHECK_INT(F.rt.background, 1); /* the run does not end before it is sent */
  rt_capture_stop(cap, "test again");
  RUN_UNTIL(&F, F.rt.background == 0);
  CHECK_INT(emu_ops(&F, "stop"), 1);
  RUN_UNTIL(&F, !cap->holds_slot); /* polled soon after: it left running */
  CHECK_INT(F.acct->full.in_use, 0);
  rt_fix_stop(&F);
}

static void t_stop_ignores_what_holds_no_slot(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  rt_capture *simple = record(capobj(ID_A, "simple", "pending"));
  rt_capture *ended = record(capobj(ID_B, "full", "success"));
  rt_capture_stop(simple, "test");
  rt_capture_stop(ended, "test");
  CHECK(!simple->stop_sent && !ended->stop_sent);
  CHECK(rt_list_empty(&F.acct->calls));
  CHECK_INT(F.rt.background, 0);
  rt_fix_stop(&F);
}

/* ---- the poller ---- */

static void t_poller_follows_a_capture_to_its_end(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  char id[33];
  CHECK_INT(create_capture(&F.emu, SIMPLE_BODY, id), 200);
  rt_capture *cap = record_emulated(id);
  rt_capwait cw;
  wait_on(cap, &cw);
  clock_advance(&F.emu, 61);
  RUN_UNTIL(&F, cw.w.done);
  CHECK_INT(cw.w.rc, 0);
  CHECK_INT(cap->status, RT_ST_SUCCESS);
  CHECK(cap->polls >= 1);
  CHECK(!uv_is_active((uv_handle_t *)cap->timer) && !cap->poll); /* nothing more to follow */
  rt_fix_stop(&F);
}

static void one_retry(rt_options *o) { o->retries = 1; }

static void t_failed_poll_is_tried_again(void) {
  rt_fix_start(&F, "{\"fault_5xx\":0.5,\"fault_ops\":\"get\",\"seed\":8}", one_retry); /* the first get: 5xx */
  char id[33];
  CHECK_INT(create_capture(&F.emu, SIMPLE_BODY, id), 200);
  json_t *obj = capobj(id, "simple", "pending");
  rt_capture *cap = record(obj);
  rt_capwait cw;
  wait_on(cap, &cw);
  clock_advance(&F.emu, 61);
  RUN_UNTIL(&F, cw.w.done);
  CHECK_INT(cw.w.rc, 0);
  CHECK(stat_of(&F.emu, "faults.5xx") >= 1);
  CHECK(cap->polls >= 2);
  CHECK_INT(cap->poll_failures, 0);
  CHECK_INT(cap->status, RT_ST_SUCCESS);
  rt_fix_stop(&F);
}

static void t_capture_not_found_fails_its_waiters(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  rt_capture *cap = record(capobj(ID_A, "simple", "pending"));
  rt_capwait cw;
  wait_on(cap, &cw);
  RUN_UNTIL(&F, cw.w.done);
  CHECK_INT(cw.w.rc, RT_ENOTFOUND);
  CHECK_INT(cap->poll_error_rc, RT_ENOTFOUND);
  CHECK(cap->poll_error[0] != 0);
  rt_capwait again;
  memset(&again, 0, sizeof again);
  CHECK_INT(rt_capture_wait(cap, &again), RT_ENOTFOUND); /* at once, without asking again */
  CHECK(!uv_is_active((uv_handle_t *)cap->timer) && !cap->poll);
  rt_fix_stop(&F);
}

static void t_waiting_for_an_ended_capture_returns_at_once(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  rt_capture *cap = record(capobj(ID_A, "simple", "success"));
  rt_capwait cw;
  memset(&cw, 0, sizeof cw);
  CHECK_INT(rt_capture_wait(cap, &cw), 0);
  CHECK(rt_list_empty(&cap->waiters));
  CHECK(cap->timer == NULL); /* no poll for it */
  rt_fix_stop(&F);
}

static void t_stop_polling_wakes_waiters_with_shutdown(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  rt_capture *cap = record(capobj(ID_A, "simple", "pending"));
  rt_capwait cw;
  wait_on(cap, &cw);
  rt_capture_stop_polling(cap);
  CHECK(cw.w.done);
  CHECK_INT(cw.w.rc, RT_ESHUTDOWN);
  CHECK(cap->timer == NULL && cap->poll == NULL);
  rt_fix_stop(&F);
}

static void t_slot_passes_to_a_queued_create_when_the_holder_ends(void) {
  rt_fix_start(&F, EMU_CFG, NULL);
  char other[33];
  rt_capture *holder = held_elsewhere(other);
  rt_call *c = new_create(&F, FULL_BODY_FOR(BUCKET), "next");
  CHECK_INT(rt_call_start(c), RT_EAGAIN);
  CHECK_INT(F.acct->full.nwaiters, 1);
  clock_advance(&F.emu, 2 + 60 + 1); /* pending, running: over */
  RUN_UNTIL(&F, rt_call_done(c));
  CHECK_INT(c->rc, 0);
  CHECK(holder && !holder->holds_slot);
  CHECK(c->cap && c->cap->holds_slot);
  CHECK_INT(emu_ops(&F, "create"), 2);
  CHECK_INT(stat_of(&F.emu, "violations.full_concurrency"), 0);
  rt_call_free(c);
  rt_fix_stop(&F);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(t_create_permit_becomes_the_captures);
  RUN(t_found_capture_takes_a_place_of_its_own);
  RUN(t_leaving_running_passes_the_slot_on);
  RUN(t_unknown_status_keeps_the_slot);
  RUN(t_adopts_only_running_full_captures_made_elsewhere);
  RUN(t_adopts_what_the_journal_says_a_dead_process_followed);
  RUN(t_stop_is_sent_once_and_frees_the_slot);
  RUN(t_stop_ignores_what_holds_no_slot);
  RUN(t_poller_follows_a_capture_to_its_end);
  RUN(t_failed_poll_is_tried_again);
  RUN(t_capture_not_found_fails_its_waiters);
  RUN(t_waiting_for_an_ended_capture_returns_at_once);
  RUN(t_stop_polling_wakes_waiters_with_shutdown);
  RUN(t_slot_passes_to_a_queued_create_when_the_holder_ends);
  curl_global_cleanup();
  return check_done();
}
