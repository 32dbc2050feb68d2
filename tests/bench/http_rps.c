/* The baseline for http_rps.lua: N GETs of URL, K at a time, on one libcurl multi handle driven
 * by libuv (curl's multi-uv.c pattern: one uv_poll per socket, one uv_timer), bodies discarded,
 * easy handles reused so connections stay alive. Nothing else: no tasks, no Lua.
 *   http_rps URL N K      prints one JSON line */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct sock {
  uv_poll_t poll;
  curl_socket_t fd;
} sock;

static uv_loop_t *loop;
static uv_timer_t timer;
static CURLM *multi;
static const char *url;
static long started, finished, failed, total;

static size_t discard(char *p, size_t size, size_t n, void *u) {
  (void)p;
  (void)u;
  return size * n;
}

static void start(CURL *e) {
  started++;
  curl_multi_add_handle(multi, e);
}

static void check_done(void) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *e = m->easy_handle;
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (m->data.result != CURLE_OK || code != 200) failed++;
    finished++;
    curl_multi_remove_handle(multi, e);
    if (started < total) start(e);
    else curl_easy_cleanup(e);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  int flags = (status < 0 ? CURL_CSELECT_ERR : 0) | (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
              (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
  int running;
  curl_multi_socket_action(multi, ((sock *)p->data)->fd, flags, &running);
  check_done();
}

static void on_timeout(uv_timer_t *t) {
  (void)t;
  int running;
  curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done();
}

static void sock_closed(uv_handle_t *h) { free(h->data); }

static int socket_cb(CURL *e, curl_socket_t fd, int action, void *userp, void *socketp) {
  (void)e;
  (void)userp;
  sock *s = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, sock_closed);
      curl_multi_assign(multi, fd, NULL);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s || uv_poll_init_socket(loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->poll.data = s;
    curl_multi_assign(multi, fd, s);
  }
  uv_poll_start(&s->poll, (action & CURL_POLL_IN ? UV_READABLE : 0) | (action & CURL_POLL_OUT ? UV_WRITABLE : 0),
                on_poll);
  return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  (void)userp;
  if (timeout_ms < 0) uv_timer_stop(&timer);
  else uv_timer_start(&timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: http_rps URL N K\n");
    return 2;
  }
  url = argv[1];
  total = atol(argv[2]);
  long k = atol(argv[3]);
  loop = uv_default_loop();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  uv_timer_init(loop, &timer);
  uint64_t t0 = uv_hrtime();
  for (long i = 0; i < k && i < total; i++) {
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    start(e);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  double elapsed = (double)(uv_hrtime() - t0) / 1e9;
  printf("{\"requests\":%ld,\"concurrency\":%ld,\"failed\":%ld,\"per_s\":%.1f}\n", finished, k,
         failed + (total - finished), (double)finished / elapsed);
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return failed || finished != total;
}
