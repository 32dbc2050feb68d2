/* The client of the pcaprun serve benchmark (serve.sh): N requests to URL, K at a time, on one
 * libcurl multi handle (curl_multi_wait; keep-alive connections), timed to the microsecond.
 *   serve_post URL N K [SECRET FIRST]
 * With SECRET, each request is a POST of Cloudflare L3/4 DDoS alert number FIRST + i (its own
 * correlation id and target) with cf-webhook-auth: SECRET; without, a GET. Prints one line per
 * request: "STATUS START_WALL SECONDS ALERT_ID" (the wall clock when it was started, the time to
 * its whole answer, the "alert" of a 202's body or 0), then "# PER_SECOND" (requests over the
 * wall time of them all). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct req {
  CURL *e;
  struct curl_slist *headers;
  char body[1024];
  char answer[512];
  size_t alen;
  double start;
} req;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t keep(char *p, size_t size, size_t n, void *u) {
  req *r = u;
  size_t len = size * n, room = sizeof r->answer - 1 - r->alen;
  memcpy(r->answer + r->alen, p, len < room ? len : room);
  r->alen += len < room ? len : room;
  r->answer[r->alen] = 0;
  return len;
}

static void prepare(req *r, const char *url, const char *secret, long alert) {
  r->alen = 0;
  r->answer[0] = 0;
  curl_easy_setopt(r->e, CURLOPT_URL, url);
  curl_easy_setopt(r->e, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(r->e, CURLOPT_WRITEDATA, r);
  if (!secret) return;
  snprintf(r->body, sizeof r->body,
           "{\"name\":\"DDoS Alert\",\"text\":\"bench alert %ld\",\"ts\":1795714020,\"alert_type\":\"dos_attack_l4\","
           "\"alert_correlation_id\":\"bench-%08ld\",\"alert_event\":\"ALERT_STATE_EVENT_START\",\"data\":"
           "{\"target_ip\":\"10.%ld.%ld.%ld\",\"target_port\":443,\"protocol\":\"TCP\",\"attack_vector\":\"SYN Flood\","
           "\"start_time\":\"2026-11-26T17:25:00Z\"}}",
           alert, alert, (alert >> 16) & 255, (alert >> 8) & 255, alert & 255);
  curl_easy_setopt(r->e, CURLOPT_POSTFIELDS, r->body);
  if (!r->headers) {
    char h[256];
    snprintf(h, sizeof h, "cf-webhook-auth: %s", secret);
    r->headers = curl_slist_append(curl_slist_append(NULL, h), "Content-Type: application/json");
  }
  curl_easy_setopt(r->e, CURLOPT_HTTPHEADER, r->headers);
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 6) {
    fprintf(stderr, "usage: serve_post URL N K [SECRET FIRST]\n");
    return 2;
  }
  const char *url = argv[1], *secret = argc == 6 ? argv[4] : NULL;
  long n = atol(argv[2]), k = atol(argv[3]), first = argc == 6 ? atol(argv[5]) : 0, next = 0, done = 0;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM *multi = curl_multi_init();
  req *reqs = calloc((size_t)k, sizeof *reqs);
  double t0 = wall();
  for (long i = 0; i < k && next < n; i++, next++) {
    reqs[i].e = curl_easy_init();
    curl_easy_setopt(reqs[i].e, CURLOPT_PRIVATE, &reqs[i]);
    prepare(&reqs[i], url, secret, first + next);
    reqs[i].start = wall();
    curl_multi_add_handle(multi, reqs[i].e);
  }
  while (done < n) {
    int running, left;
    curl_multi_perform(multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(multi, &left))) {
      if (m->msg != CURLMSG_DONE) continue;
      req *r;
      long code = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
      const char *id = strstr(r->answer, "\"alert\":");
      printf("%ld %.6f %.6f %ld\n", m->data.result == CURLE_OK ? code : 0, r->start, wall() - r->start,
             code == 202 && id ? atol(id + 8) : 0);
      done++;
      curl_multi_remove_handle(multi, r->e);
      if (next < n) {
        prepare(r, url, secret, first + next++);
        r->start = wall();
        curl_multi_add_handle(multi, r->e);
      }
    }
    if (done < n) curl_multi_wait(multi, NULL, 0, 100, NULL);
  }
  printf("# %.1f\n", (double)n / (wall() - t0));
  for (long i = 0; i < k; i++) {
    if (reqs[i].e) curl_easy_cleanup(reqs[i].e);
    curl_slist_free_all(reqs[i].headers);
  }
  free(reqs);
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return 0;
}
