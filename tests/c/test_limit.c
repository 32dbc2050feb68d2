/* ctest-labels: unit;valgrind
 * The limiters on a real libuv loop: the sliding window's exact timing (a place is held from
 * grant to commit + window), FIFO order, pause (retry-after), release, cancel, bounded queues;
 * the gate's capacity, priority order, force. */
#include "check.h"
#include "err.h"
#include "limit.h"
#include "rt.h"
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static rt_runtime rt;
static char order[64];
static uint64_t granted_at[16];

typedef struct probe { rt_waiter w; int id; } probe;

static void on_grant(rt_waiter *w) {
  probe *p = (probe *)w;
  size_t n = strlen(order);
  order[n] = (char)('0' + p->id);
  order[n + 1] = 0;
  granted_at[p->id] = rt_now_ms(&rt);
}

static void setup(void) {
  memset(&rt, 0, sizeof rt);
  uv_loop_init(&loop);
  rt.loop = &loop;
  rt_options_default(&rt.opt);
  order[0] = 0;
  memset(granted_at, 0, sizeof granted_at);
}

static void teardown(void) {
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
}

static void probes(probe *p, int n, int priority_step) {
  for (int i = 0; i < n; i++) {
    memset(&p[i], 0, sizeof p[i]);
    p[i].id = i;
    p[i].w.granted = on_grant;
    p[i].w.priority = i * priority_step;
  }
}

/* Stops the loop once `want` grants happened (or after a deadline). */
static void run_until(size_t want, uint64_t deadline_ms) {
  uint64_t end = rt_now_ms(&rt) + deadline_ms;
  while (strlen(order) < want && rt_now_ms(&rt) < end) uv_run(&loop, UV_RUN_ONCE);
}

static void t_window_fifo_and_timing(void) {
  setup();
  rt_window w;
  CHECK_INT(rt_window_init(&w, &rt, "t", 2, 50, 10), 0);
  probe p[5];
  probes(p, 5, 0);
  uint64_t t0 = rt_now_ms(&rt);
  CHECK_INT(rt_window_acquire(&w, &p[0].w), 0); /* free places are granted at once */
  CHECK_INT(rt_window_acquire(&w, &p[1].w), 0);
  for (int i = 2; i < 5; i++) CHECK_INT(rt_window_acquire(&w, &p[i].w), RT_EAGAIN);
  rt_window_commit(&w); /* two events happen now: both places free at t0+50 */
  rt_window_commit(&w);
  run_until(2, 1000);
  CHECK_STR(order, "23"); /* FIFO, and not a moment before the window passed */
  CHECK(granted_at[2] >= t0 + 50 && granted_at[3] >= t0 + 50);
  CHECK(granted_at[4] == 0);
  uint64_t t1 = rt_now_ms(&rt);
  rt_window_release(&w); /* 2's event did not happen: its place is free at once, 4 goes */
  CHECK_STR(order, "234");
  CHECK(granted_at[4] < t1 + 50);
  rt_window_commit(&w);
  CHECK_INT(w.stats.granted, 5);
  CHECK_INT(w.stats.queued, 3);
  rt_window_commit(&w);
  rt_window_close(&w);
  teardown();
}

static void t_window_never_more_than_n_in_a_window(void) {
  setup();
  rt_window w;
  CHECK_INT(rt_window_init(&w, &rt, "t", 3, 40, 100), 0);
  probe p[12];
  probes(p, 12, 0);
  for (int i = 0; i < 12; i++) {
    int rc = rt_window_acquire(&w, &p[i].w);
    if (rc == 0) on_grant(&p[i].w);
  }
  /* commit each grant as it happens, until all 12 went */
  size_t seen = strlen(order);
  uint64_t commits[12];
  int nc = 0;
  for (int i = 0; i < (int)seen; i++) { rt_window_commit(&w); commits[nc++] = rt_now_ms(&rt); }
  while (nc < 12) {
    run_until(seen + 1, 2000);
    for (size_t i = seen; i < strlen(order); i++) { rt_window_commit(&w); commits[nc++] = rt_now_ms(&rt); }
    seen = strlen(order);
  }
  CHECK_STR(order, "0123456789:;");
  /* any window of 40 ms holds at most 3 events */
  for (int i = 3; i < 12; i++) CHECK(commits[i] >= commits[i - 3] + 40);
  rt_window_close(&w);
  teardown();
}

static void t_window_pause_cancel_bound(void) {
  setup();
  rt_window w;
  CHECK_INT(rt_window_init(&w, &rt, "t", 10, 1000, 2), 0);
  probe p[4];
  probes(p, 4, 0);
  uint64_t t0 = rt_now_ms(&rt);
  rt_window_pause(&w, t0 + 60); /* retry-after: nothing before t0+60 */
  CHECK_INT(rt_window_acquire(&w, &p[0].w), RT_EAGAIN);
  CHECK_INT(rt_window_acquire(&w, &p[1].w), RT_EAGAIN);
  CHECK_INT(rt_window_acquire(&w, &p[2].w), RT_ELIMITED); /* the queue holds 2 */
  CHECK_INT(w.stats.rejected, 1);
  rt_window_cancel(&w, &p[0].w); /* a timed-out waiter leaves; the next is the head */
  CHECK_INT(w.nwaiters, 1);
  rt_window_pause(&w, t0 + 10); /* an earlier pause does not shorten it */
  run_until(1, 1000);
  CHECK_STR(order, "1");
  CHECK(granted_at[1] >= t0 + 60);
  CHECK(rt_window_next_ms(&w) == UINT64_MAX); /* after a pause, the first is a probe */
  rt_window_release(&w);
  CHECK(rt_window_next_ms(&w) <= rt_now_ms(&rt));
  rt_window_close(&w);
  teardown();
}

/* After a pause, one request goes first; the queue follows only once its answer came without a
 * new pause (a server still refusing sees one request, not the whole queue at once). */
static void t_window_probe(void) {
  setup();
  rt_window w;
  CHECK_INT(rt_window_init(&w, &rt, "t", 10, 1000, 10), 0);
  probe p[4];
  probes(p, 4, 0);
  uint64_t t0 = rt_now_ms(&rt);
  rt_window_pause(&w, t0 + 20);
  for (int i = 0; i < 4; i++) CHECK_INT(rt_window_acquire(&w, &p[i].w), RT_EAGAIN);
  run_until(1, 1000);
  CHECK_STR(order, "0"); /* the probe */
  run_until(2, 50);
  CHECK_STR(order, "0"); /* the others wait for its answer */
  rt_window_pause(&w, rt_now_ms(&rt) + 20); /* it was refused again: the pause comes first, */
  rt_window_commit(&w);                     /* then its place counts */
  run_until(2, 1000);
  CHECK_STR(order, "01"); /* after the new pause, a new probe */
  CHECK(granted_at[1] >= t0 + 40);
  rt_window_commit(&w); /* answered: the rest go */
  run_until(4, 1000);
  CHECK_STR(order, "0123");
  for (int i = 0; i < 2; i++) rt_window_commit(&w);
  rt_window_close(&w);
  teardown();
}

static void t_window_unlimited(void) {
  setup();
  rt_window w;
  CHECK_INT(rt_window_init(&w, &rt, "t", 5, 0, 1), 0); /* a window of 0: no limit */
  probe p[20];
  probes(p, 20, 0);
  for (int i = 0; i < 20; i++) CHECK_INT(rt_window_acquire(&w, &p[i].w), 0);
  rt_window_close(&w);
  teardown();
}

static void t_gate_priority_fifo_force(void) {
  setup();
  rt_gate g;
  rt_gate_init(&g, &rt, "full", 1, 3);
  probe p[5];
  probes(p, 5, 0);
  p[2].w.priority = 5;
  p[3].w.priority = 5;
  CHECK_INT(rt_gate_acquire(&g, &p[0].w), 0);
  CHECK_INT(rt_gate_acquire(&g, &p[1].w), RT_EAGAIN); /* priority 0 */
  CHECK_INT(rt_gate_acquire(&g, &p[2].w), RT_EAGAIN); /* priority 5: ahead of 1 */
  CHECK_INT(rt_gate_acquire(&g, &p[3].w), RT_EAGAIN); /* priority 5: after 2 (FIFO) */
  CHECK_INT(rt_gate_acquire(&g, &p[4].w), RT_ELIMITED);
  rt_gate_release(&g);
  CHECK_STR(order, "2");
  rt_gate_force(&g); /* a capture made elsewhere also holds a place: over capacity */
  rt_gate_release(&g);
  CHECK_STR(order, "2"); /* still one holder: nobody else goes */
  rt_gate_release(&g);
  CHECK_STR(order, "23");
  rt_gate_cancel(&g, &p[1].w);
  rt_gate_release(&g);
  CHECK_STR(order, "23");
  CHECK_INT(g.in_use, 0);
  teardown();
}

/* A grant callback that releases at once re-enters the limiter: still FIFO, no recursion trouble. */
static rt_gate *reentrant_gate;
static void grant_and_release(rt_waiter *w) {
  on_grant(w);
  rt_gate_release(reentrant_gate);
}

static void t_gate_reentrant_release(void) {
  setup();
  rt_gate g;
  rt_gate_init(&g, &rt, "full", 1, 10);
  reentrant_gate = &g;
  probe p[4];
  probes(p, 4, 0);
  for (int i = 1; i < 4; i++) p[i].w.granted = grant_and_release;
  CHECK_INT(rt_gate_acquire(&g, &p[0].w), 0);
  for (int i = 1; i < 4; i++) CHECK_INT(rt_gate_acquire(&g, &p[i].w), RT_EAGAIN);
  rt_gate_release(&g);
  CHECK_STR(order, "123");
  CHECK_INT(g.in_use, 0);
  teardown();
}

int main(void) {
  RUN(t_window_fifo_and_timing);
  RUN(t_window_never_more_than_n_in_a_window);
  RUN(t_window_pause_cancel_bound);
  RUN(t_window_probe);
  RUN(t_window_unlimited);
  RUN(t_gate_priority_fifo_force);
  RUN(t_gate_reentrant_release);
  return check_done();
}
