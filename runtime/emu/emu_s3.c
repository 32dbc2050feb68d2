/* The bucket directory over the S3 API, on its own port, so that full captures are fetched the
 * way a real run fetches them: <bucket_dir>/<bucket>/<key> is object <key> of bucket <bucket>,
 * addressed path style (http://HOST:PORT/<bucket>/<key>).
 *
 *   GET /<bucket>?list-type=2&prefix=P[&continuation-token=T][&max-keys=N]   ListObjectsV2, in
 *       key order, s3_page_size keys a page at most (1000), NextContinuationToken opaque
 *   GET|HEAD /<bucket>/<key>   the object, Range (206, 416), If-Match (412), ETag, paced at
 *       s3_rate bytes per second when set
 *   DELETE /<bucket>/<key>     204, also when the object is not there
 *
 * Requests must carry a SigV4 Authorization header for the emulator's access key id
 * (s3_access_key_id) that signs host, x-amz-date and x-amz-content-sha256, and those headers:
 * missing -> 403 AccessDenied, malformed -> 400 AuthorizationHeaderMalformed, another key ->
 * 403 InvalidAccessKeyId; with s3_access_denied every request is 403 AccessDenied (a bucket the
 * keys may not read). The signature itself is not recomputed. Files still being written
 * (*.tmp) are not objects. Errors are S3's XML (<Error><Code>..). */
#define _XOPEN_SOURCE 700
#include "emu_internal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { S3_LIST, S3_GET, S3_HEAD, S3_DELETE, S3_OTHER, S3_NOPS };
static const char *const s3_op_names[S3_NOPS] = {"list", "get", "head", "delete", "other"};

struct emu_s3 {
  struct MHD_Daemon *mhd;
  pthread_mutex_t mu;        /* the counters below */
  long long requests, by_op[S3_NOPS], denied, ranged;
  json_t *gets;              /* key -> GETs that sent the object (any range) */
};

typedef struct s3_reply {
  int status;
  char *body;                /* malloc'd XML, or NULL */
  const char *content_type;
  int fd;                    /* an object to send, or -1 */
  uint64_t off, len, size;
  int ranged;
  char etag[40];
  long long rate;
  time_t mtime;
} s3_reply;

/* ---- XML ---- */

typedef struct xbuf { char *p; size_t len, cap; int oom; } xbuf;

static void xput(xbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void xs(xbuf *b, const char *s) { xput(b, s, strlen(s)); }

static void xesc(xbuf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': xs(b, "&amp;"); break;
    case '<': xs(b, "&lt;"); break;
    case '>': xs(b, "&gt;"); break;
    case '"': xs(b, "&quot;"); break;
    case '\'': xs(b, "&apos;"); break;
    default: xput(b, s, 1);
    }
  }
}

static void s3_error(s3_reply *r, int status, const char *code, const char *message, const char *key) {
  xbuf b = {0};
  xs(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
  xesc(&b, code);
  xs(&b, "</Code><Message>");
  xesc(&b, message);
  xs(&b, "</Message>");
  if (key) {
    xs(&b, "<Key>");
    xesc(&b, key);
    xs(&b, "</Key>");
  }
  xs(&b, "</Error>");
  r->status = b.oom ? 500 : status;
  free(r->body);
  r->body = b.oom ? NULL : b.p;
  if (b.oom) free(b.p);
  r->content_type = "application/xml";
}

/* ---- auth ---- */

/* The header of a SigV4 request: "AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/s3/aws4_request,
 * SignedHeaders=a;b, Signature=<64 hex>". Returns 0 and the key id, or -1. */
static int parse_auth(const char *h, char *id, size_t idlen, char *signed_headers, size_t shlen) {
  const char *cred = strstr(h, "Credential="), *sh = strstr(h, "SignedHeaders="), *sig = strstr(h, "Signature=");
  if (strncmp(h, "AWS4-HMAC-SHA256 ", 17) != 0 || !cred || !sh || !sig) return -1;
  cred += 11;
  size_t n = strcspn(cred, "/");
  const char *scope = cred + n;
  int slashes = 0;
  for (const char *p = scope; *p && *p != ',' && *p != ' '; p++) slashes += *p == '/';
  if (n == 0 || n >= idlen || slashes != 4 || !strstr(scope, "/s3/aws4_request")) return -1;
  snprintf(id, idlen, "%.*s", (int)n, cred);
  sh += 14;
  n = strcspn(sh, ", ");
  if (n == 0 || n >= shlen) return -1;
  snprintf(signed_headers, shlen, "%.*s", (int)n, sh);
  sig += 10;
  return strspn(sig, "0123456789abcdef") == 64 ? 0 : -1;
}

static int has_signed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ";");
    if (len == n && strncmp(p, name, n) == 0) return 1;
    p += len;
    if (*p == ';') p++;
  }
  return 0;
}

/* 0 when the request is signed for the emulator's key; otherwise fills r. */
static int check_auth(emu_server *s, struct MHD_Connection *c, s3_reply *r) {
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  char id[160], sh[512];
  if (!auth) {
    s3_error(r, 403, "AccessDenied", "Anonymous access is not allowed: sign the request (SigV4)", NULL);
    return -1;
  }
  if (parse_auth(auth, id, sizeof id, sh, sizeof sh) != 0 || !has_signed(sh, "host") ||
      !has_signed(sh, "x-amz-date") || !has_signed(sh, "x-amz-content-sha256")) {
    s3_error(r, 400, "AuthorizationHeaderMalformed", "The authorization header is malformed or does not "
             "sign host, x-amz-date and x-amz-content-sha256", NULL);
    return -1;
  }
  if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-date") ||
      !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256")) {
    s3_error(r, 400, "InvalidRequest", "Missing required header: x-amz-date or x-amz-content-sha256", NULL);
    return -1;
  }
  if (strcmp(id, s->s3_key_id) != 0) {
    s3_error(r, 403, "InvalidAccessKeyId", "The access key id you provided does not exist in our records.", NULL);
    return -1;
  }
  pthread_mutex_lock(&s->mu);
  int denied = s->cfg.s3_access_denied;
  pthread_mutex_unlock(&s->mu);
  if (denied) {
    s3_error(r, 403, "AccessDenied", "Access Denied", NULL);
    return -1;
  }
  return 0;
}

/* ---- objects ---- */

/* A key that stays inside its bucket: no empty, "." or ".." segment, no NUL. */
static int key_ok(const char *key) {
  if (!*key || strlen(key) > 1024) return 0;
  for (const char *p = key; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    p += n;
    if (*p == '/') p++;
  }
  return 1;
}

static int is_tmp(const char *name) {
  size_t n = strlen(name);
  return n >= 4 && strcmp(name + n - 4, ".tmp") == 0;
}

static void etag_of(const struct stat *st, char out[40]) {
  uint64_t h = emu_hash(&st->st_size, sizeof st->st_size, EMU_HASH_INIT);
  h = emu_hash(&st->st_mtim, sizeof st->st_mtim, h);
  h = emu_hash(&st->st_ino, sizeof st->st_ino, h);
  snprintf(out, 40, "\"%016" PRIx64 "\"", h);
}

static void get_object(emu_server *s, struct MHD_Connection *c, const char *dir, const char *key, int op,
                       s3_reply *r) {
  char path[PATH_MAX];
  struct stat st;
  if (snprintf(path, sizeof path, "%s/%s", dir, key) >= (int)sizeof path || is_tmp(key) ||
      stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (op == S3_DELETE) { r->status = 204; return; }
    s3_error(r, 404, "NoSuchKey", "The specified key does not exist.", key);
    return;
  }
  if (op == S3_DELETE) {
    r->status = unlink(path) == 0 || errno == ENOENT ? 204 : 500;
    if (r->status == 500) s3_error(r, 500, "InternalError", "cannot delete the object", key);
    return;
  }
  etag_of(&st, r->etag);
  r->mtime = st.st_mtime;
  const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Match");
  if (match && strcmp(match, "*") != 0 && strcmp(match, r->etag) != 0) {
    s3_error(r, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", key);
    return;
  }
  r->size = (uint64_t)st.st_size;
  r->off = 0;
  r->len = r->size;
  int ranged = op == S3_GET ? emu_parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"),
                                              r->size, &r->off, &r->len) : 0;
  if (ranged < 0) {
    s3_error(r, 416, "InvalidRange", "The requested range is not satisfiable", key);
    return;
  }
  if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    s3_error(r, 404, "NoSuchKey", "The specified key does not exist.", key);
    return;
  }
  r->ranged = ranged;
  r->status = ranged ? 206 : 200;
  r->content_type = "application/octet-stream";
  pthread_mutex_lock(&s->mu);
  r->rate = s->cfg.s3_rate;
  pthread_mutex_unlock(&s->mu);
  if (op == S3_GET) {
    pthread_mutex_lock(&s->s3->mu);
    json_t *n = json_object_get(s->s3->gets, key);
    json_object_set_new(s->s3->gets, key, json_integer(json_integer_value(n) + 1));
    s->s3->ranged += ranged;
    pthread_mutex_unlock(&s->s3->mu);
  }
}

/* ---- list ---- */

typedef struct entry { char *key; uint64_t size; char etag[40]; time_t mtime; } entry;
typedef struct entries { entry *v; size_t n, cap; int oom; } entries;

static void walk(const char *root, const char *rel, entries *out, int depth) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
  DIR *d = opendir(path);
  if (!d || depth > 16) {
    if (d) closedir(d);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) && !out->oom) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || is_tmp(de->d_name)) continue;
    char key[PATH_MAX], full[PATH_MAX];
    struct stat st;
    if (snprintf(key, sizeof key, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof key ||
        snprintf(full, sizeof full, "%s/%s", root, key) >= (int)sizeof full || stat(full, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode)) { walk(root, key, out, depth + 1); continue; }
    if (!S_ISREG(st.st_mode)) continue;
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 256;
      entry *v = realloc(out->v, cap * sizeof *v);
      if (!v) { out->oom = 1; break; }
      out->v = v;
      out->cap = cap;
    }
    entry *e = &out->v[out->n];
    if (!(e->key = strdup(key))) { out->oom = 1; break; }
    e->size = (uint64_t)st.st_size;
    e->mtime = st.st_mtime;
    etag_of(&st, e->etag);
    out->n++;
  }
  closedir(d);
}

static int by_key(const void *a, const void *b) { return strcmp(((const entry *)a)->key, ((const entry *)b)->key); }

static void hex_encode(const char *s, char *out, size_t size) {
  size_t n = 0;
  for (; *s && n + 3 < size; s++) n += (size_t)snprintf(out + n, size - n, "%02x", (unsigned char)*s);
  out[n] = 0;
}

static void hex_decode(const char *s, char *out, size_t size) {
  size_t n = 0;
  unsigned v;
  for (; s[0] && s[1] && n + 1 < size && sscanf(s, "%2x", &v) == 1; s += 2) out[n++] = (char)v;
  out[n] = 0;
}

static void iso_time(time_t t, char out[32]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void list_objects(emu_server *s, struct MHD_Connection *c, const char *bucket, const char *dir,
                         s3_reply *r) {
  const char *prefix = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "prefix");
  const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continuation-token");
  const char *max = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "max-keys");
  pthread_mutex_lock(&s->mu);
  long page = s->cfg.s3_page_size;
  pthread_mutex_unlock(&s->mu);
  if (max && atol(max) >= 0 && atol(max) < page) page = atol(max);
  char after[PATH_MAX] = "";
  if (token) hex_decode(token, after, sizeof after);
  entries all = {0};
  walk(dir, "", &all, 0);
  if (!all.oom) qsort(all.v, all.n, sizeof *all.v, by_key);
  xbuf b = {0};
  xs(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>");
  xesc(&b, bucket);
  xs(&b, "</Name><Prefix>");
  xesc(&b, prefix ? prefix : "");
  xs(&b, "</Prefix>");
  long count = 0;
  const char *last = NULL;
  int truncated = 0;
  size_t plen = prefix ? strlen(prefix) : 0;
  for (size_t i = 0; i < all.n; i++) {
    const entry *e = &all.v[i];
    if ((plen && strncmp(e->key, prefix, plen) != 0) || (after[0] && strcmp(e->key, after) <= 0)) continue;
    if (count == page) { truncated = 1; break; }
    char t[32], num[32];
    iso_time(e->mtime, t);
    snprintf(num, sizeof num, "%" PRIu64, e->size);
    xs(&b, "<Contents><Key>");
    xesc(&b, e->key);
    xs(&b, "</Key><LastModified>");
    xs(&b, t);
    xs(&b, "</LastModified><ETag>");
    xesc(&b, e->etag);
    xs(&b, "</ETag><Size>");
    xs(&b, num);
    xs(&b, "</Size><StorageClass>STANDARD</StorageClass></Contents>");
    last = e->key;
    count++;
  }
  char num[32];
  snprintf(num, sizeof num, "%ld", count);
  xs(&b, "<KeyCount>");
  xs(&b, num);
  xs(&b, "</KeyCount><IsTruncated>");
  xs(&b, truncated ? "true" : "false");
  xs(&b, "</IsTruncated>");
  if (truncated && last) {
    char tok[2 * PATH_MAX + 1];
    hex_encode(last, tok, sizeof tok);
    xs(&b, "<NextContinuationToken>");
    xs(&b, tok);
    xs(&b, "</NextContinuationToken>");
  }
  xs(&b, "</ListBucketResult>");
  for (size_t i = 0; i < all.n; i++) free(all.v[i].key);
  free(all.v);
  if (b.oom || all.oom) {
    free(b.p);
    s3_error(r, 500, "InternalError", "out of memory", NULL);
    return;
  }
  r->status = 200;
  r->body = b.p;
  r->content_type = "application/xml";
}

/* ---- requests ---- */

static void route(emu_server *s, struct MHD_Connection *c, const char *url, const char *method, int *op,
                  s3_reply *r) {
  *op = S3_OTHER;
  if (check_auth(s, c, r)) return;
  const char *p = url[0] == '/' ? url + 1 : url;
  size_t blen = strcspn(p, "/");
  char bucket[128], dir[PATH_MAX];
  if (blen == 0 || blen >= sizeof bucket) {
    s3_error(r, 400, "InvalidBucketName", "Requests name a bucket first: /<bucket>/<key> (path style)", NULL);
    return;
  }
  snprintf(bucket, sizeof bucket, "%.*s", (int)blen, p);
  const char *key = p[blen] == '/' ? p + blen + 1 : "";
  struct stat st;
  if (!key_ok(bucket) || strchr(bucket, '/') ||
      snprintf(dir, sizeof dir, "%s/%s", s->bucket_dir, bucket) >= (int)sizeof dir || stat(dir, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    s3_error(r, 404, "NoSuchBucket", "The specified bucket does not exist", NULL);
    return;
  }
  int get = !strcmp(method, "GET"), head = !strcmp(method, "HEAD");
  if (!*key && (get || head)) {
    *op = S3_LIST;
    list_objects(s, c, bucket, dir, r);
    return;
  }
  *op = get ? S3_GET : head ? S3_HEAD : !strcmp(method, "DELETE") ? S3_DELETE : S3_OTHER;
  if (*op == S3_OTHER) {
    s3_error(r, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", NULL);
    return;
  }
  if (!key_ok(key)) {
    s3_error(r, 400, "InvalidArgument", "The object key is not valid here", NULL);
    return;
  }
  get_object(s, c, dir, key, *op, r);
}

static enum MHD_Result send_s3(struct MHD_Connection *c, emu_server *s, s3_reply *r) {
  struct MHD_Response *resp;
  if (r->fd >= 0) {
    resp = r->rate > 0 ? emu_paced_response(s, r->fd, r->off, r->len, r->len, r->rate)
                       : MHD_create_response_from_fd_at_offset64(r->len, r->fd, r->off);
    if (!resp && r->rate <= 0) close(r->fd);
    r->fd = -1;
  } else {
    size_t n = r->body ? strlen(r->body) : 0;
    resp = MHD_create_response_from_buffer(n, r->body, MHD_RESPMEM_MUST_FREE);
    if (resp) r->body = NULL;
  }
  if (!resp) return MHD_NO;
  char buf[128];
  if (r->content_type) MHD_add_response_header(resp, "Content-Type", r->content_type);
  if (r->etag[0] && r->status < 300) {
    MHD_add_response_header(resp, "ETag", r->etag);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    struct tm tm;
    gmtime_r(&r->mtime, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    MHD_add_response_header(resp, "Last-Modified", buf);
  }
  if (r->ranged) {
    snprintf(buf, sizeof buf, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r->off, r->off + r->len - 1, r->size);
    MHD_add_response_header(resp, "Content-Range", buf);
  }
  MHD_add_response_header(resp, "x-amz-request-id", "pcaprun-emulator");
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result on_s3_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  emu_server *s = cls;
  (void)version, (void)upload;
  if (!*con_cls) { /* headers only; bodies are read and dropped (no operation takes one) */
    *con_cls = s;
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0;
    return MHD_YES;
  }
  s3_reply r = {.status = 500, .fd = -1};
  int op;
  route(s, c, url, method, &op, &r);
  pthread_mutex_lock(&s->s3->mu);
  s->s3->requests++;
  s->s3->by_op[op]++;
  if (r.status == 403) s->s3->denied++;
  pthread_mutex_unlock(&s->s3->mu);
  enum MHD_Result ok = send_s3(c, s, &r);
  free(r.body);
  if (r.fd >= 0) close(r.fd);
  return ok;
}

/* ---- start, stop, stats ---- */

int emu_s3_start(emu_server *s, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  int v6 = 0, loopback = 1;
  char host[128], listen[160];
  /* the API's host, another port */
  snprintf(listen, sizeof listen, "%.*s:0", (int)(strrchr(s->cfg.listen, ':') - s->cfg.listen), s->cfg.listen);
  if (!(s->s3 = calloc(1, sizeof *s->s3))) {
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  pthread_mutex_init(&s->s3->mu, NULL);
  if (!(s->s3->gets = json_object())) {
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  snprintf(s->s3_key_id, sizeof s->s3_key_id, "%s", s->cfg.s3_access_key_id);
  snprintf(s->s3_secret, sizeof s->s3_secret, "%s", s->cfg.s3_secret_access_key);
  if (emu_parse_listen(listen, &ss, &v6, &loopback, host, sizeof host)) {
    snprintf(err, errlen, "cannot listen for the S3 API on %s", listen);
    return RT_EINVAL;
  }
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0);
  s->s3->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_s3_request, s, MHD_OPTION_SOCK_ADDR, &ss,
                                MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
  if (!s->s3->mhd) {
    snprintf(err, errlen, "cannot listen for the S3 API on %s: %s", listen, strerror(errno));
    return RT_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->s3->mhd, MHD_DAEMON_INFO_BIND_PORT);
  snprintf(s->s3_url, sizeof s->s3_url, "http://%.110s:%u", host, info ? (unsigned)info->port : 0u);
  return 0;
}

void emu_s3_stop(emu_server *s) {
  if (!s->s3) return;
  if (s->s3->mhd) MHD_stop_daemon(s->s3->mhd);
  pthread_mutex_destroy(&s->s3->mu);
  json_decref(s->s3->gets);
  free(s->s3);
  s->s3 = NULL;
  memset(s->s3_secret, 0, sizeof s->s3_secret);
}

json_t *emu_s3_stats(emu_server *s) {
  if (!s->s3) return json_null();
  pthread_mutex_lock(&s->s3->mu);
  json_t *ops = json_object();
  for (int i = 0; i < S3_NOPS; i++) json_object_set_new(ops, s3_op_names[i], json_integer(s->s3->by_op[i]));
  json_t *o = json_pack("{s:s, s:I, s:o, s:I, s:I, s:o}", "url", s->s3_url, "requests",
                        (json_int_t)s->s3->requests, "by_operation", ops, "denied", (json_int_t)s->s3->denied,
                        "ranged_gets", (json_int_t)s->s3->ranged, "gets", json_deep_copy(s->s3->gets));
  pthread_mutex_unlock(&s->s3->mu);
  return o;
}
