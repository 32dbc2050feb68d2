/* pcaprun.task: tasks for scripts. Stack effects use the manual's notation [-pop, +push, x];
 * "y" marks functions that may yield (park the calling task). */
#include "err.h"
#include "lbind.h"
#include "lerr.h"
#include <lauxlib.h>
#include <math.h>
#include <signal.h>
#include <string.h>

/* The calling task, raising if the caller is not a task's own coroutine (e.g. a coroutine the
 * script made, where a yield would reach the script's own resume), or cannot yield here. */
rt_task *l_current_task(lua_State *L, const char *fname) {
  rt_task *t = rt_task_of(L);
  if (!t) luaL_error(L, "%s must be called from a task (the main chunk or task.spawn), "
                        "not from a coroutine the script created", fname);
  if (!lua_isyieldable(L))
    luaL_error(L, "%s cannot wait here (inside a metamethod, iterator or sort comparator)", fname);
  return t;
}

/* Seconds (API time) to milliseconds; nil or absent -> -1 (no deadline). Raises on bad values. */
int64_t l_opt_timeout(lua_State *L, int idx, const char *what) {
  if (lua_isnoneornil(L, idx)) return -1;
  int isnum;
  double s = lua_tonumberx(L, idx, &isnum);
  if (!isnum || !(s >= 0))
    luaL_error(L, "%s must be a number of seconds >= 0 (math.huge: none), got %s", what, luaL_tolstring(L, idx, NULL));
  return s == HUGE_VAL ? -1 : (int64_t)rt_api_ms(rt_from_lua(L), s);
}

/* task.spawn([name,] fn, ...) -> task: runs fn(...) as a new task after the caller next waits or
 * yields. [-(n), +1, m] */
static int l_spawn(lua_State *L) {
  const char *name = NULL;
  int first = 1;
  if (lua_type(L, 1) == LUA_TSTRING) { name = lua_tostring(L, 1); first = 2; }
  luaL_checktype(L, first, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - first;
  char namebuf[48] = "";
  if (name) strncpy(namebuf, name, sizeof namebuf - 1);
  if (first == 2) lua_remove(L, 1);
  int rc = rt_task_spawn(L, nargs, name ? namebuf : NULL);
  if (rc) return luaL_error(L, "task.spawn: %s", rt_strerror(rc));
  return 1;
}

static int join_k(lua_State *L, int status, lua_KContext ctx);

static int multiwait_cancel(rt_wait *w, int rc) {
  rt_multiwait *mw = (rt_multiwait *)w;
  (void)rc;
  for (int i = 0; i < mw->n; i++) rt_list_unlink(&mw->nodes[i].link);
  return 0;
}

/* Builds a multiwait on the tasks in table idx (or the single task at idx), as a userdata pushed
 * on the stack (its memory is the coroutine's until the wait ends). Returns NULL when `need` of
 * them are already finished. */
static rt_multiwait *multiwait_new(lua_State *L, int idx, int single, int need_all) {
  int n = single ? 1 : (int)luaL_len(L, idx);
  rt_multiwait *mw = lua_newuserdatauv(L, sizeof *mw + (size_t)n * sizeof(rt_watch), 0);
  memset(mw, 0, sizeof *mw);
  mw->n = n;
  mw->need = need_all ? n : (n > 0);
  mw->w.cancel = multiwait_cancel;
  mw->w.what = "other tasks";
  mw->w.timeout_rc = RT_ETIMEDOUT;
  for (int i = 0; i < n; i++) {
    rt_task *t;
    if (single) t = rt_task_check(L, idx);
    else {
      lua_rawgeti(L, idx, i + 1);
      t = luaL_testudata(L, -1, "pcaprun.task");
      if (!t) luaL_error(L, "item %d of the list is not a task (got %s)", i + 1, luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    if (t == rt_task_of(L)) luaL_error(L, "a task cannot wait for itself");
    rt_watch *wn = &mw->nodes[i];
    wn->mw = mw;
    wn->index = i + 1;
    rt_list_init(&wn->link);
    if (rt_task_finished(t)) {
      if (!mw->first) mw->first = i + 1;
      mw->got++;
    } else {
      rt_list_push(&t->watchers, &wn->link);
    }
  }
  if (mw->got >= mw->need) {
    multiwait_cancel(&mw->w, 0);
    return NULL;
  }
  return mw;
}

enum { JOIN_ONE, WAIT_ALL, WAIT_ANY };

/* Continuation of join / wait_all / wait_any; the list or task is at 1, the multiwait at top. */
static int join_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  rt_multiwait *mw = lua_touserdata(L, -1);
  /* wait_any ends with the first task: the others' nodes must leave their watcher lists now,
   * before this userdata can be collected (their end would otherwise write into freed memory) */
  if (mw) multiwait_cancel(&mw->w, 0);
  if (mw && mw->w.rc == RT_ECANCELED) return l_raise_canceled(L);
  if (mw && mw->w.rc == RT_ETIMEDOUT) return l_failrc(L, RT_ETIMEDOUT, "task.wait", "timed out waiting for tasks");
  int first = mw ? mw->first : 0;
  switch ((int)ctx) {
  case JOIN_ONE: return rt_task_push_outcome(L, 1, rt_task_check(L, 1));
  case WAIT_ALL: lua_pushboolean(L, 1); return 1;
  default:
    if (!mw) { /* already finished: find the first finished one */
      int n = (int)luaL_len(L, 1);
      for (int i = 1; i <= n && !first; i++) {
        lua_rawgeti(L, 1, i);
        if (rt_task_finished(rt_task_check(L, -1))) first = i;
        lua_pop(L, 1);
      }
    }
    lua_pushinteger(L, first);
    lua_rawgeti(L, 1, first);
    return 2;
  }
}

static int wait_common(lua_State *L, int kind, const char *fname) {
  l_current_task(L, fname);
  if (kind == JOIN_ONE) rt_task_check(L, 1); else luaL_checktype(L, 1, LUA_TTABLE);
  int64_t timeout = l_opt_timeout(L, 2, "timeout");
  lua_settop(L, 2);
  if (kind == WAIT_ANY && luaL_len(L, 1) == 0) return luaL_error(L, "%s: the list is empty", fname);
  rt_multiwait *mw = multiwait_new(L, 1, kind == JOIN_ONE, kind != WAIT_ANY);
  if (!mw) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return join_k(L, LUA_OK, kind);
  }
  return rt_park(L, &mw->w, timeout, kind, join_k);
}

/* task.join(t [, timeout]) -> true, results... | false, err, traceback | nil, TIMEOUT err
 * Waits for t to finish and returns its outcome; a failed task's error is then the caller's to
 * handle (it is not reported again at exit). [-1|2, +n, y] */
static int l_join(lua_State *L) { return wait_common(L, JOIN_ONE, "task.join"); }
/* task.wait_all(tasks [, timeout]) -> true | nil, TIMEOUT err. [-1|2, +1|2, y] */
static int l_wait_all(lua_State *L) { return wait_common(L, WAIT_ALL, "task.wait_all"); }
/* task.wait_any(tasks [, timeout]) -> index, task | nil, TIMEOUT err. [-1|2, +2, y] */
static int l_wait_any(lua_State *L) { return wait_common(L, WAIT_ANY, "task.wait_any"); }

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  rt_wait *w = lua_touserdata(L, -1);
  if (w->rc == RT_ECANCELED) return l_raise_canceled(L);
  lua_pushboolean(L, 1);
  return 1;
}

/* task.sleep(seconds) -> true: waits `seconds` of API time. Raises CANCELED if canceled. [-1, +1, y] */
static int l_sleep(lua_State *L) {
  l_current_task(L, "task.sleep");
  if (lua_isnoneornil(L, 1)) return luaL_argerror(L, 1, "number expected");
  int64_t ms = l_opt_timeout(L, 1, "seconds");
  if (ms < 0) ms = (int64_t)rt_api_ms(rt_from_lua(L), HUGE_VAL); /* math.huge: until canceled */
  rt_wait *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->timeout_rc = 0;
  w->what = "a sleep";
  return rt_park(L, w, ms, 0, sleep_k);
}

/* task.yield(): lets the other ready tasks run first. [-0, +0, y] */
static int l_yield(lua_State *L) {
  l_current_task(L, "task.yield");
  return lua_yield(L, 0);
}

/* task.cancel(t): cancels t: its current (or next) wait raises a CANCELED error. [-1, +0, -] */
static int l_cancel(lua_State *L) {
  rt_task_cancel(rt_task_check(L, 1));
  return 0;
}

/* task.now() -> seconds since the epoch (API time: under --time-scale F it runs 1/F as fast). [-0, +1, -] */
static int l_now(lua_State *L) {
  lua_pushnumber(L, rt_virtual_now(rt_from_lua(L)));
  return 1;
}

/* task.time_scale() -> F. [-0, +1, -] */
static int l_time_scale(lua_State *L) {
  lua_pushnumber(L, rt_from_lua(L)->opt.time_scale);
  return 1;
}

/* task.current() -> the calling task, or nil outside tasks. [-0, +1, -] */
static int l_current(lua_State *L) {
  rt_task *t = rt_task_of(L);
  if (!t) { lua_pushnil(L); return 1; }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
  return 1;
}

/* task.status(t) -> "ready" | "running" | "waiting" | "done" | "failed" | "canceled". [-1, +1, -] */
static int l_status(lua_State *L) {
  static const char *names[] = {"ready", "running", "waiting", "done", "failed", "canceled"};
  lua_pushstring(L, names[rt_task_check(L, 1)->state]);
  return 1;
}

static int sigwait_cancel(rt_wait *w, int rc) {
  (void)rc;
  rt_sched_sigwait_remove(w->task->rt, (rt_sigwait *)w);
  return 0;
}

static int signal_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  rt_sigwait *sw = lua_touserdata(L, -1);
  if (sw->w.rc == RT_ECANCELED) return l_raise_canceled(L);
  if (sw->w.rc == RT_ETIMEDOUT) return l_failrc(L, RT_ETIMEDOUT, "task.signal", "no signal before the timeout");
  lua_pushstring(L, sw->w.rc == SIGINT ? "SIGINT" : sw->w.rc == SIGHUP ? "SIGHUP" : "SIGTERM");
  return 1;
}

/* task.signal([timeout] [, {hangup = true}]) -> "SIGINT" | "SIGTERM" | "SIGHUP" | nil, TIMEOUT err
 * Waits for SIGINT or SIGTERM (and, with hangup, SIGHUP: caught from then on, and delivered only
 * to such waiters). While any task waits here, a signal is delivered to those tasks (for a clean
 * shutdown) instead of canceling every task. [-0|2, +1|2, y] */
static int l_signal(lua_State *L) {
  rt_task *t = l_current_task(L, "task.signal");
  int64_t timeout = l_opt_timeout(L, 1, "timeout");
  int hangup = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    hangup = lua_getfield(L, 2, "hangup") != LUA_TNIL && lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  rt_sigwait *sw = lua_newuserdatauv(L, sizeof *sw, 0);
  memset(sw, 0, sizeof *sw);
  sw->hangup = hangup;
  sw->w.cancel = sigwait_cancel;
  sw->w.what = "a signal";
  sw->w.timeout_rc = RT_ETIMEDOUT;
  rt_list_init(&sw->link);
  if (!t->cancel_pending) rt_sched_sigwait_add(t->rt, sw);
  return rt_park(L, &sw->w, timeout, 0, signal_k);
}

static int undo_abort(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.abort_hooks") == LUA_TTABLE) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  return 0;
}

/* task.on_abort(fn) -> undo: fn(signal) is called if a second SIGINT/SIGTERM ends the run at
 * once, before the process exits: the last chance to record what was in flight (a campaign
 * writes its manifest as canceled). It runs where nothing can wait (a call that waits raises)
 * and must be quick. undo() unregisters it. [-1, +1, m] */
static int l_on_abort(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, "pcaprun.abort_hooks");
  lua_pushvalue(L, 1);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, undo_abort, 1);
  return 1;
}

int luaopen_pcaprun_task(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"spawn", l_spawn}, {"join", l_join}, {"wait_all", l_wait_all}, {"wait_any", l_wait_any},
    {"sleep", l_sleep}, {"yield", l_yield}, {"cancel", l_cancel}, {"now", l_now},
    {"time_scale", l_time_scale}, {"current", l_current}, {"status", l_status},
    {"signal", l_signal}, {"on_abort", l_on_abort}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
