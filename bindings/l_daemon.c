/* pcaprun.daemon: the daemon's side for the stdlib's pcaprun.serve (under `pcaprun serve`): the
 * queue of accepted alerts, playbook runs recorded against them in the journal, the captures they
 * made, the secrets a script gives, draining. Part of the serve library (runtime/serve/serve.h);
 * the executable makes it requirable only under pcaprun serve. Secrets can be set, never read.
 * Stack effects: [-pop, +push, x]; "y" marks functions that park the calling task. */
#include "err.h"
#include "journal.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include "serve.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

static rt_serve *server(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.daemon.server");
  rt_serve *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!s) luaL_error(L, "pcaprun.daemon works only under `pcaprun serve SCRIPT`");
  return s;
}

static rt_journal *journal(lua_State *L) {
  rt_journal *j = rt_from_lua(L)->journal;
  if (!j) luaL_error(L, "pcaprun serve needs a journal");
  return j;
}

/* Pushes the journal's row of alert id, its payload decoded, or nil. [-0, +1, m] */
static void push_alert(lua_State *L, int64_t id) {
  json_t *row = rt_journal_alert_get(journal(L), id);
  json_t *payload = row ? json_loads(json_string_value(json_object_get(row, "payload")), 0, NULL) : NULL;
  if (row) json_object_set_new(row, "payload", payload ? payload : json_object());
  if (row) l_pushjson_free(L, row);
  else lua_pushnil(L);
}

static int waiter_cancel(rt_wait *w, int rc) {
  (void)rc;
  rt_list_unlink(&((rt_serve_wait *)w)->link);
  return 0;
}

static int next_k(lua_State *L, int status, lua_KContext ctx);

/* The oldest queued alert, or a park until one comes. */
static int next_or_park(lua_State *L, int64_t timeout) {
  rt_serve *s = server(L);
  for (;;) {
    if (s->draining) return l_failrc(L, RT_ESHUTDOWN, "daemon.next", "the daemon is draining");
    int64_t id = rt_serve_dequeue(s);
    if (!id) break;
    push_alert(L, id);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1); /* forgotten meanwhile: the next one */
  }
  rt_serve_wait *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->w.cancel = waiter_cancel;
  w->w.what = "an alert";
  w->w.timeout_rc = RT_ETIMEDOUT;
  rt_list_init(&w->link);
  rt_list_push(&s->waiters, &w->link);
  return rt_park(L, &w->w, timeout, 0, next_k);
}

static int next_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status, (void)ctx;
  rt_serve_wait *w = lua_touserdata(L, -1);
  int rc = w->w.rc;
  lua_pop(L, 1);
  if (rc == RT_ECANCELED) return l_raise_canceled(L);
  if (rc == RT_ETIMEDOUT) return l_failrc(L, RT_ETIMEDOUT, "daemon.next", "no alert before the timeout");
  return next_or_park(L, -1);
}

/* daemon.next([timeout]) -> alert | nil, err: the oldest accepted alert not yet handed out,
 * waiting for one (TIMEOUT after timeout API seconds; SHUTDOWN once draining). alert = the
 * journal's row: {id, source, received, payload, state, runs, captures, ...}. [-0|1, +1|2, y] */
static int l_next(lua_State *L) {
  l_current_task(L, "daemon.next");
  int64_t timeout = l_opt_timeout(L, 1, "timeout");
  lua_settop(L, 0);
  return next_or_park(L, timeout);
}

/* daemon.get(id) -> alert | nil. [-1, +1, m] */
static int l_get(lua_State *L) {
  push_alert(L, (int64_t)luaL_checkinteger(L, 1));
  return 1;
}

static const char *opt_field(lua_State *L, int idx, const char *k) {
  if (lua_type(L, idx) != LUA_TTABLE) return NULL;
  lua_getfield(L, idx, k);
  const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1); /* the table keeps the string */
  return v;
}

/* daemon.claim(id, {kind=, correlation=, target=}) -> true | false: a playbook run starts for the
 * alert (false: another live process runs it, or it was handled). [-2, +1, m] */
static int l_claim(lua_State *L) {
  rt_serve *s = server(L);
  int64_t id = (int64_t)luaL_checkinteger(L, 1);
  int claimed = 0;
  if (rt_journal_alert_claim(journal(L), id, opt_field(L, 2, "kind"), opt_field(L, 2, "correlation"),
                             opt_field(L, 2, "target"), &claimed))
    return l_failrc(L, RT_EIO, "daemon.claim", rt_journal_error(journal(L)));
  if (claimed) s->running++;
  lua_pushboolean(L, claimed);
  return 1;
}

/* daemon.finish(id, state, note [, meta]) -> true | nil, err: the alert is handled. state:
 * "done" or "failed" after a claim, "skipped" without one (meta then says what it was). [-4, +1, m] */
static int l_finish(lua_State *L) {
  rt_serve *s = server(L);
  int64_t id = (int64_t)luaL_checkinteger(L, 1);
  const char *state = luaL_checkstring(L, 2), *note = luaL_optstring(L, 3, NULL);
  int skipped = strcmp(state, "skipped") == 0;
  if (!skipped && strcmp(state, "done") && strcmp(state, "failed"))
    return luaL_error(L, "daemon.finish: state must be \"done\", \"failed\" or \"skipped\" (got \"%s\")", state);
  if (rt_journal_alert_finish(journal(L), id, state, note, opt_field(L, 4, "kind"), opt_field(L, 4, "correlation"),
                              opt_field(L, 4, "target")))
    return l_failrc(L, RT_EIO, "daemon.finish", rt_journal_error(journal(L)));
  if (skipped) s->skipped++;
  else {
    if (s->running) s->running--;
    if (state[0] == 'd') s->finished++;
    else s->failed++;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* daemon.capture(id, capture_id) -> true: a run of the alert made the capture. [-2, +1, m] */
static int l_capture(lua_State *L) {
  int64_t id = (int64_t)luaL_checkinteger(L, 1);
  if (rt_journal_alert_capture(journal(L), id, luaL_checkstring(L, 2)))
    return l_failrc(L, RT_EIO, "daemon.capture", rt_journal_error(journal(L)));
  lua_pushboolean(L, 1);
  return 1;
}

/* daemon.related(source, correlation) -> {alert...}: the alerts of that source and correlation id
 * (a START and its END), oldest first. [-2, +1, m] */
static int l_related(lua_State *L) {
  int64_t ids[64];
  int n = 0;
  rt_journal_alerts_related(journal(L), luaL_checkstring(L, 1), luaL_checkstring(L, 2), ids, 64, &n);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_alert(L, ids[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* daemon.since(target [, except_id]) -> API seconds | nil: how long ago a playbook run last
 * started for the target, for another alert than except_id (the cooldown). [-2, +1, m] */
static int l_since(lua_State *L) {
  double when = 0;
  rt_runtime *rt = rt_from_lua(L);
  rt_journal_alert_last(journal(L), luaL_checkstring(L, 1), (int64_t)luaL_optinteger(L, 2, 0), &when);
  if (when > 0) lua_pushnumber(L, (rt_wall() - when) / rt->opt.time_scale);
  else lua_pushnil(L);
  return 1;
}

static void set_number(lua_State *L, const char *k, double v, int given) {
  if (!given) return;
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* daemon.settings() -> {url, listen, queue, max_body, dry_run?, max_running?, cooldown?, grace?}:
 * the command line's (options not given are absent). [-0, +1, m] */
static int l_settings(lua_State *L) {
  rt_serve *s = server(L);
  const rt_serve_cli *c = &s->cli;
  lua_createtable(L, 0, 8);
  lua_pushstring(L, s->url);
  lua_setfield(L, -2, "url");
  lua_pushstring(L, c->listen);
  lua_setfield(L, -2, "listen");
  set_number(L, "queue", c->queue, 1);
  set_number(L, "max_body", (double)c->max_body, 1);
  set_number(L, "max_running", c->max_running, c->max_running > 0);
  set_number(L, "cooldown", c->cooldown, c->cooldown >= 0);
  set_number(L, "grace", c->grace, c->grace >= 0);
  if (c->dry_run > 0) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "dry_run");
  }
  return 1;
}

/* daemon.secrets{cloudflare=, pagerduty=, alertmanager=}: the receivers' secrets from the script
 * (they replace the environment's). They cannot be read back. [-1, +0, v] */
static int l_secrets(lua_State *L) {
  rt_serve *s = server(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int src = lua_type(L, -2) == LUA_TSTRING ? rt_serve_source_parse(lua_tostring(L, -2)) : -1;
    if (src < 0) return luaL_error(L, "daemon.secrets: unknown receiver (receivers: cloudflare, pagerduty, alertmanager)");
    size_t len;
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!v || !len || strlen(v) != len)
      return luaL_error(L, "daemon.secrets: the %s secret must be a non-empty string", rt_serve_source_name(src));
    char *copy = strdup(v);
    if (!copy) return luaL_error(L, "out of memory");
    if (s->secret[src]) memset(s->secret[src], 0, strlen(s->secret[src]));
    free(s->secret[src]);
    s->secret[src] = copy;
    lua_pop(L, 1);
  }
  return 0;
}

/* daemon.receivers() -> {cloudflare = bool, pagerduty = bool, alertmanager = bool}: which have a
 * secret (a receiver without one refuses everything). [-0, +1, m] */
static int l_receivers(lua_State *L) {
  rt_serve *s = server(L);
  lua_createtable(L, 0, RT_SRC_COUNT);
  for (int i = 0; i < RT_SRC_COUNT; i++) {
    lua_pushboolean(L, s->secret[i] != NULL);
    lua_setfield(L, -2, rt_serve_source_name(i));
  }
  return 1;
}

/* daemon.drain(): from now on hooks answer 503 (Retry-After) and daemon.next gives SHUTDOWN; the
 * queued alerts stay in the journal for the next start. [-0, +0, -] */
static int l_drain(lua_State *L) {
  rt_serve *s = server(L);
  s->draining = 1;
  RT_LIST_EACH(it, &s->waiters) {
    rt_list_unlink(it);
    rt_wait_done(&RT_CONTAINER(it, rt_serve_wait, link)->w, 0);
  }
  return 0;
}

/* daemon.stats() -> {queued, running, finished, failed, skipped, received = {source = n},
 * deduplicated = {...}, rejected = {...}}. [-0, +1, m] */
static int l_stats(lua_State *L) {
  rt_serve *s = server(L);
  lua_createtable(L, 0, 8);
  const struct { const char *k; uint64_t v; } n[] = {{"queued", s->qlen}, {"running", s->running},
    {"finished", s->finished}, {"failed", s->failed}, {"skipped", s->skipped}};
  for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
    lua_pushinteger(L, (lua_Integer)n[i].v);
    lua_setfield(L, -2, n[i].k);
  }
  const char *names[] = {"received", "deduplicated", "rejected"};
  for (int k = 0; k < 3; k++) {
    lua_createtable(L, 0, RT_SRC_COUNT);
    for (int i = 0; i < RT_SRC_COUNT; i++) {
      uint64_t v = k == 0 ? s->received[i] : k == 1 ? s->deduplicated[i] : 0;
      for (int r = 0; k == 2 && r < RT_REJ_COUNT; r++) v += s->rejected[i][r];
      lua_pushinteger(L, (lua_Integer)v);
      lua_setfield(L, -2, rt_serve_source_name(i));
    }
    lua_setfield(L, -2, names[k]);
  }
  return 1;
}

int luaopen_pcaprun_daemon(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"next", l_next}, {"get", l_get}, {"claim", l_claim}, {"finish", l_finish}, {"capture", l_capture},
    {"related", l_related}, {"since", l_since}, {"settings", l_settings}, {"secrets", l_secrets},
    {"receivers", l_receivers}, {"drain", l_drain}, {"stats", l_stats}, {NULL, NULL}};
  server(L);
  luaL_newlib(L, fns);
  return 1;
}
