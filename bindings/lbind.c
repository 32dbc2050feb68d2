/* Helpers shared by the bindings (lbind.h) that belong to no module of their own. */
#include "lbind.h"
#include <string.h>

void l_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  if (luaL_newmetatable(L, name)) {
    luaL_setfuncs(L, meta, 0);
    if (methods) {
      lua_newtable(L);
      luaL_setfuncs(L, methods, 0);
      if (lua_getfield(L, -2, "__index") == LUA_TNIL) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -4, "__index");
      }
      lua_pop(L, 1);
      lua_setfield(L, -2, "methods");
    }
  }
  lua_pop(L, 1);
}

void l_check_options(lua_State *L, int idx, const char *fname, const char *const *names) {
  if (lua_isnoneornil(L, idx)) return;
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    const char *const *n = names;
    while (*n && strcmp(*n, k)) n++;
    if (!*n) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (n = names; *n; n++) {
        if (n != names) luaL_addstring(&b, ", ");
        luaL_addstring(&b, *n);
      }
      luaL_pushresult(&b);
      luaL_error(L, "%s: unknown option '%s' (options: %s)", fname, k, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
}
