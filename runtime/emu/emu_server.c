/* The emulator's HTTP side on libmicrohttpd: request bodies and headers in, to the pipeline
 * (emu_pipeline.c), and replies out (JSON, files, ranges); starting and stopping the server.
 * One thread per connection, so a "slow" fault sleeps without holding anyone else up. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "bodybuf.h"
#include "emu_internal.h"
#include "fsutil.h"
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
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per-connection request state: the body as it arrives (past max_body: dropped, then 413). */
typedef struct conn_ctx {
  rt_bodybuf body;
} conn_ctx;

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
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->cfg.max_body) cx->body.too_large = 1;
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
  }
  if (*upload_size) {
    pthread_mutex_lock(&s->mu);
    size_t max = (size_t)s->cfg.max_body;
    pthread_mutex_unlock(&s->mu);
    if (rt_bodybuf_append(&cx->body, upload, *upload_size, max)) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }

  emu_reply r;
  emu_pcap_params pcap;
  emu_reply_init(&r, &pcap);
  emu_request q = {.method = method, .body = cx->body.data, .body_len = cx->body.len,
                   .too_large = cx->body.too_large};
  q.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  q.auth_email = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Auth-Email");
  q.auth_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Auth-Key");
  q.range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
  q.admin_token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Pcaprun-Admin-Token");
  const char *intent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Pcaprun-Intent");
  if (intent) snprintf(q.intent, sizeof q.intent, "%s", intent);
  emu_handle(s, url, &q, &r);
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
    rt_bodybuf_free(&cx->body);
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

int emu_parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6, int *loopback, char *host,
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
    *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    snprintf(host, hostlen, "[%.100s]", h + 1);
    return 0;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  if (strcmp(h, "localhost") == 0) snprintf(h, sizeof h, "127.0.0.1");
  if (inet_pton(AF_INET, h, &a->sin_addr) != 1) return RT_EINVAL;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  *v6 = 0;
  *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  snprintf(host, hostlen, "%s", h);
  return 0;
}

/* 32 random hex characters for an admin token nobody gave. */
static int random_token(char *out, size_t size) {
  unsigned char b[16];
  if (size < 2 * sizeof b + 1 || getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) return RT_EIO;
  for (size_t i = 0; i < sizeof b; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
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
    if (rt_mkdir_p(s->bucket_dir) == 0) return 0;
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

/* How many connections at once: as many as the process's file descriptors allow, leaving room
 * for files and (under --emulate) the runtime's own. libmicrohttpd's default (1020, select's
 * FD_SETSIZE - 4) let about a thousand idle connections lock everyone else out. */
static unsigned connection_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  rlim_t n = rl.rlim_cur > 256 ? rl.rlim_cur - 128 : rl.rlim_cur / 2;
  return n > 16384 ? 16384u : (unsigned)n;
}

static int start_http(emu_server *s, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  int v6 = 0, loopback = 0;
  char host[128];
  if (emu_parse_listen(s->cfg.listen, &ss, &v6, &loopback, host, sizeof host)) {
    snprintf(err, errlen, "listen must be HOST:PORT with a numeric host, e.g. 127.0.0.1:0 or "
             "[::1]:8080 (got \"%.60s\")", s->cfg.listen);
    return RT_EINVAL;
  }
  /* Off loopback, anyone who can reach this machine could use the emulator and its admin
   * endpoints (which change what it accepts): only when asked, and never without an admin token. */
  if (!loopback && !s->cfg.allow_remote) {
    snprintf(err, errlen, "listen %.60s is not a loopback address: the emulator would answer "
             "anyone who can reach this machine; set allow_remote (pcaprun emulator "
             "--allow-remote) if that is what you want", s->cfg.listen);
    return RT_EINVAL;
  }
  if (!loopback && !s->cfg.admin_token[0]) {
    if (random_token(s->cfg.admin_token, sizeof s->cfg.admin_token)) {
      snprintf(err, errlen, "cannot make an admin token: %s", strerror(errno));
      return RT_EIO;
    }
    s->admin_token_made = 1;
  }
  s->exposed = !loopback;
  /* poll(), not select(): a connection whose descriptor is past 1023 is served too */
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0);
  s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit(), MHD_OPTION_END);
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
  const char *admin = getenv("PCAPRUN_EMULATOR_ADMIN_TOKEN");
  if (!s->cfg.admin_token[0] && admin && *admin)
    snprintf(s->cfg.admin_token, sizeof s->cfg.admin_token, "%s", admin);
  s->started_mono = s->real_base = emu_mono_now();
  emu_reset(s);
  return setup_dirs(s, err, errlen);
}

int emu_server_new(const char *config_json, emu_server **out, char *err, size_t errlen) {
  *out = NULL;
  emu_server *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->gen_mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  rt_list_init(&s->captures);
  rt_list_init(&s->buckets);
  rt_list_init(&s->keyrecs);
  int rc = init_server(s, config_json, err, errlen);
  if (rc) {
    emu_stop(s);
    return rc;
  }
  *out = s;
  return 0;
}

int emu_start(const char *config_json, emu_server **out, char *base_url, size_t size) {
  char err[256] = "";
  emu_server *s;
  int rc = emu_server_new(config_json, &s, err, sizeof err);
  if (rc == 0 && (rc = start_http(s, err, sizeof err)) == 0 && (rc = emu_s3_start(s, err, sizeof err)) == 0 &&
      pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
    snprintf(err, sizeof err, "cannot start the delivery thread");
    rc = RT_ENOMEM;
  }
  *out = NULL;
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

int emu_exposed(emu_server *s) { return s && s->exposed; }

const char *emu_s3_url(emu_server *s) { return s ? s->s3_url : ""; }

void emu_s3_keys(emu_server *s, const char **id, const char **secret) {
  *id = s->s3_key_id; /* fixed at start: read without the lock */
  *secret = s->s3_secret;
}

const char *emu_made_admin_token(emu_server *s) {
  return s && s->admin_token_made ? s->cfg.admin_token : NULL;
}
