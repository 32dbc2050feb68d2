/* ctest-labels: emu;valgrind
 * ctest-timeout: 300
 * Emulator over real HTTP: routing, methods, envelopes, authentication both ways, every
 * validation rule under the server rules and their switches, body limits, odd input. */
#include "emu_test.h"
#include <strings.h>

static emu_fix F;

static void start(const char *cfg) { CHECK_INT(emu_fix_start(&F, cfg), 0); }

static void t_start_and_base_url(void) {
  start(NULL);
  CHECK(strncmp(F.base, "http://127.0.0.1:", 17) == 0);
  CHECK(strstr(F.base, "/client/v4") != NULL);
  CHECK(emu_bucket_dir(F.s)[0] == '/');
  emu_fix_stop(&F);
  /* configuration errors come back as messages */
  emu_server *s;
  char msg[256];
  CHECK_INT(emu_start("{\"bogus\":1}", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_STR(msg, "unknown config key \"bogus\"");
  CHECK_INT(emu_start("{\"time_scale\":\"fast\"}", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_STR(msg, "config key time_scale must be a number");
  CHECK_INT(emu_start("{\"listen\":\"nowhere\"}", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_CONTAINS(msg, "listen must be HOST:PORT");
  CHECK_INT(emu_start("not json", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_CONTAINS(msg, "config is not valid JSON");
  CHECK_INT(emu_start("{\"fail_rate\":2}", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_STR(msg, "config key fail_rate must be between 0 and 1 (got 2)");
  CHECK_INT(emu_start("{\"sample_scope\":\"user\"}", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_STR(msg, "config key sample_scope must be one of the listed words: account|credential");
  CHECK_INT(emu_start("{\"email\":\"a@b\"}", &s, msg, sizeof msg), RT_EINVAL);
  CHECK_STR(msg, "config keys email and key go together");
  CHECK(s == NULL);
  emu_stop(NULL);
  /* a custom prefix, and the SDK's plain base URL form */
  start("{\"prefix\":\"\"}");
  CHECK(strstr(F.base + 7, "/") == NULL);
  http_res r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_envelope_and_create(void) {
  start("{\"time_scale\":0.01}");
  http_res r = api(&F, "POST", "/pcaps",
                   "{\"packet_limit\":100,\"system\":\"magic-transit\",\"time_limit\":30,"
                   "\"type\":\"simple\",\"filter_v1\":{\"source_address\":\"1.2.3.4\","
                   "\"protocol\":6},\"offset_time\":null}");
  /* offset_time null is a type error */
  CHECK_INT(r.status, 400);
  CHECK_STR(jstr(r.json, "errors.0.message"), "offset_time must be a string (got null)");
  http_free(&r);
  r = api(&F, "POST", "/pcaps", "{\"packet_limit\":100,\"system\":\"magic-transit\","
          "\"time_limit\":30,\"type\":\"simple\",\"filter_v1\":{\"source_address\":\"1.2.3.4\","
          "\"protocol\":6}}");
  CHECK_INT(r.status, 200); /* create answers 200, not 201 */
  char ct[64];
  CHECK_STR(http_header(&r, "Content-Type", ct, sizeof ct), "application/json");
  CHECK(json_is_true(jpath(r.json, "success")));
  CHECK_INT(json_array_size(jpath(r.json, "errors")), 0);
  CHECK_INT(json_array_size(jpath(r.json, "messages")), 0);
  const char *id = jstr(r.json, "result.id");
  CHECK(id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32);
  CHECK_STR(jstr(r.json, "result.type"), "simple");
  CHECK_STR(jstr(r.json, "result.system"), "magic-transit");
  CHECK_STR(jstr(r.json, "result.status"), "pending");
  CHECK_INT(jint(r.json, "result.time_limit"), 30);
  CHECK_STR(jstr(r.json, "result.filter_v1.source_address"), "1.2.3.4");
  CHECK_INT(jint(r.json, "result.filter_v1.protocol"), 6);
  const char *sub = jstr(r.json, "result.submitted");
  /* RFC 3339 with microseconds, e.g. 2026-11-26T17:29:20.641845Z */
  CHECK(sub && strlen(sub) == 27 && sub[10] == 'T' && sub[19] == '.' && sub[26] == 'Z');
  CHECK(jpath(r.json, "result.packet_limit") == NULL); /* not in the response schema */
  CHECK(jpath(r.json, "result_info") == NULL);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_routing(void) {
  start(NULL);
  char url[1024];
  const char *hdrs[] = {BEARER, NULL};
  static const char *const unrouted[] = {
      "/accounts/" ACCT "/pcap", "/accounts/" ACCT, "/accounts/" ACCT "/pcaps/x/y/z",
      "/accounts/" ACCT "/pcaps/ownership/a/b", "/accounts/" ACCT "/pcaps/abc/upload",
      "/accounts//pcaps", "/zones/" ACCT "/pcaps", "", "/", "/accounts/" ACCT "/pcaps/",
  };
  for (size_t i = 0; i < sizeof unrouted / sizeof unrouted[0]; i++) {
    snprintf(url, sizeof url, "%s%s", F.base, unrouted[i]);
    http_res r = http_do("GET", url, hdrs, NULL);
    CHECK_INT(r.status, 404);
    CHECK_INT(jint(r.json, "errors.0.code"), 7003);
    CHECK_STR(jstr(r.json, "errors.0.message"), "No route for the URI");
    CHECK(json_is_null(jpath(r.json, "result")) && json_is_false(jpath(r.json, "success")));
    http_free(&r);
  }
  /* outside the prefix */
  snprintf(url, sizeof url, "%.*s/v4/accounts/" ACCT "/pcaps",
           (int)(strstr(F.base + 7, "/client") - F.base), F.base);
  http_res r = http_do("GET", url, hdrs, NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  /* wrong methods: 405 with an envelope and Allow */
  static const struct { const char *method, *path, *allow; } wrong[] = {
      {"DELETE", "/pcaps", "GET, POST"}, {"PUT", "/pcaps/0123456789abcdef0123456789abcdef", "GET"},
      {"POST", "/pcaps/0123456789abcdef0123456789abcdef/stop", "PUT"},
      {"GET", "/pcaps/0123456789abcdef0123456789abcdef/stop", "PUT"},
      {"POST", "/pcaps/0123456789abcdef0123456789abcdef/download", "GET"},
      {"PATCH", "/pcaps/ownership", "GET, POST"}, {"GET", "/pcaps/ownership/validate", "POST"},
      {"GET", "/pcaps/ownership/0123456789abcdef0123456789abcdef", "DELETE"},
      {"OPTIONS", "/pcaps", "GET, POST"},
  };
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    char allow[64];
    r = api(&F, wrong[i].method, wrong[i].path, NULL);
    CHECK_INT(r.status, 405);
    CHECK_INT(jint(r.json, "errors.0.code"), 10405);
    CHECK_STR(http_header(&r, "Allow", allow, sizeof allow), wrong[i].allow);
    http_free(&r);
  }
  CHECK_INT(stat_of(&F, "requests.by_status.405"), 9);
  CHECK_INT(stat_of(&F, "requests.by_operation.unrouted"), 11 + 9);
  /* "ownership" is matched before {pcap_id}; ids of any shape are just unknown */
  r = api(&F, "GET", "/pcaps/ownership", NULL);
  CHECK_INT(r.status, 200);
  CHECK(json_is_array(jpath(r.json, "result")));
  http_free(&r);
  r = api(&F, "GET", "/pcaps/not-an-id", NULL);
  CHECK_INT(r.status, 404);
  CHECK_INT(jint(r.json, "errors.0.code"), 1113);
  http_free(&r);
  r = api(&F, "GET", "/pcaps/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  /* HEAD is answered like GET, without a body */
  r = api(&F, "HEAD", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  CHECK_INT(r.len, 0);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_account_ids(void) {
  start(NULL);
  char url[1024];
  const char *hdrs[] = {BEARER, NULL};
  static const char *const bad[] = {"abc", "0123456789abcdef0123456789abcdeg",
                                    "0123456789abcdef0123456789abcdef0"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(url, sizeof url, "%s/accounts/%s/pcaps", F.base, bad[i]);
    http_res r = http_do("GET", url, hdrs, NULL);
    CHECK_INT(r.status, 400);
    CHECK_INT(jint(r.json, "errors.0.code"), 7003);
    CHECK_CONTAINS(jstr(r.json, "errors.0.message"), "perhaps your object identifier is invalid");
    http_free(&r);
  }
  /* accounts are separate: a capture of one is unknown to another */
  char id[33];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  snprintf(url, sizeof url, "%s/accounts/ffffffffffffffffffffffffffffffff/pcaps/%s", F.base, id);
  http_res r = http_do("GET", url, hdrs, NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  emu_fix_stop(&F);
  /* account_id pins one account: others are an authentication error */
  start("{\"account_id\":\"" ACCT "\"}");
  snprintf(url, sizeof url, "%s/accounts/ffffffffffffffffffffffffffffffff/pcaps", F.base);
  r = http_do("GET", url, hdrs, NULL);
  CHECK_INT(r.status, 403);
  CHECK_INT(jint(r.json, "errors.0.code"), 10000);
  http_free(&r);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  emu_fix_stop(&F);
}

static http_res get_with(const char *const *hdrs) {
  char url[1024];
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps", F.base);
  return http_do("GET", url, hdrs, NULL);
}

static void expect_auth_headers_error(const char *const *hdrs, int chain) {
  http_res r = get_with(hdrs);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 6003);
  CHECK_STR(jstr(r.json, "errors.0.message"), "Invalid request headers");
  CHECK_INT(jint(r.json, "errors.0.error_chain.0.code"), chain);
  http_free(&r);
}

static void t_auth_any(void) {
  start(NULL);
  /* any non-empty credentials, either scheme */
  const char *bearer[] = {"Authorization: Bearer anything", NULL};
  const char *lower[] = {"authorization: bearer anything", NULL};
  const char *keys[] = {"X-Auth-Email: user@example.com", "X-Auth-Key: 0123abcd", NULL};
  http_res r = get_with(bearer);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = get_with(lower);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = get_with(keys);
  CHECK_INT(r.status, 200);
  http_free(&r);
  /* missing or malformed: 400 6003 with 6111 (Bearer) or 6103 (key) */
  const char *none[] = {NULL};
  const char *basic[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
  const char *empty_token[] = {"Authorization: Bearer ", NULL};
  const char *spaced[] = {"Authorization: Bearer two words", NULL};
  const char *email_only[] = {"X-Auth-Email: user@example.com", NULL};
  const char *key_only[] = {"X-Auth-Key: 0123abcd", NULL};
  const char *service_key[] = {"X-Auth-User-Service-Key: v1.0-abc", NULL};
  expect_auth_headers_error(none, 6103);
  expect_auth_headers_error(basic, 6111);
  expect_auth_headers_error(empty_token, 6111);
  expect_auth_headers_error(spaced, 6111);
  expect_auth_headers_error(email_only, 6103);
  expect_auth_headers_error(key_only, 6103);
  expect_auth_headers_error(service_key, 6103);
  CHECK_INT(stat_of(&F, "violations.invalid_requests"), 7);
  emu_fix_stop(&F);
}

static void t_auth_configured(void) {
  start("{\"token\":\"s3cret-token\",\"email\":\"ops@example.com\",\"key\":\"k3y\"}");
  const char *good[] = {"Authorization: Bearer s3cret-token", NULL};
  const char *bad[] = {"Authorization: Bearer s3cret-tokem", NULL};
  const char *good_keys[] = {"X-Auth-Email: ops@example.com", "X-Auth-Key: k3y", NULL};
  const char *bad_key[] = {"X-Auth-Email: ops@example.com", "X-Auth-Key: nope", NULL};
  const char *bad_email[] = {"X-Auth-Email: dev@example.com", "X-Auth-Key: k3y", NULL};
  http_res r = get_with(good);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = get_with(good_keys);
  CHECK_INT(r.status, 200);
  http_free(&r);
  const char *const *wrong[] = {bad, bad_key, bad_email};
  for (int i = 0; i < 3; i++) {
    r = get_with(wrong[i]);
    CHECK_INT(r.status, 403);
    CHECK_INT(jint(r.json, "errors.0.code"), 10000);
    CHECK_STR(jstr(r.json, "errors.0.message"), "Authentication error");
    /* credentials are never echoed, in bodies or in the admin config */
    CHECK(strstr(r.body, "s3cret") == NULL && strstr(r.headers, "s3cret") == NULL);
    http_free(&r);
  }
  char url[600];
  snprintf(url, sizeof url, "%s/config", F.admin);
  r = http_do("GET", url, NULL, NULL);
  CHECK_STR(jstr(r.json, "token"), "<set>");
  CHECK_STR(jstr(r.json, "key"), "<set>");
  CHECK(strstr(r.body, "s3cret") == NULL && strstr(r.body, "k3y") == NULL);
  http_free(&r);
  /* switch: 401 instead of 403 */
  CHECK_INT(admin_config(&F, "{\"errors\":{\"auth_failed\":{\"status\":401}}}"), 200);
  r = get_with(bad);
  CHECK_INT(r.status, 401);
  CHECK_INT(jint(r.json, "errors.0.code"), 10000);
  http_free(&r);
  emu_fix_stop(&F);
}

/* Server-rule validation through HTTP: each rule answers 400 naming the field. */
static void t_validation(void) {
  start("{\"auto_validate_buckets\":true,\"sample_limit\":false,\"full_limit\":false}");
  static const struct { const char *body, *msg; } cases[] = {
      {"[]", "request body must be a JSON object (got array)"},
      {"", "request body must be a JSON object (got nothing)"},
      {"{\"system\":\"magic-transit\",\"time_limit\":5}", "type is required (\"simple\" or \"full\")"},
      {"{\"system\":\"magic-transit\",\"type\":\"sample\"}",
       "type must be \"simple\" or \"full\" (got \"sample\")"},
      {"{\"type\":\"simple\",\"system\":\"magic-wan\"}",
       "system must be \"magic-transit\" (got \"magic-wan\")"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":500,\"packet_limit\":1}",
       "time_limit must be between 1 and 300 for simple captures (got 500)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":\"60\",\"packet_limit\":1}",
       "time_limit must be a number (got string)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60}",
       "packet_limit is required for simple captures (1 to 10000)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,\"packet_limit\":10001}",
       "packet_limit must be between 1 and 10000 (got 10001)"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":86401,\"colo_name\":\"ORD\","
       "\"destination_conf\":\"s3://b\"}",
       "time_limit must be between 1 and 86400 for full captures (got 86401)"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,"
       "\"destination_conf\":\"s3://b\"}", "colo_name is required for full captures"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo_name\":\"\","
       "\"destination_conf\":\"s3://b\"}", "colo_name must not be empty"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo_name\":\"ORD\"}",
       "destination_conf is required for full captures"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo_name\":\"ORD\","
       "\"destination_conf\":\"s3://b\",\"byte_limit\":0}",
       "byte_limit must be between 1 and 1000000000 (got 0)"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo_name\":\"ORD\","
       "\"destination_conf\":\"r2://b?secret-access-key=TOPSECRET\",\"oops\":1,\"byte_limit\":\"x\"}",
       "byte_limit must be a number (got string)"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo_name\":\"ORD\","
       "\"destination_conf\":\"https://x/y?token=TOPSECRET\"}",
       "destination_conf must be a bucket URI s3://BUCKET[/dir][?query], gs://BUCKET[/dir] or "
       "r2://BUCKET?query (got \"https://x/y?<redacted>\")"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo_name\":\"ORD\","
       "\"destination_conf\":\"s3://b/../../etc\"}",
       "destination_conf must name a bucket and a plain path (letters, digits, '.', '_', '-', "
       "'='; no '..')"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,\"packet_limit\":1,"
       "\"filter_v1\":[]}", "filter_v1 must be an object (got array)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,\"packet_limit\":1,"
       "\"filter_v1\":{\"destination_port\":\"443\"}}",
       "filter_v1.destination_port must be a number (got string)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,\"packet_limit\":1,"
       "\"offset_time\":\"yesterday\"}", "offset_time must be an RFC 3339 date-time (got \"yesterday\")"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,\"packet_limit\":1,"
       "\"offset_time\":\"2099-01-01T00:00:00Z\"}",
       "offset_time must not be in the future (got \"2099-01-01T00:00:00Z\")"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,\"packet_limit\":1,"
       "\"offset_time\":\"2020-01-01T00:00:00Z\"}",
       "offset_time must be within the last 24 hours (got \"2020-01-01T00:00:00Z\")"},
  };
  int n = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < n; i++) {
    http_res r = api(&F, "POST", "/pcaps", cases[i].body);
    CHECK_INT(r.status, 400);
    CHECK_INT(jint(r.json, "errors.0.code"), 1001);
    CHECK_STR(jstr(r.json, "errors.0.message"), cases[i].msg);
    CHECK(r.body && strstr(r.body, "TOPSECRET") == NULL);
    http_free(&r);
  }
  CHECK_INT(stat_of(&F, "violations.invalid_requests"), n);
  CHECK_INT(stat_of(&F, "captures.total"), 0);
  /* malformed JSON */
  http_res r = api(&F, "POST", "/pcaps", "{\"system\":");
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1002);
  CHECK_CONTAINS(jstr(r.json, "errors.0.message"), "Malformed JSON in request body");
  http_free(&r);
  /* accepted by default: unknown keys, non-integers, any address string, ports out of range,
   * colo alias */
  static const char *const fine[] = {
      "{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":1.5,\"packet_limit\":1,"
      "\"note\":\"x\",\"filter_v1\":{\"source_address\":\"10.0.0.0/8\",\"destination_port\":70000,"
      "\"vlan\":3}}",
      "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo\":\"ord02\","
      "\"destination_conf\":\"s3://b\"}",
  };
  for (int i = 0; i < 2; i++) {
    r = api(&F, "POST", "/pcaps", fine[i]);
    CHECK_INT(r.status, 200);
    http_free(&r);
  }
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_STR(jstr(r.json, "result.0.colo_name"), "ord02");
  CHECK(jpath(r.json, "result.0.colo") == NULL);
  CHECK(jpath(r.json, "result.1.note") == NULL); /* unknown keys are not echoed */
  http_free(&r);
  /* the switches */
  CHECK_INT(admin_config(&F, "{\"strict_keys\":true,\"integers_only\":true,\"ipv4_only\":true,"
                             "\"filter_ranges\":true,\"accept_colo_alias\":false,"
                             "\"max_time_limit_full\":300}"), 200);
  static const struct { const char *body, *msg; } strict[] = {
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":5,\"packet_limit\":1,"
       "\"note\":\"x\"}", "unknown field \"note\" (not in the simple capture schema)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":1.5,\"packet_limit\":1}",
       "time_limit must be an integer (got 1.5)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":5,\"packet_limit\":1,"
       "\"filter_v1\":{\"source_address\":\"2001:db8::1\"}}",
       "filter_v1.source_address must be an IPv4 address (got \"2001:db8::1\")"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":5,\"packet_limit\":1,"
       "\"filter_v1\":{\"destination_port\":70000}}",
       "filter_v1.destination_port must be between 0 and 65535 (got 70000)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":5,\"packet_limit\":1,"
       "\"filter_v1\":{\"protocol\":256}}", "filter_v1.protocol must be between 0 and 255 (got 256)"},
      {"{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":5,\"packet_limit\":1,"
       "\"filter_v1\":{\"vlan\":3}}", "filter_v1 has an unknown member \"vlan\""},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":60,\"colo\":\"ord02\","
       "\"destination_conf\":\"s3://b\"}", "unknown field \"colo\" (not in the full capture schema)"},
      {"{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":301,\"colo_name\":\"x\","
       "\"destination_conf\":\"s3://b\"}",
       "time_limit must be between 1 and 300 for full captures (got 301)"},
  };
  for (size_t i = 0; i < sizeof strict / sizeof strict[0]; i++) {
    r = api(&F, "POST", "/pcaps", strict[i].body);
    CHECK_INT(r.status, 400);
    CHECK_STR(jstr(r.json, "errors.0.message"), strict[i].msg);
    http_free(&r);
  }
  /* status and code of validation errors are configurable (U5) */
  CHECK_INT(admin_config(&F, "{\"errors\":{\"invalid_request\":{\"status\":422,\"code\":1234}}}"),
            200);
  r = api(&F, "POST", "/pcaps", "{}");
  CHECK_INT(r.status, 422);
  CHECK_INT(jint(r.json, "errors.0.code"), 1234);
  CHECK_STR(jstr(r.json, "errors.0.message"), "type is required (\"simple\" or \"full\")");
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_body_limits_and_odd_input(void) {
  start("{\"max_body\":2048}");
  char *big = malloc(5000);
  memset(big, ' ', 4999);
  big[0] = '{';
  big[4998] = '}';
  big[4999] = 0;
  http_res r = api(&F, "POST", "/pcaps", big);
  CHECK_INT(r.status, 413);
  CHECK_INT(jint(r.json, "errors.0.code"), 1003);
  http_free(&r);
  /* chunked (no Content-Length): still refused */
  char url[1024];
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps", F.base);
  const char *chunked[] = {BEARER, "Transfer-Encoding: chunked", NULL};
  r = http_do("POST", url, chunked, big);
  CHECK_INT(r.status, 413);
  http_free(&r);
  free(big);
  /* huge headers: libmicrohttpd refuses them without calling us; the server survives */
  char *hdr = malloc(70000);
  memcpy(hdr, "X-Big: ", 7);
  memset(hdr + 7, 'a', 69990);
  hdr[69997] = 0;
  const char *huge[] = {BEARER, hdr, NULL};
  r = http_do("GET", url, huge, NULL);
  CHECK(r.status == 431 || r.status == 413 || r.status == 400 || r.curl != CURLE_OK);
  http_free(&r);
  free(hdr);
  /* binary garbage, odd characters in the path, a NUL in JSON */
  r = api(&F, "POST", "/pcaps", "\x01\x02\xff\xfe");
  CHECK_INT(r.status, 400);
  http_free(&r);
  r = api(&F, "POST", "/pcaps", "{\"type\":\"simple\\u0000x\",\"system\":\"magic-transit\"}");
  CHECK_INT(r.status, 400);
  http_free(&r);
  r = api(&F, "GET", "/pcaps/%00%ff%2e%2e", NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_sdk_headers_never_406(void) {
  start("{\"time_scale\":0.001}");
  char url[1024], id[33];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  const char *sdk_json[] = {"Accept: application/json", "User-Agent: Cloudflare/JS 7.3.0",
                            "api-version: 2026-11-26", "x-stainless-retry-count: 0",
                            "x-stainless-lang: js", "Accept-Language: *", "sec-fetch-mode: cors",
                            "Accept-Encoding: gzip, deflate", BEARER, NULL};
  const char *sdk_pcap[] = {"Accept: application/vnd.tcpdump.pcap", BEARER, NULL};
  const char *sdk_any[] = {"Accept: */*", "Content-Length: 0", BEARER, NULL};
  const char *odd[] = {"Accept: text/html", "Content-Type: text/plain", BEARER, NULL};
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps/%s", F.base, id);
  http_res r = http_do("GET", url, sdk_json, NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = http_do("GET", url, odd, NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  CHECK(wait_status(&F, id, "success", 5));
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps/%s/download", F.base, id);
  r = http_do("GET", url, sdk_pcap, NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  r = http_do("GET", url, odd, NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  /* stop as the SDK sends it: PUT, content-length 0, no content type (simple -> 400) */
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps/%s/stop", F.base, id);
  r = http_do("PUT", url, sdk_any, NULL);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1114);
  http_free(&r);
  CHECK_INT(stat_of(&F, "requests.by_status.406"), -999999);
  emu_fix_stop(&F);
}

static void t_list(void) {
  start("{\"sample_limit\":false,\"list_limit\":3}");
  http_res r = api(&F, "GET", "/pcaps", NULL);
  CHECK(json_is_array(jpath(r.json, "result")) && json_array_size(jpath(r.json, "result")) == 0);
  http_free(&r);
  char ids[5][33];
  for (int i = 0; i < 5; i++) CHECK_INT(create_capture(&F, SIMPLE_BODY, ids[i]), 200);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(json_array_size(jpath(r.json, "result")), 3);
  CHECK_STR(jstr(r.json, "result.0.id"), ids[4]); /* newest first */
  CHECK_STR(jstr(r.json, "result.1.id"), ids[3]);
  CHECK_STR(jstr(r.json, "result.2.id"), ids[2]);
  CHECK(jpath(r.json, "result_info") == NULL);
  http_free(&r);
  CHECK_INT(admin_config(&F, "{\"result_info\":true,\"null_empty_lists\":true}"), 200);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(jint(r.json, "result_info.count"), 3);
  CHECK_INT(jint(r.json, "result_info.total_count"), 5);
  CHECK_INT(jint(r.json, "result_info.per_page"), 3);
  CHECK_INT(jint(r.json, "result_info.page"), 1);
  http_free(&r);
  admin_reset(&F);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK(json_is_null(jpath(r.json, "result")));
  CHECK(json_is_true(jpath(r.json, "success")));
  http_free(&r);
  r = api(&F, "GET", "/pcaps/ownership", NULL);
  CHECK(json_is_null(jpath(r.json, "result")));
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_response_switches(void) {
  start("{\"echo_colo\":true,\"doc_keys\":true,\"auto_validate_buckets\":true}");
  http_res r = api(&F, "POST", "/pcaps", "{\"system\":\"magic-transit\",\"type\":\"full\","
                   "\"time_limit\":60,\"packet_limit\":500,\"byte_limit\":1000000,"
                   "\"colo_name\":\"ORD\",\"destination_conf\":\"s3://b?region=x\"}");
  CHECK_INT(r.status, 200);
  CHECK_STR(jstr(r.json, "result.colo"), "ORD");
  CHECK_STR(jstr(r.json, "result.colo_name"), "ORD");
  CHECK_INT(jint(r.json, "result.packet_limit"), 500);
  CHECK_INT(jint(r.json, "result.byte_limit"), 1000000);
  CHECK_STR(jstr(r.json, "result.destination_conf"), "s3://b?region=x"); /* echoed as given */
  CHECK_INT(jint(r.json, "result.packets_captured"), 0);
  http_free(&r);
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(jint(r.json, "result.packets_remaining"), 100);
  http_free(&r);
  emu_fix_stop(&F);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_ALL);
  RUN(t_start_and_base_url);
  RUN(t_envelope_and_create);
  RUN(t_routing);
  RUN(t_account_ids);
  RUN(t_auth_any);
  RUN(t_auth_configured);
  RUN(t_validation);
  RUN(t_body_limits_and_odd_input);
  RUN(t_sdk_headers_never_406);
  RUN(t_list);
  RUN(t_response_switches);
  curl_global_cleanup();
  return check_done();
}
