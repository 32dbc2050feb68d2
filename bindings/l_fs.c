/* pcaprun.fs: the file operations scripts need to lay out results safely. They are blocking and
 * meant for small files and local disks (manifests, copies of capture files). */
#include "err.h"
#include "fsutil.h"
#include "lbind.h"
#include "lerr.h"
#include "pcapcheck.h"
#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <lauxlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fs_fail(lua_State *L, const char *op, const char *path) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s: %s", op, path, strerror(errno));
  return 2;
}

/* fs.mkdir(path) -> true | nil, message: creates path and its parents. [-1, +1|2, m] */
static int l_mkdir(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  if (rt_mkdir_p(p)) return fs_fail(L, "mkdir", p);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.write(path, data) -> true | nil, message: atomically (a new PATH.tmp.XXXXXXXX, fsync,
 * rename; rt_write_atomic). [-2, +1|2, m] */
static int l_write(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (rt_write_atomic(p, data, len, 0644)) return fs_fail(L, "write", p);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.copy(src, dst) -> true | nil, message: atomically, creating dst's directories. [-2, +1|2, m] */
static int l_copy(lua_State *L) {
  const char *src = luaL_checkstring(L, 1), *dst = luaL_checkstring(L, 2);
  if (rt_copy_atomic(src, dst)) return fs_fail(L, "copy", src);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.stat(path) -> {size=, mtime=, type="file"|"directory"|"other"} | nil. [-1, +1, m] */
static int l_stat(lua_State *L) {
  struct stat st;
  if (stat(luaL_checkstring(L, 1), &st) != 0) { lua_pushnil(L); return 1; }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_setfield(L, -2, "type");
  return 1;
}

/* fs.realpath(path) -> absolute path (symlinks resolved) | nil, message. [-1, +1|2, m] */
static int l_realpath(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  char abs[PATH_MAX];
  if (!realpath(p, abs)) return fs_fail(L, "realpath", p);
  lua_pushstring(L, abs);
  return 1;
}

/* fs.remove(path) -> true | nil, message. [-1, +1|2, m] */
static int l_remove(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  if (unlink(p) != 0) return fs_fail(L, "remove", p);
  lua_pushboolean(L, 1);
  return 1;
}

/* fs.list(dir) -> {names...} (sorted, without . and ..) | nil, message. [-1, +1|2, m] */
typedef struct dirlist { struct dirent **names; int n; } dirlist;

static int push_names(lua_State *L) {
  const dirlist *d = lua_touserdata(L, 1);
  lua_createtable(L, d->n, 0);
  for (int i = 0, k = 0; i < d->n; i++) {
    if (strcmp(d->names[i]->d_name, ".") && strcmp(d->names[i]->d_name, "..")) {
      lua_pushstring(L, d->names[i]->d_name);
      lua_rawseti(L, -2, ++k);
    }
  }
  return 1;
}

static int l_list(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  luaL_checkstack(L, 3, NULL);
  dirlist d;
  if ((d.n = scandir(p, &d.names, NULL, alphasort)) < 0) return fs_fail(L, "list", p);
  lua_pushcfunction(L, push_names); /* protected, so that the names are freed when Lua's memory runs out */
  lua_pushlightuserdata(L, &d);
  int rc = lua_pcall(L, 1, 1, 0);
  for (int i = 0; i < d.n; i++) free(d.names[i]);
  free(d.names);
  return rc == LUA_OK ? 1 : lua_error(L);
}

/* fs.check_pcap(path) -> {packets=, bytes=, linktype=, snaplen=} | nil, message: is the file a
 * complete, valid classic pcap? [-1, +1|2, m] */
static int l_check_pcap(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  rt_pcapcheck c;
  if (rt_pcapcheck_file(p, &c) || rt_pcapcheck_finish(&c)) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", p, c.error);
    return 2;
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)c.packets);
  lua_setfield(L, -2, "packets");
  lua_pushinteger(L, (lua_Integer)c.offset);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, c.linktype);
  lua_setfield(L, -2, "linktype");
  lua_pushinteger(L, c.snaplen);
  lua_setfield(L, -2, "snaplen");
  return 1;
}

int luaopen_pcaprun_fs(lua_State *L) {
  static const luaL_Reg fns[] = {{"mkdir", l_mkdir}, {"write", l_write}, {"copy", l_copy},
                                 {"stat", l_stat}, {"remove", l_remove}, {"list", l_list}, {"realpath", l_realpath},
                                 {"check_pcap", l_check_pcap}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
