/* Fuzz target: API answers as Lua sees them. A body goes through the envelope parser, as the
 * runtime reads it (runtime/apiparse.c), and then the whole envelope, its errors and each object
 * of its result become Lua values through bindings/ljson.c's l_pushjson (the capture objects and
 * cf_errors a script reads), in a protected call on one Lua state. Bodies that are not envelopes
 * are pushed too (any JSON the API might send). Oracles: no crash, no leak; a push fails only with
 * a Lua error (never aborts); what arrives in Lua matches the JSON — every key of an object (keys
 * never hold NUL), every string byte for byte (NULs included), integers and reals exactly; and
 * l_tojson takes the Lua value back without crashing. */
#include "apiparse.h"
#include "fuzz.h"
#include "lerr.h"
#include "ljson.h"
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

static lua_State *L;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  L = luaL_newstate();
  FUZZ_CHECK(L, "luaL_newstate");
  return 0;
}

/* The Lua value at idx is what v says. */
static void same(lua_State *S, int idx, const json_t *v) {
  luaL_checkstack(S, 4, NULL);
  idx = lua_absindex(S, idx);
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    FUZZ_CHECK(lua_type(S, idx) == LUA_TTABLE, "object -> %s", luaL_typename(S, idx));
    json_object_foreach((json_t *)v, k, x) {
      lua_getfield(S, idx, k);
      same(S, -1, x);
      lua_pop(S, 1);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *x;
    FUZZ_CHECK(lua_type(S, idx) == LUA_TTABLE, "array -> %s", luaL_typename(S, idx));
    json_array_foreach(v, i, x) {
      lua_rawgeti(S, idx, (lua_Integer)i + 1);
      same(S, -1, x);
      lua_pop(S, 1);
    }
    break;
  }
  case JSON_STRING: {
    size_t len;
    const char *s = lua_tolstring(S, idx, &len);
    FUZZ_CHECK(lua_type(S, idx) == LUA_TSTRING && len == json_string_length(v) &&
               memcmp(s, json_string_value(v), len) == 0, "string differs");
    break;
  }
  case JSON_INTEGER:
    FUZZ_CHECK(lua_isinteger(S, idx) && lua_tointeger(S, idx) == json_integer_value(v), "integer differs");
    break;
  case JSON_REAL:
    FUZZ_CHECK(lua_type(S, idx) == LUA_TNUMBER && lua_tonumber(S, idx) == json_real_value(v), "real differs");
    break;
  case JSON_TRUE: case JSON_FALSE:
    FUZZ_CHECK(lua_isboolean(S, idx) && lua_toboolean(S, idx) == json_is_true(v), "boolean differs");
    break;
  default: FUZZ_CHECK(lua_isnil(S, idx), "null -> %s", luaL_typename(S, idx)); break;
  }
}

/* [-1, +0, e]: pushes the JSON value (light userdata) and checks it. */
static int push_and_check(lua_State *S) {
  const json_t *v = lua_touserdata(S, 1);
  l_pushjson(S, v);
  same(S, -1, v);
  char why[128];
  json_decref(l_tojson(S, -1, why, sizeof why));
  return 0;
}

static void push(const json_t *v) {
  if (!v) return;
  lua_pushcfunction(L, push_and_check);
  lua_pushlightuserdata(L, (void *)v);
  int rc = lua_pcall(L, 1, 0, 0);
  FUZZ_CHECK(rc == LUA_OK || rc == LUA_ERRRUN || rc == LUA_ERRMEM, "lua_pcall: %d", rc);
  lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rt_envelope env;
  if (rt_envelope_parse((const char *)data, size, &env) == 0) {
    push(env.root);
    push(env.errors);
    if (json_is_array(env.result)) {
      size_t i;
      json_t *item;
      json_array_foreach(env.result, i, item) push(item);
    } else {
      push(env.result);
    }
  } else {
    json_t *any = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    push(any);
    json_decref(any);
  }
  rt_envelope_free(&env);
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
