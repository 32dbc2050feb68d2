/* pcaprun.pcap: every PCAPs operation for scripts, and capture objects.
 *
 * Each function takes an optional client first: pcap.create(spec) uses the default client (from
 * the CLOUDFLARE_* variables, or the --emulate emulator); client:create(spec) uses that client.
 * Misuse (wrong argument types, no credentials) raises; operational failures return nil, err.
 * Stack effects: [-pop, +push, x]; "y" marks functions that park the calling task. */
#include "err.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include "log.h"
#include "pcaps.h"
#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CLIENT_MT "pcaprun.client"
#define CAPTURE_MT "pcaprun.capture"
#define BOX_MT "pcaprun.callbox"
#define DEFAULT_BASE_URL "https://api.cloudflare.com/client/v4"

typedef struct l_client { rt_account *acct; rt_creds *creds; } l_client;
/* A capture object: the account's record, and the credentials of the client that returned it
 * (its methods use them; another client may have returned the same capture with others). */
typedef struct l_capture { rt_capture *cap; rt_creds *creds; } l_capture;

/* ---- clients ---- */

static l_client *push_client(lua_State *L, rt_account *a, rt_creds *creds) {
  l_client *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->acct = a;
  c->creds = rt_creds_ref(creds);
  luaL_setmetatable(L, CLIENT_MT);
  return c;
}

static int client_gc(lua_State *L) {
  l_client *c = luaL_checkudata(L, 1, CLIENT_MT);
  rt_creds_unref(c->creds);
  c->creds = NULL;
  return 0;
}

/* Pushes a client of the account (base_url, account) with new credentials: header lines, and
 * the identity (a token, or an email) whose request budget they spend. Returns it, or NULL with
 * the reason in err (a bad base URL, ENOMEM) having pushed an empty one (collected safely), so
 * that the caller wipes its copies of the secrets before it raises. */
static l_client *push_new_client(lua_State *L, const char *base, const char *account, const char *line1,
                                 const char *line2, int kind, const char *identity, char *err, size_t errlen) {
  rt_runtime *rt = rt_from_lua(L);
  l_client *c = push_client(L, NULL, NULL);
  rt_principal *p = rt_principal_get(rt, base, kind, identity);
  snprintf(err, errlen, "out of memory");
  if (!p || !(c->creds = rt_creds_new(line1, line2, p))) return NULL;
  return (c->acct = rt_account_get(rt, base, account, c->creds, err, errlen)) ? c : NULL;
}

static const char *env_or(lua_State *L, int opts, const char *field, const char *var) {
  if (opts && lua_getfield(L, opts, field) != LUA_TNIL) {
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (!v || !*v) luaL_error(L, "client option '%s' must be a non-empty string", field);
    lua_pop(L, 1); /* still referenced by the options table */
    return v;
  }
  if (opts) lua_pop(L, 1);
  const char *v = var ? getenv(var) : NULL;
  return v && *v ? v : NULL;
}

static int header_safe(const char *s) { return s && !strpbrk(s, "\r\n"); }

/* Pushes a client for explicit options (table at index opts) or the environment (opts 0). */
static l_client *open_client(lua_State *L, int opts) {
  if (opts) { /* a misspelt option would silently fall back to the environment's account */
    lua_pushnil(L);
    while (lua_next(L, opts)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
      if (strcmp(k, "token") && strcmp(k, "email") && strcmp(k, "key") && strcmp(k, "account_id") && strcmp(k, "base_url"))
        luaL_error(L, "unknown client option '%s' (options: token, email, key, account_id, base_url)", k);
      lua_pop(L, 1);
    }
  }
  const char *email = env_or(L, opts, "email", "CLOUDFLARE_EMAIL");
  const char *key = env_or(L, opts, "key", "CLOUDFLARE_API_KEY");
  /* explicit email and key win over the environment's token */
  int explicit_key = opts && (lua_getfield(L, opts, "email") != LUA_TNIL || lua_getfield(L, opts, "key") != LUA_TNIL);
  if (opts) lua_settop(L, opts);
  const char *token = env_or(L, opts, "token", explicit_key ? NULL : "CLOUDFLARE_API_TOKEN");
  const char *account = env_or(L, opts, "account_id", "CLOUDFLARE_ACCOUNT_ID");
  const char *base = env_or(L, opts, "base_url", "CLOUDFLARE_BASE_URL");
  if (!base) base = DEFAULT_BASE_URL;
  if (!account)
    luaL_error(L, "no account id: set CLOUDFLARE_ACCOUNT_ID (or pass account_id), or run with --emulate");
  if (!rt_id_valid(account))
    luaL_error(L, "account_id must be 32 hex digits (got %d characters)", (int)strlen(account));
  char lower[33]; /* one account whatever its spelling: its limits are shared */
  size_t i = 0;
  for (; account[i]; i++) lower[i] = (char)tolower((unsigned char)account[i]);
  lower[i] = 0;
  account = lower;
  char h1[1024], h2[1024];
  const char *a1 = NULL, *a2 = NULL;
  if (token) {
    if (!header_safe(token) || strlen(token) > 900) luaL_error(L, "the API token contains invalid characters");
    snprintf(h1, sizeof h1, "Authorization: Bearer %s", token);
    a1 = h1;
  } else if (email && key) {
    if (!header_safe(email) || !header_safe(key) || strlen(email) > 900 || strlen(key) > 900)
      luaL_error(L, "CLOUDFLARE_EMAIL or CLOUDFLARE_API_KEY contains invalid characters");
    snprintf(h1, sizeof h1, "X-Auth-Email: %s", email);
    snprintf(h2, sizeof h2, "X-Auth-Key: %s", key);
    a1 = h1;
    a2 = h2;
  } else {
    luaL_error(L, "no credentials: set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY), "
                  "or run with --emulate");
  }
  char err[256];
  l_client *c = push_new_client(L, base, account, a1, a2, token ? RT_ID_TOKEN : RT_ID_EMAIL, token ? token : email,
                                err, sizeof err);
  memset(h1, 0, sizeof h1); /* copied into the credentials, which wipe them when freed */
  memset(h2, 0, sizeof h2);
  if (!c) luaL_error(L, "%s", err);
  return c;
}

/* The default client: the --emulate emulator, or the environment. Cached in the registry (which
 * keeps it alive, so the pointer stays valid). */
static l_client *default_client(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.default_client") == LUA_TUSERDATA) {
    l_client *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
  }
  lua_pop(L, 1);
  l_client *c;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.emulator_url") == LUA_TSTRING) {
    char err[256];
    c = push_new_client(L, lua_tostring(L, -1), "0123456789abcdef0123456789abcdef", "Authorization: Bearer emulator",
                        NULL, RT_ID_TOKEN, "emulator", err, sizeof err);
    if (!c) luaL_error(L, "%s", err);
  } else {
    c = open_client(L, 0);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "pcaprun.default_client");
  lua_pop(L, 1);
  return c;
}

/* The client of an operation: a client object at index 1, or the default. The object leaves
 * the stack (so every function sees its own arguments from 1) but stays pinned in the registry
 * until the next operation: by then the call holds its own ref of the credentials. */
static l_client client_arg(lua_State *L) {
  l_client *c = luaL_testudata(L, 1, CLIENT_MT);
  if (c) {
    l_client copy = *c;
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "pcaprun.pinned_client");
    lua_remove(L, 1);
    return copy;
  }
  return *default_client(L);
}

rt_account *l_client_account(lua_State *L, int idx) {
  luaL_requiref(L, "pcaprun.pcap", luaopen_pcaprun_pcap, 0); /* its metatables, if not required yet */
  lua_pop(L, 1);
  l_client *c = luaL_testudata(L, idx, CLIENT_MT);
  return c ? c->acct : default_client(L)->acct;
}

/* pcap.client{token=, email=, key=, account_id=, base_url=} -> client. Missing fields come from
 * the CLOUDFLARE_* variables. Clients of the same account share its limits. [-1, +1, v] */
static int l_client_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  open_client(L, 1);
  return 1;
}

/* pcap.default() -> the default client. [-0, +1, v] */
static int l_default(lua_State *L) {
  default_client(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.default_client");
  return 1;
}

static int client_index(lua_State *L) {
  l_client *c = luaL_checkudata(L, 1, CLIENT_MT);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "account_id")) lua_pushstring(L, c->acct->account_id);
  else if (!strcmp(k, "base_url")) lua_pushstring(L, c->acct->base_url);
  else {
    lua_getfield(L, LUA_REGISTRYINDEX, "pcaprun.pcap");
    lua_getfield(L, -1, k);
  }
  return 1;
}

static int client_tostring(lua_State *L) {
  l_client *c = luaL_checkudata(L, 1, CLIENT_MT);
  lua_pushfstring(L, "pcap client (account %s at %s)", c->acct->account_id, c->acct->host);
  return 1;
}

/* ---- captures ---- */

static void push_capture(lua_State *L, rt_capture *cap, rt_creds *creds) {
  l_capture *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->cap = cap;
  c->creds = rt_creds_ref(creds);
  luaL_setmetatable(L, CAPTURE_MT);
}

static rt_capture *check_capture(lua_State *L, int idx) {
  return ((l_capture *)luaL_checkudata(L, idx, CAPTURE_MT))->cap;
}

static int capture_gc(lua_State *L) {
  l_capture *c = luaL_checkudata(L, 1, CAPTURE_MT);
  rt_creds_unref(c->creds);
  c->creds = NULL;
  return 0;
}

static int capture_index(lua_State *L) {
  rt_capture *cap = check_capture(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (luaL_getmetafield(L, 1, "methods") && lua_getfield(L, -1, k) != LUA_TNIL) return 1;
  if (!strcmp(k, "id")) lua_pushstring(L, cap->id);
  else if (!strcmp(k, "packets")) {
    json_t *pc = json_object_get(cap->obj, "packets_captured");
    if (json_is_integer(pc)) lua_pushinteger(L, (lua_Integer)json_integer_value(pc));
    else if (cap->packets >= 0) lua_pushinteger(L, cap->packets);
    else lua_pushnil(L);
  } else if (!strcmp(k, "colo_name")) {
    if (cap->colo[0]) lua_pushstring(L, cap->colo); else lua_pushnil(L);
  } else {
    json_t *v = json_object_get(cap->obj, k);
    if (v) l_pushjson(L, v); else lua_pushnil(L);
  }
  return 1;
}

static int capture_tostring(lua_State *L) {
  rt_capture *cap = check_capture(L, 1);
  lua_pushfstring(L, "capture %s (%s, %s%s%s)", cap->id, cap->type == RT_CAP_FULL ? "full" : "simple",
                  rt_status_name(cap->status), cap->colo[0] ? ", " : "", cap->colo);
  return 1;
}

static int capture_eq(lua_State *L) {
  lua_pushboolean(L, check_capture(L, 1) == check_capture(L, 2));
  return 1;
}

/* ---- calls ---- */

static int box_close(lua_State *L) {
  rt_call **box = luaL_checkudata(L, 1, BOX_MT);
  if (*box) rt_call_release(*box);
  *box = NULL;
  return 0;
}

/* Creates a call owned by a to-be-closed box on top of the stack: whatever happens to the task
 * (a result, an error, a cancel), closing the box frees or detaches the call. */
static rt_call *new_call(lua_State *L, l_client cl, int kind) {
  rt_call **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, BOX_MT);
  lua_toclose(L, -1);
  *box = rt_call_new(cl.acct, cl.creds, kind);
  if (!*box) luaL_error(L, "out of memory");
  return *box;
}

static rt_call *box_call(lua_State *L) { return *(rt_call **)luaL_checkudata(L, -1, BOX_MT); }

/* nil, err from a finished call. */
static int push_call_error(lua_State *L, rt_call *c, int rc) {
  if (rc == RT_ECANCELED) return l_raise_canceled(L);
  rt_errinfo e = RT_ERRINFO(rc, c->message[0] ? c->message : NULL);
  e.op = c->op->name;
  e.http_status = rc == RT_ESTATE || rc == RT_EIO ? 0 : c->http_status; /* ours, not the API's answer */
  e.cf_errors = c->cf_errors;
  char field[64];
  e.field = rt_error_field(c->cf_errors, field, sizeof field);
  e.retry_after = c->retry_after;
  e.retryable = rt_err_retryable(rc, c->http_status);
  if (rc == RT_ETIMEDOUT) e.message = "timed out";
  return l_fail(L, &e);
}

typedef int (*push_fn)(lua_State *L, rt_call *c);

/* A create whose task gave up (canceled: raised; timeout: returned) after it was sent: the error
 * says what it made, as far as is known — err.capture (a full one is being stopped), nothing, or
 * err.outcome = "unknown" (the runtime keeps following it) — and err.intent. */
static int push_interrupted(lua_State *L, rt_call *c, int rc) {
  const char *why = rc == RT_ECANCELED ? "the task was canceled" : "the call timed out";
  char msg[384];
  int known = rt_call_done(c);
  if (known && c->cap)
    snprintf(msg, sizeof msg, "%s after its create was sent; the create made capture %s%s", why, c->cap->id,
             c->cap->type == RT_CAP_FULL ? ", which pcaprun stops (nobody waits for it)" : "");
  else if (known)
    snprintf(msg, sizeof msg, "%s after its create was sent; the create made no capture", why);
  else
    snprintf(msg, sizeof msg, "%s while its create was in flight, and its outcome is still unknown: pcaprun "
             "keeps following intent %s (a full capture it made is stopped; a run with the same journal "
             "and intent finds it)", why, c->create.intent);
  rt_errinfo e = RT_ERRINFO(rc, msg);
  e.op = c->op->name;
  e.retryable = rt_err_retryable(rc, 0);
  l_pusherror(L, &e);
  lua_pushstring(L, c->create.intent);
  lua_setfield(L, -2, "intent");
  if (known && c->cap) {
    push_capture(L, c->cap, c->creds);
    lua_setfield(L, -2, "capture");
  }
  lua_pushstring(L, !known ? "unknown" : c->cap ? "created" : "none");
  lua_setfield(L, -2, "outcome");
  if (rc == RT_ECANCELED) return lua_error(L);
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

/* The continuation shared by every operation: the box is on top, ctx is the result pusher. */
static int call_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  rt_call *c = box_call(L);
  int rc = c->w.done ? c->w.rc : c->rc;
  if (c->create.interrupted) return push_interrupted(L, c, c->create.interrupted);
  if (rc) return push_call_error(L, c, rc);
  return ((push_fn)ctx)(L, c);
}

static int run_call(lua_State *L, rt_call *c, int64_t timeout, push_fn push) {
  int rc = rt_call_start(c);
  if (rc != RT_EAGAIN) {
    c->rc = rc;
    return call_k(L, LUA_OK, (lua_KContext)push);
  }
  return rt_park(L, &c->w, timeout, (lua_KContext)push, call_k);
}

static int push_cap(lua_State *L, rt_call *c) {
  push_capture(L, c->cap, c->creds);
  return 1;
}

static int push_true(lua_State *L, rt_call *c) {
  (void)c;
  lua_pushboolean(L, 1);
  return 1;
}

static int push_result(lua_State *L, rt_call *c) {
  l_pushjson(L, c->result);
  return 1;
}

static int newest_first(const void *a, const void *b) {
  const rt_capture *x = *(rt_capture *const *)a, *y = *(rt_capture *const *)b;
  return (x->submitted < y->submitted) - (x->submitted > y->submitted);
}

static int push_capture_list(lua_State *L, rt_call *c) {
  size_t i, n = 0;
  json_t *item;
  rt_capture **caps = lua_newuserdatauv(L, (json_array_size(c->result) + 1) * sizeof *caps, 0);
  json_array_foreach(c->result, i, item) {
    const char *id = json_string_value(json_object_get(item, "id"));
    rt_capture *cap = id ? rt_capture_find(c->acct, id) : NULL;
    size_t k = 0;
    while (k < n && caps[k] != cap) k++;
    if (cap && k == n) caps[n++] = cap; /* malformed entries are skipped, an id listed twice is one */
  }
  qsort(caps, n, sizeof *caps, newest_first); /* runtime/API.md#12-unknowns U15: the order is not documented */
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    push_capture(L, caps[i], c->creds);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* Reads the options table at idx: timeout (API seconds) and, for creates, priority, preempt and
 * intent. Unknown options raise (they are typos). */
typedef struct call_opts { int64_t timeout; int priority, preempt; const char *intent; } call_opts;

static call_opts check_opts(lua_State *L, int idx, int create) {
  call_opts o = {-1, 0, 0, NULL};
  if (lua_isnoneornil(L, idx)) return o;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (!strcmp(k, "timeout")) o.timeout = l_opt_timeout(L, -1, "timeout");
    else if (create && !strcmp(k, "priority")) {
      int isint;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      if (!isint || v < -1000000 || v > 1000000) luaL_error(L, "option 'priority' must be an integer (-1000000..1000000)");
      o.priority = (int)v;
    } else if (create && !strcmp(k, "preempt")) o.preempt = lua_toboolean(L, -1);
    else if (create && !strcmp(k, "intent")) {
      o.intent = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
      if (!o.intent[0] || strlen(o.intent) >= 40 || strspn(o.intent, "0123456789abcdefghijklmnopqrstuvwxyz-_.") != strlen(o.intent))
        luaL_error(L, "option 'intent' must be a string of 1 to 39 characters of a-z, 0-9, '-', '_' or '.'");
    } else luaL_error(L, "unknown option '%s'%s", k, create ? " (options: timeout, priority, preempt, intent)" : " (options: timeout)");
    lua_pop(L, 1);
  }
  return o;
}

static void random_intent(rt_runtime *rt, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) out[i] = hex[(int)(rt_random(rt) * 16)];
  out[32] = 0;
}

/* Validates a spec table with the client's rules. Returns the request body, or NULL after
 * pushing nil, err (INVALID, naming the field and the rule). */
static json_t *check_spec(lua_State *L, int idx, int *type) {
  luaL_checktype(L, idx, LUA_TTABLE);
  char why[256];
  json_t *body = l_tojson(L, idx, why, sizeof why);
  if (!body) {
    rt_errinfo e = RT_ERRINFO(RT_EINVAL, why);
    e.op = "pcap.create";
    l_fail(L, &e);
    return NULL;
  }
  if (!json_object_get(body, "system")) json_object_set_new(body, "system", json_string("magic-transit"));
  rt_spec_rules rules;
  rt_spec_rules_client(&rules);
  rt_spec spec;
  rt_specerr err;
  int rc = rt_spec_parse(body, &rules, time(NULL), &spec, &err);
  json_decref(body);
  if (rc) {
    rt_errinfo e = RT_ERRINFO(RT_EINVAL, err.message);
    e.op = "pcap.create";
    e.field = err.field[0] ? err.field : NULL;
    l_fail(L, &e);
    return NULL;
  }
  json_t *out = rt_spec_to_json(&spec);
  *type = spec.type;
  rt_spec_free(&spec);
  if (!out) luaL_error(L, "out of memory");
  return out;
}

/* pcap.validate(spec) -> true | nil, err: the checks create makes, without a request. [-1, +1|2, m] */
static int l_validate(lua_State *L) {
  if (luaL_testudata(L, 1, CLIENT_MT)) lua_remove(L, 1); /* client:validate(spec): no credentials needed */
  int type;
  json_t *body = check_spec(L, 1, &type);
  if (!body) return 2;
  json_decref(body);
  lua_pushboolean(L, 1);
  return 1;
}

/* pcap.create(spec [, opts]) -> capture | nil, err
 * Validates spec (a bad field fails at once, sending nothing), then waits for the account's
 * limits: a full capture waits for the full-capture slot (by opts.priority, then FIFO; with
 * opts.preempt it stops a lower-priority full capture holding it), a simple capture for the
 * sample rate. opts.intent names the logical capture (a retry or a restarted run reuses it).
 * [-1|2, +1|2, y] */
static int l_create(lua_State *L) {
  l_current_task(L, "pcap.create");
  l_client cl = client_arg(L);
  call_opts o = check_opts(L, 2, 1);
  lua_settop(L, 2);
  rt_call *c = new_call(L, cl, RT_CALL_CREATE); /* first: it owns the body */
  if (!(c->body = check_spec(L, 1, &c->create.type))) return 2;
  c->create.priority = o.priority;
  c->create.preempt = o.preempt;
  if (o.intent) snprintf(c->create.intent, sizeof c->create.intent, "%s", o.intent);
  else random_intent(cl.acct->rt, c->create.intent);
  return run_call(L, c, o.timeout, push_cap);
}

/* A capture id argument: a capture object or a 32-hex string (lowercased, as the API spells ids). */
static const char *check_id(lua_State *L, int idx) {
  l_capture *c = luaL_testudata(L, idx, CAPTURE_MT);
  if (c) return c->cap->id;
  const char *id = luaL_checkstring(L, idx);
  if (!rt_id_valid(id)) luaL_error(L, "bad capture id '%s' (expected 32 hex digits)", id);
  char lower[33];
  for (int i = 0; i < 33; i++) lower[i] = (char)tolower((unsigned char)id[i]);
  lua_pushstring(L, lower);
  lua_replace(L, idx);
  return lua_tostring(L, idx);
}

static int simple_call(lua_State *L, l_client cl, int kind, const char *id, int opts_idx, push_fn push) {
  call_opts o = check_opts(L, opts_idx, 0);
  rt_call *c = new_call(L, cl, kind);
  if (id) snprintf(c->id, sizeof c->id, "%s", id);
  return run_call(L, c, o.timeout, push);
}

/* pcap.get(id | capture [, opts]) -> capture | nil, err. [-1|2, +1|2, y] */
static int l_get(lua_State *L) {
  l_current_task(L, "pcap.get");
  l_client cl = client_arg(L);
  return simple_call(L, cl, RT_CALL_GET, check_id(L, 1), 2, push_cap);
}

/* pcap.list([opts]) -> {capture...} (newest first by submitted) | nil, err. [-0|1, +1|2, y] */
static int l_list(lua_State *L) {
  l_current_task(L, "pcap.list");
  l_client cl = client_arg(L);
  return simple_call(L, cl, RT_CALL_LIST, NULL, 1, push_capture_list);
}

/* pcap.stop(id | capture [, opts]) -> true | nil, err: ends a full capture early (it then
 * converts and succeeds). Stopping a capture that has already finished is not an error; a
 * simple capture cannot be stopped (BAD_STATE, nothing sent). [-1|2, +1|2, y] */
static int l_stop(lua_State *L) {
  l_current_task(L, "pcap.stop");
  l_client cl = client_arg(L);
  const char *id = check_id(L, 1);
  rt_capture *cap = rt_capture_find(cl.acct, id);
  if (cap && cap->type == RT_CAP_SIMPLE)
    return l_failrc(L, RT_ESTATE, "pcap.stop", "only full captures can be stopped");
  return simple_call(L, cl, RT_CALL_STOP, id, 2, push_true);
}

/* pcap.download(id | capture, path [, opts]) -> {path=, bytes=, packets=, linktype=} | nil, err
 * Streams to PATH.part (resuming one left by an earlier attempt), checks it is a classic pcap,
 * fsyncs and renames it to PATH. Only simple captures that succeeded can be downloaded: unless
 * this run saw it succeed, the capture is read first, and a full or unfinished one is refused
 * (BAD_STATE) without asking for the file. [-2|3, +1|2, y] */
static int l_download(lua_State *L) {
  l_current_task(L, "pcap.download");
  l_client cl = client_arg(L);
  const char *id = check_id(L, 1);
  const char *path = luaL_checkstring(L, 2);
  struct stat st;
  size_t n = strlen(path);
  if (!n || path[n - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
    luaL_error(L, "pcap.download: path '%s' must name a file, not a directory", path);
  call_opts o = check_opts(L, 3, 0);
  rt_capture *cap = rt_capture_find(cl.acct, id);
  if (cap && cap->type == RT_CAP_FULL)
    return l_failrc(L, RT_ESTATE, "pcap.download", "full captures are delivered to their bucket, not downloaded");
  lua_settop(L, 3);
  rt_call *c = new_call(L, cl, RT_CALL_DOWNLOAD);
  snprintf(c->id, sizeof c->id, "%s", id);
  c->cap = cap;
  if (!(c->path = strdup(path))) luaL_error(L, "out of memory");
  return run_call(L, c, o.timeout, push_result);
}

/* ---- capture methods ---- */

static int capwait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  rt_capwait *cw = lua_touserdata(L, -1);
  rt_capture *cap = check_capture(L, 1);
  int rc = cw->w.done ? cw->w.rc : (int)ctx;
  if (rc == RT_ECANCELED) return l_raise_canceled(L);
  if (rc == RT_ETIMEDOUT) return l_failrc(L, RT_ETIMEDOUT, "capture.wait", "the capture did not finish in time");
  if (rc) return l_failrc(L, rc, "capture.wait", cap->poll_error[0] ? cap->poll_error : NULL);
  if (cap->status == RT_ST_FAILED) {
    const char *why = json_string_value(json_object_get(cap->obj, "error_message"));
    char msg[384];
    snprintf(msg, sizeof msg, "capture %s failed%s%s", cap->id, why ? ": " : "", why ? why : "");
    return l_failrc(L, RT_EFAILED, "capture.wait", msg);
  }
  lua_settop(L, 1);
  return 1;
}

static int capwait_cancel(rt_wait *w, int rc) {
  (void)rc;
  rt_list_unlink(&((rt_capwait *)w)->link);
  return 0;
}

/* cap:wait([opts]) -> cap | nil, err: waits until the capture is terminal (success, complete or
 * failed), polling adaptively: first near submitted + time_limit, then a short growing backoff.
 * A failed capture returns nil, err (CAPTURE_FAILED, with its error_message). [-1|2, +1|2, y] */
static int cap_wait(lua_State *L) {
  l_current_task(L, "cap:wait");
  rt_capture *cap = check_capture(L, 1);
  call_opts o = check_opts(L, 2, 0);
  lua_settop(L, 2);
  rt_capwait *cw = lua_newuserdatauv(L, sizeof *cw, 0);
  memset(cw, 0, sizeof *cw);
  rt_list_init(&cw->link);
  cw->w.cancel = capwait_cancel;
  cw->w.what = "a capture to finish";
  cw->w.timeout_rc = RT_ETIMEDOUT;
  int rc = rt_capture_wait(cap, cw);
  if (rc != RT_EAGAIN) return capwait_k(L, LUA_OK, rc);
  return rt_park(L, &cw->w, o.timeout, 0, capwait_k);
}

/* cap:refresh([opts]), cap:stop([opts]) and cap:download(path [, opts]) are pcap.get, pcap.stop
 * and pcap.download on the capture's own client. */
static int with_client(lua_State *L, lua_CFunction fn) {
  l_capture *c = luaL_checkudata(L, 1, CAPTURE_MT);
  push_client(L, c->cap->acct, c->creds);
  lua_insert(L, 1);
  return fn(L);
}

/* cap:refresh([opts]) -> cap | nil, err: reads the capture's current state. [-1|2, +1|2, y] */
static int cap_refresh(lua_State *L) { return with_client(L, l_get); }
/* cap:stop([opts]) -> true | nil, err. [-1|2, +1|2, y] */
static int cap_stop(lua_State *L) { return with_client(L, l_stop); }
/* cap:download(path [, opts]) -> info | nil, err. [-2|3, +1|2, y] */
static int cap_download(lua_State *L) { return with_client(L, l_download); }

/* ---- buckets (ownership) ---- */

/* Checks the arguments (raising on misuse) before it allocates the body. */
static json_t *bucket_body(lua_State *L, int with_challenge) {
  const char *uri = luaL_checkstring(L, 1);
  const char *challenge = with_challenge ? luaL_checkstring(L, 2) : NULL;
  rt_specerr err;
  if (rt_spec_check_destination(uri, "destination_conf", &err)) luaL_error(L, "%s", err.message);
  json_t *b = json_pack("{s:s}", "destination_conf", uri);
  if (b && challenge) json_object_set_new(b, "ownership_challenge", json_string(challenge));
  if (!b) luaL_error(L, "out of memory");
  return b;
}

/* pcap.buckets.list([opts]) -> {ownership...} | nil, err. [-0|1, +1|2, y] */
static int l_bucket_list(lua_State *L) {
  l_current_task(L, "pcap.buckets.list");
  l_client cl = client_arg(L);
  return simple_call(L, cl, RT_CALL_OWN_LIST, NULL, 1, push_result);
}

/* Ownership add and validate: a body from the arguments, then the call. */
static int bucket_call(lua_State *L, int kind, int with_challenge) {
  l_current_task(L, rt_op_of(kind)->name);
  l_client cl = client_arg(L);
  call_opts o = check_opts(L, 2 + with_challenge, 0);
  json_t *body = bucket_body(L, with_challenge);
  lua_settop(L, 2 + with_challenge);
  rt_call *c = new_call(L, cl, kind);
  c->body = body;
  return run_call(L, c, o.timeout, push_result);
}

/* pcap.buckets.add(uri [, opts]) -> ownership {id, destination_conf, filename, status, ...} | nil, err
 * Registers a bucket; Cloudflare writes the challenge file `filename` into it. [-1|2, +1|2, y] */
static int l_bucket_add(lua_State *L) { return bucket_call(L, RT_CALL_OWN_ADD, 0); }

/* pcap.buckets.validate(uri, challenge [, opts]) -> ownership | nil, err: challenge is the
 * contents of the challenge file. [-2|3, +1|2, y] */
static int l_bucket_validate(lua_State *L) {
  return bucket_call(L, RT_CALL_OWN_VALIDATE, 1);
}

/* pcap.buckets.delete(id [, opts]) -> true | nil, err. [-1|2, +1|2, y] */
static int l_bucket_delete(lua_State *L) {
  l_current_task(L, "pcap.buckets.delete");
  l_client cl = client_arg(L);
  const char *id = luaL_checkstring(L, 1);
  if (!rt_id_valid(id)) luaL_error(L, "bad ownership id '%s' (expected 32 hex digits)", id);
  return simple_call(L, cl, RT_CALL_OWN_DELETE, id, 2, push_true);
}

/* ---- introspection ---- */

static void push_limit(lua_State *L, const char *name, unsigned in_use, unsigned cap, unsigned waiting,
                       const rt_limit_stats *s) {
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, in_use); lua_setfield(L, -2, "in_use");
  lua_pushinteger(L, cap); lua_setfield(L, -2, "capacity");
  lua_pushinteger(L, waiting); lua_setfield(L, -2, "waiting");
  lua_pushinteger(L, (lua_Integer)s->granted); lua_setfield(L, -2, "granted");
  lua_pushinteger(L, (lua_Integer)s->rejected); lua_setfield(L, -2, "rejected");
  lua_pushnumber(L, (double)s->wait_ms_max / 1000.0); lua_setfield(L, -2, "max_wait");
  lua_setfield(L, -2, name);
}

/* pcap.limits() -> {api=, sample=, full= {in_use, capacity, waiting, granted, rejected, max_wait},
 * requests=} for the client: api is the request budget of its credentials (api.principal names
 * them: "token:<fingerprint>" or "email:<address>"; api.requests, what this process sent with
 * them, all accounts together), sample and full the account's limits; requests, what this
 * process sent to the account. max_wait is in real seconds. [-0, +1, v] */
static int l_limits(lua_State *L) {
  l_client cl = client_arg(L);
  rt_account *a = cl.acct;
  rt_principal *p = cl.creds->principal;
  lua_createtable(L, 0, 4);
  push_limit(L, "api", p->api.inflight + p->api.ndone, p->api.n, p->api.nwaiters, &p->api.stats);
  lua_getfield(L, -1, "api");
  lua_pushstring(L, p->id);
  lua_setfield(L, -2, "principal");
  lua_pushinteger(L, (lua_Integer)p->requests);
  lua_setfield(L, -2, "requests");
  lua_pop(L, 1);
  push_limit(L, "sample", a->sample.inflight + a->sample.ndone, a->sample.n, a->sample.nwaiters, &a->sample.stats);
  push_limit(L, "full", a->full.in_use, a->full.capacity, a->full.nwaiters, &a->full.stats);
  lua_pushinteger(L, (lua_Integer)a->requests);
  lua_setfield(L, -2, "requests");
  return 1;
}

int luaopen_pcaprun_pcap(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"client", l_client_new}, {"default", l_default}, {"create", l_create}, {"validate", l_validate},
    {"get", l_get}, {"list", l_list}, {"stop", l_stop}, {"download", l_download},
    {"limits", l_limits}, {NULL, NULL}};
  static const luaL_Reg bucket_fns[] = {
    {"list", l_bucket_list}, {"add", l_bucket_add}, {"validate", l_bucket_validate},
    {"delete", l_bucket_delete}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"wait", cap_wait}, {"refresh", cap_refresh}, {"stop", cap_stop}, {"download", cap_download},
    {NULL, NULL}};
  static const luaL_Reg box[] = {{"__close", box_close}, {"__gc", box_close}, {NULL, NULL}};
  static const luaL_Reg client[] = {
    {"__index", client_index}, {"__tostring", client_tostring}, {"__gc", client_gc}, {NULL, NULL}};
  static const luaL_Reg capture[] = {
    {"__index", capture_index}, {"__tostring", capture_tostring}, {"__eq", capture_eq},
    {"__gc", capture_gc}, {NULL, NULL}};
  l_newclass(L, BOX_MT, box, NULL);
  l_newclass(L, CLIENT_MT, client, NULL);
  l_newclass(L, CAPTURE_MT, capture, NULL);
  luaL_getmetatable(L, CAPTURE_MT); /* the methods, looked up by capture_index before the fields */
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  luaL_newlib(L, bucket_fns);
  lua_setfield(L, -2, "buckets");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "pcaprun.pcap");
  return 1;
}
