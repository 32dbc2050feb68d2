/* The emulator's HTTP side on libmicrohttpd: request bodies, routing, authentication, the order
 * in which faults, limits and handlers apply, and sending replies (JSON, files, ranges).
 * One thread per connection, so a "slow" fault sleeps without holding anyone else up. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "emu_internal.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per-connection request state: the body as it arrives. */
typedef struct conn_ctx {
  char *body;
  size_t len, cap;
  int too_large;
} conn_ctx;

/* ---- API clock ---- */

double emu_api_now(emu_server *s) {
  return s->api_base + (emu_mono_now() - s->real_base) / s->cfg.time_scale;
}

double emu_api_to_real(emu_server *s, double api) {
  return s->real_base + (api - s->api_base) * s->cfg.time_scale - s->started_mono;
}

void emu_set_config(emu_server *s, const emu_config *c) {
  if (c->time_scale != s->cfg.time_scale) {
    s->api_base = emu_api_now(s);
    s->real_base = emu_mono_now();
  }
  s->cfg = *c;
}

void emu_sleep_ms(emu_server *s, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  long long ns = until.tv_nsec + ms * 1000000LL;
  until.tv_sec += (time_t)(ns / 1000000000LL);
  until.tv_nsec = (long)(ns % 1000000000LL);
  pthread_mutex_lock(&s->mu);
  while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->mu, &until) == 0) {
  }
  pthread_mutex_unlock(&s->mu);
}

/* ---- replies ---- */

void emu_reply_json(emu_reply *r, int status, char *text) {
  free(r->body);
  r->status = text ? status : 500;
  r->body = text;
  r->body_len = text ? strlen(text) : 0;
}

void emu_reply_error(emu_server *s, emu_reply *r, emu_errkind kind, const char *detail) {
  const emu_errdef *d = &s->cfg.errors[kind];
  int chain = 0;
  const char *chain_msg = NULL;
  if (kind == EMU_E_AUTH_HEADERS) { /* detail says which header (6111 Bearer, 6103 key) */
    chain = detail && strstr(detail, "Authorization") ? 6111 : 6103;
    chain_msg = detail;
    detail = NULL;
  }
  emu_reply_json(r, d->status, emu_envelope_err(d->code, detail ? detail : d->message, chain,
                                                chain_msg));
}

void emu_reply_ok(emu_reply *r, json_t *result) {
  emu_reply_json(r, 200, emu_envelope_ok(result, NULL));
}

void emu_reply_empty(emu_reply *r, int status) {
  free(r->body);
  r->body = NULL;
  r->body_len = 0;
  r->status = status;
}

void emu_violation(emu_server *s, int which) {
  s->stats.violations[which]++;
}

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

static int secret_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb);
  for (size_t i = 0; i < la && i < lb; i++) diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

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
static int read_auth(emu_server *s, struct MHD_Connection *c, emu_request *q, int *wrong,
                     emu_reply *r) {
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  const char *email = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Auth-Email");
  const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Auth-Key");
  if (auth) {
    const char *t = auth + 7;
    if (strncasecmp(auth, "Bearer ", 7) != 0 || !token_ok(t)) {
      emu_reply_error(s, r, EMU_E_AUTH_HEADERS, "Invalid format for Authorization header");
      return -1;
    }
    cred_key(q->cred, "bearer", t, "");
    *wrong = s->cfg.token[0] && !secret_equal(t, s->cfg.token);
    return 0;
  }
  if (!email || !key || !token_ok(email) || !token_ok(key)) {
    emu_reply_error(s, r, EMU_E_AUTH_HEADERS, email && !key ? "Invalid format for X-Auth-Key header"
                    : !email && key ? "Invalid format for X-Auth-Email header"
                    : "Invalid format for X-Auth-Key header");
    return -1;
  }
  cred_key(q->cred, "key", email, key);
  *wrong = (s->cfg.email[0] && !secret_equal(email, s->cfg.email)) ||
           (s->cfg.key[0] && !secret_equal(key, s->cfg.key));
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

/* Everything after routing and faults: auth, budget, account, body size, the operation. */
static void process(emu_server *s, struct MHD_Connection *c, emu_request *q, int too_large,
                    emu_reply *r) {
  int wrong = 0;
  if (read_auth(s, c, q, &wrong, r)) {
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  if (s->cfg.rate_limit && emu_budget_charge(s, q->cred, r)) return;
  if (wrong) {
    emu_reply_error(s, r, EMU_E_AUTH_FAILED, NULL);
    return;
  }
  if (!emu_is_hex32(q->account)) {
    emu_reply_error(s, r, EMU_E_BAD_ACCOUNT, NULL);
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  if (s->cfg.account_id[0] && strcasecmp(q->account, s->cfg.account_id) != 0) {
    emu_reply_error(s, r, EMU_E_AUTH_FAILED, NULL);
    return;
  }
  if (too_large) {
    emu_reply_error(s, r, EMU_E_TOO_LARGE, NULL);
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  run_handler(s, q, r);
}

/* Decides the reply of a routed API request: route, faults, then process(). */
static void answer(emu_server *s, struct MHD_Connection *c, const char *url, emu_request *q,
                   int too_large, emu_reply *r, emu_fault *fault) {
  route rt;
  const char *path = url + strlen(s->cfg.prefix);
  fault->kind = -1;
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
  *fault = emu_fault_pick(s, q->op);
  if (fault->kind >= 0 && fault->kind != EMU_F_SLOW) {
    emu_fault_reply(s, fault, r);
    return;
  }
  if (fault->kind == EMU_F_SLOW) { /* sleep without the lock, then carry on as usual */
    pthread_mutex_unlock(&s->mu);
    emu_sleep_ms(s, fault->slow_ms);
    pthread_mutex_lock(&s->mu);
  }
  process(s, c, q, too_large, r);
}

/* ---- sending ---- */

static void add_common_headers(emu_server *s, struct MHD_Response *resp, const emu_reply *r) {
  char buf[96];
  if (r->retry_after >= 0) {
    snprintf(buf, sizeof buf, "%ld", r->retry_after);
    if (r->status == 429 && s->cfg.hostile_retry_after[0]) snprintf(buf, sizeof buf, "%s", s->cfg.hostile_retry_after);
    MHD_add_response_header(resp, "Retry-After", buf);
  }
  if (s->cfg.hostile_ratelimit[0]) {
    MHD_add_response_header(resp, "Ratelimit", s->cfg.hostile_ratelimit);
  } else if (r->ratelimit_left >= 0) {
    snprintf(buf, sizeof buf, "\"default\";r=%d;t=%d", r->ratelimit_left, r->ratelimit_reset);
    MHD_add_response_header(resp, "Ratelimit", buf);
    snprintf(buf, sizeof buf, "\"default\";q=%d;w=%.0f", s->cfg.rate_limit_quota,
             ceil(s->cfg.rate_limit_window));
    MHD_add_response_header(resp, "Ratelimit-Policy", buf);
  }
  if (r->allow) MHD_add_response_header(resp, "Allow", r->allow);
}

/* Range: bytes=N-, bytes=N-M or bytes=-N. Returns 1 (range set), 0 (ignore: send all),
 * -1 (unsatisfiable). Several ranges are answered with the whole file, as RFC 9110 allows. */
int emu_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len) {
  unsigned long long a = 0, b = 0;
  int na = 0, nb = 0;
  if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 0;
  const char *p = h + 6;
  while (*p >= '0' && *p <= '9' && na < 19) a = a * 10 + (unsigned)(*p++ - '0'), na++;
  if (*p++ != '-') return 0;
  while (*p >= '0' && *p <= '9' && nb < 19) b = b * 10 + (unsigned)(*p++ - '0'), nb++;
  if (*p || (!na && !nb)) return 0;
  if (!na) { /* suffix */
    if (b == 0) return -1;
    *len = b < size ? b : size;
    *off = size - *len;
    return size ? 1 : -1;
  }
  if (nb && b < a) return 0;
  if (a >= size) return -1;
  *off = a;
  *len = (nb && b < size - 1 ? b : size - 1) - a + 1;
  return 1;
}

typedef struct cut_reader {
  emu_server *s;
  int fd;
  uint64_t off, cut, len; /* serve [off, off + cut) of len bytes, then fail if cut < len */
  long long rate;         /* bytes per second, 0: no pacing */
  double start;
} cut_reader;

static ssize_t cut_read(void *cls, uint64_t pos, char *buf, size_t max) {
  cut_reader *cr = cls;
  if (pos >= cr->cut) return pos >= cr->len ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
  if (max > cr->cut - pos) max = (size_t)(cr->cut - pos);
  if (cr->rate > 0) { /* download_rate: small chunks, each when its time has come */
    if (max > (size_t)cr->rate / 50 + 1) max = (size_t)cr->rate / 50 + 1;
    double due = cr->start + (double)pos / (double)cr->rate, now = emu_mono_now();
    if (due > now) emu_sleep_ms(cr->s, (long)((due - now) * 1000) + 1);
  }
  ssize_t n = pread(cr->fd, buf, max, (off_t)(cr->off + pos));
  return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void cut_free(void *cls) {
  cut_reader *cr = cls;
  close(cr->fd);
  free(cr);
}

struct MHD_Response *emu_paced_response(emu_server *s, int fd, uint64_t off, uint64_t cut, uint64_t len,
                                        long long rate) {
  cut_reader *cr = malloc(sizeof *cr);
  if (!cr) {
    close(fd);
    return NULL;
  }
  *cr = (cut_reader){s, fd, off, cut, len, rate, emu_mono_now()};
  struct MHD_Response *resp = MHD_create_response_from_callback(len, 64 * 1024, cut_read, cr, cut_free);
  if (!resp) cut_free(cr);
  return resp;
}

/* Builds the response of a download (without mu): makes the file, then serves it whole or a
 * range, or a part followed by an abort for the truncate fault. */
static struct MHD_Response *file_response(emu_server *s, emu_reply *r, const char *range) {
  char path[PATH_MAX + 8], buf[128];
  const emu_pcap_params *p = r->pcap;
  if (emu_pcap_ensure(s, p) != 0) goto fail;
  snprintf(path, sizeof path, "%s%s", p->path, p->gzip ? ".gz" : "");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0) goto fail;
  if (fstat(fd, &st) != 0) {
    close(fd);
    goto fail;
  }
  uint64_t size = (uint64_t)st.st_size, off = 0, len = size;
  int ranged = s->cfg.ignore_range ? 0 : emu_parse_range(range, size, &off, &len);
  if (ranged < 0) {
    close(fd);
    r->status = 416;
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    snprintf(buf, sizeof buf, "bytes */%" PRIu64, size);
    if (resp) MHD_add_response_header(resp, "Content-Range", buf);
    return resp;
  }
  struct MHD_Response *resp;
  long long rate = r->rate;
  if (r->truncate || rate > 0) {
    resp = emu_paced_response(s, fd, off, r->truncate ? len / 2 : len, len, rate);
  } else {
    resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
    if (!resp) close(fd);
  }
  if (!resp) goto fail;
  r->status = ranged ? 206 : 200;
  MHD_add_response_header(resp, "Content-Type", "application/vnd.tcpdump.pcap");
  MHD_add_response_header(resp, "Accept-Ranges", "bytes");
  if (p->gzip) MHD_add_response_header(resp, "Content-Encoding", "gzip");
  if (ranged) {
    snprintf(buf, sizeof buf, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1, size);
    MHD_add_response_header(resp, "Content-Range", buf);
  }
  pthread_mutex_lock(&s->mu);
  s->stats.bytes_served += (long long)len;
  pthread_mutex_unlock(&s->mu);
  return resp;
fail:
  pthread_mutex_lock(&s->mu);
  emu_reply_error(s, r, EMU_E_INTERNAL, "Could not write the capture file");
  pthread_mutex_unlock(&s->mu);
  r->is_file = 0;
  return NULL;
}

static enum MHD_Result send_reply(emu_server *s, struct MHD_Connection *c, emu_reply *r,
                                  const char *range) {
  struct MHD_Response *resp = NULL;
  if (r->is_file) resp = file_response(s, r, range);
  if (!resp) {
    resp = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) return MHD_NO;
    r->body = NULL;
    if (r->body_len) MHD_add_response_header(resp, "Content-Type", "application/json");
  }
  add_common_headers(s, resp, r);
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* ---- libmicrohttpd callbacks ---- */

static int append_body(conn_ctx *cx, const char *data, size_t n, size_t max) {
  if (cx->too_large || cx->len + n > max) {
    cx->too_large = 1; /* keep reading, drop the bytes, answer 413 at the end */
    return 0;
  }
  if (cx->len + n + 1 > cx->cap) {
    size_t cap = cx->cap ? cx->cap * 2 : 1024;
    while (cap < cx->len + n + 1) cap *= 2;
    char *b = realloc(cx->body, cap);
    if (!b) return -1;
    cx->body = b;
    cx->cap = cap;
  }
  memcpy(cx->body + cx->len, data, n);
  cx->len += n;
  cx->body[cx->len] = 0;
  return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  emu_server *s = cls;
  conn_ctx *cx = *con_cls;
  (void)version;
  if (!cx) { /* first call: headers only */
    if (!(cx = calloc(1, sizeof *cx))) return MHD_NO;
    *con_cls = cx;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    pthread_mutex_lock(&s->mu);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->cfg.max_body) cx->too_large = 1;
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
  }
  if (*upload_size) {
    pthread_mutex_lock(&s->mu);
    size_t max = (size_t)s->cfg.max_body;
    pthread_mutex_unlock(&s->mu);
    if (append_body(cx, upload, *upload_size, max)) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }

  emu_reply r = {.status = 500, .retry_after = -1, .ratelimit_left = -1, .ratelimit_reset = -1};
  emu_pcap_params pcap;
  emu_fault fault = {.kind = -1};
  r.pcap = &pcap;
  if (strncmp(url, "/__admin/", 9) == 0) {
    emu_admin_handle(s, method, url, cx->body, cx->len, &r);
    return send_reply(s, c, &r, NULL);
  }
  emu_request q = {.op = EMU_OP_UNROUTED, .method = method, .body = cx->body,
                   .body_len = cx->len};
  const char *intent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Pcaprun-Intent");
  if (intent) snprintf(q.intent, sizeof q.intent, "%s", intent);
  q.range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");

  pthread_mutex_lock(&s->mu);
  answer(s, c, url, &q, cx->too_large, &r, &fault);
  emu_stats_count(s, q.op, r.drop ? 0 : r.status);
  pthread_mutex_unlock(&s->mu);
  if (r.drop) {
    free(r.body);
    return MHD_NO; /* libmicrohttpd closes the connection without an answer */
  }
  return send_reply(s, c, &r, q.range);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
  (void)cls, (void)c, (void)code;
  conn_ctx *cx = *con_cls;
  if (cx) {
    free(cx->body);
    free(cx);
  }
  *con_cls = NULL;
}

/* ---- start and stop ---- */

static void *ticker_main(void *arg) {
  emu_server *s = arg;
  for (;;) {
    emu_deliver_finished(s);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 20 * 1000000L; /* 20 ms: finished captures reach their bucket promptly */
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->mu);
    if (!s->stopping) pthread_cond_timedwait(&s->cond, &s->mu, &until);
    int stop = s->stopping;
    pthread_mutex_unlock(&s->mu);
    if (stop) return NULL;
  }
}

/* "HOST:PORT" or "[V6]:PORT" with a numeric host (or localhost). */
int emu_parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6, char *host,
                     size_t hostlen) {
  char h[128];
  const char *colon = strrchr(spec, ':');
  if (!colon || colon == spec) return RT_EINVAL;
  snprintf(h, sizeof h, "%.*s", (int)(colon - spec), spec);
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end || colon[1] == 0 || port > 65535) return RT_EINVAL;
  memset(ss, 0, sizeof *ss);
  if (h[0] == '[' && h[strlen(h) - 1] == ']') {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    h[strlen(h) - 1] = 0;
    if (inet_pton(AF_INET6, h + 1, &a->sin6_addr) != 1) return RT_EINVAL;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *v6 = 1;
    snprintf(host, hostlen, "[%.100s]", h + 1);
    return 0;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  if (strcmp(h, "localhost") == 0) snprintf(h, sizeof h, "127.0.0.1");
  if (inet_pton(AF_INET, h, &a->sin_addr) != 1) return RT_EINVAL;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  *v6 = 0;
  snprintf(host, hostlen, "%s", strcmp(h, "0.0.0.0") == 0 ? "127.0.0.1" : h);
  return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static void rm_tree(const char *dir) {
  if (dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_temp_dir(const char *what, char *out, size_t size) {
  const char *tmp = getenv("TMPDIR");
  snprintf(out, size, "%s/pcaprun-emu-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
  return mkdtemp(out) ? 0 : RT_EIO;
}

static int setup_dirs(emu_server *s, char *err, size_t errlen) {
  if (make_temp_dir("data", s->data_dir, sizeof s->data_dir)) {
    s->data_dir[0] = 0;
    snprintf(err, errlen, "cannot create a temporary directory: %s", strerror(errno));
    return RT_EIO;
  }
  if (s->cfg.bucket_dir[0]) {
    snprintf(s->bucket_dir, sizeof s->bucket_dir, "%s", s->cfg.bucket_dir);
    if (emu_mkdir_p(s->bucket_dir) == 0) return 0;
    snprintf(err, errlen, "cannot create bucket_dir %.200s: %s", s->bucket_dir, strerror(errno));
    return RT_EIO;
  }
  if (make_temp_dir("buckets", s->bucket_dir, sizeof s->bucket_dir) == 0) {
    s->own_bucket_dir = 1;
    return 0;
  }
  snprintf(err, errlen, "cannot create a temporary bucket directory: %s", strerror(errno));
  s->bucket_dir[0] = 0;
  return RT_EIO;
}

static int start_http(emu_server *s, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  int v6 = 0;
  char host[128];
  if (emu_parse_listen(s->cfg.listen, &ss, &v6, host, sizeof host)) {
    snprintf(err, errlen, "listen must be HOST:PORT with a numeric host, e.g. 127.0.0.1:0 or "
             "[::1]:8080 (got \"%.60s\")", s->cfg.listen);
    return RT_EINVAL;
  }
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                   (v6 ? MHD_USE_IPv6 : 0);
  s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
  if (!s->mhd) {
    snprintf(err, errlen, "cannot listen on %s: %s", s->cfg.listen, strerror(errno));
    return RT_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  snprintf(s->base_url, sizeof s->base_url, "http://%.110s:%u%.127s", host,
           info ? (unsigned)info->port : 0u, s->cfg.prefix);
  return 0;
}

static int init_server(emu_server *s, const char *config_json, char *err, size_t errlen) {
  json_error_t jerr;
  json_t *cfg = config_json && *config_json ? json_loads(config_json, 0, &jerr) : json_object();
  if (!cfg) {
    snprintf(err, errlen, "config is not valid JSON: %s", jerr.text);
    return RT_EINVAL;
  }
  emu_config_defaults(&s->cfg);
  int rc = emu_config_merge(&s->cfg, cfg, 1, err, errlen);
  json_decref(cfg);
  if (rc) return rc;
  s->started_mono = s->real_base = emu_mono_now();
  emu_reset(s);
  if ((rc = setup_dirs(s, err, errlen))) return rc;
  if ((rc = start_http(s, err, errlen))) return rc;
  return emu_s3_start(s, err, errlen);
}

int emu_start(const char *config_json, emu_server **out, char *base_url, size_t size) {
  char err[256] = "";
  *out = NULL;
  emu_server *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(base_url, size, "out of memory");
    return RT_ENOMEM;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->gen_mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  rt_list_init(&s->captures);
  rt_list_init(&s->buckets);
  rt_list_init(&s->keyrecs);
  int rc = init_server(s, config_json, err, sizeof err);
  if (rc == 0 && pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
    snprintf(err, sizeof err, "cannot start the delivery thread");
    rc = RT_ENOMEM;
  }
  if (rc) {
    emu_stop(s);
    snprintf(base_url, size, "%s", err);
    return rc;
  }
  s->ticker_started = 1;
  snprintf(base_url, size, "%s", s->base_url);
  *out = s;
  return 0;
}

void emu_stop(emu_server *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  if (s->ticker_started) pthread_join(s->ticker, NULL);
  if (s->mhd) MHD_stop_daemon(s->mhd);
  emu_s3_stop(s);
  emu_captures_clear(s);
  emu_buckets_clear(s);
  emu_keyrecs_clear(s);
  rm_tree(s->data_dir);
  if (s->own_bucket_dir) rm_tree(s->bucket_dir);
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->gen_mu);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

const char *emu_bucket_dir(emu_server *s) { return s ? s->bucket_dir : ""; }

const char *emu_s3_url(emu_server *s) { return s ? s->s3_url : ""; }

void emu_s3_keys(emu_server *s, const char **id, const char **secret) {
  *id = s->s3_key_id; /* fixed at start: read without the lock */
  *secret = s->s3_secret;
}
