/* libcurl multi on libuv: one CURLM, one uv_timer, one uv_poll per socket. */
#include "http.h"
#include "err.h"
#include "log.h"
#include "spec.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define EASY_POOL 16 /* idle easy handles kept for reuse */

struct rt_http {
  rt_runtime *rt;
  CURLM *multi;
  uv_timer_t timer;
  rt_list active;
  CURL *pool[EASY_POOL];
  int npool;
  int closing;
  int poll_errno;          /* the socket error behind a poll failure being handled, or 0 */
  rt_http_stats stats;
};

typedef struct sockctx {
  uv_poll_t poll;
  curl_socket_t fd;
  rt_http *h;
} sockctx;

static void check_done(rt_http *h);

static void sock_closed(uv_handle_t *handle) { free(handle->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  sockctx *c = p->data;
  rt_http *h = c->h;
  int flags = 0, running;
  if (status < 0) { /* libuv says only "error": the socket knows which (a reset, mostly) */
    int err = 0;
    socklen_t len = sizeof err;
    flags = CURL_CSELECT_ERR;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0) h->poll_errno = err;
  }
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(h->multi, c->fd, flags, &running);
  check_done(h);
  h->poll_errno = 0;
}

static int socket_cb(CURL *e, curl_socket_t s, int action, void *userp, void *socketp) {
  (void)e;
  rt_http *h = userp;
  sockctx *c = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (c) {
      uv_poll_stop(&c->poll);
      uv_close((uv_handle_t *)&c->poll, sock_closed);
      curl_multi_assign(h->multi, s, NULL);
    }
    return 0;
  }
  if (!c) {
    c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->fd = s;
    c->h = h;
    if (uv_poll_init_socket(h->rt->loop, &c->poll, s) != 0) { free(c); return -1; }
    c->poll.data = c;
    curl_multi_assign(h->multi, s, c);
  }
  int ev = ((action & CURL_POLL_IN) ? UV_READABLE : 0) | ((action & CURL_POLL_OUT) ? UV_WRITABLE : 0);
  uv_poll_start(&c->poll, ev, on_poll);
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  rt_http *h = t->data;
  int running;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(h);
}

/* A 0 ms timeout still goes through the loop (next iteration), so libcurl is never re-entered. */
static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  rt_http *h = userp;
  if (timeout_ms < 0) uv_timer_stop(&h->timer);
  else uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

/* Rewrites the message of a failed transfer where libcurl's own misleads: an oversized response
 * header is CURLE_OUT_OF_MEMORY ("Out of memory") in libcurl 7.88, and a connection the server
 * reset while libuv polled it is "select/poll returned error". The words a user can act on are
 * decided here, beside the transport, and land in errbuf, which callers show. */
static void describe_failure(rt_http_req *r, CURLcode res, int poll_errno) {
  if (res == CURLE_OK) return;
  if (res == CURLE_OUT_OF_MEMORY && !r->abort_rc)
    snprintf(r->errbuf, sizeof r->errbuf, "response header too large (libcurl takes at most "
             "100 KiB of them)");
  else if (poll_errno == ECONNRESET || strstr(r->errbuf, "Connection reset by peer"))
    snprintf(r->errbuf, sizeof r->errbuf, "connection reset by the server");
  else if (poll_errno)
    snprintf(r->errbuf, sizeof r->errbuf, "connection failed: %s", strerror(poll_errno));
  else if (res == CURLE_GOT_NOTHING)
    snprintf(r->errbuf, sizeof r->errbuf, "the server closed the connection without an answer");
}

/* Reads finished transfers. Everything is copied out of the message before the handle is
 * removed (which invalidates it); then `done` runs, which may start new transfers. */
static void check_done(rt_http *h) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *e = m->easy_handle;
    CURLcode res = m->data.result;
    rt_http_req *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_off_t ra = -1;
    long conns = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
    curl_multi_remove_handle(h->multi, e);
    r->curl_code = res;
    describe_failure(r, res, h->poll_errno);
    r->new_connections = conns;
    h->stats.connections += (uint64_t)conns;
    if (ra > 0) r->retry_after = (double)ra;
    r->active = 0;
    rt_list_unlink(&r->link);
    h->stats.active--;
    if (h->npool < EASY_POOL) h->pool[h->npool++] = e; else curl_easy_cleanup(e);
    r->easy = NULL;
    r->done(r);
  }
}

int rt_http_init(rt_runtime *rt) {
  rt_http *h = calloc(1, sizeof *h);
  if (!h) return RT_ENOMEM;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h->multi = curl_multi_init())) {
    free(h);
    return RT_ENOMEM;
  }
  h->rt = rt;
  rt_list_init(&h->active);
  uv_timer_init(rt->loop, &h->timer);
  h->timer.data = h;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  /* A safety net, not a limiter: the account limiters decide what is sent. */
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
  rt->http = h;
  return 0;
}

static void timer_closed(uv_handle_t *t) { free(t->data); }

void rt_http_close(rt_runtime *rt) {
  rt_http *h = rt->http;
  if (!h) return;
  h->closing = 1;
  RT_LIST_EACH(it, &h->active) rt_http_cancel(RT_CONTAINER(it, rt_http_req, link));
  for (int i = 0; i < h->npool; i++) curl_easy_cleanup(h->pool[i]);
  curl_multi_cleanup(h->multi); /* may call socket_cb: the loop is still alive */
  uv_close((uv_handle_t *)&h->timer, timer_closed);
  curl_global_cleanup();
  rt->http = NULL;
}

void rt_http_req_init(rt_http_req *r) {
  memset(r, 0, sizeof *r);
  strcpy(r->method, "GET");
  r->max_body = 8u << 20;
  rt_list_init(&r->link);
}

int rt_http_req_url(rt_http_req *r, const char *url) {
  char *u = strdup(url);
  if (!u) return RT_ENOMEM;
  free(r->url);
  r->url = u;
  return 0;
}

int rt_http_req_header(rt_http_req *r, const char *line) {
  struct curl_slist *l = curl_slist_append(r->headers, line);
  if (!l) return RT_ENOMEM;
  r->headers = l;
  return 0;
}

int rt_http_req_body(rt_http_req *r, const char *data, size_t len) {
  char *b = malloc(len + 1);
  if (!b) return RT_ENOMEM;
  memcpy(b, data, len);
  b[len] = 0;
  free(r->body);
  r->body = b;
  r->body_len = len;
  return 0;
}

static int is_2xx(CURL *e) {
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status < 300;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
  rt_http_req *r = userp;
  size_t len = size * n;
  if (r->sink && is_2xx(r->easy)) {
    int rc = r->sink(r, data, len);
    if (rc) { r->abort_rc = rc; return 0; }
    r->sunk += len;
    return len;
  }
  if (r->resp_len + len > r->max_body) { r->abort_rc = RT_ETOOBIG; return 0; }
  if (r->resp_len + len + 1 > r->resp_cap) {
    size_t cap = r->resp_cap ? r->resp_cap : 4096;
    while (cap < r->resp_len + len + 1) cap *= 2;
    char *p = realloc(r->resp, cap);
    if (!p) { r->abort_rc = RT_ENOMEM; return 0; }
    r->resp = p;
    r->resp_cap = cap;
  }
  memcpy(r->resp + r->resp_len, data, len);
  r->resp_len += len;
  r->resp[r->resp_len] = 0;
  return len;
}

/* "Ratelimit: "default";r=50;t=30" -> left 50, reset 30 s. Numbers from a server are bounded
 * before anything uses them: r >= 0, t in [0, a day] (NaN and inf included). */
static void parse_ratelimit(rt_http_req *r, const char *v) {
  const char *p = strstr(v, ";r=");
  const char *t = strstr(v, ";t=");
  if (p) {
    long left = strtol(p + 3, NULL, 10);
    r->ratelimit_left = left < 0 ? 0 : left;
  }
  if (t) r->ratelimit_reset = rt_clamp_seconds(strtod(t + 3, NULL), 86400);
}

static size_t on_header(char *data, size_t size, size_t n, void *userp) {
  rt_http_req *r = userp;
  size_t len = size * n;
  char line[256];
  if (len >= sizeof line) return len;
  memcpy(line, data, len);
  line[len] = 0;
  line[strcspn(line, "\r\n")] = 0;
  if (strncmp(line, "HTTP/", 5) == 0) { /* a new response (e.g. after 100 Continue) */
    r->content_type[0] = 0;
    r->content_encoding[0] = 0;
    r->ratelimit_left = -1;
    r->ratelimit_reset = -1;
    return len;
  }
  char *colon = strchr(line, ':');
  if (!colon) return len;
  *colon = 0;
  const char *v = colon + 1;
  while (isspace((unsigned char)*v)) v++;
  if (strcasecmp(line, "content-type") == 0) snprintf(r->content_type, sizeof r->content_type, "%s", v);
  else if (strcasecmp(line, "content-encoding") == 0) snprintf(r->content_encoding, sizeof r->content_encoding, "%s", v);
  else if (strcasecmp(line, "ratelimit") == 0) parse_ratelimit(r, v);
  if (r->on_header_line) r->on_header_line(r, line, v);
  return len;
}

static CURL *take_easy(rt_http *h) {
  if (h->npool > 0) {
    CURL *e = h->pool[--h->npool];
    curl_easy_reset(e);
    return e;
  }
  return curl_easy_init();
}

int rt_http_start(rt_http *h, rt_http_req *r) {
  if (h->closing) return RT_ESHUTDOWN;
  if (r->active) rt_http_cancel(r);
  CURL *e = take_easy(h);
  if (!e) return RT_ENOMEM;
  r->http = h;
  r->easy = e;
  r->curl_code = 0;
  r->abort_rc = 0;
  r->status = 0;
  r->resp_len = 0;
  if (r->resp) r->resp[0] = 0;
  r->sunk = 0;
  r->retry_after = -1;
  r->ratelimit_left = -1;
  r->ratelimit_reset = -1;
  r->content_type[0] = 0;
  r->content_encoding[0] = 0;
  r->errbuf[0] = 0;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* Plain http never goes through a proxy (http_proxy, HTTP_PROXY, ALL_PROXY): the proxy would
   * read the request, Authorization header and all. "" overrides the environment. https keeps
   * the proxies the environment sets: they only tunnel encrypted bytes. */
  if (strncasecmp(r->url, "http://", 7) == 0) curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "pcaprun/" PCAPRUN_VERSION);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, r->identity ? "identity" : "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  /* timeouts are bounded (a year at most) and never round down to 0, which means none */
  if (r->timeout > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ceil(rt_clamp_seconds(r->timeout, 31536000) * 1000));
  if (r->stall_timeout > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)ceil(rt_clamp_seconds(r->stall_timeout, 31536000)));
  }
  if (r->fresh_connect) curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  if (r->range_from > 0) {
    char range[32];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)r->range_from);
    curl_easy_setopt(e, CURLOPT_RANGE, range);
  }
  if (r->aws_sigv4) {
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, r->aws_sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, r->username ? r->username : "");
    curl_easy_setopt(e, CURLOPT_PASSWORD, r->password ? r->password : "");
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
  }
  if (strcmp(r->method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(r->method, "GET") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body || strcmp(r->method, "PUT") == 0) { /* PUT without a body sends Content-Length: 0 */
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
    }
  }
  if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    r->easy = NULL;
    return RT_ENOMEM;
  }
  r->active = 1;
  rt_list_push(&h->active, &r->link);
  h->stats.requests++;
  h->stats.active++;
  return 0;
}

void rt_http_cancel(rt_http_req *r) {
  if (!r->active) return;
  rt_http *h = r->http;
  curl_multi_remove_handle(h->multi, r->easy);
  curl_easy_cleanup(r->easy); /* never pooled: it may hold a half-used connection */
  r->easy = NULL;
  r->active = 0;
  rt_list_unlink(&r->link);
  h->stats.active--;
}

void rt_http_req_free(rt_http_req *r) {
  rt_http_cancel(r);
  curl_slist_free_all(r->headers);
  free(r->url);
  free(r->body);
  free(r->resp);
  r->headers = NULL;
  r->url = r->body = r->resp = NULL;
  r->resp_len = r->resp_cap = 0;
}

void rt_http_get_stats(rt_http *h, rt_http_stats *s) { *s = h->stats; }

/* Plain http goes only where nobody else can listen: a literal loopback address (127.0.0.0/8 as a
 * dotted quad, [::1]) or the name localhost, which libcurl resolves to loopback itself. A name is
 * not looked at further: 127.example.test may resolve anywhere. */
static int loopback_host(const char *h) {
  struct in_addr a;
  if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0) return 1;
  return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int rt_http_check_secure_url(const char *url, const char *what, char *host, size_t hostlen, char *err,
                             size_t errlen) {
  CURLU *u = curl_url();
  char *scheme = NULL, *h = NULL, *user = NULL, shown[256];
  int rc = RT_EINVAL;
  rt_spec_redact_secrets(url, shown, sizeof shown);
  if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
    snprintf(err, errlen, "%s '%s' is not a valid URL", what, shown);
  } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
    snprintf(err, errlen, "%s '%s' must not hold a user name or password (credentials are given "
             "separately)", what, shown);
  } else if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && loopback_host(h))) {
    snprintf(err, errlen, "%s must use https (http is allowed only for loopback: 127.x.y.z, [::1], "
             "localhost), got '%s'", what, shown);
  } else {
    snprintf(host, hostlen, "%s", h);
    rc = 0;
  }
  curl_free(scheme);
  curl_free(h);
  curl_free(user);
  curl_url_cleanup(u);
  return rc;
}
