/* Helpers for the emulator tests: an in-process emulator, real HTTP through libcurl's easy API,
 * JSON lookups, and a re-exec under valgrind when PCAPRUN_VALGRIND=1 (make test-valgrind). */
#ifndef PCAPRUN_EMU_TEST_H
#define PCAPRUN_EMU_TEST_H
#include "check.h"
#include "vg.h"
#include "emu/emu.h"
#include "err.h"
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ACCT "0123456789abcdef0123456789abcdef"
#define BEARER "Authorization: Bearer test-token"

/* Scales sleeps and waits: valgrind runs everything ~20x slower. */
static inline double slow_factor(void) { return getenv("PCAPRUN_UNDER_VALGRIND") ? 8.0 : 1.0; }

typedef struct http_res {
  long status;
  CURLcode curl;
  char *body;
  size_t len;
  char headers[4096];
  json_t *json; /* parsed body, or NULL */
} http_res;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  http_res *r = ud;
  char *b = realloc(r->body, r->len + sz * n + 1);
  if (!b) return 0;
  memcpy(b + r->len, p, sz * n);
  r->body = b;
  r->len += sz * n;
  b[r->len] = 0;
  return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  http_res *r = ud;
  size_t used = strlen(r->headers), len = sz * n;
  if (used + len < sizeof r->headers) {
    memcpy(r->headers + used, p, len);
    r->headers[used + len] = 0;
  }
  return len;
}

static inline void http_free(http_res *r) {
  free(r->body);
  json_decref(r->json);
  memset(r, 0, sizeof *r);
}

/* One request. `hdrs` is a NULL-terminated list of "Name: value" lines (may be NULL); body
 * NULL sends none. */
static inline http_res http_do(const char *method, const char *url, const char *const *hdrs,
                               const char *body) {
  http_res r = {0};
  CURL *c = curl_easy_init();
  struct curl_slist *list = NULL;
  for (int i = 0; hdrs && hdrs[i]; i++) list = curl_slist_append(list, hdrs[i]);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  r.curl = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  if (r.body) r.json = json_loads(r.body, JSON_DECODE_ANY, NULL);
  return r;
}

/* The value of response header `name` (case-insensitive) copied into buf; NULL when absent. */
static inline const char *http_header(const http_res *r, const char *name, char *buf,
                                      size_t size) {
  size_t n = strlen(name);
  for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ') v++;
      size_t len = strcspn(v, "\r\n");
      snprintf(buf, size, "%.*s", (int)len, v);
      return buf;
    }
  }
  return NULL;
}

static inline long http_header_long(const http_res *r, const char *name) {
  char buf[64];
  return http_header(r, name, buf, sizeof buf) ? atol(buf) : -1;
}

/* A JSON value by dotted path, e.g. "result.status", "errors.0.code". */
static inline json_t *jpath(json_t *v, const char *path) {
  char key[64];
  while (v && *path) {
    size_t n = strcspn(path, ".");
    snprintf(key, sizeof key, "%.*s", (int)n, path);
    if (json_is_array(v)) v = json_array_get(v, (size_t)atoi(key));
    else v = json_object_get(v, key);
    path += n + (path[n] == '.');
  }
  return v;
}
static inline const char *jstr(json_t *v, const char *path) {
  return json_string_value(jpath(v, path));
}
static inline long long jint(json_t *v, const char *path) {
  json_t *x = jpath(v, path);
  return x ? (long long)json_number_value(x) : -999999;
}

/* ---- the emulator under test ---- */

typedef struct emu_fix {
  emu_server *s;
  char base[512];  /* http://127.0.0.1:PORT/client/v4 */
  char admin[512]; /* http://127.0.0.1:PORT/__admin */
} emu_fix;

static inline int emu_fix_start(emu_fix *f, const char *config) {
  memset(f, 0, sizeof *f);
  int rc = emu_start(config, &f->s, f->base, sizeof f->base);
  if (rc) {
    fprintf(stderr, "emu_start failed: %s\n", f->base);
    return rc;
  }
  char *slash = strstr(f->base + 7, "/client/v4");
  snprintf(f->admin, sizeof f->admin, "%.*s/__admin", (int)(slash ? slash - f->base
                                                                   : (long)strlen(f->base)),
           f->base);
  return 0;
}

static inline void emu_fix_stop(emu_fix *f) {
  emu_stop(f->s);
  f->s = NULL;
}

/* An API call with bearer auth: path is relative to .../accounts/ACCT (e.g. "/pcaps"). */
static inline http_res api(emu_fix *f, const char *method, const char *path, const char *body) {
  char url[1600];
  const char *hdrs[] = {BEARER, "Content-Type: application/json", NULL};
  snprintf(url, sizeof url, "%s/accounts/" ACCT "%s", f->base, path);
  return http_do(method, url, hdrs, body);
}

static inline http_res api_fmt(emu_fix *f, const char *method, const char *body,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline http_res api_fmt(emu_fix *f, const char *method, const char *body,
                               const char *fmt, ...) {
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  return api(f, method, path, body);
}

/* POST /__admin/config; returns the HTTP status. */
static inline long admin_config(emu_fix *f, const char *json) {
  char url[600];
  snprintf(url, sizeof url, "%s/config", f->admin);
  http_res r = http_do("POST", url, NULL, json);
  long st = r.status;
  if (st != 200) fprintf(stderr, "admin config %s -> %ld %s\n", json, st, r.body ? r.body : "");
  http_free(&r);
  return st;
}

/* The emulator's API clock, stopped (clock_freeze) and stepped (clock_advance, API seconds):
 * what a test sees then depends on the steps it takes, not on how loaded the machine is. */
static inline void clock_post(emu_fix *f, const char *json) {
  char url[600];
  snprintf(url, sizeof url, "%s/clock", f->admin);
  http_res r = http_do("POST", url, NULL, json);
  if (r.status != 200) fprintf(stderr, "admin clock %s -> %ld %s\n", json, r.status, r.body ? r.body : "");
  http_free(&r);
}
static inline void clock_freeze(emu_fix *f) { clock_post(f, "{\"freeze\":true}"); }
static inline void clock_advance(emu_fix *f, double api_seconds) {
  char body[64];
  snprintf(body, sizeof body, "{\"advance\":%.6f}", api_seconds);
  clock_post(f, body);
}

static inline void admin_reset(emu_fix *f) {
  char url[600];
  snprintf(url, sizeof url, "%s/reset", f->admin);
  http_res r = http_do("POST", url, NULL, "");
  http_free(&r);
}

/* A number from GET /__admin/stats by dotted path, e.g. "violations.sample_rate". */
static inline long long stat_of(emu_fix *f, const char *path) {
  char url[600];
  snprintf(url, sizeof url, "%s/stats", f->admin);
  http_res r = http_do("GET", url, NULL, NULL);
  long long v = jint(r.json, path);
  http_free(&r);
  return v;
}

static inline void sleep_s(double secs) {
  struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  nanosleep(&ts, NULL);
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls GET .../pcaps/ID until its status is `want` (or `timeout` real seconds pass). */
static inline int wait_status(emu_fix *f, const char *id, const char *want, double timeout) {
  double end = now_s() + timeout * slow_factor();
  while (now_s() < end) {
    http_res r = api_fmt(f, "GET", NULL, "/pcaps/%s", id);
    int hit = jstr(r.json, "result.status") && strcmp(jstr(r.json, "result.status"), want) == 0;
    http_free(&r);
    if (hit) return 1;
    sleep_s(0.01);
  }
  return 0;
}

#define SIMPLE_BODY "{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60," \
                    "\"packet_limit\":100}"
#define FULL_BODY_FOR(dest) "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60," \
                            "\"colo_name\":\"ORD\",\"destination_conf\":\"" dest "\"}"

/* Creates a capture; copies its id into id (33 bytes) and returns the HTTP status. */
static inline long create_capture(emu_fix *f, const char *body, char *id) {
  http_res r = api(f, "POST", "/pcaps", body);
  long st = r.status;
  if (id) snprintf(id, 33, "%s", jstr(r.json, "result.id") ? jstr(r.json, "result.id") : "");
  if (st != 200 && id) fprintf(stderr, "create -> %ld %s\n", st, r.body ? r.body : "");
  http_free(&r);
  return st;
}

#endif
