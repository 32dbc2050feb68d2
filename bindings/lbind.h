/* Shared helpers of the Lua bindings and the module openers. */
#ifndef PCAPRUN_LBIND_H
#define PCAPRUN_LBIND_H
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include "rt.h"
#include "scheduler.h"

/* The calling task; raises when called outside a task's own coroutine or where it cannot yield. */
rt_task *l_current_task(lua_State *L, const char *fname);
/* Optional timeout argument in API seconds -> real ms under the time scale; -1 when nil. */
int64_t l_opt_timeout(lua_State *L, int idx, const char *what);

/* Makes the metatable `name` (once) with the metamethods in meta and, when methods is not NULL,
 * __index = a table of them; leaves the stack as it was. [-0, +0, m] */
void l_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

/* The account of the pcap client at idx, or of the default client when there is none there
 * (raising, like pcap functions, when it cannot be made). */
struct rt_account *l_client_account(lua_State *L, int idx);

int luaopen_pcaprun_task(lua_State *L);
int luaopen_pcaprun_error(lua_State *L);
int luaopen_pcaprun_log(lua_State *L);
int luaopen_pcaprun_pcap(lua_State *L);
int luaopen_pcaprun_cron(lua_State *L);
int luaopen_pcaprun_http(lua_State *L);
int luaopen_pcaprun_fs(lua_State *L);
int luaopen_pcaprun_journal(lua_State *L);
int luaopen_pcaprun_objstore(lua_State *L);
int luaopen_pcaprun_pcapfile(lua_State *L);

/* Creates the Lua state for rt (allocator, libraries, preloaded modules). Returns 0 or RT_ENOMEM. */
int rt_host_open(rt_runtime *rt);
/* Makes a C module from outside the core requirable (package.preload): the executable adds the
 * emulator's binding this way, so the core does not depend on the emulator. */
void rt_host_preload(rt_runtime *rt, const char *name, lua_CFunction open);
/* Loads the script (path, or `chunk` when path is NULL) with its arguments and starts it as the
 * main task. Returns 0, or RT_EINVAL after printing the load error. */
int rt_host_start(rt_runtime *rt, const char *path, const char *chunk, int argc, char **argv);
void rt_host_close(rt_runtime *rt);

#endif
