/* The request pipeline, without sockets: what the emulator answers to a method, a path, the
 * headers it reads and a body. Admin endpoints go to emu_admin.c; an API request is routed, may
 * meet a spurious fault, then is authenticated, charged to its credential's budget, checked
 * (account id, body size) and handed to its operation. emu_server.c feeds it from
 * libmicrohttpd; the fuzz target tests/fuzz/fuzz_emu.c calls it directly. */
#include "emu_internal.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- routing ---- */

typedef struct route {
  emu_op get, post, put, del; /* EMU_OP_UNROUTED where the method does not apply */
  const char *allow;
} route;

/* Splits the path after the prefix: accounts/{a}/pcaps[/ownership[/validate|/{id}] | /{id}[/x]].
 * Returns 0 and the route, or -1 for no route. */
static int match_route(const char *path, emu_request *q, route *rt) {
  const emu_op U = EMU_OP_UNROUTED;
  char seg[6][40];
  int n = 0;
  const char *p = path;
  if (*p++ != '/') return -1;
  while (n < 6) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 0) return -1;
    /* a segment too long for any id becomes "~", which matches nothing */
    snprintf(seg[n++], sizeof seg[0], "%.*s", len < sizeof seg[0] ? (int)len : 1,
             len < sizeof seg[0] ? p : "~");
    if (!e) break;
    p = e + 1;
    if (n == 6) return -1;
  }
  if (n < 3 || strcmp(seg[0], "accounts") != 0 || strcmp(seg[2], "pcaps") != 0) return -1;
  snprintf(q->account, sizeof q->account, "%s", seg[1]);
  if (n == 3) { *rt = (route){EMU_OP_LIST, EMU_OP_CREATE, U, U, "GET, POST"}; return 0; }
  if (strcmp(seg[3], "ownership") == 0) {
    if (n == 4) { *rt = (route){EMU_OP_OWN_LIST, EMU_OP_OWN_ADD, U, U, "GET, POST"}; return 0; }
    if (n != 5) return -1;
    if (strcmp(seg[4], "validate") == 0) {
      *rt = (route){U, EMU_OP_OWN_VALIDATE, U, U, "POST"};
      return 0;
    }
    snprintf(q->id, sizeof q->id, "%s", seg[4]);
    *rt = (route){U, U, U, EMU_OP_OWN_DELETE, "DELETE"};
    return 0;
  }
  snprintf(q->id, sizeof q->id, "%s", seg[3]);
  if (n == 4) { *rt = (route){EMU_OP_GET, U, U, U, "GET"}; return 0; }
  if (n != 5) return -1;
  if (strcmp(seg[4], "download") == 0) { *rt = (route){EMU_OP_DOWNLOAD, U, U, U, "GET"}; return 0; }
  if (strcmp(seg[4], "stop") == 0) { *rt = (route){U, U, EMU_OP_STOP, U, "PUT"}; return 0; }
  return -1;
}

static emu_op route_method(const route *rt, const char *method) {
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) return rt->get;
  if (!strcmp(method, "POST")) return rt->post;
  if (!strcmp(method, "PUT")) return rt->put;
  if (!strcmp(method, "DELETE")) return rt->del;
  return EMU_OP_UNROUTED;
}

/* ---- authentication ---- */

static void cred_key(char out[48], const char *scheme, const char *a, const char *b) {
  uint64_t h = emu_hash(scheme, strlen(scheme), EMU_HASH_INIT);
  h = emu_hash(a, strlen(a), h);
  h = emu_hash("\n", 1, h);
  h = emu_hash(b, strlen(b), h);
  snprintf(out, 48, "c:%016" PRIx64, h); /* a hash: the credential itself is never kept */
}

static int token_ok(const char *t) {
  if (!*t) return 0;
  for (; *t; t++)
    if ((unsigned char)*t <= 0x20 || *t == 0x7f) return 0;
  return 1;
}

/* Reads the auth headers. Returns 0 (q->cred set, *wrong says whether they match the configured
 * ones) or -1 after filling r with the 400 6003 answer. X-Auth-User-Service-Key alone counts as
 * missing (U22). Credentials are hashed at once and never logged or echoed. */
static int read_auth(emu_server *s, emu_request *q, int *wrong, emu_reply *r) {
  const char *auth = q->authorization, *email = q->auth_email, *key = q->auth_key;
  if (auth) {
    const char *t = auth + 7;
    if (strncasecmp(auth, "Bearer ", 7) != 0 || !token_ok(t)) {
      emu_reply_error(s, r, EMU_E_AUTH_HEADERS, "Invalid format for Authorization header");
      return -1;
    }
    cred_key(q->cred, "bearer", t, "");
    *wrong = s->cfg.token[0] && !emu_secret_equal(t, s->cfg.token);
    return 0;
  }
  if (!email || !key || !token_ok(email) || !token_ok(key)) {
    emu_reply_error(s, r, EMU_E_AUTH_HEADERS, email && !key ? "Invalid format for X-Auth-Key header"
                    : !email && key ? "Invalid format for X-Auth-Email header"
                    : "Invalid format for X-Auth-Key header");
    return -1;
  }
  cred_key(q->cred, "key", email, key);
  *wrong = (s->cfg.email[0] && !emu_secret_equal(email, s->cfg.email)) ||
           (s->cfg.key[0] && !emu_secret_equal(key, s->cfg.key));
  return 0;
}

/* ---- the request pipeline (under mu) ---- */

static void run_handler(emu_server *s, const emu_request *q, emu_reply *r) {
  switch (q->op) {
  case EMU_OP_LIST: emu_op_list(s, q, r); break;
  case EMU_OP_CREATE: emu_op_create(s, q, r); break;
  case EMU_OP_GET: emu_op_get(s, q, r); break;
  case EMU_OP_DOWNLOAD: emu_op_download(s, q, r); break;
  case EMU_OP_STOP: emu_op_stop(s, q, r); break;
  case EMU_OP_OWN_LIST: emu_op_own_list(s, q, r); break;
  case EMU_OP_OWN_ADD: emu_op_own_add(s, q, r); break;
  case EMU_OP_OWN_VALIDATE: emu_op_own_validate(s, q, r); break;
  case EMU_OP_OWN_DELETE: emu_op_own_delete(s, q, r); break;
  default: emu_reply_error(s, r, EMU_E_NO_ROUTE, NULL); break;
  }
}

/* Everything after routing and faults: auth, budget, account, body size, the operation. Only
 * credentials that pass get a budget (limiter state): wrong ones are refused before it. */
static void process(emu_server *s, emu_request *q, emu_reply *r) {
  int wrong = 0;
  if (read_auth(s, q, &wrong, r)) {
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  if (wrong) {
    emu_reply_error(s, r, EMU_E_AUTH_FAILED, NULL);
    return;
  }
  if (s->cfg.rate_limit && emu_budget_charge(s, q->cred, r)) return;
  if (!emu_is_hex32(q->account)) {
    emu_reply_error(s, r, EMU_E_BAD_ACCOUNT, NULL);
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  if (s->cfg.account_id[0] && strcasecmp(q->account, s->cfg.account_id) != 0) {
    emu_reply_error(s, r, EMU_E_AUTH_FAILED, NULL);
    return;
  }
  if (q->too_large) {
    emu_reply_error(s, r, EMU_E_TOO_LARGE, NULL);
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  run_handler(s, q, r);
}

/* Decides the reply of a routed API request: route, faults, then process(). */
static void answer(emu_server *s, const char *url, emu_request *q, emu_reply *r) {
  route rt;
  const char *path = url + strlen(s->cfg.prefix);
  if (strncmp(url, s->cfg.prefix, strlen(s->cfg.prefix)) != 0 || match_route(path, q, &rt)) {
    emu_reply_error(s, r, EMU_E_NO_ROUTE, NULL);
    return;
  }
  q->op = route_method(&rt, q->method);
  if (q->op == EMU_OP_UNROUTED) {
    emu_reply_error(s, r, EMU_E_METHOD, NULL);
    r->allow = rt.allow;
    return;
  }
  emu_fault fault = emu_fault_pick(s, q->op);
  if (fault.kind >= 0 && fault.kind != EMU_F_SLOW) {
    emu_fault_reply(s, &fault, r);
    return;
  }
  if (fault.kind == EMU_F_SLOW) { /* sleep without the lock, then carry on as usual */
    pthread_mutex_unlock(&s->mu);
    emu_sleep_ms(s, fault.slow_ms);
    pthread_mutex_lock(&s->mu);
  }
  process(s, q, r);
}

/* The admin endpoints change what the emulator accepts: with an admin token (always set when it
 * listens off loopback) they need it in X-Pcaprun-Admin-Token. */
static int admin_allowed(emu_server *s, const emu_request *q) {
  pthread_mutex_lock(&s->mu);
  int ok = !s->cfg.admin_token[0] ||
           (q->admin_token && emu_secret_equal(q->admin_token, s->cfg.admin_token));
  pthread_mutex_unlock(&s->mu);
  return ok;
}

void emu_handle(emu_server *s, const char *url, emu_request *q, emu_reply *r) {
  if (strncmp(url, "/__admin/", 9) == 0) {
    if (admin_allowed(s, q))
      emu_admin_handle(s, q->method, url, q->body, q->body_len, r);
    else
      emu_reply_json(r, 401, strdup("{\"error\":\"the admin endpoints need the admin token in "
                                    "X-Pcaprun-Admin-Token (runtime/emu/README.md)\"}"));
    return;
  }
  q->op = EMU_OP_UNROUTED;
  q->cred[0] = 0;
  pthread_mutex_lock(&s->mu);
  answer(s, url, q, r);
  emu_stats_count(s, q->op, r->drop ? 0 : r->status);
  pthread_mutex_unlock(&s->mu);
}
