/* The scheduler: tasks are Lua coroutines run by one trampoline (the drain).
 *
 * Rules:
 *  - Only the drain calls lua_resume. libuv and libcurl callbacks run C only: they complete a
 *    wait (rt_wait_done), which queues the task; the drain resumes it later.
 *  - A parked task has exactly one pending wait, and the wait has a cancel function that stops the
 *    underlying work (unlink a waiter, cancel a transfer). Timeouts and cancellation both go
 *    through it, and the first completion wins.
 *  - A binding decides in C whether to park: known outcomes return at once.
 *
 * A task is a full userdata (the Lua handle) holding rt_task, with user values
 *   1: the coroutine while it runs, 2: results table {n=...} or the error value, 3: traceback.
 * The runtime anchors the handle in the registry until the task finishes (and, for a failed task,
 * until it is joined or reported), so C pointers to a live task are always valid. */
#ifndef PCAPRUN_SCHED_H
#define PCAPRUN_SCHED_H
#include "rt.h"

typedef struct rt_task rt_task;
typedef struct rt_wait rt_wait;

struct rt_wait {
  rt_task *task;                /* the parked task */
  /* Stops the underlying work because the task is canceled or its deadline passed (rc says
   * which), without completing the wait. Returns 0 when the work has stopped (the scheduler then
   * completes the wait with rc), or RT_EAGAIN when it cannot stop at once and will complete the
   * wait itself within a bounded time (a create already sent: its outcome must be known).
   * NULL: nothing to stop. */
  int (*cancel)(rt_wait *w, int rc);
  int rc;                       /* result code once done */
  int timeout_rc;               /* rc when the deadline passes: RT_ETIMEDOUT, or 0 for a sleep */
  int done;
  const char *what;             /* what the task waits for, for people ("a create", "a capture") */
  uint64_t bound_ms;            /* loop time by which a canceled wait ends (RT_EAGAIN above), or 0 */
};

enum rt_task_state {
  RT_TASK_READY, RT_TASK_RUNNING, RT_TASK_PARKED, RT_TASK_DONE, RT_TASK_FAILED, RT_TASK_CANCELED
};

struct rt_task {
  rt_runtime *rt;
  lua_State *co;
  int self_ref;          /* registry anchor of the handle, LUA_NOREF when not anchored */
  unsigned id;
  char name[48];
  int state;
  int nargs;             /* values to pass to the next resume */
  int cancel_pending;    /* deliver CANCELED at the next wait */
  int canceled;          /* cancel was requested at some point */
  int joined;            /* a join has observed the outcome */
  rt_list runq;          /* link in rt->runq, or in rt->failed once finished */
  rt_wait *wait;         /* pending wait while parked */
  uv_timer_t *timer;     /* deadline timer, allocated on first use */
  rt_list watchers;      /* joins waiting for this task (rt_watch.link) */
  rt_list live;          /* link in rt->live while unfinished */
};

/* A task parked in task.signal(). */
typedef struct rt_sigwait {
  rt_wait w;
  rt_list link;          /* in rt->signal_waiters */
  int hangup;            /* SIGHUP wakes it too */
} rt_sigwait;

/* One task waiting for others (join, wait_any, wait_all). */
typedef struct rt_watch {
  rt_list link;          /* in target->watchers */
  struct rt_multiwait *mw;
  int index;             /* 1-based position in the caller's list */
} rt_watch;

typedef struct rt_multiwait {
  rt_wait w;
  int need;              /* finish count that completes the wait */
  int got;
  int first;             /* index of the first task that finished */
  int n;
  rt_watch nodes[];
} rt_multiwait;

int rt_sched_init(rt_runtime *rt);
/* Closes the scheduler's handles (after every task has finished). */
void rt_sched_close(rt_runtime *rt);

/* Creates a task running the function on top of L's stack with `nargs` arguments above it
 * (pops them) and pushes its handle. It runs on a later drain, after the caller yields.
 * Returns 0 or RT_ESHUTDOWN/RT_ENOMEM (then pushes nothing; L's stack is unchanged). */
int rt_task_spawn(lua_State *L, int nargs, const char *name);
/* The task whose coroutine is L, or NULL (the main thread, or a coroutine the script made). */
rt_task *rt_task_of(lua_State *L);
/* The task handle at index idx, raising a type error when it is not one. */
rt_task *rt_task_check(lua_State *L, int idx);

/* Parks the current task on w and yields; the continuation k runs when w completes.
 * timeout_ms < 0: no deadline. If the task has a cancel pending, w is canceled at once and k runs
 * with w->rc == RT_ECANCELED, without yielding. Never returns to the caller. */
int rt_park(lua_State *L, rt_wait *w, int64_t timeout_ms, lua_KContext ctx, lua_KFunction k);
/* Completes a pending wait (first completion wins) and queues its task. C only; safe from any
 * libuv or libcurl callback. */
void rt_wait_done(rt_wait *w, int rc);

/* Requests cancellation: a parked task's wait is canceled now (the binding raises CANCELED in
 * the task, once the work it waited for has stopped); a running or queued task gets CANCELED at
 * its next wait. A task is canceled once: while it unwinds (stopping its captures, say, which
 * waits) further requests add nothing, so a shutdown's cancel and its group's do not cut its
 * cleanup short. No-op once finished. */
void rt_task_cancel(rt_task *t);
/* Cancels every unfinished task (shutdown). */
void rt_sched_cancel_all(rt_runtime *rt);
/* Logs what the unfinished tasks and the runtime's own operations wait for, and the longest it
 * can take when that is known (a shutdown in progress). */
void rt_sched_report(rt_runtime *rt, const char *prefix);
/* Calls the functions scripts registered with task.on_abort (on the main thread, where nothing
 * can wait), e.g. to record a run as canceled: a second signal is about to end the process. */
void rt_sched_abort_hooks(rt_runtime *rt, const char *signame);

/* Pushes a finished task's outcome onto L: true, results... or false, err, traceback.
 * Marks it joined. Returns the number of values pushed. */
int rt_task_push_outcome(lua_State *L, int handle_idx, rt_task *t);
int rt_task_finished(const rt_task *t);

/* Runs the loop until the main task, every other task and every operation the runtime owns
 * (rt->background) have finished (or a signal or failure ends the run). Returns the process
 * exit code. */
int rt_sched_run(rt_runtime *rt);

/* ---- signals (scheduler_signals.c) ---- */
/* Catches SIGINT and SIGTERM (and SIGHUP once a waiter asks for it: it wakes only such waiters,
 * with rc SIGHUP). The first is delivered on the loop: to the tasks parked in
 * task.signal() if any (a clean shutdown), else by canceling every task, saying what the run
 * still waits for and how long that can take. A second one runs the scripts' abort hooks (which
 * record the run as canceled) and exits; a third exits at once. A task that keeps the loop busy
 * (Lua code that never waits) when a signal arrives is interrupted with an error, so Ctrl-C
 * always works. */
void rt_signals_init(rt_runtime *rt);
void rt_signals_close(rt_runtime *rt);
/* Adds or removes a task.signal() waiter; while any waits, the signal handle keeps the loop alive.
 * A waiter with `hangup` set makes SIGHUP caught from then on. */
void rt_sched_sigwait_add(rt_runtime *rt, rt_sigwait *sw);
void rt_sched_sigwait_remove(rt_runtime *rt, rt_sigwait *sw);

#endif
