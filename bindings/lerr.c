/* Error values for scripts, and conversions between Lua values and JSON. */
#include "lerr.h"
#include "err.h"
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

static void error_metatable(lua_State *L) {
  if (luaL_newmetatable(L, ERROR_MT)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, ERROR_MT);
    lua_setfield(L, -2, "__name");
  }
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

void l_pushjson(lua_State *L, const json_t *v) {
  luaL_checkstack(L, 3, "JSON too deep");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, k, x) {
      l_pushjson(L, x);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *x;
    lua_createtable(L, (int)json_array_size(v), 0);
    json_array_foreach(v, i, x) {
      l_pushjson(L, x);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  default: lua_pushnil(L); break;
  }
}

static int pushjson(lua_State *L) {
  l_pushjson(L, lua_touserdata(L, 1));
  return 1;
}

void l_pushjson_free(lua_State *L, json_t *v) {
  if (!lua_checkstack(L, 3)) {
    json_decref(v);
    luaL_error(L, "out of memory");
  }
  lua_pushcfunction(L, pushjson); /* a C function and a light userdata: nothing allocated */
  lua_pushlightuserdata(L, v);
  int rc = lua_pcall(L, 1, 1, 0);
  json_decref(v);
  if (rc != LUA_OK) lua_error(L);
}

/* Is the table at idx a sequence 1..n (n > 0)? */
static int is_array(lua_State *L, int idx, size_t *n) {
  size_t count = 0;
  lua_Integer max = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) { lua_pop(L, 1); return 0; }
    lua_Integer k = lua_tointeger(L, -1);
    if (k > max) max = k;
    count++;
  }
  *n = count;
  return count > 0 && (size_t)max == count;
}

static json_t *tojson(lua_State *L, int idx, char *why, size_t size, char *path, int depth) {
  idx = lua_absindex(L, idx);
  if (depth > 32) { snprintf(why, size, "%s: nested too deeply", path); return NULL; }
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return json_null();
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx))) { snprintf(why, size, "%s: not a finite number", path); return NULL; }
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *j = json_stringn(s, len);
    if (!j) snprintf(why, size, "%s: not valid UTF-8", path);
    return j;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) return json_null(); /* cjson.null */
    break;
  case LUA_TTABLE: {
    size_t n, plen = strlen(path);
    luaL_checkstack(L, 4, "JSON too deep");
    if (is_array(L, idx, &n)) {
      json_t *a = json_array();
      for (size_t i = 1; a && i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        snprintf(path + plen, 128 - plen, "[%zu]", i);
        json_t *x = tojson(L, -1, why, size, path, depth + 1);
        path[plen] = 0;
        lua_pop(L, 1);
        if (!x || json_array_append_new(a, x)) { json_decref(a); return NULL; }
      }
      return a;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (o && lua_next(L, idx)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        snprintf(why, size, "%s: keys must be strings (a table mixes a list and fields?)", *path ? path : "value");
        lua_pop(L, 2);
        json_decref(o);
        return NULL;
      }
      const char *k = lua_tostring(L, -2);
      snprintf(path + plen, 128 - plen, "%s%s", plen ? "." : "", k);
      json_t *x = tojson(L, -1, why, size, path, depth + 1);
      path[plen] = 0;
      lua_pop(L, 1);
      if (!x || json_object_set_new(o, k, x)) { lua_pop(L, 1); json_decref(o); return NULL; }
    }
    return o;
  }
  default: break;
  }
  snprintf(why, size, "%s: a %s cannot be sent as JSON", *path ? path : "value", luaL_typename(L, idx));
  return NULL;
}

json_t *l_tojson(lua_State *L, int idx, char *why, size_t size) {
  char path[128] = "";
  return tojson(L, idx, why, size, path, 0);
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
