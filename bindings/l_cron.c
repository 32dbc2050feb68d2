/* pcaprun.cron: cron expressions for scripts (the parser and next-run computation are C,
 * runtime/cron.c). */
#include "cron.h"
#include "lbind.h"
#include <lauxlib.h>
#include <math.h>
#include <string.h>

#define CRON_MT "pcaprun.cron"

typedef struct l_cron { rt_cron c; int local; char expr[128]; } l_cron;

/* cron.parse(expr [, {tz = "utc" | "local"}]) -> schedule | nil, message
 * A bad expression returns nil and a message naming the field ("minute field: 61 is out of
 * range 0-59"). Times are UTC unless tz = "local" (the process's zone, TZ). [-1|2, +1|2, m] */
static int l_parse(lua_State *L) {
  const char *expr = luaL_checkstring(L, 1);
  int local = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "tz");
    static const char *const zones[] = {"UTC", "utc", "local", NULL};
    local = !lua_isnil(L, -1) && luaL_checkoption(L, -1, NULL, zones) == 2;
  }
  l_cron *lc = lua_newuserdatauv(L, sizeof *lc, 0);
  char err[160];
  if (rt_cron_parse(expr, &lc->c, err, sizeof err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lc->local = local;
  strncpy(lc->expr, expr, sizeof lc->expr - 1);
  lc->expr[sizeof lc->expr - 1] = 0;
  luaL_setmetatable(L, CRON_MT);
  return 1;
}

/* schedule:next(after) -> epoch seconds of the first firing strictly after `after` (a number of
 * epoch seconds; fractions are rounded down). For "@every" it is after + interval. [-2, +1, v] */
static int l_next(lua_State *L) {
  l_cron *lc = luaL_checkudata(L, 1, CRON_MT);
  double after = luaL_checknumber(L, 2);
  int64_t next;
  if (rt_cron_next(&lc->c, (int64_t)floor(after), lc->local, &next))
    return luaL_error(L, "cron: no firing time after %f for '%s'", after, lc->expr);
  lua_pushinteger(L, (lua_Integer)next);
  return 1;
}

/* schedule:every() -> interval in seconds for "@every", else nil. [-1, +1, -] */
static int l_every(lua_State *L) {
  l_cron *lc = luaL_checkudata(L, 1, CRON_MT);
  if (lc->c.every > 0) lua_pushinteger(L, (lua_Integer)lc->c.every);
  else lua_pushnil(L);
  return 1;
}

static int l_tostring(lua_State *L) {
  l_cron *lc = luaL_checkudata(L, 1, CRON_MT);
  lua_pushfstring(L, "cron(%s%s)", lc->expr, lc->local ? ", local" : "");
  return 1;
}

int luaopen_pcaprun_cron(lua_State *L) {
  static const luaL_Reg methods[] = {{"next", l_next}, {"every", l_every}, {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__tostring", l_tostring}, {NULL, NULL}};
  l_newclass(L, CRON_MT, meta, methods);
  static const luaL_Reg fns[] = {{"parse", l_parse}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
