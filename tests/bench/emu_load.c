/* Hostile load on a `pcaprun emulator` (issue 11, item 5): what many credentials and many slow
 * connections cost it. Prints one JSON line.
 *   emu_load URL tokens N     N GETs of the capture list on one keep-alive connection, each with
 *                             a credential never seen before (every one passes: the emulator
 *                             accepts any credentials unless told otherwise)
 *   emu_load URL rate N       N GETs the same way, spread over 50 credentials: requests per second
 *   emu_load URL slow N K     opens N connections that send half a request and then nothing,
 *                             then makes K ordinary requests (each on a new connection, 5 s
 *                             timeout) while those stay open: how many of the K were answered
 * URL is the emulator's base URL (http://127.0.0.1:PORT/client/v4). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ACCOUNT "0123456789abcdef0123456789abcdef"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *u) {
  (void)p, (void)u;
  return size * n;
}

static char failure[CURL_ERROR_SIZE]; /* why the first request that got no answer failed */

/* One GET of the list with `token` on e (keeps its connection unless fresh). Returns the status,
 * 0 when nothing came back. */
static long get_list(CURL *e, const char *base, const char *token, int fresh) {
  char url[512], auth[160];
  snprintf(url, sizeof url, "%s/accounts/%s/pcaps", base, ACCOUNT);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  struct curl_slist *h = curl_slist_append(NULL, auth);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  /* a hang guard: the claim is "answered", not how fast (a loaded machine is slow) */
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, (long)fresh);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, (long)fresh);
  long status = 0;
  CURLcode rc = curl_easy_perform(e);
  if (rc == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  else if (!failure[0]) snprintf(failure, sizeof failure, "%s", curl_easy_strerror(rc));
  curl_slist_free_all(h);
  return status;
}

/* N requests; credential i is "load-<pid>-<i>" (tokens) or "rate-<pid>-<i % 50>" (rate): new to
 * the emulator either way, so a lookup among the credentials it already knows finds none. */
static int requests(const char *base, long n, int distinct) {
  CURL *e = curl_easy_init();
  long ok = 0;
  char token[64];
  double t0 = now();
  for (long i = 0; i < n; i++) {
    snprintf(token, sizeof token, "%s-%ld-%ld", distinct ? "load" : "rate", (long)getpid(),
             distinct ? i : i % 50);
    long st = get_list(e, base, token, 0);
    ok += st == 200;
  }
  double secs = now() - t0;
  curl_easy_cleanup(e);
  printf("{\"requests\":%ld,\"ok\":%ld,\"seconds\":%.3f,\"rps\":%.1f}\n", n, ok, secs, n / secs);
  return ok == n ? 0 : 1;
}

/* host and port of http://HOST:PORT/... (numeric IPv4 host). */
static int parse_addr(const char *url, struct sockaddr_in *a) {
  char host[64];
  unsigned port;
  if (sscanf(url, "http://%63[0-9.]:%u", host, &port) != 2) return -1;
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((unsigned short)port);
  return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int slow(const char *base, long n, long k) {
  struct sockaddr_in a;
  if (parse_addr(base, &a)) {
    fprintf(stderr, "emu_load: slow needs http://IPV4:PORT/...\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int *fds = calloc((size_t)n, sizeof *fds);
  long open_n = 0;
  static const char half[] = "GET /client/v4/accounts/" ACCOUNT "/pcaps HTTP/1.1\r\nHost: x\r\n";
  for (long i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, half, sizeof half - 1) < 0) {
      close(fd);
      continue;
    }
    fds[open_n++] = fd;
  }
  usleep(200 * 1000); /* let the server take them all in */
  CURL *e = curl_easy_init();
  long served = 0;
  double t0 = now();
  for (long i = 0; i < k; i++) served += get_list(e, base, "slow-test", 1) == 200;
  double secs = now() - t0;
  curl_easy_cleanup(e);
  /* still open (the server has not dropped them)? a read that would block says so */
  long alive = 0;
  for (long i = 0; i < open_n; i++) {
    char c;
    alive += recv(fds[i], &c, 1, MSG_DONTWAIT) < 0;
    close(fds[i]);
  }
  free(fds);
  printf("{\"slow_connections\":%ld,\"still_open\":%ld,\"requests\":%ld,\"served\":%ld,"
         "\"seconds\":%.3f,\"failure\":\"%s\"}\n", open_n, alive, k, served, secs, failure);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: emu_load URL tokens|rate N | emu_load URL slow N K\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const char *base = argv[1], *mode = argv[2];
  long n = strtol(argv[3], NULL, 10);
  int rc = 2;
  if (!strcmp(mode, "tokens")) rc = requests(base, n, 1);
  else if (!strcmp(mode, "rate")) rc = requests(base, n, 0);
  else if (!strcmp(mode, "slow") && argc > 4) rc = slow(base, n, strtol(argv[4], NULL, 10));
  curl_global_cleanup();
  return rc;
}
