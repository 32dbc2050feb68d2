/* ctest-labels: unit;valgrind
 * runtime/http.c against hostile servers on loopback (issue 11, items 1 and 7): plain http never
 * goes through a proxy from the environment (a fake proxy records whether the Authorization
 * header reached it), and transport failures get messages that say what happened (an oversized
 * response header, a connection reset) instead of libcurl's "Out of memory" or "select/poll
 * returned error". Each server is a thread that answers one connection in a scripted way. */
#include "check.h"
#include "err.h"
#include "http.h"
#include "rt.h"
#include "vg.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum { S_OK, S_HUGE_HEADER, S_RESET, S_PROXY } script;

typedef struct server {
  int fd, port;
  script how;
  pthread_t thread;
  int saw_authorization; /* S_PROXY: the request it received carried Authorization */
  int requests;
} server;

/* Reads a request head (up to the blank line) into buf. */
static void read_head(int c, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = 0;
  while (n + 1 < size && !strstr(buf, "\r\n\r\n")) {
    ssize_t got = recv(c, buf + n, size - n - 1, 0);
    if (got <= 0) break;
    n += (size_t)got;
    buf[n] = 0;
  }
}

static void send_all(int c, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(c, p, len, MSG_NOSIGNAL);
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

static void *serve(void *arg) {
  server *s = arg;
  int c = accept(s->fd, NULL, NULL);
  if (c < 0) return NULL;
  char head[8192];
  read_head(c, head, sizeof head);
  if (!head[0]) { /* server_stop's wake-up call */
    close(c);
    return NULL;
  }
  s->requests++;
  static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  switch (s->how) {
  case S_OK: send_all(c, ok, sizeof ok - 1); break;
  case S_PROXY: {
    s->saw_authorization = strstr(head, "Authorization:") != NULL;
    static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(c, bad, sizeof bad - 1);
    break;
  }
  case S_HUGE_HEADER: { /* one header line of 1 MiB */
    static const char start[] = "HTTP/1.1 200 OK\r\nX-Big: ";
    send_all(c, start, sizeof start - 1);
    char *big = malloc(1 << 20);
    memset(big, 'a', 1 << 20);
    send_all(c, big, 1 << 20);
    free(big);
    break;
  }
  case S_RESET: { /* close with RST instead of an answer */
    struct linger l = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    break;
  }
  }
  close(c);
  return NULL;
}

static void server_start(server *s, script how) {
  memset(s, 0, sizeof *s);
  s->how = how;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  CHECK(bind(s->fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(s->fd, 4) == 0);
  getsockname(s->fd, (struct sockaddr *)&a, &len);
  s->port = ntohs(a.sin_port);
  pthread_create(&s->thread, NULL, serve, s);
}

/* Stops the server: a connection to it ends a thread still waiting in accept. */
static void server_stop(server *s) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  connect(c, (struct sockaddr *)&a, sizeof a);
  close(c);
  pthread_join(s->thread, NULL);
  close(s->fd);
}

static uv_loop_t loop;
static rt_runtime rt;
static int finished;

static void on_done(rt_http_req *r) {
  (void)r;
  finished = 1;
}

/* One GET of http://127.0.0.1:PORT/ with an Authorization header, run to its end. */
static void get(rt_http_req *r, int port) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
  rt_http_req_init(r);
  CHECK_INT(rt_http_req_url(r, url), 0);
  CHECK_INT(rt_http_req_header(r, "Authorization: Bearer not-for-the-proxy"), 0);
  r->timeout = 10;
  r->done = on_done;
  finished = 0;
  CHECK_INT(rt_http_start(rt.http, r), 0);
  while (!finished) uv_run(&loop, UV_RUN_ONCE);
}

static void setup(void) {
  memset(&rt, 0, sizeof rt);
  uv_loop_init(&loop);
  rt.loop = &loop;
  rt_options_default(&rt.opt);
  CHECK_INT(rt_http_init(&rt), 0);
}

static void teardown(void) {
  rt_http_close(&rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
}

static void t_no_proxy_for_plain_http(void) {
  static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"};
  server proxy, target;
  server_start(&proxy, S_PROXY);
  server_start(&target, S_OK);
  char purl[64];
  snprintf(purl, sizeof purl, "http://127.0.0.1:%d", proxy.port);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++) {
    setenv(vars[v], purl, 1);
    setup();
    rt_http_req r;
    get(&r, target.port);
    CHECK_INT(r.curl_code, CURLE_OK);
    CHECK_INT(r.status, 200); /* from the target, not the proxy's 502 */
    rt_http_req_free(&r);
    teardown();
    unsetenv(vars[v]);
    if (r.status != 200) break; /* the target's one connection was spent elsewhere */
    server_stop(&target);
    server_start(&target, S_OK);
  }
  server_stop(&target);
  server_stop(&proxy);
  CHECK_INT(proxy.requests, 0);
  CHECK_INT(proxy.saw_authorization, 0);
}

/* A request to a server that answers as `how` fails with a message that says `want`, not
 * libcurl's misleading `not`. */
static void fails_saying(script how, const char *want, const char *not) {
  server s;
  server_start(&s, how);
  setup();
  rt_http_req r;
  get(&r, s.port);
  CHECK(r.curl_code != CURLE_OK);
  CHECK_CONTAINS(r.errbuf, want);
  CHECK(strstr(r.errbuf, not) == NULL);
  rt_http_req_free(&r);
  teardown();
  server_stop(&s);
}

static void t_huge_header(void) { fails_saying(S_HUGE_HEADER, "response header too large", "memory"); }

static void t_reset(void) { fails_saying(S_RESET, "connection reset by the server", "select/poll"); }

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  RUN(t_no_proxy_for_plain_http);
  RUN(t_huge_header);
  RUN(t_reset);
  return check_done();
}
