/* Fuzz target: the emulator's request pipeline (runtime/emu/emu_pipeline.c) without sockets, on a
 * server made once (emu_server_new: state, configuration, directories; no HTTP, no delivery
 * thread). An input is up to 8 requests, separated by a line "---":
 *   METHOD URL
 *   Header: value            (Authorization, X-Auth-Email, X-Auth-Key, X-Pcaprun-Intent, Range,
 *   ...                       X-Pcaprun-Admin-Token; others are ignored, as the server ignores them)
 *   <empty line>
 *   body (any bytes)
 * so a create can be followed by a get, a stop or a download of the capture it made (ids repeat
 * after each input's reset: the first is in emu.dict), and admin requests can change the
 * configuration on the way. After each input the state and the configuration are reset.
 * Oracles: every reply is dropped or has a status in 100..599; a body is JSON (unless the
 * malformed-body fault is on), an API reply's an envelope with a boolean "success"; the accepted
 * token never appears in a reply unless the request carried it; a download is a file of the
 * server's data directory. The server counts as stopping, so a "slow" fault does not sleep. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "emu_internal.h"
#include "fuzz.h"
#include <ftw.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SECRET "fuzz-secret-token-7f3a"
static emu_server *S;
static emu_config base;

static void cleanup(void) { emu_stop(S); } /* its temporary directories go with it */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  struct stat st;
  if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) setenv("TMPDIR", "/dev/shm", 1);
  char err[256];
  int rc = emu_server_new("{\"token\":\"" SECRET "\",\"time_scale\":0.001,\"seed\":1}", &S, err, sizeof err);
  FUZZ_CHECK(rc == 0, "emu_server_new: %s", err);
  pthread_mutex_lock(&S->mu);
  S->stopping = 1; /* emu_sleep_ms returns at once */
  base = S->cfg;
  pthread_mutex_unlock(&S->mu);
  atexit(cleanup);
  return 0;
}

static int rm_below(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag;
  if (ftw->level > 0) remove(path);
  return 0;
}

/* Points *value at the header's value when line is "name: value" (any case). */
static int header(char *line, const char *name, const char **value) {
  size_t n = strlen(name);
  if (strncasecmp(line, name, n) != 0 || line[n] != ':') return 0;
  const char *v = line + n + 1;
  while (*v == ' ') v++;
  *value = v;
  return 1;
}

static void one(char *req, size_t len, int has_secret) {
  char *nl = memchr(req, '\n', len);
  if (!nl) return;
  *nl = 0;
  char *sp = strchr(req, ' ');
  if (!sp) return;
  *sp = 0;
  const char *method = req, *url = sp + 1;
  emu_request q = {.method = method};
  /* headers until an empty line; the rest is the body */
  char *p = nl + 1, *end = req + len;
  while (p < end) {
    char *e = memchr(p, '\n', (size_t)(end - p));
    if (!e) e = end;
    *e = 0;
    if (p == e) {
      p = e + 1;
      break;
    }
    const char *v;
    if (header(p, "Authorization", &v)) q.authorization = v;
    else if (header(p, "X-Auth-Email", &v)) q.auth_email = v;
    else if (header(p, "X-Auth-Key", &v)) q.auth_key = v;
    else if (header(p, "Range", &v)) q.range = v;
    else if (header(p, "X-Pcaprun-Admin-Token", &v)) q.admin_token = v;
    else if (header(p, "X-Pcaprun-Intent", &v)) snprintf(q.intent, sizeof q.intent, "%s", v);
    p = e + 1;
  }
  q.body = p < end ? p : "";
  q.body_len = p < end ? (size_t)(end - p) : 0;
  pthread_mutex_lock(&S->mu);
  q.too_large = q.body_len > (size_t)S->cfg.max_body;
  pthread_mutex_unlock(&S->mu);

  emu_reply r;
  emu_pcap_params pcap;
  emu_reply_init(&r, &pcap);
  emu_handle(S, url, &q, &r);
  pthread_mutex_lock(&S->mu);
  int malformed_on = S->cfg.fault_malformed > 0;
  pthread_mutex_unlock(&S->mu);
  if (!r.drop) FUZZ_CHECK(r.status >= 100 && r.status <= 599, "%s %s: status %d", method, url, r.status);
  if (r.is_file) {
    FUZZ_CHECK(r.status == 200 && strncmp(pcap.path, S->data_dir, strlen(S->data_dir)) == 0 &&
               !strstr(pcap.path, ".."), "%s %s: file %s", method, url, pcap.path);
  }
  if (r.body) {
    FUZZ_CHECK(has_secret || !strstr(r.body, SECRET), "%s %s: the token in the reply: %s", method, url, r.body);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    FUZZ_CHECK(j || malformed_on, "%s %s: not JSON: %s", method, url, r.body);
    if (j && strncmp(url, "/__admin/", 9) != 0)
      FUZZ_CHECK(json_is_boolean(json_object_get(j, "success")), "%s %s: not an envelope: %s", method, url, r.body);
    json_decref(j);
  }
  free(r.body);
}

/* The first n bytes at p that equal what, or NULL (memmem is a GNU extension). */
static char *find(char *p, size_t len, const char *what, size_t n) {
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(p + i, what, n) == 0) return p + i;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  memcpy(buf, data, size);
  buf[size] = 0;
  int has_secret = find(buf, size, SECRET, strlen(SECRET)) != NULL;
  char *p = buf, *end = buf + size;
  for (int n = 0; n < 8 && p < end; n++) {
    char *sep = find(p, (size_t)(end - p), "\n---\n", 5);
    char *stop = sep ? sep : end;
    one(p, (size_t)(stop - p), has_secret);
    p = sep ? sep + 5 : end;
  }
  free(buf);
  pthread_mutex_lock(&S->mu);
  int buckets = S->stats.buckets_created > 0;
  emu_set_config(S, &base);
  emu_reset(S);
  pthread_mutex_unlock(&S->mu);
  if (buckets) nftw(S->bucket_dir, rm_below, 16, FTW_DEPTH | FTW_PHYS); /* challenge files */
  return 0;
}
