/* The scheduler: run queue, the drain (the only place that resumes coroutines), parking,
 * deadlines, joins, cancellation, signals and the end of the run. */
#include "scheduler.h"
#include "err.h"
#include "log.h"
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_MT "pcaprun.task"
#define DRAIN_BATCH 128 /* tasks resumed per loop iteration, so I/O keeps flowing */

#if LUA_VERSION_RELEASE_NUM >= 50406
#define rt_closethread(co, from) lua_closethread((co), (from))
#else
#define rt_closethread(co, from) ((void)(from), lua_resetthread(co))
#endif

static void on_drain(uv_idle_t *h);

static void enqueue(rt_task *t) {
  rt_runtime *rt = t->rt;
  t->state = RT_TASK_READY;
  rt_list_push(&rt->runq, &t->runq);
  if (!uv_is_active((uv_handle_t *)&rt->drain)) uv_idle_start(&rt->drain, on_drain);
}

rt_task *rt_task_of(lua_State *L) {
  rt_task *t = *(rt_task **)lua_getextraspace(L);
  return t && t->co == L ? t : NULL;
}

rt_task *rt_task_check(lua_State *L, int idx) { return luaL_checkudata(L, idx, TASK_MT); }

int rt_task_finished(const rt_task *t) { return t->state >= RT_TASK_DONE; }

static int task_tostring(lua_State *L) {
  rt_task *t = rt_task_check(L, 1);
  static const char *states[] = {"ready", "running", "waiting", "done", "failed", "canceled"};
  lua_pushfstring(L, "task %d%s%s%s (%s)", (int)t->id, t->name[0] ? " '" : "", t->name,
                  t->name[0] ? "'" : "", states[t->state]);
  return 1;
}


int rt_task_spawn(lua_State *L, int nargs, const char *name) {
  rt_runtime *rt = rt_from_lua(L);
  if (rt->closing) return RT_ESHUTDOWN;
  luaL_checkstack(L, 4, NULL);
  rt_task *t = lua_newuserdatauv(L, sizeof *t, 3);
  memset(t, 0, sizeof *t);
  lua_State *co = lua_newthread(L);
  if (!lua_checkstack(co, nargs + 1)) luaL_error(L, "too many arguments for a task (%d)", nargs);
  lua_setiuservalue(L, -2, 1);        /* handle.uv1 = coroutine: keeps it alive */
  luaL_setmetatable(L, TASK_MT);
  lua_insert(L, -(nargs + 2));        /* handle fn args... */
  lua_xmove(L, co, nargs + 1);        /* fn and args move to the coroutine */
  *(rt_task **)lua_getextraspace(co) = t;
  t->rt = rt;
  t->co = co;
  t->id = ++rt->next_task_id;
  t->nargs = nargs;
  if (name) snprintf(t->name, sizeof t->name, "%s", name);
  rt_list_init(&t->runq);
  rt_list_init(&t->watchers);
  rt_list_push(&rt->live, &t->live);
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  rt->tasks_alive++;
  enqueue(t);
  return 0;
}

/* Stops a parked task's wait with rc (canceled, or its deadline): at once, or when the work it
 * waits for says it has ended (a wait whose cancel returns RT_EAGAIN completes itself). */
static void interrupt(rt_wait *w, int rc) {
  if ((w->cancel ? w->cancel(w, rc) : 0) != RT_EAGAIN) rt_wait_done(w, rc);
}

static void on_deadline(uv_timer_t *timer) {
  rt_task *t = timer->data;
  if (t->wait) interrupt(t->wait, t->wait->timeout_rc);
}

int rt_park(lua_State *L, rt_wait *w, int64_t timeout_ms, lua_KContext ctx, lua_KFunction k) {
  rt_task *t = rt_task_of(L);
  if (timeout_ms >= 0 && !t->timer && !(t->timer = rt_timer_new(t->rt, t))) luaL_error(L, "out of memory");
  w->task = t;
  w->done = 0;
  w->rc = 0;
  t->wait = w;
  if (t->cancel_pending || t->rt->closing) {
    t->cancel_pending = 0;
    if ((w->cancel ? w->cancel(w, RT_ECANCELED) : 0) != RT_EAGAIN) {
      t->wait = NULL;
      w->done = 1;
      w->rc = RT_ECANCELED;
      return k(L, LUA_OK, ctx);
    }
    return lua_yieldk(L, 0, ctx, k); /* the work ends on its own, soon: wait for it */
  }
  if (timeout_ms >= 0) rt_timer_start(t->timer, on_deadline, (uint64_t)timeout_ms);
  return lua_yieldk(L, 0, ctx, k);
}

void rt_wait_done(rt_wait *w, int rc) {
  if (w->done) return;
  w->done = 1;
  w->rc = rc;
  rt_task *t = w->task;
  if (!t || t->wait != w) return;
  t->wait = NULL;
  if (t->timer) uv_timer_stop(t->timer);
  enqueue(t);
}

void rt_task_cancel(rt_task *t) {
  if (rt_task_finished(t) || t->canceled) return;
  t->canceled = 1;
  if (t->state == RT_TASK_PARKED && t->wait) {
    interrupt(t->wait, RT_ECANCELED);
  } else {
    t->cancel_pending = 1;
  }
}

void rt_sched_cancel_all(rt_runtime *rt) {
  /* Canceling only queues tasks (it never resumes them), so the live list stays intact. */
  RT_LIST_EACH(it, &rt->live) rt_task_cancel(RT_CONTAINER(it, rt_task, live));
}

/* An error value whose code is rc (CANCELED: a cancel unwinding; EXIT: os.exit; USAGE: a
 * script's bad arguments, which end the run with the registry's exit status and no traceback). */
static int is_error_code(lua_State *L, int idx, int rc) {
  int is = 0;
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_getfield(L, idx, "code");
    is = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), rt_errname(rc)) == 0;
    lua_pop(L, 1);
  }
  return is;
}

static void report_failure(rt_task *t, const char *traceback, int at_exit) {
  char who[96];
  snprintf(who, sizeof who, "%s%u%s%s", t == t->rt->main_task ? "main task " : "task ", t->id,
           t->name[0] ? " " : "", t->name);
  if (at_exit)
    rt_log(RT_LOG_ERROR, "task.unjoined", "a task failed and was never joined", "task", who,
           "traceback", traceback, NULL);
  else if (t == t->rt->main_task)
    rt_log(RT_LOG_ERROR, "task.failed", "script failed", "task", who, "traceback", traceback, NULL);
  else { /* joiners may handle it; the full traceback is printed at exit if nobody does */
    char first[256];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(traceback, "\n"), traceback);
    rt_log(RT_LOG_WARN, "task.failed", "task failed", "task", who, "error", first, NULL);
  }
}

static int tolstring(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

/* Pushes the text of the error value on top: its __tostring may raise or try to wait, so it runs
 * protected (with a plain description if it fails). [-0, +1] */
static const char *error_text(lua_State *L) {
  lua_pushcfunction(L, tolstring);
  lua_pushvalue(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
  }
  return lua_tostring(L, -1);
}

/* Stores the outcome in the handle, closes the coroutine, wakes joiners. L's stack: handle on top. */
static void finish(rt_task *t, int status, int nres) {
  rt_runtime *rt = t->rt;
  lua_State *L = rt->L, *co = t->co;
  /* Recording the outcome is the runtime's work, not the script's: --max-memory must not make it
   * fail (a task that ran out of memory is at the cap; its traceback would raise unprotected). */
  size_t cap = rt->lua_limit;
  rt->lua_limit = 0;
  luaL_checkstack(L, nres + 4, NULL);
  if (status == LUA_OK) {
    lua_createtable(L, nres, 1);
    lua_xmove(co, L, nres);
    for (int i = nres; i >= 1; i--) lua_rawseti(L, -(i + 1), i);
    lua_pushinteger(L, nres);
    lua_setfield(L, -2, "n");
    lua_setiuservalue(L, -2, 2);
    t->state = RT_TASK_DONE;
  } else {
    lua_xmove(co, L, 1);                            /* handle err (co is dead: no calls on it) */
    luaL_traceback(L, co, error_text(L), 0);        /* handle err text traceback */
    lua_remove(L, -2);
    lua_insert(L, -2);                              /* handle traceback err */
    int quiet = (is_error_code(L, -1, RT_ECANCELED) && t->canceled) || is_error_code(L, -1, RT_EEXIT);
    t->state = quiet ? RT_TASK_CANCELED : RT_TASK_FAILED;
    lua_setiuservalue(L, -3, 2);
    lua_setiuservalue(L, -2, 3);
  }
  rt_closethread(co, L);
  lua_pushnil(L);
  lua_setiuservalue(L, -2, 1);                       /* drop the coroutine */
  t->co = NULL;
  rt_timer_free(&t->timer);
  RT_LIST_EACH(it, &t->watchers) {
    rt_watch *wn = RT_CONTAINER(it, rt_watch, link);
    rt_list_unlink(&wn->link);
    rt_multiwait *mw = wn->mw;
    if (!mw->first) mw->first = wn->index;
    if (++mw->got >= mw->need) rt_wait_done(&mw->w, 0);
  }
  rt->tasks_alive--;
  rt_list_unlink(&t->live);
  if (t->state == RT_TASK_FAILED) {
    lua_getiuservalue(L, -1, 2);
    int usage = t == rt->main_task && is_error_code(L, -1, RT_EUSAGE); /* pcaprun.args: bad arguments */
    if (usage) {
      lua_getfield(L, -1, "message");
      fprintf(stderr, "%s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_getiuservalue(L, -2, 3);
    if (!usage) report_failure(t, lua_tostring(L, -1), 0);
    lua_pop(L, 2);
    if (t != rt->main_task) rt_list_push(&rt->failed, &t->runq); /* anchored until joined */
    if (t == rt->main_task) {
      rt->exit_code = rt_err(usage ? RT_EUSAGE : RT_ESCRIPT)->exit_status;
      rt_sched_cancel_all(rt);
    }
  }
  if (!rt_list_linked(&t->runq)) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
    t->self_ref = LUA_NOREF;
  }
  rt->lua_limit = cap;
}

static void resume(rt_runtime *rt, rt_task *t) {
  lua_State *L = rt->L, *co = t->co;
  int nres = 0, nargs = t->nargs;
  t->nargs = 0;
  t->state = RT_TASK_RUNNING;
  rt->resumed_ns = uv_hrtime();
  int status = lua_resume(co, L, nargs, &nres);
  if (status == LUA_YIELD) {
    if (t->wait) {
      t->state = RT_TASK_PARKED;
    } else { /* coroutine.yield() or task.yield() from the task body: let others run */
      lua_pop(co, nres);
      enqueue(t);
    }
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
  finish(t, status, nres);
  lua_pop(L, 1);
}

static int run_over(const rt_runtime *rt) {
  return rt->main_task && rt_task_finished(rt->main_task) && rt->tasks_alive == 0 && rt->background == 0;
}

static void maybe_end(rt_runtime *rt) {
  if (run_over(rt)) uv_stop(rt->loop);
}

static void on_drain(uv_idle_t *h) {
  rt_runtime *rt = h->data;
  for (int i = 0; i < DRAIN_BATCH && !rt_list_empty(&rt->runq); i++) {
    rt_task *t = RT_CONTAINER(rt_list_first(&rt->runq), rt_task, runq);
    rt_list_unlink(&t->runq);
    resume(rt, t);
  }
  if (rt_list_empty(&rt->runq)) uv_idle_stop(h);
  maybe_end(rt);
}

int rt_task_push_outcome(lua_State *L, int handle_idx, rt_task *t) {
  handle_idx = lua_absindex(L, handle_idx);
  if (!t->joined) {
    t->joined = 1;
    if (t->state == RT_TASK_FAILED && rt_list_linked(&t->runq)) {
      rt_list_unlink(&t->runq);
      luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
      t->self_ref = LUA_NOREF;
    }
  }
  if (t->state == RT_TASK_DONE) {
    lua_getiuservalue(L, handle_idx, 2);
    lua_getfield(L, -1, "n");
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, n + 1, "too many results");
    lua_pushboolean(L, 1);
    for (int i = 1; i <= n; i++) lua_rawgeti(L, -1 - i, i);
    lua_remove(L, -(n + 2));
    return n + 1;
  }
  lua_pushboolean(L, 0);
  lua_getiuservalue(L, handle_idx, 2);
  lua_getiuservalue(L, handle_idx, 3);
  return 3;
}

int rt_sched_init(rt_runtime *rt) {
  rt_list_init(&rt->runq);
  rt_list_init(&rt->failed);
  rt_list_init(&rt->signal_waiters);
  uv_idle_init(rt->loop, &rt->drain);
  rt->drain.data = rt;
  uv_timer_init(rt->loop, &rt->background_timer);
  rt->background_timer.data = rt;
  rt_signals_init(rt);
  rt_list_init(&rt->live);
  lua_State *L = rt->L;
  luaL_newmetatable(L, TASK_MT);
  lua_pushcfunction(L, task_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  *(rt_task **)lua_getextraspace(L) = NULL;
  return 0;
}

void rt_sched_close(rt_runtime *rt) {
  uv_close((uv_handle_t *)&rt->drain, NULL);
  uv_close((uv_handle_t *)&rt->background_timer, NULL);
  rt_signals_close(rt);
}

/* The tasks are done but the runtime still owns operations (a create whose task gave up, a
 * stop): checks once in a while whether they have ended, and says what they are. */
static void on_background(uv_timer_t *t) {
  rt_runtime *rt = t->data;
  if (rt->background == 0) uv_stop(rt->loop);
}

int rt_sched_run(rt_runtime *rt) {
  uv_timer_t *bg = &rt->background_timer;
  for (;;) {
    uv_run(rt->loop, UV_RUN_DEFAULT);
    if (run_over(rt)) break;
    if (rt_task_finished(rt->main_task) && rt->tasks_alive == 0 && !uv_is_active((uv_handle_t *)bg)) {
      rt_sched_report(rt, "the script has ended; finishing what the runtime owns");
      uv_timer_start(bg, on_background, 10, 10);
      continue;
    }
    if (!uv_loop_alive(rt->loop) && rt_list_empty(&rt->runq)) {
      /* Nothing can wake the parked tasks: a join cycle, or waiting on nothing. */
      rt_log(RT_LOG_ERROR, "deadlock", "deadlock: every task is waiting for another and nothing can wake them", NULL);
      rt->exit_code = 1;
      rt_sched_cancel_all(rt);
    }
  }
  uv_timer_stop(bg);
  RT_LIST_EACH(it, &rt->failed) {
    rt_task *t = RT_CONTAINER(it, rt_task, runq);
    lua_State *L = rt->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
    lua_getiuservalue(L, -1, 3);
    report_failure(t, lua_tostring(L, -1), 1);
    lua_pop(L, 2);
    rt_list_unlink(&t->runq);
    luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
    t->self_ref = LUA_NOREF;
    if (!rt->exit_code) rt->exit_code = 1;
  }
  return rt->exit_code;
}

/* ---- what the run waits for ---- */

typedef struct wait_kind { const char *what; unsigned n; } wait_kind;

void rt_sched_report(rt_runtime *rt, const char *prefix) {
  wait_kind kinds[8];
  int nkinds = 0;
  unsigned tasks = 0, unbounded = 0;
  uint64_t now = rt_now_ms(rt), longest = 0;
  RT_LIST_EACH(it, &rt->live) {
    rt_task *t = RT_CONTAINER(it, rt_task, live);
    tasks++;
    rt_wait *w = t->state == RT_TASK_PARKED ? t->wait : NULL;
    const char *what = w && w->what ? w->what : "running";
    int k = 0;
    while (k < nkinds && strcmp(kinds[k].what, what) != 0) k++;
    if (k == nkinds && nkinds < 8) kinds[nkinds++] = (wait_kind){what, 0};
    if (k < nkinds) kinds[k].n++;
    uint64_t due = 0;
    if (w && w->bound_ms > now) due = w->bound_ms - now;
    else if (t->timer && uv_is_active((uv_handle_t *)t->timer)) due = uv_timer_get_due_in(t->timer);
    else unbounded++;
    if (due > longest) longest = due;
  }
  char detail[512] = "", n[32];
  size_t used = 0;
  for (int k = 0; k < nkinds && used < sizeof detail; k++)
    used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%u %s", k ? ", " : "", kinds[k].n,
                             kinds[k].what);
  snprintf(n, sizeof n, "%u", tasks);
  char ops[32], most[64];
  snprintf(ops, sizeof ops, "%u", rt->background);
  if (unbounded) snprintf(most, sizeof most, "no bound for %u of them", unbounded);
  else snprintf(most, sizeof most, "%.0f s", ceil((double)longest / 1000.0));
  rt_log(RT_LOG_WARN, "shutdown", prefix, "tasks", n, "waiting_for", detail[0] ? detail : NULL,
         "runtime_operations", rt->background ? ops : NULL, "at_most", tasks ? most : NULL, NULL);
}

void rt_sched_abort_hooks(rt_runtime *rt, const char *signame) {
  lua_State *L = rt->L;
  rt->lua_limit = 0; /* the runtime's last words are not subject to --max-memory */
  if (lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.abort_hooks") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1); /* the function is the key */
      lua_pushstring(L, signame);
      if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        rt_log(RT_LOG_ERROR, "abort", "an abort hook failed", "error", error_text(L), NULL);
        lua_pop(L, 2);
      }
    }
  }
  lua_pop(L, 1);
}
