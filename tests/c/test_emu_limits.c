/* ctest-labels: emu;valgrind
 * ctest-timeout: 300
 * Emulator limits over real HTTP (runtime/API.md#9-limits, U2-U4, U18): one simple create per minute,
 * one full capture pending or running, the 1200/300 s request budget with its block, the
 * Ratelimit headers, retry-after values in API seconds, and the violation counters.
 * The emulator's API clock stands still (clock_freeze) and the tests step it (clock_advance), so
 * windows and blocks are exact whatever the machine's load. */
#include "emu_test.h"

static emu_fix F;

/* An emulator with its API clock stopped; the test moves it on with clock_advance. */
static void start_frozen(const char *extra) {
  char cfg[512];
  snprintf(cfg, sizeof cfg, "{%s}", extra);
  CHECK_INT(emu_fix_start(&F, cfg), 0);
  clock_freeze(&F);
}

static http_res create_as(const char *account, const char *auth, const char *intent,
                          const char *body) {
  char url[1024], ih[160];
  snprintf(url, sizeof url, "%s/accounts/%s/pcaps", F.base, account);
  snprintf(ih, sizeof ih, "X-Pcaprun-Intent: %s", intent ? intent : "");
  const char *hdrs[] = {auth, "Content-Type: application/json", intent ? ih : NULL, NULL};
  return http_do("POST", url, hdrs, body);
}

static void t_sample_rate(void) {
  start_frozen("");
  char id[33];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  http_res r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.status, 429);
  CHECK_INT(jint(r.json, "errors.0.code"), 1110);
  long ra = http_header_long(&r, "Retry-After");
  CHECK_INT(ra, 60); /* API seconds */
  http_free(&r);
  clock_advance(&F, 30); /* half the window */
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.status, 429);
  ra = http_header_long(&r, "Retry-After");
  CHECK_INT(ra, 30);
  http_free(&r);
  /* another account has its own window; full captures are not limited by it */
  r = create_as("ffffffffffffffffffffffffffffffff", BEARER, NULL, SIMPLE_BODY);
  CHECK_INT(r.status, 200);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.sample_rate"), 2);
  /* the window slides from the last accepted create: refused ones do not extend it */
  clock_advance(&F, 32);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.status, 429);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.sample_rate"), 3);
  CHECK_INT(stat_of(&F, "violations.total"), 3);
  /* status, code and message are configurable; the limit can be switched off */
  CHECK_INT(admin_config(&F, "{\"errors\":{\"sample_rate\":{\"status\":409,\"code\":2001,"
                             "\"message\":\"slow down\"}}}"), 200);
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.status, 409);
  CHECK_INT(jint(r.json, "errors.0.code"), 2001);
  CHECK_STR(jstr(r.json, "errors.0.message"), "slow down");
  CHECK(http_header_long(&r, "Retry-After") > 0);
  http_free(&r);
  CHECK_INT(admin_config(&F, "{\"sample_limit\":false}"), 200);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  emu_fix_stop(&F);
}

static void t_sample_scope_and_fixed_window(void) {
  start_frozen("\"sample_scope\":\"credential\"");
  const char *other = "Authorization: Bearer other-token";
  http_res r = create_as(ACCT, BEARER, NULL, SIMPLE_BODY);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = create_as(ACCT, other, NULL, SIMPLE_BODY); /* same account, other credential */
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = create_as("ffffffffffffffffffffffffffffffff", BEARER, NULL, SIMPLE_BODY);
  CHECK_INT(r.status, 429); /* same credential, other account */
  http_free(&r);
  emu_fix_stop(&F);

  /* fixed windows start at multiples of the window length on the API clock */
  start_frozen("\"sample_window_type\":\"fixed\",\"sample_window\":60");
  char id[33];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.status, 429);
  long ra = http_header_long(&r, "Retry-After");
  double api_now = (double)stat_of(&F, "api_now"); /* whole seconds are enough here */
  CHECK(ra >= 1 && ra <= 60);
  CHECK(ra <= 60 - (long)api_now % 60 + 2);
  http_free(&r);
  clock_advance(&F, (double)(ra + 1));
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  emu_fix_stop(&F);
}

static void t_full_concurrency(void) {
  start_frozen("\"auto_validate_buckets\":true");
  char a[33], b[33];
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("s3://demo/pcaps?region=us-east-1"), a), 200);
  http_res r = api(&F, "POST", "/pcaps", FULL_BODY_FOR("s3://demo/pcaps?region=us-east-1"));
  CHECK_INT(r.status, 409);
  CHECK_INT(jint(r.json, "errors.0.code"), 1111);
  CHECK(json_is_false(jpath(r.json, "success")));
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.full_concurrency"), 1);
  /* still refused while running */
  clock_advance(&F, 2.5); /* full_pending: 2 API s */
  http_res g = api_fmt(&F, "GET", NULL, "/pcaps/%s", a);
  CHECK_STR(jstr(g.json, "result.status"), "running");
  http_free(&g);
  r = api(&F, "POST", "/pcaps", FULL_BODY_FOR("s3://demo"));
  CHECK_INT(r.status, 409);
  http_free(&r);
  /* simple captures are not affected */
  CHECK_INT(create_capture(&F, SIMPLE_BODY, b), 200);
  /* once stopped it is converting, no longer pending or running */
  r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", a);
  CHECK_INT(r.status, 204);
  http_free(&r);
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("s3://demo"), b), 200);
  /* the answer is configurable: 400/409/429 */
  CHECK_INT(admin_config(&F, "{\"errors\":{\"full_concurrency\":{\"status\":429,\"code\":3001}}}"),
            200);
  r = api(&F, "POST", "/pcaps", FULL_BODY_FOR("s3://demo"));
  CHECK_INT(r.status, 429);
  CHECK_INT(jint(r.json, "errors.0.code"), 3001);
  http_free(&r);
  CHECK_INT(admin_config(&F, "{\"full_limit\":false}"), 200);
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("s3://demo"), b), 200);
  CHECK_INT(stat_of(&F, "violations.full_concurrency"), 3);
  emu_fix_stop(&F);
}

/* Ratelimit: "default";r=R;t=T */
static void ratelimit_of(const http_res *r, int *left, int *reset) {
  char buf[96];
  *left = *reset = -1;
  if (http_header(r, "Ratelimit", buf, sizeof buf)) sscanf(buf, "\"default\";r=%d;t=%d", left, reset);
}

static void t_budget(void) {
  start_frozen("\"rate_limit_quota\":5");
  char policy[96];
  int left, reset;
  /* every request counts, the refused ones too */
  for (int i = 0; i < 5; i++) {
    http_res r = i < 3 ? api(&F, "POST", "/pcaps", "{}") : api(&F, "GET", "/pcaps", NULL);
    CHECK_INT(r.status, i < 3 ? 400 : 200);
    ratelimit_of(&r, &left, &reset);
    CHECK_INT(left, 4 - i);
    CHECK_INT(reset, 300);
    CHECK_STR(http_header(&r, "Ratelimit-Policy", policy, sizeof policy), "\"default\";q=5;w=300");
    CHECK_INT(http_header_long(&r, "Retry-After"), -1); /* only on 429 */
    http_free(&r);
  }
  http_res r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 429);
  CHECK_INT(jint(r.json, "errors.0.code"), 971);
  CHECK_STR(jstr(r.json, "errors.0.message"),
            "Please wait and consider throttling your request speed");
  long ra = http_header_long(&r, "Retry-After");
  CHECK_INT(ra, 300); /* blocked for 300 API seconds */
  ratelimit_of(&r, &left, &reset);
  CHECK_INT(left, 0);
  CHECK_INT(reset, ra);
  http_free(&r);
  /* blocked: even a valid request is refused; other credentials are not */
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 429);
  CHECK(http_header_long(&r, "Retry-After") <= ra);
  http_free(&r);
  char url[1024];
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps", F.base);
  const char *keys[] = {"X-Auth-Email: a@example.com", "X-Auth-Key: k", NULL};
  r = http_do("GET", url, keys, NULL);
  CHECK_INT(r.status, 200);
  ratelimit_of(&r, &left, &reset);
  CHECK_INT(left, 4);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.api_budget"), 2);
  CHECK_INT(stat_of(&F, "violations.invalid_requests"), 3);
  /* admin requests never count */
  CHECK_INT(stat_of(&F, "requests.total"), 8);
  /* after the block (and the window) the credential is served again */
  clock_advance(&F, 310);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  ratelimit_of(&r, &left, &reset);
  CHECK_INT(left, 4);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_budget_sliding_window(void) {
  start_frozen("\"rate_limit_quota\":3,\"rate_limit_block\":50");
  int left, reset;
  http_res r = api(&F, "GET", "/pcaps", NULL);
  http_free(&r);
  r = api(&F, "GET", "/pcaps", NULL);
  http_free(&r);
  clock_advance(&F, 200);
  r = api(&F, "GET", "/pcaps", NULL); /* third in the window */
  ratelimit_of(&r, &left, &reset);
  CHECK_INT(left, 0);
  CHECK_INT(reset, 100); /* the oldest leaves the window 100 API s from now */
  http_free(&r);
  clock_advance(&F, 150); /* the first two have left the window, the third has not */
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  ratelimit_of(&r, &left, &reset);
  CHECK_INT(left, 1);
  http_free(&r);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = api(&F, "GET", "/pcaps", NULL); /* fourth in 300 s: blocked for rate_limit_block */
  CHECK_INT(r.status, 429);
  long ra = http_header_long(&r, "Retry-After");
  CHECK_INT(ra, 50);
  http_free(&r);
  /* the code is configurable (971 today, 10100 earlier) */
  CHECK_INT(admin_config(&F, "{\"errors\":{\"rate_limited\":{\"code\":10100}}}"), 200);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(jint(r.json, "errors.0.code"), 10100);
  http_free(&r);
  /* switched off: no 429 and no headers */
  CHECK_INT(admin_config(&F, "{\"rate_limit\":false}"), 200);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  char buf[64];
  CHECK(http_header(&r, "Ratelimit", buf, sizeof buf) == NULL);
  http_free(&r);
  emu_fix_stop(&F);
}

/* A budget larger than the record's first ring (it grows with use) counts exactly; wrong
 * credentials are refused before the budget, so they neither spend nor make limiter state. */
static void t_budget_grows_and_wrong_credentials(void) {
  start_frozen("\"rate_limit_quota\":20,\"token\":\"test-token\"");
  char url[1024];
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps", F.base);
  const char *wrong[] = {"Authorization: Bearer not-the-token", NULL};
  for (int i = 0; i < 25; i++) {
    http_res r = http_do("GET", url, wrong, NULL);
    CHECK_INT(r.status, 403);
    char buf[96];
    CHECK(http_header(&r, "Ratelimit", buf, sizeof buf) == NULL);
    http_free(&r);
  }
  int left, reset;
  for (int i = 0; i < 20; i++) {
    http_res r = api(&F, "GET", "/pcaps", NULL);
    CHECK_INT(r.status, 200);
    ratelimit_of(&r, &left, &reset);
    CHECK_INT(left, 19 - i);
    http_free(&r);
  }
  http_res r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 429);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.api_budget"), 1);
  emu_fix_stop(&F);
}

static void t_duplicate_creates(void) {
  start_frozen("\"sample_limit\":false");
  http_res r = create_as(ACCT, BEARER, "intent-1", SIMPLE_BODY);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = create_as(ACCT, BEARER, "intent-2", SIMPLE_BODY);
  http_free(&r);
  r = create_as(ACCT, BEARER, NULL, SIMPLE_BODY); /* other clients send no intent */
  http_free(&r);
  r = create_as(ACCT, BEARER, NULL, SIMPLE_BODY);
  http_free(&r);
  r = create_as("ffffffffffffffffffffffffffffffff", BEARER, "intent-1", SIMPLE_BODY);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.duplicate_creates"), 0);
  r = create_as(ACCT, BEARER, "intent-1", "{}"); /* refused creates are not duplicates */
  CHECK_INT(r.status, 400);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.duplicate_creates"), 0);
  r = create_as(ACCT, BEARER, "intent-1", SIMPLE_BODY);
  CHECK_INT(r.status, 200); /* no de-duplication (U20), only counted */
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.duplicate_creates"), 1);
  char url[600];
  snprintf(url, sizeof url, "%s/captures", F.admin);
  r = http_do("GET", url, NULL, NULL);
  CHECK_STR(jstr(r.json, "captures.0.intent"), "intent-1");
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.total"), 2); /* + the invalid body */
  emu_fix_stop(&F);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_ALL);
  RUN(t_sample_rate);
  RUN(t_sample_scope_and_fixed_window);
  RUN(t_full_concurrency);
  RUN(t_budget);
  RUN(t_budget_sliding_window);
  RUN(t_budget_grows_and_wrong_credentials);
  RUN(t_duplicate_creates);
  curl_global_cleanup();
  return check_done();
}
