/* Fuzz target: what pcaprun serve reads from anyone who can reach it, before and after the proof
 * (runtime/serve/serve_verify.c, serve_intake.c). The first byte picks the hook (and, from 0xf0,
 * a body announced too large); the input up to the first newline is the proof header
 * (cf-webhook-auth, X-PagerDuty-Signature, where "SIGN" becomes the body's true signature, or
 * Authorization), the rest the body.
 * The intake has no journal, so an alert that passes every check is answered 503 (never 202).
 * Oracles: every answer is one of 400, 401, 404, 413, 503 and a JSON object; 401 exactly when the
 * proof is wrong; nothing is counted as received. */
#include "fuzz.h"
#include "serve.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define SECRET "fuzz-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  rt_runtime rt;
  memset(&rt, 0, sizeof rt);
  static rt_serve s;
  memset(&s, 0, sizeof s);
  s.rt = &rt;
  s.qcap = 4;
  char secret[] = SECRET;
  for (int i = 0; i < RT_SRC_COUNT; i++) s.secret[i] = secret;
  int src = data[0] % 4 - 1; /* -1: no such hook */
  const char *rest = (const char *)data + 1;
  size_t left = size - 1;
  const char *nl = memchr(rest, '\n', left);
  size_t hlen = nl ? (size_t)(nl - rest) : left;
  char header[512];
  snprintf(header, sizeof header, "%.*s", (int)(hlen < sizeof header ? hlen : sizeof header - 1), rest);
  const char *body = nl ? nl + 1 : rest + left;
  size_t blen = (size_t)(rest + left - body);
  char *copy = malloc(blen + 1); /* the server's bodies are NUL-terminated */
  memcpy(copy, body, blen);
  copy[blen] = 0;
  char sig[700];
  snprintf(sig, sizeof sig, "%s", header);
  char *mark = strstr(sig, "SIGN");
  if (src == RT_SRC_PAGERDUTY && mark) { /* "SIGN" in the header becomes the body's true signature */
    unsigned char mac[32];
    unsigned int n = 0;
    char hex[65], tail[520];
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)copy, blen, mac, &n);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    snprintf(tail, sizeof tail, "%s", mark + 4);
    snprintf(mark, sizeof sig - (size_t)(mark - sig), "%s%s", hex, tail);
  }
  rt_serve_req q = {.source = src, .body = copy, .len = blen, .too_large = data[0] >= 0xf0};
  if (src == RT_SRC_CLOUDFLARE) q.cf_auth = header;
  if (src == RT_SRC_PAGERDUTY) q.pd_signature = sig, q.webhook_id = header;
  if (src == RT_SRC_ALERTMANAGER) q.authorization = header;
  rt_serve_answer a;
  rt_serve_intake(&s, &q, &a);
  int proven = src == RT_SRC_CLOUDFLARE ? strcmp(header, SECRET) == 0
             : src == RT_SRC_ALERTMANAGER ? rt_serve_bearer(header, SECRET)
             : src == RT_SRC_PAGERDUTY ? rt_serve_pd_signed(sig, copy, blen, SECRET) : 0;
  FUZZ_CHECK(a.status == 400 || a.status == 401 || a.status == 404 || a.status == 413 || a.status == 503,
             "status %d", a.status);
  if (src >= 0 && !q.too_large) FUZZ_CHECK((a.status == 401) == !proven, "status %d, proof %d", a.status, proven);
  json_t *o = json_loads(a.body, 0, NULL);
  FUZZ_CHECK(json_is_object(o), "the answer is not a JSON object: %s", a.body);
  json_decref(o);
  for (int i = 0; i < RT_SRC_COUNT; i++) FUZZ_CHECK(s.received[i] == 0, "an alert was counted as received");
  free(copy);
  return 0;
}
