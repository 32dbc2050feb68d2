/* ctest-labels: unit;valgrind;serve
 * The senders' proofs (runtime/serve/serve_verify.c): Cloudflare's shared secret, PagerDuty's
 * v1 HMAC-SHA256 signatures (one, a rotated pair in either order, spaces, malformed items, a
 * changed body, no secret), Alertmanager's bearer token; and the answers of the intake before
 * anything is recorded (no journal is needed for a refusal). The HMAC is checked against
 * OpenSSL's command-line tool's answer for the same body and key (RFC 4231 test case 2). */
#include "check.h"
#include "serve.h"
#include <stdio.h>
#include <string.h>

/* RFC 4231, test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?") */
#define KEY "Jefe"
#define DATA "what do ya want for nothing?"
#define MAC "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
#define OTHER "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"

static int signed_by(const char *header, const char *secret) {
  return rt_serve_pd_signed(header, DATA, strlen(DATA), secret);
}

static void t_pagerduty(void) {
  CHECK(signed_by("v1=" MAC, KEY));
  CHECK(signed_by("v1=" OTHER ",v1=" MAC, KEY));         /* rotation: the new one second */
  CHECK(signed_by("v1=" MAC ", v1=" OTHER, KEY));        /* ... or first, with a space */
  CHECK(!signed_by("v1=" OTHER, KEY));
  CHECK(!signed_by("v1=" MAC, "jefe"));                   /* another secret */
  CHECK(!signed_by("v2=" MAC, KEY));                      /* another scheme */
  CHECK(!signed_by("v1=" MAC "00", KEY));                 /* too long */
  CHECK(!signed_by("v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384", KEY));
  CHECK(!signed_by("", KEY));
  CHECK(!signed_by(NULL, KEY));
  CHECK(!signed_by("v1=" MAC, NULL));
  CHECK(!signed_by("v1=" MAC, ""));
  CHECK(!rt_serve_pd_signed("v1=" MAC, DATA "!", strlen(DATA) + 1, KEY)); /* the body changed */
  char many[2048] = "";
  for (int i = 0; i < 20; i++) strcat(many, "v1=" OTHER ",");
  strcat(many, "v1=" MAC);
  CHECK(!signed_by(many, KEY)); /* at most 16 signatures are read */
}

static void t_secrets(void) {
  CHECK(rt_serve_secret_equal("s3cret", "s3cret"));
  CHECK(!rt_serve_secret_equal("s3cret ", "s3cret"));
  CHECK(!rt_serve_secret_equal("s3cre", "s3cret"));
  CHECK(!rt_serve_secret_equal("", "s3cret"));
  CHECK(!rt_serve_secret_equal(NULL, "s3cret"));
  CHECK(!rt_serve_secret_equal("", ""));   /* no secret configured: nothing matches */
  CHECK(!rt_serve_secret_equal("x", NULL));
  CHECK(rt_serve_bearer("Bearer tok-1", "tok-1"));
  CHECK(rt_serve_bearer("bearer tok-1", "tok-1"));
  CHECK(!rt_serve_bearer("Basic tok-1", "tok-1"));
  CHECK(!rt_serve_bearer("Bearer tok-2", "tok-1"));
  CHECK(!rt_serve_bearer("tok-1", "tok-1"));
  CHECK(!rt_serve_bearer(NULL, "tok-1"));
  char hex[65];
  rt_serve_sha256_hex("abc", 3, hex);
  CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Refusals come before anything is parsed or recorded: a daemon without a journal answers them. */
static void t_intake_refusals(void) {
  rt_runtime rt;
  memset(&rt, 0, sizeof rt);
  rt_serve s;
  memset(&s, 0, sizeof s);
  s.rt = &rt;
  s.qcap = 1;
  char cf[] = "cf-secret";
  s.secret[RT_SRC_CLOUDFLARE] = cf;
  rt_serve_answer a;
  rt_serve_req q = {.source = RT_SRC_CLOUDFLARE, .cf_auth = "wrong", .body = "{}", .len = 2};
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 401);
  q.cf_auth = "cf-secret";
  q.body = "{not json";
  q.len = strlen(q.body);
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 400);
  q.body = "{\"name\":\"x\"}"; /* neither text nor alert_type */
  q.len = strlen(q.body);
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 400);
  q.too_large = 1;
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 413);
  q.too_large = 0;
  q.source = RT_SRC_PAGERDUTY; /* no secret configured: refused whatever it carries */
  q.pd_signature = "v1=" MAC;
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 401);
  q.source = -1;
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 404);
  CHECK_INT(s.rejected[RT_SRC_CLOUDFLARE][RT_REJ_AUTH], 1);
  CHECK_INT(s.rejected[RT_SRC_CLOUDFLARE][RT_REJ_MALFORMED], 2);
  CHECK_INT(s.rejected[RT_SRC_PAGERDUTY][RT_REJ_AUTH], 1);
  /* a well-formed alert with no journal to record it: 503, try again later (never a 202) */
  q.source = RT_SRC_CLOUDFLARE;
  q.body = "{\"text\":\"test\"}";
  q.len = strlen(q.body);
  rt_serve_intake(&s, &q, &a);
  CHECK_INT(a.status, 503);
  CHECK(a.retry_after > 0);
  CHECK_CONTAINS(a.body, "\"retry_after\"");
}

int main(void) {
  RUN(t_pagerduty);
  RUN(t_secrets);
  RUN(t_intake_refusals);
  return check_done();
}
