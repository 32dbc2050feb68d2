/* The Lua host: the state (with a counting, capped allocator), the libraries and modules a
 * script can require, and loading the script as the main task. */
#include "embedded.h"
#include "err.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cjson_safe(lua_State *L); /* exported by lua-cjson, not declared in its header */

/* Counts the bytes Lua holds and refuses growth past rt->lua_limit (0 = no limit); Lua then
 * collects and retries before raising "not enough memory". Frees and shrinks always succeed. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  rt_runtime *rt = ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    rt->lua_bytes -= osize;
    return NULL;
  }
  if (rt->lua_limit && nsize > osize && rt->lua_bytes + (nsize - osize) > rt->lua_limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) rt->lua_bytes = rt->lua_bytes - osize + nsize;
  return p;
}

static int l_panic(lua_State *L) {
  fprintf(stderr, "pcaprun: unprotected Lua error (a bug in pcaprun): %s\n", lua_tostring(L, -1));
  abort();
}

static void l_warn(void *ud, const char *msg, int tocont) {
  (void)ud; (void)tocont;
  fprintf(stderr, "lua warning: %s\n", msg);
}

/* package.preload loader for a module compiled into the binary. [-0, +1, e] */
static int load_embedded(lua_State *L) {
  const rt_embedded *m = &rt_embedded_modules[lua_tointeger(L, lua_upvalueindex(1))];
  if (luaL_loadbufferx(L, m->source, m->len, m->chunkname, "t") != LUA_OK) return lua_error(L);
  lua_pushstring(L, m->name);
  lua_call(L, 1, 1);
  return 1;
}

/* os.exit([code]): ends the run with `code` (true is 0, false is 1; default 0) after a clean
 * shutdown — every task is canceled and unwinds, files are closed, the emulator stops — instead
 * of leaving the process at once. Raises in the caller to unwind it. [-0|1, +0, v] */
static int l_os_exit(lua_State *L) {
  rt_runtime *rt = rt_from_lua(L);
  int code = lua_isboolean(L, 1) ? !lua_toboolean(L, 1) : (int)luaL_optinteger(L, 1, 0);
  rt->exit_code = code;
  rt_sched_cancel_all(rt);
  rt_errinfo e = RT_ERRINFO(RT_EEXIT, NULL);
  l_pusherror(L, &e);
  return lua_error(L);
}

static const luaL_Reg c_modules[] = {
  {"pcaprun.task", luaopen_pcaprun_task},
  {"pcaprun.error", luaopen_pcaprun_error},
  {"pcaprun.log", luaopen_pcaprun_log},
  {"pcaprun.pcap", luaopen_pcaprun_pcap},
  {"pcaprun.cron", luaopen_pcaprun_cron},
  {"pcaprun.http", luaopen_pcaprun_http},
  {"pcaprun.fs", luaopen_pcaprun_fs},
  {"pcaprun.json", luaopen_pcaprun_json},
  {"pcaprun.journal", luaopen_pcaprun_journal},
  {"pcaprun.objstore", luaopen_pcaprun_objstore},
  {"pcaprun.pcapfile", luaopen_pcaprun_pcapfile},
  {"cjson", luaopen_cjson},
  {"cjson.safe", luaopen_cjson_safe},
  {NULL, NULL}};

int rt_host_open(rt_runtime *rt) {
  rt->lua_limit = rt->opt.max_memory;
  lua_State *L = lua_newstate(l_alloc, rt);
  if (!L) return RT_ENOMEM;
  rt->L = L;
  lua_atpanic(L, l_panic);
  lua_setwarnf(L, l_warn, NULL);
  luaL_openlibs(L);
  rt_attach_lua(rt, L);
  lua_getglobal(L, "os");
  lua_pushcfunction(L, l_os_exit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const luaL_Reg *m = c_modules; m->name; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, -2, m->name);
  }
  for (int i = 0; rt_embedded_modules[i].name; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, rt_embedded_modules[i].name);
  }
  lua_pop(L, 1);
  return 0;
}

void rt_host_preload(rt_runtime *rt, const char *name, lua_CFunction open) {
  luaL_getsubtable(rt->L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(rt->L, open);
  lua_setfield(rt->L, -2, name);
  lua_pop(rt->L, 1);
}

/* package.path gets the script's directory first, so a script's own modules sit beside it. */
static void set_package_path(lua_State *L, const char *script) {
  const char *slash = script ? strrchr(script, '/') : NULL;
  char dir[4096];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - script) : 1, slash ? script : ".");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

int rt_host_start(rt_runtime *rt, const char *path, const char *chunk, int argc, char **argv) {
  lua_State *L = rt->L;
  set_package_path(L, path);
  lua_createtable(L, argc, 1);
  lua_pushstring(L, path ? path : "-e");
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
  int st = path ? luaL_loadfilex(L, path, "t") : luaL_loadbufferx(L, chunk, strlen(chunk), "=(command line)", "t");
  if (st != LUA_OK) {
    fprintf(stderr, "pcaprun: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return st == LUA_ERRFILE ? RT_ENOTFOUND : RT_EINVAL;
  }
  luaL_checkstack(L, argc + 2, NULL);
  for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
  if (rt_task_spawn(L, argc, "main") != 0) return RT_ESHUTDOWN;
  rt->main_task = rt_task_check(L, -1);
  lua_pop(L, 1);
  return 0;
}

void rt_host_close(rt_runtime *rt) {
  if (!rt->L) return;
  lua_close(rt->L);
  rt->L = NULL;
}
