/* pcaprun.log: the runtime's logger for scripts (text or JSON lines on stderr), and the
 * redaction of URIs that logs and files must use. */
#include "lbind.h"
#include "log.h"
#include "spec.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* log.<level>(message [, fields]): fields is a table of names to values (strings, numbers,
 * booleans), printed in name order. The event name is "script". [-1|2, +0, m] */
static int log_at(lua_State *L, int level) {
  const char *msg = luaL_checkstring(L, 1);
  if (!rt_log_enabled(level)) return 0;
  const char *fields[64];
  int n = 0;
  if (lua_istable(L, 2)) {
    const char *keys[32];
    int nk = 0;
    lua_pushnil(L);
    while (lua_next(L, 2) && nk < 32) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING) keys[nk++] = lua_tostring(L, -1);
    }
    if (nk == 32) lua_pop(L, 1);
    qsort(keys, (size_t)nk, sizeof keys[0], cmp_str);
    for (int i = 0; i < nk; i++) {
      lua_getfield(L, 2, keys[i]);
      fields[2 * n] = keys[i];
      fields[2 * n + 1] = luaL_tolstring(L, -1, NULL); /* stays on the stack until we return */
      n++;
    }
  }
  rt_log_fields(level, "script", msg, fields, n);
  return 0;
}

static int l_debug(lua_State *L) { return log_at(L, RT_LOG_DEBUG); }
static int l_info(lua_State *L) { return log_at(L, RT_LOG_INFO); }
static int l_warn(lua_State *L) { return log_at(L, RT_LOG_WARN); }
static int l_error(lua_State *L) { return log_at(L, RT_LOG_ERROR); }

/* log.status(line | nil): a transient status line on a terminal (no-op elsewhere). [-1, +0, -] */
static int l_status(lua_State *L) {
  rt_log_status(luaL_optstring(L, 1, NULL));
  return 0;
}

/* log.redact(uri) -> uri with its userinfo and the values of secret-looking query parameters
 * replaced by <redacted> (rt_spec_redact_secrets: the one redaction, C's and Lua's). [-1, +1, m] */
static int l_redact(lua_State *L) {
  size_t len;
  const char *uri = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  /* the redaction is never longer than the URI plus a marker per parameter */
  size_t size = len + 10 * (len / 2 + 2) + 1;
  char *out = luaL_buffinitsize(L, &b, size);
  rt_spec_redact_secrets(uri, out, size);
  luaL_pushresultsize(&b, strlen(out));
  return 1;
}

int luaopen_pcaprun_log(lua_State *L) {
  static const luaL_Reg fns[] = {{"debug", l_debug}, {"info", l_info}, {"warn", l_warn},
                                 {"error", l_error}, {"status", l_status}, {"redact", l_redact},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
