/* Error values for scripts. */
#include "lerr.h"
#include "err.h"
#include "lbind.h"
#include "ljson.h"
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ERROR_MT "pcaprun.error"

/* __tostring: "CODE: message (op: field ..., HTTP n, Cloudflare code c, retry after s)" */
static int error_tostring(lua_State *L) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "ERROR"), luaL_optstring(L, -1, "error"));
  luaL_addvalue(&b);
  lua_pop(L, 2);
  const char *sep = " (";
  static const char *const fields[] = {"op", "http_status", "cf_code", "retry_after"};
  static const char *const labels[] = {"", "HTTP ", "Cloudflare code ", "retry after "};
  for (int i = 0; i < 4; i++) {
    if (lua_getfield(L, 1, fields[i]) != LUA_TNIL) {
      luaL_addstring(&b, sep);
      luaL_addstring(&b, labels[i]);
      if (i == 3) lua_pushfstring(L, "%ss", lua_tostring(L, -1)); else luaL_tolstring(L, -1, NULL);
      luaL_addvalue(&b);
      sep = ", ";
    }
    lua_pop(L, 1);
  }
  if (sep[0] == ',') luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* Pushes the metatable of error values. */
static void error_metatable(lua_State *L) {
  static const luaL_Reg meta[] = {{"__tostring", error_tostring}, {NULL, NULL}};
  l_newclass(L, ERROR_MT, meta, NULL);
  luaL_getmetatable(L, ERROR_MT);
}

void l_pusherror(lua_State *L, const rt_errinfo *e) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, rt_errname(e->rc));
  lua_setfield(L, -2, "code");
  lua_pushstring(L, e->message ? e->message : rt_strerror(e->rc));
  lua_setfield(L, -2, "message");
  if (e->op) { lua_pushstring(L, e->op); lua_setfield(L, -2, "op"); }
  if (e->field) { lua_pushstring(L, e->field); lua_setfield(L, -2, "field"); }
  if (e->http_status) { lua_pushinteger(L, e->http_status); lua_setfield(L, -2, "http_status"); }
  lua_pushboolean(L, e->retryable);
  lua_setfield(L, -2, "retryable");
  if (e->retry_after >= 0) {
    if (e->retry_after == floor(e->retry_after)) lua_pushinteger(L, (lua_Integer)e->retry_after);
    else lua_pushnumber(L, e->retry_after);
    lua_setfield(L, -2, "retry_after");
  }
  if (e->cf_errors && json_array_size(e->cf_errors) > 0) {
    l_pushjson(L, e->cf_errors);
    lua_rawgeti(L, -1, 1);
    if (lua_istable(L, -1)) lua_getfield(L, -1, "code"); else lua_pushnil(L);
    lua_setfield(L, -4, "cf_code");
    lua_pop(L, 1);
    lua_setfield(L, -2, "cf_errors");
  }
  error_metatable(L);
  lua_setmetatable(L, -2);
}

int l_fail(lua_State *L, const rt_errinfo *e) {
  lua_pushnil(L);
  l_pusherror(L, e);
  return 2;
}

int l_failrc(lua_State *L, int rc, const char *op, const char *message) {
  rt_errinfo e = RT_ERRINFO(rc, message);
  e.op = op;
  e.retryable = rt_err_retryable(rc, 0);
  return l_fail(L, &e);
}

int l_raise_canceled(lua_State *L) {
  rt_errinfo e = RT_ERRINFO(RT_ECANCELED, "the task was canceled");
  l_pusherror(L, &e);
  return lua_error(L);
}

/* error.new{code=, message=, ...} -> err: makes an error value scripts can return. [-1, +1, m] */
static int error_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  error_metatable(L);
  lua_setmetatable(L, 1);
  return 1;
}

/* error.is(v) -> boolean: is v an error value of ours? [-0, +1, -] */
static int error_is(lua_State *L) {
  int is = 0;
  if (lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, ERROR_MT);
    is = lua_rawequal(L, -1, -2);
  }
  lua_pushboolean(L, is);
  return 1;
}

/* error.make(code, message [, fields]) -> err: an error value with a code of the registry
 * (error.codes), its retryability from there; fields (a table) adds others. Raises on a code
 * the registry does not know. [-2|3, +1, v] */
static int error_make(lua_State *L) {
  int rc = rt_errcode(luaL_checkstring(L, 1));
  if (!rc) return luaL_argerror(L, 1, "not an error code of error.codes");
  rt_errinfo e = RT_ERRINFO(rc, luaL_checkstring(L, 2));
  e.retryable = rt_err_retryable(rc, 0);
  l_pusherror(L, &e);
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -4);
    }
  }
  return 1;
}

static void push_code(const rt_errdef *d, void *ud) {
  lua_State *L = ud;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, d->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, d->text);
  lua_setfield(L, -2, "meaning");
  lua_pushboolean(L, d->retryable);
  lua_setfield(L, -2, "retryable");
  lua_pushinteger(L, d->exit_status);
  lua_setfield(L, -2, "exit_status");
  lua_setfield(L, -2, d->name);
}

/* The module: error.new, error.is, error.make and error.codes, the registry of runtime/err.c as
 * {NAME = {name, meaning, retryable, exit_status}} (API_ERROR's retryability depends on the HTTP
 * status: 408, 429 and 5xx are). [-0, +1, m] */
int luaopen_pcaprun_error(lua_State *L) {
  static const luaL_Reg fns[] = {{"new", error_new}, {"is", error_is}, {"make", error_make}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_newtable(L);
  rt_err_each(push_code, L);
  lua_setfield(L, -2, "codes");
  return 1;
}
