/* pcaprun.objstore: buckets read over the S3 API (S3, R2, GCS), for pcaprun.bucket.
 *
 *   objstore.open(uri [, opts]) -> store | nil, err
 *   store:list([prefix] [, opts]), store:head(name [, opts]), store:fetch(name, path [, opts]),
 *   store:read(name [, opts]), store:delete(name [, opts])
 *
 * Names are object keys relative to the URI's directory. Misuse (wrong argument types, unknown
 * options) raises; operational failures return nil, err, where err.s3_code is the store's error
 * code when it gave one. Under --emulate the emulator's S3 server is the default endpoint, with
 * its keys. Stack effects: [-pop, +push, x]; "y" marks functions that park the calling task. */
#include "err.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include "objstore.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE_MT "pcaprun.store"
#define BOX_MT "pcaprun.objopbox"

typedef struct l_store { rt_s3bucket *b; } l_store;

static rt_s3bucket *check_store(lua_State *L, int idx) {
  l_store *s = luaL_checkudata(L, idx, STORE_MT);
  if (!s->b) luaL_error(L, "the store is closed");
  return s->b;
}

static int store_gc(lua_State *L) {
  l_store *s = luaL_checkudata(L, 1, STORE_MT);
  rt_s3bucket_unref(s->b);
  s->b = NULL;
  return 0;
}

/* A string option of the table at idx, or NULL; raises when it is not a non-empty string. */
static const char *str_opt(lua_State *L, int idx, const char *name) {
  int t = lua_getfield(L, idx, name);
  const char *v = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1); /* still referenced by the table */
  if (t != LUA_TNIL && (!v || !*v)) luaL_error(L, "objstore.open: option '%s' must be a non-empty string", name);
  return v;
}

static void check_keys(lua_State *L, int idx, const char *fname, const char *const *allowed, const char *list) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    int ok = 0;
    for (int i = 0; allowed[i]; i++) ok |= strcmp(k, allowed[i]) == 0;
    if (!ok) luaL_error(L, "%s: unknown option '%s' (options: %s)", fname, k, list);
    lua_pop(L, 1);
  }
}

/* objstore.open(uri [, {access_key_id=, secret_access_key=, session_token=, region=, endpoint=,
 * profile=}]) -> store | nil, err (INVALID: a bad URI, no keys, an endpoint that is not https).
 * Options beat the URI, which beats the environment (see pcaprun.bucket). [-1|2, +1|2, m] */
static int l_open(lua_State *L) {
  static const char *const allowed[] = {"access_key_id", "secret_access_key", "session_token", "region",
                                        "endpoint", "profile", NULL};
  const char *uri = luaL_checkstring(L, 1);
  check_keys(L, 2, "objstore.open", allowed,
             "access_key_id, secret_access_key, session_token, region, endpoint, profile");
  rt_s3opts o = {0};
  if (!lua_isnoneornil(L, 2)) {
    o.access_key_id = str_opt(L, 2, "access_key_id");
    o.secret_access_key = str_opt(L, 2, "secret_access_key");
    o.session_token = str_opt(L, 2, "session_token");
    o.region = str_opt(L, 2, "region");
    o.endpoint = str_opt(L, 2, "endpoint");
    o.profile = str_opt(L, 2, "profile");
  }
  rt_runtime *rt = rt_from_lua(L);
  o.default_endpoint = rt->s3_endpoint;
  o.default_key_id = rt->s3_key_id;
  o.default_secret = rt->s3_secret;
  l_store *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->b = NULL;
  luaL_setmetatable(L, STORE_MT);
  char err[512];
  int rc = rt_s3bucket_open(uri, &o, &s->b, err, sizeof err);
  if (rc == RT_ENOMEM) return luaL_error(L, "out of memory");
  if (rc) return l_failrc(L, RT_EINVAL, "bucket.open", err);
  return 1;
}

static int store_index(lua_State *L) {
  static const char *const providers[] = {"", "s3", "gs", "r2"};
  rt_s3bucket *b = check_store(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "uri")) lua_pushstring(L, b->shown);
  else if (!strcmp(k, "bucket")) lua_pushstring(L, b->name);
  else if (!strcmp(k, "prefix")) lua_pushstring(L, b->prefix);
  else if (!strcmp(k, "endpoint")) lua_pushstring(L, b->endpoint);
  else if (!strcmp(k, "region")) lua_pushstring(L, b->region);
  else if (!strcmp(k, "provider")) lua_pushstring(L, providers[b->provider]);
  else if (luaL_getmetafield(L, 1, "methods")) lua_getfield(L, -1, k);
  else lua_pushnil(L);
  return 1;
}

static int store_tostring(lua_State *L) {
  rt_s3bucket *b = check_store(L, 1);
  lua_pushfstring(L, "bucket %s (%s)", b->shown, b->endpoint);
  return 1;
}

/* ---- operations ---- */

static int box_close(lua_State *L) {
  rt_objop **box = luaL_checkudata(L, 1, BOX_MT);
  rt_objop_free(*box);
  *box = NULL;
  return 0;
}

/* An operation owned by a to-be-closed box on top of the stack: whatever happens to the task (a
 * result, an error, a cancel), closing the box stops and frees the operation. */
static rt_objop *new_op(lua_State *L, rt_s3bucket *b, int kind, const char *name) {
  rt_objop **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, BOX_MT);
  lua_toclose(L, -1);
  size_t plen = strlen(b->prefix), nlen = strlen(name);
  char *key = malloc(plen + nlen + 1);
  if (!key) luaL_error(L, "out of memory");
  memcpy(key, b->prefix, plen);
  memcpy(key + plen, name, nlen + 1);
  *box = rt_objop_new(rt_from_lua(L), b, kind, key);
  free(key);
  if (!*box) luaL_error(L, "out of memory");
  return *box;
}

static int op_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  rt_objop *op = *(rt_objop **)luaL_checkudata(L, -1, BOX_MT);
  int rc = op->w.done ? op->w.rc : op->rc;
  if (rc == RT_ECANCELED) return l_raise_canceled(L);
  if (rc) {
    rt_errinfo e = RT_ERRINFO(rc, rc == RT_ETIMEDOUT ? "timed out" : op->message[0] ? op->message : NULL);
    e.op = rt_objop_name(op);
    e.http_status = rc == RT_EAPI || rc == RT_ENOTFOUND ? op->http_status : 0;
    e.retryable = rt_err_retryable(rc, op->http_status);
    l_fail(L, &e);
    if (op->s3_code[0]) {
      lua_pushstring(L, op->s3_code);
      lua_setfield(L, -2, "s3_code");
    }
    return 2;
  }
  l_pushjson(L, op->result);
  return 1;
}

static int run_op(lua_State *L, rt_objop *op, int64_t timeout) {
  int rc = rt_objop_start(op);
  if (rc != RT_EAGAIN) {
    op->rc = rc;
    return op_k(L, LUA_OK, 0);
  }
  return rt_park(L, &op->w, timeout, 0, op_k);
}

/* Options of an operation: timeout (API seconds) for all, and the kind's own. */
typedef struct op_opts { int64_t timeout; const char *etag; int64_t size; int64_t max_bytes; } op_opts;

static op_opts check_op_opts(lua_State *L, int idx, const char *fname, int kind) {
  op_opts o = {-1, NULL, -1, -1};
  if (lua_isnoneornil(L, idx)) return o;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (!strcmp(k, "timeout")) o.timeout = l_opt_timeout(L, -1, "timeout");
    else if (kind == RT_OBJ_GET && !strcmp(k, "etag") && lua_type(L, -1) == LUA_TSTRING) o.etag = lua_tostring(L, -1);
    else if (kind == RT_OBJ_GET && !strcmp(k, "size") && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0)
      o.size = lua_tointeger(L, -1);
    else if (kind == RT_OBJ_READ && !strcmp(k, "max_bytes") && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 &&
             lua_tointeger(L, -1) <= (64 << 20))
      o.max_bytes = lua_tointeger(L, -1);
    else
      luaL_error(L, "%s: bad or unknown option '%s' (options: timeout%s)", fname, k,
                 kind == RT_OBJ_GET ? ", etag (a string), size (an integer)"
                 : kind == RT_OBJ_READ ? ", max_bytes (1 .. 64 MiB)" : "");
    lua_pop(L, 1);
  }
  return o;
}

static const char *check_name(lua_State *L, int idx, const char *fname) {
  size_t n;
  const char *name = luaL_checklstring(L, idx, &n);
  if (n == 0 || n > 1024 || strlen(name) != n) luaL_error(L, "%s: an object name must be 1 to 1024 bytes without NUL", fname);
  return name;
}

/* store:list([prefix] [, opts]) -> {{key=, name=, size=, etag=, modified=}...} (every page, in key
 * order) | nil, err. [-1..3, +1|2, y] */
static int s_list(lua_State *L) {
  l_current_task(L, "store:list");
  rt_s3bucket *b = check_store(L, 1);
  int opts = lua_istable(L, 2) ? 2 : 3;
  const char *prefix = opts == 3 ? luaL_optstring(L, 2, "") : "";
  op_opts o = check_op_opts(L, opts, "store:list", RT_OBJ_LIST);
  lua_settop(L, 3);
  return run_op(L, new_op(L, b, RT_OBJ_LIST, prefix), o.timeout);
}

/* The start shared by the operations on one named object: the task, the store at 1, the name at
 * 2, the options at opts_idx; the operation is left in its box on top. */
static rt_objop *named_op(lua_State *L, int kind, const char *fname, int opts_idx, op_opts *o) {
  l_current_task(L, fname);
  rt_s3bucket *b = check_store(L, 1);
  const char *name = check_name(L, 2, fname);
  *o = check_op_opts(L, opts_idx, fname, kind);
  lua_settop(L, opts_idx);
  return new_op(L, b, kind, name);
}

/* store:head(name [, opts]) -> {key=, name=, size=, etag=, modified=} | nil, err (NOT_FOUND).
 * [-2|3, +1|2, y] */
static int s_head(lua_State *L) {
  op_opts o;
  rt_objop *op = named_op(L, RT_OBJ_HEAD, "store:head", 3, &o);
  return run_op(L, op, o.timeout);
}

/* store:fetch(name, path [, {etag=, size=, timeout=}]) -> {path=, bytes=, packets=, linktype=,
 * key=, etag=, reused=} | nil, err
 * Streams the object (a pcap) into PATH.part, resuming what is there, checks it, fsyncs and renames
 * it to PATH. etag and size (from a list) are what the object must be. An object the journal
 * shows fetched into PATH, still there, is not fetched again (reused = true). [-3|4, +1|2, y] */
static int s_fetch(lua_State *L) {
  const char *path = luaL_checkstring(L, 3);
  struct stat st;
  size_t n = strlen(path);
  if (!n || path[n - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
    luaL_error(L, "store:fetch: path '%s' must name a file, not a directory", path);
  op_opts o;
  rt_objop *op = named_op(L, RT_OBJ_GET, "store:fetch", 4, &o);
  if (!(op->path = strdup(path))) luaL_error(L, "out of memory");
  if (o.etag) snprintf(op->etag, sizeof op->etag, "%s", o.etag);
  op->size = o.size;
  return run_op(L, op, o.timeout);
}

/* store:read(name [, {max_bytes = 1 MiB, timeout=}]) -> the object's bytes | nil, err (TOO_BIG
 * past max_bytes). [-2|3, +1|2, y] */
static int s_read(lua_State *L) {
  op_opts o;
  rt_objop *op = named_op(L, RT_OBJ_READ, "store:read", 3, &o);
  if (o.max_bytes > 0) op->max_bytes = (size_t)o.max_bytes;
  return run_op(L, op, o.timeout);
}

/* store:delete(name [, opts]) -> true | nil, err: an object already gone counts as deleted.
 * [-2|3, +1|2, y] */
static int s_delete(lua_State *L) {
  op_opts o;
  rt_objop *op = named_op(L, RT_OBJ_DELETE, "store:delete", 3, &o);
  return run_op(L, op, o.timeout);
}

int luaopen_pcaprun_objstore(lua_State *L) {
  static const luaL_Reg methods[] = {{"list", s_list}, {"head", s_head}, {"fetch", s_fetch},
                                     {"read", s_read}, {"delete", s_delete}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"open", l_open}, {NULL, NULL}};
  luaL_newmetatable(L, BOX_MT);
  lua_pushcfunction(L, box_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, box_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, STORE_MT);
  lua_pushcfunction(L, store_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, store_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, store_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  return 1;
}
