/* The daemon's HTTP side: libmicrohttpd without threads of its own, run by the runtime's libuv
 * loop (its epoll descriptor watched by a uv_poll, its timeouts by a uv_timer), so every request
 * is answered on the thread that owns Lua and the journal, and nothing needs a lock.
 *   POST /hooks/cloudflare | /hooks/pagerduty | /hooks/alertmanager   -> serve_intake.c
 *   GET  /healthz   200 "ok" (503 "draining" once SIGTERM came)
 *   GET  /metrics   the Prometheus text format 0.0.4 (serve_metrics.c)
 * Bodies are kept up to --max-body (a longer one is read and dropped, then answered 413); a
 * request whose header proof is wrong is not kept at all. Connections are bounded in number and
 * closed when idle. */
#include "bodybuf.h"
#include "err.h"
#include "log.h"
#include "serve.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_CONNECTIONS 512
#define IDLE_SECONDS 30

typedef struct conn {
  rt_serve_req q;
  rt_bodybuf body;
  int proof;          /* rt_serve_early_auth: 0 refused (drop the body), 1 or -1 keep it */
} conn;

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *type, const char *text, int retry) {
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  if (retry > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", retry);
    MHD_add_response_header(r, "Retry-After", v);
  }
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result get(rt_serve *s, struct MHD_Connection *c, const char *url) {
  if (strcmp(url, "/healthz") == 0)
    return reply(c, s->draining ? 503 : 200, "text/plain", s->draining ? "draining\n" : "ok\n", 0);
  if (strcmp(url, "/metrics") == 0) {
    char *text = rt_serve_metrics(s);
    if (!text) return MHD_NO;
    enum MHD_Result ok = reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, 0);
    free(text);
    return ok;
  }
  return reply(c, 404, "application/json", "{\"ok\":false,\"error\":\"not found\"}\n", 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  rt_serve *s = cls;
  conn *cx = *con_cls;
  (void)version;
  int post = strcmp(method, "POST") == 0;
  if (!cx) { /* the headers */
    if (!post) {
      if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(c, 405, "application/json", "{\"ok\":false,\"error\":\"method not allowed\"}\n", 0);
      return get(s, c, url);
    }
    if (!(cx = calloc(1, sizeof *cx))) return MHD_NO;
    *con_cls = cx;
    cx->q.source = strncmp(url, "/hooks/", 7) == 0 ? rt_serve_source_parse(url + 7) : -1;
    cx->q.cf_auth = header(c, "cf-webhook-auth");
    cx->q.pd_signature = header(c, "X-PagerDuty-Signature");
    cx->q.webhook_id = header(c, "X-Webhook-Id");
    cx->q.authorization = header(c, "Authorization");
    cx->proof = cx->q.source >= 0 ? rt_serve_early_auth(s, &cx->q) : 0;
    const char *cl = header(c, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cli.max_body) cx->body.too_large = 1;
    return MHD_YES;
  }
  if (*upload_size) { /* a part of the body */
    if (cx->proof != 0 && rt_bodybuf_append(&cx->body, upload, *upload_size, s->cli.max_body)) return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }
  rt_serve_answer a;
  cx->q.body = cx->body.data;
  cx->q.len = cx->body.len;
  cx->q.too_large = cx->body.too_large;
  rt_serve_intake(s, &cx->q, &a);
  return reply(c, a.status, "application/json", a.body, a.retry_after);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
  (void)cls, (void)c, (void)code;
  conn *cx = *con_cls;
  if (cx) {
    rt_bodybuf_free(&cx->body);
    free(cx);
  }
  *con_cls = NULL;
}

/* ---- on the loop ---- */

static void on_timer(uv_timer_t *t);

/* Runs what libmicrohttpd has to do now, then waits for its next timeout. */
static void run(rt_serve *s) {
  MHD_run(s->mhd);
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(s->mhd, &ms) == MHD_YES) uv_timer_start(&s->timer, on_timer, ms, 0);
  else uv_timer_stop(&s->timer);
}

static void on_timer(uv_timer_t *t) { run(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status, (void)events;
  run(p->data);
}

/* HOST:PORT or [V6]:PORT, numeric (or localhost). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, int *loopback) {
  char host[128];
  const char *colon = strrchr(spec, ':');
  if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) || colon - spec >= (long)sizeof host)
    return RT_EINVAL;
  snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = 0;
  }
  if (!host[0] || strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE}, *ai = NULL;
  if (atoi(colon + 1) > 65535 || getaddrinfo(host, colon + 1, &hints, &ai) != 0) return RT_EINVAL;
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *len = ai->ai_addrlen;
  freeaddrinfo(ai);
  if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((struct sockaddr_in6 *)ss)->sin6_addr;
    *loopback = IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  } else {
    *loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  }
  return 0;
}

int rt_serve_http_start(rt_serve *s, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  int loopback;
  if (parse_listen(s->cli.listen, &ss, &sslen, &loopback)) {
    snprintf(err, errlen, "--listen: expected HOST:PORT with a numeric address (e.g. 127.0.0.1:8080, [::1]:0), "
             "got '%s'", s->cli.listen);
    return RT_EINVAL;
  }
  unsigned flags = MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
  s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
                            MHD_OPTION_END);
  if (!s->mhd) {
    snprintf(err, errlen, "cannot listen on %s (address in use, or not this machine's?)", s->cli.listen);
    return RT_EIO;
  }
  const union MHD_DaemonInfo *fd = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  const union MHD_DaemonInfo *port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
  else inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
  snprintf(s->url, sizeof s->url, ss.ss_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u", host,
           port ? (unsigned)port->port : 0);
  uv_poll_init(s->rt->loop, &s->poll, fd->epoll_fd);
  uv_timer_init(s->rt->loop, &s->timer);
  s->poll.data = s->timer.data = s;
  s->handles = 2;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  run(s);
  if (!loopback)
    rt_log(RT_LOG_WARN, "serve.exposed", "listening off loopback: anyone who can reach this address can send "
           "alerts (they still need the secrets); the documented set-up is a reverse proxy or tunnel in front of "
           "a loopback address", "url", s->url, NULL);
  return 0;
}

/* The daemon is freed once libuv has let go of both handles. */
static void on_closed(uv_handle_t *h) {
  rt_serve *s = h->data;
  if (--s->handles == 0) free(s);
}

int rt_serve_http_stop(rt_serve *s) {
  int closing = s->handles > 0;
  if (closing) {
    uv_close((uv_handle_t *)&s->poll, on_closed);
    uv_close((uv_handle_t *)&s->timer, on_closed);
  }
  if (s->mhd) MHD_stop_daemon(s->mhd); /* after libuv stopped watching its descriptor */
  s->mhd = NULL;
  return closing;
}
