/* Conversions between Lua values and JSON (ljson.h), and pcaprun.json: JSON for files people
 * read and diff. Keys are sorted and output can be indented, so the same data always gives the
 * same bytes. Stack effects: [-pop, +push, x]. */
#include "ljson.h"
#include "err.h"
#include "fsutil.h"
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MT "pcaprun.json.array" /* the mark of a table that is an array even when empty */
#define MAX_DEPTH 64
#define MAX_FILE (64 << 20)           /* json.read: files people read, not bulk data */

/* ---- JSON -> Lua ---- */

static void push(lua_State *L, const json_t *v, int null_mark) {
  luaL_checkstack(L, 3, "JSON too deep");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, k, x) {
      push(L, x, null_mark);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *x;
    lua_createtable(L, (int)json_array_size(v), 0);
    json_array_foreach(v, i, x) {
      push(L, x, null_mark);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  default:
    if (null_mark) lua_pushlightuserdata(L, NULL);
    else lua_pushnil(L);
    break;
  }
}

void l_pushjson(lua_State *L, const json_t *v) { push(L, v, 0); }

static int pushjson(lua_State *L) {
  push(L, lua_touserdata(L, 1), lua_toboolean(L, 2));
  return 1;
}

/* Pushes v (dropping the reference, also on an error, which is raised afterwards). */
static void push_free(lua_State *L, json_t *v, int null_mark) {
  if (!lua_checkstack(L, 4)) {
    json_decref(v);
    luaL_error(L, "out of memory");
  }
  lua_pushcfunction(L, pushjson); /* a C function and a light userdata: nothing allocated */
  lua_pushlightuserdata(L, v);
  lua_pushboolean(L, null_mark);
  int rc = lua_pcall(L, 2, 1, 0);
  json_decref(v);
  if (rc != LUA_OK) lua_error(L);
}

void l_pushjson_free(lua_State *L, json_t *v) { push_free(L, v, 0); }

/* ---- Lua -> JSON ---- */

typedef struct conv {
  lua_State *L;
  int seen;             /* stack index of a table: the tables being converted (cycles) */
  char *why;
  size_t size;
  char path[128];
} conv;

static int marked_array(lua_State *L, int idx) {
  int marked = 0;
  if (lua_getmetatable(L, idx)) {
    luaL_getmetatable(L, ARRAY_MT);
    marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  return marked;
}

/* Is the table at idx a sequence 1..n (n > 0), or marked as an array? */
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
  return (count > 0 && (size_t)max == count) || (count == 0 && marked_array(L, idx));
}

static json_t *fail(conv *c, const char *fmt, const char *what) {
  snprintf(c->why, c->size, fmt, c->path[0] ? c->path : "value", what);
  return NULL;
}

static json_t *tojson(conv *c, int idx, int depth);

static json_t *table(conv *c, int idx, int depth) {
  lua_State *L = c->L;
  size_t n, plen = strlen(c->path);
  luaL_checkstack(L, 6, "JSON too deep");
  if (lua_rawgetp(L, c->seen, lua_topointer(L, idx)) != LUA_TNIL) {
    lua_pop(L, 1);
    return fail(c, "%s: a table contains itself%s", "");
  }
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  lua_rawsetp(L, c->seen, lua_topointer(L, idx));
  json_t *out = NULL;
  if (is_array(L, idx, &n)) {
    json_t *a = json_array();
    for (size_t i = 1; a && i <= n; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i);
      snprintf(c->path + plen, sizeof c->path - plen, "[%zu]", i);
      json_t *x = tojson(c, lua_gettop(L), depth + 1);
      c->path[plen] = 0;
      lua_pop(L, 1);
      if (!x || json_array_append_new(a, x)) { json_decref(a); a = NULL; }
    }
    out = a;
  } else {
    json_t *o = json_object();
    lua_pushnil(L);
    while (o && lua_next(L, idx)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        lua_pop(L, 2);
        json_decref(o);
        o = fail(c, "%s: keys must be strings (a table mixes a list and fields?)%s", "");
        break;
      }
      const char *k = lua_tostring(L, -2);
      snprintf(c->path + plen, sizeof c->path - plen, "%s%s", plen ? "." : "", k);
      json_t *x = tojson(c, lua_gettop(L), depth + 1);
      c->path[plen] = 0;
      lua_pop(L, 1);
      if (!x || json_object_set_new(o, k, x)) { lua_pop(L, 1); json_decref(o); o = NULL; }
    }
    out = o;
  }
  lua_pushnil(L);
  lua_rawsetp(L, c->seen, lua_topointer(L, idx));
  return out;
}

static json_t *tojson(conv *c, int idx, int depth) {
  lua_State *L = c->L;
  if (depth > MAX_DEPTH) return fail(c, "%s: nested too deeply%s", "");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return json_null();
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    double d = lua_tonumber(L, idx);
    if (!isfinite(d)) return fail(c, "%s: %s is not a JSON number", lua_tostring(L, idx));
    if (d == floor(d) && fabs(d) < 9007199254740992.0) return json_integer((json_int_t)d); /* 100e6 */
    return json_real(d);
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *j = json_stringn(s, len);
    return j ? j : fail(c, "%s: not valid UTF-8%s", "");
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) return json_null(); /* json.null, cjson.null */
    break;
  case LUA_TTABLE: return table(c, idx, depth);
  default: break;
  }
  return fail(c, "%s: a %s cannot be encoded as JSON", luaL_typename(L, idx));
}

json_t *l_tojson(lua_State *L, int idx, char *why, size_t size) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 2, NULL);
  lua_newtable(L);
  conv c = {.L = L, .seen = lua_gettop(L), .why = why, .size = size};
  json_t *j = tojson(&c, idx, 0);
  lua_pop(L, 1);
  return j;
}

/* ---- the module ---- */

/* The text of the value at idx, with the options table at opts ({indent = "  " or 2}). Raises
 * on what JSON cannot hold. [-0, +1, m] */
static void encode(lua_State *L, int idx, int opts) {
  size_t flags = JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(15);
  if (opts && lua_istable(L, opts)) {
    lua_getfield(L, opts, "indent");
    int n = lua_type(L, -1) == LUA_TSTRING ? (int)lua_rawlen(L, -1) : (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    if (n < 0 || n > 31) luaL_error(L, "json.encode: indent must be 0 to 31 spaces");
    if (n) flags = (flags & ~(size_t)JSON_COMPACT) | JSON_INDENT(n);
  }
  char why[256];
  json_t *j = l_tojson(L, idx, why, sizeof why);
  if (!j) luaL_error(L, "json.encode: %s", why);
  char *text = json_dumps(j, flags);
  json_decref(j);
  if (!text) luaL_error(L, "out of memory");
  lua_pushstring(L, text);
  free(text);
}

/* json.encode(value [, {indent = "  "}]) -> text: keys sorted; raises on what JSON cannot hold
 * (functions, NaN, non-string keys, cycles). [-1|2, +1, v] */
static int j_encode(lua_State *L) {
  luaL_checkany(L, 1);
  encode(L, 1, lua_isnoneornil(L, 2) ? 0 : 2);
  return 1;
}

/* Decodes text into a Lua value (JSON null as json.null) or pushes nil, message. [-0, +1|2, m] */
static int decode(lua_State *L, const char *text, size_t len, const char *name) {
  json_error_t err;
  json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!j) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s%s%s (line %d, column %d)", name ? name : "", name ? ": " : "", err.text,
                    err.line, err.column);
    return 2;
  }
  push_free(L, j, 1);
  return 1;
}

/* json.decode(text) -> value | nil, message. [-1, +1|2, m] */
static int j_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  return decode(L, text, len, NULL);
}

/* json.read(path) -> value | nil, message: reads and decodes a file. [-1, +1|2, m] */
static int j_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  FILE *f = fopen(path, "rb");
  if (!f) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t n, total = 0;
  char chunk[8192];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && (total += n) <= MAX_FILE) luaL_addlstring(&b, chunk, n);
  int bad = ferror(f);
  fclose(f);
  if (bad || total > MAX_FILE) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, bad ? "cannot be read" : "too large for json.read");
    return 2;
  }
  luaL_pushresult(&b);
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  return decode(L, text, len, path);
}

/* json.write(path, value) -> true | nil, message: indented (two spaces), written atomically
 * (PATH.tmp, fsync, rename), so readers see the old file or the new one, never half. Raises
 * when value cannot be encoded. [-2, +1|2, m] */
static int j_write(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, 2);
  lua_setfield(L, 3, "indent");
  encode(L, 2, 3);
  lua_pushliteral(L, "\n");
  lua_concat(L, 2);
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  if (rt_write_atomic(path, text, len, 0644) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "write: %s: %s", path, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* json.array([t]) -> t, marked to encode as an array even when empty. [-0|1, +1, m] */
static int j_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  else luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_setmetatable(L, ARRAY_MT);
  return 1;
}

int luaopen_pcaprun_json(lua_State *L) {
  static const luaL_Reg fns[] = {{"encode", j_encode}, {"decode", j_decode}, {"read", j_read},
                                 {"write", j_write},   {"array", j_array},   {NULL, NULL}};
  luaL_newmetatable(L, ARRAY_MT);
  lua_pushliteral(L, ARRAY_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null"); /* the JSON null, the same value as cjson.null */
  return 1;
}
