/* ctest-labels: unit;emu;valgrind
 * ctest-timeout: 300
 * runtime/pcaps/call.c, the state machine of every API call, against the in-process emulator:
 * what a call returns, how many requests it sends, what it holds and records. Admission waits in
 * the limits before sending; 5xx and resets are retried with backoff for idempotent calls and end
 * with their code once the retries are spent; a 429 waits for its retry-after, bounded by the
 * limit's window and by a number of 429s; a create whose answer was lost is found by a list, not
 * made twice; a malformed answer is RT_EPROTO; a task giving up on a create already sent is told
 * RT_EAGAIN (scheduler.h) and the runtime follows the create to its end. */
#include "rt_emu_test.h"

static rt_fix F;

#define BUCKET "s3://demo/pcaps?region=us-east-1"
#define NO_SUCH_ID "0123456789abcdef0123456789abcdef"
/* seeds of the emulator's fault stream for which a share of 0.5 strikes the first request */
#define SEED_5XX 8
#define SEED_429 8

static void retries3(rt_options *o) { o->retries = 3; }
static void retries2(rt_options *o) { o->retries = 2; }

/* A simple capture made on the emulator behind the runtime's back; its id in id (33 bytes). */
static void made_elsewhere(const char *body, char *id) { CHECK_INT(create_capture(&F.emu, body, id), 200); }

/* The id of the emulator's only capture, in id (33 bytes). */
static void only_capture(char *id) {
  http_res r = api(&F.emu, "GET", "/pcaps", NULL);
  CHECK_INT(json_array_size(jpath(r.json, "result")), 1);
  snprintf(id, 33, "%s", jstr(r.json, "result.0.id") ? jstr(r.json, "result.0.id") : "");
  http_free(&r);
}

/* ---- an answered call ---- */

static void t_get_records_capture(void) {
  rt_fix_start(&F, NULL, NULL);
  char id[33];
  made_elsewhere(SIMPLE_BODY, id);
  rt_call *c = new_call(&F, RT_CALL_GET, id);
  CHECK_INT(rt_call_start(c), RT_EAGAIN); /* asynchronous: nothing is known yet */
  CHECK(!rt_call_done(c));
  RUN_UNTIL(&F, rt_call_done(c));
  CHECK_INT(c->rc, 0);
  CHECK_INT(c->http_status, 200);
  CHECK(c->cap && c->cap == rt_capture_find(F.acct, id));
  if (c->cap) {
    CHECK_INT(c->cap->type, RT_CAP_SIMPLE);
    CHECK_INT(c->cap->status, RT_ST_PENDING); /* the emulator's clock stands still */
  }
  CHECK_INT(F.acct->requests, 1);
  CHECK_INT(F.p->api.stats.granted, 1); /* one place of the budget, taken ... */
  CHECK_INT(F.p->api.inflight, 0);      /* ... and counted as spent once answered */
  CHECK_INT(F.p->api.ndone, 1);
  rt_call_free(c);
  rt_fix_stop(&F);
}

/* ---- retries ---- */

static void t_404_is_not_retried(void) {
  rt_fix_start(&F, NULL, NULL);
  rt_call *c = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(run_call(&F, c), RT_ENOTFOUND);
  CHECK_INT(c->http_status, 404);
  CHECK_INT(c->attempts, 0);
  CHECK_INT(emu_ops(&F, "get"), 1);
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void t_5xx_is_retried_until_answered(void) {
  char cfg[128];
  snprintf(cfg, sizeof cfg, "{\"fault_5xx\":0.5,\"fault_ops\":\"get\",\"seed\":%d}", SEED_5XX);
  rt_fix_start(&F, cfg, NULL);
  char id[33];
  made_elsewhere(SIMPLE_BODY, id);
  rt_call *c = new_call(&F, RT_CALL_GET, id);
  CHECK_INT(run_call(&F, c), 0);
  long long faults = stat_of(&F.emu, "faults.5xx");
  CHECK(faults >= 1); /* the seed makes the first answer a 5xx */
  CHECK_INT(emu_ops(&F, "get"), faults + 1);
  CHECK_INT(c->attempts, faults);
  CHECK(c->cap != NULL);
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void t_5xx_gives_up_after_retries(void) {
  rt_fix_start(&F, "{\"fault_5xx\":1,\"fault_ops\":\"get\"}", retries3);
  rt_call *c = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(run_call(&F, c), RT_EAPI);
  CHECK(c->http_status >= 500 && c->http_status <= 599);
  CHECK_CONTAINS(c->message, "gave up after 3 attempts");
  CHECK_INT(emu_ops(&F, "get"), 3);
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void t_reset_is_a_transport_error(void) {
  rt_fix_start(&F, "{\"fault_reset\":1,\"fault_ops\":\"list\"}", retries2);
  rt_call *c = new_call(&F, RT_CALL_LIST, NULL);
  CHECK_INT(run_call(&F, c), RT_ETRANSPORT);
  CHECK_INT(c->http_status, 0);
  CHECK_CONTAINS(c->message, "gave up after 2 attempts");
  CHECK_INT(emu_ops(&F, "list"), 2);
  CHECK(c->result == NULL);
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void t_malformed_answer_is_eproto(void) {
  rt_fix_start(&F, "{\"fault_malformed\":1,\"fault_ops\":\"get\"}", retries2);
  char id[33];
  made_elsewhere(SIMPLE_BODY, id);
  rt_call *c = new_call(&F, RT_CALL_GET, id);
  CHECK_INT(run_call(&F, c), RT_EPROTO);
  CHECK(c->message[0] != 0);
  CHECK_INT(emu_ops(&F, "get"), 2); /* transient: retried like a 5xx */
  CHECK(c->cap == NULL && rt_capture_find(F.acct, id) == NULL); /* nothing recorded from it */
  rt_call_free(c);
  rt_fix_stop(&F);
}

/* ---- 429 ---- */

static void t_429_waits_for_retry_after(void) {
  char cfg[160];
  snprintf(cfg, sizeof cfg, "{\"fault_429\":0.5,\"fault_429_max\":1,\"fault_ops\":\"get\",\"seed\":%d}", SEED_429);
  rt_fix_start(&F, cfg, NULL);
  uint64_t t0 = rt_now_ms(&F.rt);
  rt_call *c = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(run_call(&F, c), RT_ENOTFOUND);
  long long limited = stat_of(&F.emu, "faults.429");
  CHECK(limited >= 1);
  CHECK_INT(emu_ops(&F, "get"), limited + 1);
  CHECK_INT(c->limited, limited);
  CHECK_INT(c->attempts, 0);                                 /* a 429 spends no retry */
  CHECK(F.p->api.paused_until >= t0 + rt_api_ms(&F.rt, 1)); /* the credential paused for Retry-After: 1 */
  CHECK(rt_now_ms(&F.rt) >= F.p->api.paused_until);         /* and the call ended after the pause */
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void window2(rt_options *o) { o->api_window = 2; }

static void t_429_wait_is_bounded_by_the_window(void) {
  char cfg[200];
  snprintf(cfg, sizeof cfg, "{\"fault_429\":0.5,\"fault_ops\":\"get\",\"seed\":%d,"
           "\"hostile_retry_after\":\"999999999\"}", SEED_429);
  rt_fix_start(&F, cfg, window2);
  rt_call *c = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(run_call(&F, c), RT_ENOTFOUND); /* answered: not stuck for 31 years */
  CHECK(stat_of(&F.emu, "faults.429") >= 1);
  CHECK(F.p->api.paused_until > 0);
  CHECK(F.p->api.paused_until <= rt_now_ms(&F.rt) + rt_api_ms(&F.rt, 2));
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void fast(rt_options *o) { o->time_scale = 0.001; }

static void t_429_forever_gives_up(void) {
  rt_fix_start(&F, "{\"fault_429\":1,\"fault_429_max\":1,\"fault_ops\":\"get\"}", fast);
  rt_call *c = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(run_call(&F, c), RT_ERATELIMIT);
  CHECK_INT(c->http_status, 429);
  CHECK_INT(emu_ops(&F, "get"), 101); /* 100 waits, then it says so */
  rt_call_free(c);
  rt_fix_stop(&F);
}

/* ---- creates: never made twice ---- */

/* The create is applied, then its answer is lost as fault says: a list finds it. */
static void lost_answer_found(const char *fault) {
  rt_fix_start(&F, fault, NULL);
  rt_call *c = new_create(&F, SIMPLE_BODY, "lost-answer");
  CHECK_INT(run_call(&F, c), 0);
  CHECK_INT(emu_ops(&F, "create"), 1);
  CHECK_INT(emu_ops(&F, "list"), 1);
  CHECK_INT(stat_of(&F.emu, "captures.total"), 1);
  CHECK_INT(stat_of(&F.emu, "violations.duplicate_creates"), 0);
  char id[33];
  only_capture(id);
  CHECK(c->cap != NULL);
  if (c->cap) {
    CHECK_STR(c->cap->id, id);
    CHECK_STR(c->cap->intent, "lost-answer");
    CHECK_INT(c->cap->claimed, 1);
  }
  CHECK_INT(F.acct->sample.ndone, 1); /* the simple-create turn was spent */
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void t_create_answered_500_is_found_by_a_list(void) { lost_answer_found("{\"fault_create_then_500\":1}"); }
static void t_create_reset_is_found_by_a_list(void) { lost_answer_found("{\"fault_create_then_reset\":1}"); }

static void t_create_refused_lists_before_each_retry(void) {
  rt_fix_start(&F, "{\"fault_5xx\":1,\"fault_ops\":\"create\"}", retries3);
  rt_call *c = new_create(&F, SIMPLE_BODY, "refused");
  CHECK_INT(run_call(&F, c), RT_EAPI);
  CHECK_INT(emu_ops(&F, "create"), 3);
  CHECK_INT(emu_ops(&F, "list"), 2); /* one between each two creates */
  CHECK_INT(stat_of(&F.emu, "captures.total"), 0);
  CHECK(c->cap == NULL);
  CHECK_INT(F.acct->sample.inflight, 0); /* the turn was given back */
  rt_call_free(c);
  rt_fix_stop(&F);
}

/* ---- admission ---- */

/* A simple create answered, then a second one started: it waits in the simple-create window
 * (60 API s from the first's answer), not sent. Returns the second; the first is freed. */
static rt_call *second_simple_create(void) {
  rt_call *a = new_create(&F, SIMPLE_BODY, "first");
  CHECK_INT(run_call(&F, a), 0);
  rt_call_free(a);
  rt_call *b = new_create(&F, SIMPLE_BODY, "second");
  CHECK_INT(rt_call_start(b), RT_EAGAIN);
  CHECK_INT(F.acct->sample.nwaiters, 1);
  CHECK_INT(emu_ops(&F, "create"), 1);
  return b;
}

static void t_second_simple_create_waits_for_the_window(void) {
  rt_fix_start(&F, NULL, NULL);
  rt_call *b = second_simple_create();
  clock_advance(&F.emu, 61);              /* the emulator's window passes too */
  RUN_UNTIL(&F, rt_call_done(b));
  CHECK_INT(b->rc, 0);
  CHECK_INT(emu_ops(&F, "create"), 2);
  CHECK_INT(stat_of(&F.emu, "violations.sample_rate"), 0);
  rt_call_free(b);
  rt_fix_stop(&F);
}

static void t_released_queued_create_leaves_the_queue(void) {
  rt_fix_start(&F, NULL, NULL);
  rt_call *b = second_simple_create();
  rt_call_release(b); /* its task let go before it was sent: nothing to follow */
  CHECK_INT(F.acct->sample.nwaiters, 0);
  CHECK(rt_list_empty(&F.acct->calls));
  CHECK_INT(F.rt.background, 0);
  CHECK_INT(emu_ops(&F, "create"), 1);
  rt_fix_stop(&F);
}

static void budget1(rt_options *o) { o->api_budget = 1; o->api_window = 60; }

static void t_request_waits_for_the_budget(void) {
  rt_fix_start(&F, NULL, budget1);
  rt_call *a = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(run_call(&F, a), RT_ENOTFOUND);
  rt_call *b = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(rt_call_start(b), RT_EAGAIN);
  CHECK_INT(F.p->api.nwaiters, 1);
  CHECK_INT(emu_ops(&F, "get"), 1);
  RUN_UNTIL(&F, rt_call_done(b));
  CHECK_INT(b->rc, RT_ENOTFOUND);
  CHECK_INT(emu_ops(&F, "get"), 2);
  rt_call_free(a);
  rt_call_free(b);
  rt_fix_stop(&F);
}

static void t_second_full_create_waits_for_the_slot(void) {
  rt_fix_start(&F, "{\"auto_validate_buckets\":true}", NULL);
  rt_call *a = new_create(&F, FULL_BODY_FOR(BUCKET), "full-1");
  CHECK_INT(run_call(&F, a), 0);
  CHECK(a->cap && a->cap->holds_slot);
  CHECK_INT(F.acct->full.in_use, 1);
  rt_call *b = new_create(&F, FULL_BODY_FOR(BUCKET), "full-2");
  CHECK_INT(rt_call_start(b), RT_EAGAIN);
  CHECK_INT(F.acct->full.nwaiters, 1);
  CHECK_INT(emu_ops(&F, "create"), 1);
  CHECK_INT(stat_of(&F.emu, "violations.full_concurrency"), 0);
  rt_call_free(b);
  rt_call_free(a);
  rt_fix_stop(&F);
}

static void t_first_full_create_queues_behind_one_made_elsewhere(void) {
  rt_fix_start(&F, "{\"auto_validate_buckets\":true}", NULL);
  char other[33];
  made_elsewhere(FULL_BODY_FOR(BUCKET), other);
  rt_call *c = new_create(&F, FULL_BODY_FOR(BUCKET), "mine");
  CHECK_INT(rt_call_start(c), RT_EAGAIN);
  RUN_UNTIL(&F, F.acct->full.nwaiters == 1); /* it listed, found the other, gave the slot back */
  CHECK_INT(emu_ops(&F, "list"), 1);
  CHECK_INT(emu_ops(&F, "create"), 1);       /* the other tool's only */
  CHECK_INT(stat_of(&F.emu, "violations.full_concurrency"), 0);
  rt_capture *held = rt_capture_find(F.acct, other);
  CHECK(held && held->holds_slot && !held->claimed);
  CHECK(!rt_call_done(c));
  rt_call_free(c);
  rt_fix_stop(&F);
}

/* ---- interruptions ---- */

static void t_canceled_get_stops_at_once(void) {
  rt_fix_start(&F, NULL, NULL);
  rt_call *c = new_call(&F, RT_CALL_GET, NO_SUCH_ID);
  CHECK_INT(rt_call_start(c), RT_EAGAIN);
  CHECK_INT(c->w.cancel(&c->w, RT_ECANCELED), 0); /* the scheduler completes the wait itself */
  CHECK(rt_call_done(c));
  CHECK_INT(c->rc, RT_ECANCELED);
  CHECK(!c->w.done);
  CHECK_INT(F.p->api.inflight, 0); /* the place is given back as spent: it may have been sent */
  CHECK_INT(F.p->api.ndone, 1);
  rt_call_free(c);
  rt_fix_stop(&F);
}

static void t_canceled_sent_create_is_followed_and_stopped(void) {
  rt_fix_start(&F, "{\"auto_validate_buckets\":true}", NULL);
  rt_call *c = new_create(&F, FULL_BODY_FOR(BUCKET), "given-up");
  CHECK_INT(rt_call_start(c), RT_EAGAIN);
  RUN_UNTIL(&F, c->create.unknown); /* the list is answered, the create is on its way */
  CHECK(!rt_call_done(c));
  CHECK_INT(c->w.cancel(&c->w, RT_ECANCELED), RT_EAGAIN); /* cannot stop: its outcome must be known */
  CHECK(c->w.bound_ms > rt_now_ms(&F.rt));                /* by when it will be */
  CHECK(!c->w.done);
  RUN_UNTIL(&F, c->w.done);
  CHECK_INT(c->w.rc, RT_ECANCELED);
  CHECK(rt_call_done(c));
  CHECK(c->cap && c->cap->stop_sent); /* the capture it made, stopped: nobody waits for it */
  rt_call_release(c);
  RUN_UNTIL(&F, F.rt.background == 0);
  CHECK_INT(emu_ops(&F, "create"), 1);
  CHECK_INT(emu_ops(&F, "stop"), 1);
  rt_fix_stop(&F);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(t_get_records_capture);
  RUN(t_404_is_not_retried);
  RUN(t_5xx_is_retried_until_answered);
  RUN(t_5xx_gives_up_after_retries);
  RUN(t_reset_is_a_transport_error);
  RUN(t_malformed_answer_is_eproto);
  RUN(t_429_waits_for_retry_after);
  RUN(t_429_wait_is_bounded_by_the_window);
  RUN(t_429_forever_gives_up);
  RUN(t_create_answered_500_is_found_by_a_list);
  RUN(t_create_reset_is_found_by_a_list);
  RUN(t_create_refused_lists_before_each_retry);
  RUN(t_second_simple_create_waits_for_the_window);
  RUN(t_released_queued_create_leaves_the_queue);
  RUN(t_request_waits_for_the_budget);
  RUN(t_second_full_create_waits_for_the_slot);
  RUN(t_first_full_create_queues_behind_one_made_elsewhere);
  RUN(t_canceled_get_stops_at_once);
  RUN(t_canceled_sent_create_is_followed_and_stopped);
  curl_global_cleanup();
  return check_done();
}
