/* SIGINT and SIGTERM, and SIGHUP for the tasks that ask for it. The handler only counts and wakes
 * the loop (uv_async_send is async-signal-safe); the loop delivers the signal to the script. The
 * first SIGINT/SIGTERM cancels the tasks (or wakes those in task.signal()) and says what the run
 * still waits for; a second runs the scripts' abort hooks on the loop (a campaign records itself
 * as canceled) and exits; a third exits at once, from the handler (the loop may be stuck). A Lua
 * count hook interrupts a task that keeps the loop from ever seeing a signal (Lua code that never
 * waits), so Ctrl-C works even on a runaway script. SIGHUP (a daemon's "read your configuration
 * again") is caught only once a task waits for it (task.signal with hangup): it wakes those tasks
 * and nothing else; before that it keeps its default action.
 * Signal handlers need process-wide state: the four statics below are the only ones. */
#include "err.h"
#include "log.h"
#include "scheduler.h"
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HOOK_EVERY 10000          /* Lua instructions between checks */
#define RUNAWAY_NS 300000000ULL   /* a task that ran this long after a signal is interrupted */

static uv_async_t *sig_async;
static volatile sig_atomic_t sig_count, sig_last, sig_hangups;

#define REPORT_EVERY_MS 10000 /* how often a shutdown says what it still waits for */

static void on_sig(int signo) {
  if (++sig_count > 2) _exit(128 + signo);
  sig_last = signo;
  uv_async_send(sig_async);
}

static void on_hangup(int signo) {
  (void)signo;
  sig_hangups++;
  uv_async_send(sig_async);
}

static const char *signame(int signo) { return signo == SIGINT ? "SIGINT" : "SIGTERM"; }

/* On the loop: a SIGHUP wakes the tasks that wait for it (and only those). */
static void deliver_hangup(rt_runtime *rt) {
  int woken = 0;
  rt->hangups_seen = sig_hangups;
  RT_LIST_EACH(it, &rt->signal_waiters) {
    rt_sigwait *sw = RT_CONTAINER(it, rt_sigwait, link);
    if (!sw->hangup) continue;
    rt_sched_sigwait_remove(rt, sw);
    rt_wait_done(&sw->w, SIGHUP);
    woken++;
  }
  if (!woken) rt_log(RT_LOG_INFO, "signal", "SIGHUP received while nothing waits for it: ignored", NULL);
}

static void keep_alive(rt_runtime *rt, int on) {
  if (on) uv_ref((uv_handle_t *)&rt->sigasync);
  else uv_unref((uv_handle_t *)&rt->sigasync);
}

static void on_report(uv_timer_t *t) {
  rt_sched_report(t->data, "shutting down: still waiting (Ctrl-C again to stop now)");
}

/* On the loop: the first signal goes to the tasks in task.signal(), or cancels every task; the
 * second ends the run now, after the abort hooks. */
static void deliver(uv_async_t *h) {
  rt_runtime *rt = h->data;
  if (sig_hangups != rt->hangups_seen) deliver_hangup(rt);
  if (!sig_count || rt->signals_seen >= sig_count) return;
  int signo = sig_last;
  if (sig_count >= 2) { /* both may have arrived before the loop saw the first */
    rt_log(RT_LOG_WARN, "signal", "second signal: recording what is in flight as canceled and exiting now",
           "signal", signame(signo), NULL);
    rt_sched_abort_hooks(rt, signame(signo));
    fflush(NULL);
    _exit(128 + signo);
  }
  rt->signals_seen = 1;
  if (!rt_list_empty(&rt->signal_waiters)) {
    rt_log(RT_LOG_INFO, "signal", "signal received: shutting down cleanly", "signal", signame(signo), NULL);
    keep_alive(rt, 0);
    RT_LIST_EACH(it, &rt->signal_waiters) {
      rt_list_unlink(it);
      rt_wait_done(&RT_CONTAINER(it, rt_sigwait, link)->w, signo);
    }
    return;
  }
  rt_log(RT_LOG_WARN, "signal", "signal received: canceling every task; they wind down (stopping their "
         "full captures, finishing what is in flight)", "signal", signame(signo), NULL);
  rt->exit_code = 128 + signo;
  rt_sched_cancel_all(rt);
  /* what the run waits for now, once the cancel has reached the tasks, then every few seconds */
  uv_timer_start(&rt->report_timer, on_report, 50, REPORT_EVERY_MS);
}

/* Count hook: a signal the loop has not seen yet, while one task has run for a long time. */
static void runaway_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (!sig_count) return;
  rt_runtime *rt = rt_from_lua(L);
  if (rt->signals_seen >= sig_count || uv_hrtime() - rt->resumed_ns < RUNAWAY_NS) return;
  luaL_error(L, "interrupted by %s: the task ran Lua code for %d ms without waiting", signame(sig_last),
             (int)((uv_hrtime() - rt->resumed_ns) / 1000000));
}

void rt_signals_init(rt_runtime *rt) {
  uv_async_init(rt->loop, &rt->sigasync, deliver);
  rt->sigasync.data = rt;
  keep_alive(rt, 0);
  uv_timer_init(rt->loop, &rt->report_timer);
  rt->report_timer.data = rt;
  uv_unref((uv_handle_t *)&rt->report_timer);
  sig_async = &rt->sigasync;
  sig_count = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* Tasks inherit the main thread's hook when they are created. */
  lua_sethook(rt->L, runaway_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

void rt_signals_close(rt_runtime *rt) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  if (rt->hangup_caught) signal(SIGHUP, SIG_DFL);
  uv_close((uv_handle_t *)&rt->sigasync, NULL);
  uv_close((uv_handle_t *)&rt->report_timer, NULL);
}

void rt_sched_sigwait_add(rt_runtime *rt, rt_sigwait *sw) {
  rt_list_push(&rt->signal_waiters, &sw->link);
  keep_alive(rt, 1);
  if (sw->hangup && !rt->hangup_caught) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hangup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    rt->hangup_caught = 1;
  }
}

void rt_sched_sigwait_remove(rt_runtime *rt, rt_sigwait *sw) {
  rt_list_unlink(&sw->link);
  if (rt_list_empty(&rt->signal_waiters)) keep_alive(rt, 0);
}
