/* ctest-labels: unit;valgrind
 * runtime/scheduler.c: tasks are coroutines resumed only by the drain. A spawned task runs on a
 * later drain, in spawn order; a task parks on one wait and resumes with the code of its first
 * completion; a deadline completes it with its timeout code; a cancel stops the work at once
 * (the cancel function returns 0) or lets it end on its own (RT_EAGAIN), once per task, and a cancel
 * before the first wait is delivered there without parking; a failed task is kept until joined;
 * a run ends when the main task, every task and the runtime's own operations have, and a run in
 * which nothing can wake anyone is a deadlock. The task bodies are C functions on a Lua state made
 * as runtime/main.c makes it (the signals of scheduler_signals.c are not tested here). */
#include "check.h"
#include "err.h"
#include "lbind.h"
#include "scheduler.h"
#include "vg.h"
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uv_loop_t loop;
static rt_runtime rt;
static lua_State *L;

static void setup(void) {
  memset(&rt, 0, sizeof rt);
  uv_loop_init(&loop);
  rt.loop = &loop;
  rt_options_default(&rt.opt);
  rt.opt.time_scale = 0.01;
  CHECK_INT(rt_host_open(&rt), 0);
  CHECK_INT(rt_sched_init(&rt), 0);
  L = rt.L;
}

static void teardown(void) {
  rt.closing = 1;
  lua_settop(L, 0);
  rt_host_close(&rt);
  rt_sched_close(&rt);
  int rc = UV_EBUSY;
  for (int i = 0; i < 100 && (rc = uv_loop_close(&loop)) == UV_EBUSY; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(rc, 0); /* every handle closed: the tasks' timers too */
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Turns the loop until cond holds (a hang guard, not a speed claim), then checks it. */
#define RUN_UNTIL(cond) do { double end_ = now_s() + 60; \
    while (!(cond) && now_s() < end_) uv_run(&loop, UV_RUN_ONCE); \
    CHECK(cond); } while (0)

/* One drain: the ready tasks run (uv's idle handle), nothing waits for I/O. */
static void drain(void) { uv_run(&loop, UV_RUN_NOWAIT); }

/* ---- task bodies (C functions run as coroutines) ---- */

/* A wait a test owns: its cancel function counts calls and answers `answer`. */
typedef struct test_wait {
  rt_wait w;
  int64_t timeout_ms;
  int cancels, cancel_rc, answer;
} test_wait;

static int tw_cancel(rt_wait *w, int rc) {
  test_wait *tw = (test_wait *)w;
  tw->cancels++;
  tw->cancel_rc = rc;
  return tw->answer;
}

static void tw_init(test_wait *tw, int answer) {
  memset(tw, 0, sizeof *tw);
  tw->w.cancel = tw_cancel;
  tw->w.timeout_rc = RT_ETIMEDOUT;
  tw->timeout_ms = -1;
  tw->answer = answer;
}

/* Returns the wait's code; raises a CANCELED error value instead when raise_canceled is set. */
static int raise_canceled;
static int park_k(lua_State *co, int status, lua_KContext ctx) {
  (void)status;
  test_wait *tw = (test_wait *)ctx;
  if (raise_canceled && tw->w.rc == RT_ECANCELED) {
    lua_newtable(co);
    lua_pushstring(co, rt_errname(RT_ECANCELED));
    lua_setfield(co, -2, "code");
    return lua_error(co);
  }
  lua_pushinteger(co, tw->w.rc);
  return 1;
}

/* park(tw): parks on tw, returns its code. */
static int park_body(lua_State *co) {
  test_wait *tw = lua_touserdata(co, 1);
  return rt_park(co, &tw->w, tw->timeout_ms, (lua_KContext)tw, park_k);
}

static char order[64];
static void note(const char *what) { strncat(order, what, sizeof order - strlen(order) - 1); }

static int note_k(lua_State *co, int status, lua_KContext ctx) {
  (void)co; (void)status;
  note((const char *)ctx);
  return 0;
}

/* note(s): appends s to order; note(s, after): then yields to the others, then appends after. */
static int note_body(lua_State *co) {
  note(lua_tostring(co, 1));
  if (lua_isstring(co, 2)) return lua_yieldk(co, 0, (lua_KContext)lua_tostring(co, 2), note_k);
  return 0;
}

static int fail_body(lua_State *co) { return luaL_error(co, "boom"); }

/* Spawns body with the arguments (a light userdata, or strings) and leaves its handle on L. */
static rt_task *spawn(lua_CFunction body, void *arg, const char *s1, const char *s2) {
  lua_pushcfunction(L, body);
  int n = 0;
  if (arg) lua_pushlightuserdata(L, arg), n++;
  if (s1) lua_pushstring(L, s1), n++;
  if (s2) lua_pushstring(L, s2), n++;
  CHECK_INT(rt_task_spawn(L, n, "test"), 0);
  return rt_task_check(L, -1);
}

/* A task that will park on tw, whose cancel function answers `answer` (spawned, not run yet). */
static rt_task *will_park(test_wait *tw, int answer) {
  tw_init(tw, answer);
  return spawn(park_body, tw, NULL, NULL);
}

/* The same, parked (after one drain). */
static rt_task *parked(test_wait *tw, int answer) {
  rt_task *t = will_park(tw, answer);
  drain();
  return t;
}

/* A finished task's first result as an integer (its handle at idx); -999 when it failed. */
static long long result_of(int idx, rt_task *t) {
  int top = lua_gettop(L);
  int n = rt_task_push_outcome(L, idx, t);
  long long v = n >= 2 && lua_toboolean(L, top + 1) ? (long long)lua_tointeger(L, top + 2) : -999;
  lua_settop(L, top);
  return v;
}

/* ---- spawn and order ---- */

static void t_spawned_task_runs_on_a_later_drain(void) {
  setup();
  order[0] = 0;
  rt_task *t = spawn(note_body, NULL, "a", NULL);
  CHECK_INT(t->state, RT_TASK_READY);
  CHECK_INT(rt.tasks_alive, 1);
  CHECK_STR(order, ""); /* not run by spawn */
  drain();
  CHECK_STR(order, "a");
  CHECK_INT(t->state, RT_TASK_DONE);
  CHECK_INT(rt.tasks_alive, 0);
  CHECK(t->co == NULL);
  teardown();
}

static void t_ready_tasks_run_in_spawn_order(void) {
  setup();
  order[0] = 0;
  spawn(note_body, NULL, "1", NULL);
  spawn(note_body, NULL, "2", NULL);
  spawn(note_body, NULL, "3", NULL);
  drain();
  CHECK_STR(order, "123");
  teardown();
}

static void t_yield_goes_to_the_back_of_the_queue(void) {
  setup();
  order[0] = 0;
  spawn(note_body, NULL, "a", "A");
  spawn(note_body, NULL, "b", NULL);
  RUN_UNTIL(rt.tasks_alive == 0);
  CHECK_STR(order, "abA");
  teardown();
}

static void t_no_spawn_while_closing(void) {
  setup();
  rt.closing = 1;
  int top = lua_gettop(L);
  lua_pushcfunction(L, note_body);
  lua_pushstring(L, "x");
  CHECK_INT(rt_task_spawn(L, 1, "late"), RT_ESHUTDOWN);
  CHECK_INT(lua_gettop(L), top + 2); /* nothing pushed, nothing taken */
  CHECK_INT(rt.tasks_alive, 0);
  rt.closing = 0;
  teardown();
}

/* ---- park and resume ---- */

static void t_parked_task_resumes_with_the_code(void) {
  setup();
  test_wait tw;
  rt_task *t = parked(&tw, 0);
  CHECK_INT(t->state, RT_TASK_PARKED);
  CHECK(t->wait == &tw.w && tw.w.task == t);
  rt_wait_done(&tw.w, RT_EIO);
  CHECK_INT(t->state, RT_TASK_READY); /* queued: only the drain resumes it */
  drain();
  CHECK_INT(t->state, RT_TASK_DONE);
  CHECK_INT(result_of(-1, t), RT_EIO);
  CHECK_INT(tw.cancels, 0);
  teardown();
}

static void t_first_completion_wins(void) {
  setup();
  test_wait tw;
  rt_task *t = parked(&tw, 0);
  rt_wait_done(&tw.w, RT_EIO);
  rt_wait_done(&tw.w, RT_ETIMEDOUT);
  drain();
  CHECK_INT(result_of(-1, t), RT_EIO);
  teardown();
}

static void t_deadline_completes_with_the_timeout_code(void) {
  setup();
  test_wait tw;
  tw_init(&tw, 0);
  tw.timeout_ms = 1;
  rt_task *t = spawn(park_body, &tw, NULL, NULL);
  drain();
  CHECK(t->timer && uv_is_active((uv_handle_t *)t->timer));
  RUN_UNTIL(rt_task_finished(t));
  CHECK_INT(result_of(-1, t), RT_ETIMEDOUT);
  CHECK_INT(tw.cancels, 1); /* the work was told to stop, with the reason */
  CHECK_INT(tw.cancel_rc, RT_ETIMEDOUT);
  CHECK(t->timer == NULL); /* the task's timer goes with it */
  teardown();
}

/* ---- cancel ---- */

static void t_cancel_stops_a_parked_wait_at_once(void) {
  setup();
  test_wait tw;
  rt_task *t = parked(&tw, 0);
  rt_task_cancel(t);
  CHECK_INT(tw.cancels, 1);
  CHECK_INT(tw.cancel_rc, RT_ECANCELED);
  CHECK(tw.w.done);
  CHECK_INT(t->state, RT_TASK_READY);
  drain();
  CHECK_INT(result_of(-1, t), RT_ECANCELED);
  teardown();
}

static void t_cancel_lets_work_that_cannot_stop_end(void) {
  setup();
  test_wait tw;
  rt_task *t = parked(&tw, RT_EAGAIN);
  rt_task_cancel(t);
  CHECK_INT(tw.cancels, 1);
  CHECK(!tw.w.done);
  CHECK_INT(t->state, RT_TASK_PARKED); /* until the work says it has ended */
  rt_task_cancel(t);                   /* once per task: a second request adds nothing */
  CHECK_INT(tw.cancels, 1);
  drain();
  CHECK_INT(t->state, RT_TASK_PARKED);
  rt_wait_done(&tw.w, RT_ECANCELED);
  drain();
  CHECK_INT(result_of(-1, t), RT_ECANCELED);
  teardown();
}

static void t_cancel_before_the_first_wait_is_delivered_there(void) {
  setup();
  test_wait tw;
  rt_task *t = will_park(&tw, 0);
  rt_task_cancel(t);
  CHECK_INT(tw.cancels, 0); /* nothing to stop yet */
  drain();                  /* one drain: it does not park */
  CHECK_INT(tw.cancels, 1);
  CHECK_INT(t->state, RT_TASK_DONE);
  CHECK_INT(result_of(-1, t), RT_ECANCELED);
  teardown();
}

static void t_pending_cancel_waits_for_work_that_cannot_stop(void) {
  setup();
  test_wait tw;
  rt_task *t = will_park(&tw, RT_EAGAIN);
  rt_task_cancel(t);
  drain();
  CHECK_INT(tw.cancels, 1);
  CHECK_INT(t->state, RT_TASK_PARKED);
  rt_wait_done(&tw.w, RT_EIO);
  drain();
  CHECK_INT(result_of(-1, t), RT_EIO);
  teardown();
}

static void t_canceled_task_raising_canceled_is_canceled_not_failed(void) {
  setup();
  test_wait tw;
  raise_canceled = 1;
  rt_task *t = parked(&tw, 0);
  rt_task_cancel(t);
  drain();
  raise_canceled = 0;
  CHECK_INT(t->state, RT_TASK_CANCELED);
  CHECK(!rt_list_linked(&t->runq)); /* not kept for a report at exit */
  teardown();
}

/* ---- failures ---- */

static void t_failed_task_is_kept_until_joined(void) {
  setup();
  rt_task *t = spawn(fail_body, NULL, NULL, NULL);
  drain();
  CHECK_INT(t->state, RT_TASK_FAILED);
  CHECK(rt_list_linked(&t->runq)); /* in rt.failed, anchored */
  CHECK(t->self_ref != LUA_NOREF);
  int top = lua_gettop(L);
  CHECK_INT(rt_task_push_outcome(L, -1, t), 3);
  CHECK(!lua_toboolean(L, top + 1));
  CHECK_CONTAINS(lua_tostring(L, top + 2), "boom");
  CHECK_CONTAINS(lua_tostring(L, top + 3), "stack traceback");
  lua_settop(L, top);
  CHECK(!rt_list_linked(&t->runq)); /* joined: its error is the joiner's */
  CHECK(t->self_ref == LUA_NOREF);
  teardown();
}

/* ---- the end of a run ---- */

static void on_op_done(uv_timer_t *h) {
  rt_runtime *r = h->data;
  r->background--;
}

static void t_run_waits_for_the_runtimes_operations(void) {
  setup();
  order[0] = 0;
  rt.main_task = spawn(note_body, NULL, "m", NULL);
  rt.background = 1; /* an operation the runtime owns, e.g. a stop */
  uv_timer_t op;
  uv_timer_init(&loop, &op);
  op.data = &rt;
  uv_timer_start(&op, on_op_done, 30, 0);
  CHECK_INT(rt_sched_run(&rt), 0);
  CHECK_STR(order, "m");
  CHECK_INT(rt.background, 0); /* the run ended after it did */
  uv_close((uv_handle_t *)&op, NULL);
  teardown();
}

static void t_deadlock_cancels_and_fails_the_run(void) {
  setup();
  test_wait tw;
  rt.main_task = will_park(&tw, 0); /* waits for what nothing will complete */
  CHECK_INT(rt_sched_run(&rt), 1);
  CHECK_INT(tw.cancels, 1);
  CHECK_INT(result_of(-1, rt.main_task), RT_ECANCELED);
  teardown();
}

static void t_main_failure_cancels_the_others(void) {
  setup();
  test_wait tw;
  rt_task *other = parked(&tw, 0);
  rt.main_task = spawn(fail_body, NULL, NULL, NULL);
  CHECK_INT(rt_sched_run(&rt), rt_err(RT_ESCRIPT)->exit_status);
  CHECK_INT(tw.cancels, 1);
  CHECK_INT(tw.cancel_rc, RT_ECANCELED);
  CHECK_INT(result_of(-2, other), RT_ECANCELED);
  teardown();
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  RUN(t_spawned_task_runs_on_a_later_drain);
  RUN(t_ready_tasks_run_in_spawn_order);
  RUN(t_yield_goes_to_the_back_of_the_queue);
  RUN(t_no_spawn_while_closing);
  RUN(t_parked_task_resumes_with_the_code);
  RUN(t_first_completion_wins);
  RUN(t_deadline_completes_with_the_timeout_code);
  RUN(t_cancel_stops_a_parked_wait_at_once);
  RUN(t_cancel_lets_work_that_cannot_stop_end);
  RUN(t_cancel_before_the_first_wait_is_delivered_there);
  RUN(t_pending_cancel_waits_for_work_that_cannot_stop);
  RUN(t_canceled_task_raising_canceled_is_canceled_not_failed);
  RUN(t_failed_task_is_kept_until_joined);
  RUN(t_run_waits_for_the_runtimes_operations);
  RUN(t_deadlock_cancels_and_fails_the_run);
  RUN(t_main_failure_cancels_the_others);
  return check_done();
}
