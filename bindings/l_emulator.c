/* pcaprun.emulator: the in-process emulator that --emulate starts, for rehearsals and tests.
 * Part of the emulator's library (pcaprun_emu), not of the core: main.c preloads it. */
#include "emu.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include <lauxlib.h>
#include <stdlib.h>

static emu_server *check_emulator(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.emulator");
  emu_server *s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!s) luaL_error(L, "no emulator is running (start pcaprun with --emulate)");
  return s;
}

void emu_lua_attach(lua_State *L, emu_server *s, const char *base_url) {
  lua_pushlightuserdata(L, s);
  lua_setfield(L, LUA_REGISTRYINDEX, "pcaprun.emulator");
  lua_pushstring(L, base_url);
  lua_setfield(L, LUA_REGISTRYINDEX, "pcaprun.emulator_url");
}

/* emulator.running() -> boolean. [-0, +1, -] */
static int l_running(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.emulator");
  lua_pushboolean(L, lua_touserdata(L, -1) != NULL);
  return 1;
}

/* emulator.url() -> the emulator's base URL. [-0, +1, v] */
static int l_url(lua_State *L) {
  check_emulator(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.emulator_url");
  return 1;
}

/* emulator.bucket_dir() -> the directory that stands for buckets. [-0, +1, v] */
static int l_bucket_dir(lua_State *L) {
  lua_pushstring(L, emu_bucket_dir(check_emulator(L)));
  return 1;
}

/* emulator.stats() -> table (requests, violations, faults, captures; see runtime/emu/README.md). [-0, +1, v] */
static int l_stats(lua_State *L) {
  char *text = emu_stats_json(check_emulator(L));
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  if (!j) return luaL_error(L, "emulator stats unavailable");
  l_pushjson_free(L, j);
  return 1;
}

/* emulator.captures() -> list of every capture with its timeline (id, intent, status, stopped,
 * stop_requested, ...; as GET /__admin/captures). [-0, +1, v] */
static int l_captures(lua_State *L) {
  char *text = emu_captures_text(check_emulator(L));
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  if (!j) return luaL_error(L, "emulator captures unavailable");
  json_t *list = json_incref(json_object_get(j, "captures"));
  json_decref(j);
  l_pushjson_free(L, list);
  return 1;
}

/* emulator.configure(table): merges settings into the running emulator (e.g. fault rates).
 * Raises on an unknown key or a bad value. [-1, +0, v] */
static int l_configure(lua_State *L) {
  emu_server *s = check_emulator(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  char why[256];
  json_t *j = l_tojson(L, 1, why, sizeof why);
  if (!j) return luaL_error(L, "emulator.configure: %s", why);
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  int rc = text ? emu_configure_json(s, text, why, sizeof why) : -1;
  free(text);
  if (rc) return luaL_error(L, "emulator.configure: %s", why);
  return 0;
}

int luaopen_pcaprun_emulator(lua_State *L) {
  static const luaL_Reg fns[] = {{"running", l_running}, {"url", l_url}, {"bucket_dir", l_bucket_dir},
                                 {"stats", l_stats}, {"captures", l_captures},
                                 {"configure", l_configure}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
