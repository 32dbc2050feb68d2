/* pcaprun.http: plain HTTP requests for scripts (webhook notifications), on the same libcurl
 * multi handle and loop as the API client. Timeouts here are real seconds (network time). */
#include "err.h"
#include "http.h"
#include "lbind.h"
#include "lerr.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define BOX_MT "pcaprun.httpbox"

typedef struct l_httpop {
  rt_wait w;
  rt_http_req req;
} l_httpop;

static void op_done(rt_http_req *r) { rt_wait_done(&((l_httpop *)r->user)->w, 0); }
static int op_cancel(rt_wait *w, int rc) {
  (void)rc;
  rt_http_cancel(&((l_httpop *)w)->req);
  return 0;
}

static int box_close(lua_State *L) {
  l_httpop **box = luaL_checkudata(L, 1, BOX_MT);
  if (*box) {
    rt_http_req_free(&(*box)->req);
    free(*box);
    *box = NULL;
  }
  return 0;
}

static int request_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  l_httpop *op = *(l_httpop **)luaL_checkudata(L, -1, BOX_MT);
  rt_http_req *r = &op->req;
  if (op->w.rc == RT_ECANCELED) return l_raise_canceled(L);
  if (op->w.rc == RT_ETIMEDOUT) return l_failrc(L, RT_ETIMEDOUT, "http.request", "timed out");
  if (r->abort_rc) return l_failrc(L, r->abort_rc, "http.request", "response body too large");
  if (r->curl_code != CURLE_OK)
    return l_failrc(L, RT_ETRANSPORT, "http.request", r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_code));
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, r->status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, r->resp ? r->resp : "", r->resp_len);
  lua_setfield(L, -2, "body");
  lua_pushstring(L, r->content_type);
  lua_setfield(L, -2, "content_type");
  return 1;
}

/* http.request{url=, method="GET", headers={name=value}, body=string, timeout=seconds}
 *   -> {status=, body=, content_type=} | nil, err
 * Any HTTP status is a response; only a failed transfer (or timeout) is an error. The default
 * timeout is --http-timeout; timeouts are real seconds > 0 (a tiny one is a millisecond; a year
 * or more, math.huge included, is none). Bodies are capped at 8 MiB. [-1, +1|2, y] */
static int l_request(lua_State *L) {
  l_current_task(L, "http.request");
  luaL_checktype(L, 1, LUA_TTABLE);
  rt_runtime *rt = rt_from_lua(L);
  lua_settop(L, 1);
  l_httpop **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, BOX_MT);
  lua_toclose(L, 2);
  l_httpop *op = *box = calloc(1, sizeof *op);
  if (!op) return luaL_error(L, "out of memory");
  rt_http_req *r = &op->req;
  rt_http_req_init(r);
  r->user = op;
  r->done = op_done;
  r->timeout = rt->opt.http_timeout;
  op->w.cancel = op_cancel;
  op->w.what = "an HTTP request";
  op->w.timeout_rc = RT_ETIMEDOUT;
  lua_getfield(L, 1, "url");
  const char *url = lua_tostring(L, -1);
  if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
    return luaL_error(L, "http.request: 'url' must be an http:// or https:// URL");
  if (rt_http_req_url(r, url)) return luaL_error(L, "out of memory");
  lua_getfield(L, 1, "method");
  const char *method = luaL_optstring(L, -1, "GET");
  if (strlen(method) >= sizeof r->method || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method))
    return luaL_error(L, "http.request: bad method '%s'", method);
  strcpy(r->method, method);
  lua_getfield(L, 1, "timeout");
  if (!lua_isnil(L, -1)) { /* > 0; huge is "none" (math.huge), never a negative or NaN "none" */
    double t = luaL_checknumber(L, -1);
    if (!(t > 0)) return luaL_error(L, "http.request: timeout must be a number of seconds > 0 (math.huge: none), got %s",
                                    lua_tostring(L, -1));
    r->timeout = t >= 31536000 ? 0 : t;
  }
  lua_getfield(L, 1, "body");
  if (!lua_isnil(L, -1)) {
    size_t len;
    const char *body = luaL_checklstring(L, -1, &len);
    if (rt_http_req_body(r, body, len)) return luaL_error(L, "out of memory");
  }
  if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      const char *k = lua_tostring(L, -2), *v = lua_tostring(L, -1);
      if (!k || !v || strpbrk(k, "\r\n:") || strpbrk(v, "\r\n"))
        return luaL_error(L, "http.request: header names and values must be strings without line breaks");
      lua_pushfstring(L, "%s: %s", k, v);
      if (rt_http_req_header(r, lua_tostring(L, -1))) return luaL_error(L, "out of memory");
      lua_pop(L, 2);
    }
  }
  lua_settop(L, 2);
  int rc = rt_http_start(rt->http, r);
  if (rc) return l_failrc(L, rc, "http.request", NULL);
  return rt_park(L, &op->w, -1, 0, request_k);
}

/* http.stats() -> {requests=, connections=, active=}: transfers started, connections opened
 * (fewer than requests when keep-alive reuses them), transfers in flight. [-0, +1, m] */
static int l_stats(lua_State *L) {
  rt_http_stats s;
  rt_http_get_stats(rt_from_lua(L)->http, &s);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)s.requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, (lua_Integer)s.connections);
  lua_setfield(L, -2, "connections");
  lua_pushinteger(L, (lua_Integer)s.active);
  lua_setfield(L, -2, "active");
  return 1;
}

int luaopen_pcaprun_http(lua_State *L) {
  static const luaL_Reg box[] = {{"__close", box_close}, {"__gc", box_close}, {NULL, NULL}};
  l_newclass(L, BOX_MT, box, NULL);
  static const luaL_Reg fns[] = {{"request", l_request}, {"stats", l_stats}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
