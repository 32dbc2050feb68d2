/* ctest-labels: unit;valgrind
 * rt_spec_parse under both rule sets: every rule of runtime/API.md#4-create-request and #12-unknowns, at its
 * boundaries, with the exact messages the user sees. */
#include "check.h"
#include "vg.h"
#include "err.h"
#include "spec.h"
#include <stdlib.h>

static const time_t NOW = 1790000000; /* 2026-09-21T14:13:20Z */

static rt_spec_rules client(void) {
  rt_spec_rules r;
  rt_spec_rules_client(&r);
  return r;
}
static rt_spec_rules server(void) {
  rt_spec_rules r;
  rt_spec_rules_server(&r);
  return r;
}

/* Parses `text`; on success returns 0 and leaves *out filled (caller frees). */
static int parse(const char *text, const rt_spec_rules *r, rt_spec *out, rt_specerr *err) {
  json_error_t jerr;
  json_t *body = json_loads(text, JSON_DECODE_ANY, &jerr);
  if (!body) {
    fprintf(stderr, "bad test JSON: %s: %s\n", text, jerr.text);
    return -100;
  }
  int rc = rt_spec_parse(body, r, NOW, out, err);
  json_decref(body);
  return rc;
}

static void ok_under(const char *text, rt_spec_rules r, int line) {
  rt_spec s;
  rt_specerr e;
  int rc = parse(text, &r, &s, &e);
  CHECK_INT(rc, 0);
  if (rc) fprintf(stderr, "  line %d: unexpected rejection: %s\n", line, e.message);
  rt_spec_free(&s);
}
#define OK(text, rules) ok_under(text, rules, __LINE__)
/* Expects a rejection naming `field` with exactly `msg`. */
#define BAD(text, rules, fld, msg) do { rt_spec s_; rt_specerr e_; rt_spec_rules r_ = (rules); \
  CHECK_INT(parse(text, &r_, &s_, &e_), RT_EINVAL); CHECK_STR(e_.field, fld); \
  CHECK_STR(e_.message, msg); CHECK(s_.destination_conf == NULL); } while (0)
#define BOTH_BAD(text, fld, msg) do { BAD(text, client(), fld, msg); \
  BAD(text, server(), fld, msg); } while (0)
#define BOTH_OK(text) do { OK(text, client()); OK(text, server()); } while (0)

#define SIMPLE "\"system\":\"magic-transit\",\"type\":\"simple\""
#define FULL "\"system\":\"magic-transit\",\"type\":\"full\""
#define DEST "\"destination_conf\":\"s3://demo/pcaps?region=us-east-1\""

static void t_valid_bodies(void) {
  rt_spec s;
  rt_specerr e;
  rt_spec_rules c = client();
  CHECK_INT(parse("{" SIMPLE ",\"time_limit\":300,\"packet_limit\":10000,\"filter_v1\":"
                  "{\"destination_address\":\"203.0.113.7\",\"destination_port\":443,"
                  "\"protocol\":6},\"offset_time\":\"2026-09-21T12:00:00Z\"}",
                  &c, &s, &e), 0);
  CHECK_INT(s.type, RT_CAP_SIMPLE);
  CHECK_INT(s.time_limit, 300);
  CHECK(s.has_packet_limit && s.packet_limit == 10000);
  CHECK(s.has_filter);
  CHECK_INT(s.filter.present, RT_F_DESTINATION_ADDRESS | RT_F_DESTINATION_PORT | RT_F_PROTOCOL);
  CHECK_STR(s.filter.destination_address, "203.0.113.7");
  CHECK_INT(s.filter.destination_port, 443);
  CHECK_INT(s.filter.protocol, 6);
  CHECK(s.has_offset_time);
  CHECK_STR(s.offset_time, "2026-09-21T12:00:00Z");
  CHECK_INT(s.offset_epoch, NOW - 2 * 3600 - 13 * 60 - 20);
  rt_spec_free(&s);
  CHECK(s.destination_conf == NULL);

  CHECK_INT(parse("{" FULL ",\"time_limit\":600,\"packet_limit\":10000,\"byte_limit\":100000000,"
                  "\"colo_name\":\"ORD\"," DEST ",\"filter_v1\":{}}", &c, &s, &e), 0);
  CHECK_INT(s.type, RT_CAP_FULL);
  CHECK_INT(s.time_limit, 600);
  CHECK(s.has_byte_limit && s.byte_limit == 100000000);
  CHECK_STR(s.colo_name, "ORD");
  CHECK_STR(s.destination_conf, "s3://demo/pcaps?region=us-east-1");
  CHECK(s.has_filter && s.filter.present == 0);
  rt_spec_free(&s);
  /* key order does not matter (the SDK sends the caller's order) */
  BOTH_OK("{\"packet_limit\":10000,\"system\":\"magic-transit\",\"time_limit\":300,"
          "\"type\":\"simple\",\"filter_v1\":{\"source_address\":\"1.2.3.4\",\"protocol\":6}}");
  BOTH_OK("{\"colo_name\":\"ord02\",\"destination_conf\":\"s3://pcaps-bucket?region=us-east-1\","
          "\"system\":\"magic-transit\",\"time_limit\":300,\"type\":\"full\","
          "\"byte_limit\":500000,\"packet_limit\":10000}");
}

static void t_body_shape(void) {
  BOTH_BAD("[]", "", "request body must be a JSON object (got array)");
  BOTH_BAD("\"x\"", "", "request body must be a JSON object (got string)");
  BOTH_BAD("null", "", "request body must be a JSON object (got null)");
  BOTH_BAD("42", "", "request body must be a JSON object (got number)");
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  CHECK_INT(rt_spec_parse(NULL, &r, NOW, &s, &e), RT_EINVAL);
  CHECK_STR(e.message, "request body must be a JSON object (got nothing)");
}

static void t_type_and_system(void) {
  BOTH_BAD("{\"system\":\"magic-transit\",\"time_limit\":1,\"packet_limit\":1}", "type",
           "type is required (\"simple\" or \"full\")");
  BOTH_BAD("{\"system\":\"magic-transit\",\"type\":\"sample\"}", "type",
           "type must be \"simple\" or \"full\" (got \"sample\")");
  BOTH_BAD("{\"system\":\"magic-transit\",\"type\":1}", "type", "type must be a string (got number)");
  BOTH_BAD("{\"type\":\"simple\",\"time_limit\":1,\"packet_limit\":1}", "system",
           "system is required (\"magic-transit\")");
  BOTH_BAD("{\"type\":\"simple\",\"system\":\"magic-wan\"}", "system",
           "system must be \"magic-transit\" (got \"magic-wan\")");
  BOTH_BAD("{\"type\":\"simple\",\"system\":null}", "system", "system must be a string (got null)");
}

static void t_time_limit(void) {
  BOTH_OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1}");
  BOTH_OK("{" SIMPLE ",\"time_limit\":300,\"packet_limit\":1}");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":500,\"packet_limit\":1}", "time_limit",
           "time_limit must be between 1 and 300 for simple captures (got 500)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":301,\"packet_limit\":1}", "time_limit",
           "time_limit must be between 1 and 300 for simple captures (got 301)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":0,\"packet_limit\":1}", "time_limit",
           "time_limit must be between 1 and 300 for simple captures (got 0)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":-5,\"packet_limit\":1}", "time_limit",
           "time_limit must be between 1 and 300 for simple captures (got -5)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":\"60\",\"packet_limit\":1}", "time_limit",
           "time_limit must be a number (got string)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":true,\"packet_limit\":1}", "time_limit",
           "time_limit must be a number (got boolean)");
  BOTH_BAD("{" SIMPLE ",\"packet_limit\":1}", "time_limit",
           "time_limit is required (seconds, 1 to 300)");
  BOTH_OK("{" FULL ",\"time_limit\":86400,\"colo_name\":\"ORD\"," DEST "}");
  BOTH_BAD("{" FULL ",\"time_limit\":86401,\"colo_name\":\"ORD\"," DEST "}", "time_limit",
           "time_limit must be between 1 and 86400 for full captures (got 86401)");
  BAD("{" FULL ",\"time_limit\":0.5,\"colo_name\":\"ORD\"," DEST "}", server(), "time_limit",
      "time_limit must be between 1 and 86400 for full captures (got 0.5)");
  BOTH_BAD("{" FULL ",\"colo_name\":\"ORD\"," DEST "}", "time_limit",
           "time_limit is required (seconds, 1 to 86400)");
  /* U6: the full maximum is a switch (older sources say 300) */
  rt_spec_rules r = server();
  r.max_time_limit_full = 300;
  OK("{" FULL ",\"time_limit\":300,\"colo_name\":\"ORD\"," DEST "}", r);
  BAD("{" FULL ",\"time_limit\":301,\"colo_name\":\"ORD\"," DEST "}", r, "time_limit",
      "time_limit must be between 1 and 300 for full captures (got 301)");
}

static void t_integers_only(void) {
  /* U21: the server takes any in-range number; the client and a switch take integers only */
  OK("{" SIMPLE ",\"time_limit\":1.5,\"packet_limit\":1}", server());
  BAD("{" SIMPLE ",\"time_limit\":1.5,\"packet_limit\":1}", client(), "time_limit",
      "time_limit must be an integer (got 1.5)");
  rt_spec_rules r = server();
  r.integers_only = 1;
  BAD("{" SIMPLE ",\"time_limit\":10,\"packet_limit\":2.25}", r, "packet_limit",
      "packet_limit must be an integer (got 2.25)");
  /* 1e3 is a whole number */
  OK("{" FULL ",\"time_limit\":10,\"byte_limit\":1e3,\"colo_name\":\"x\"," DEST "}", r);
  BAD("{" SIMPLE ",\"time_limit\":10,\"packet_limit\":1,\"filter_v1\":{\"source_port\":80.5}}",
      r, "filter_v1.source_port", "filter_v1.source_port must be an integer (got 80.5)");
  OK("{" SIMPLE ",\"time_limit\":10.0,\"packet_limit\":1}", r);
}

static void t_packet_limit(void) {
  BOTH_OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":10000}");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":10001}", "packet_limit",
           "packet_limit must be between 1 and 10000 (got 10001)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":0}", "packet_limit",
           "packet_limit must be between 1 and 10000 (got 0)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1}", "packet_limit",
           "packet_limit is required for simple captures (1 to 10000)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":[1]}", "packet_limit",
           "packet_limit must be a number (got array)");
  /* optional for full, range-checked when present */
  BOTH_OK("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\"," DEST "}");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"packet_limit\":10001,\"colo_name\":\"x\"," DEST "}",
           "packet_limit", "packet_limit must be between 1 and 10000 (got 10001)");
}

static void t_byte_limit(void) {
  BOTH_OK("{" FULL ",\"time_limit\":1,\"byte_limit\":1,\"colo_name\":\"x\"," DEST "}");
  BOTH_OK("{" FULL ",\"time_limit\":1,\"byte_limit\":1000000000,\"colo_name\":\"x\"," DEST "}");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"byte_limit\":1000000001,\"colo_name\":\"x\"," DEST "}",
           "byte_limit", "byte_limit must be between 1 and 1000000000 (got 1000000001)");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"byte_limit\":0,\"colo_name\":\"x\"," DEST "}",
           "byte_limit", "byte_limit must be between 1 and 1000000000 (got 0)");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"byte_limit\":\"1\",\"colo_name\":\"x\"," DEST "}",
           "byte_limit", "byte_limit must be a number (got string)");
  /* simple: the client rejects it, the server ignores it (even out of range) */
  BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"byte_limit\":5}", client(),
      "byte_limit", "byte_limit is not allowed for simple captures");
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  CHECK_INT(parse("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"byte_limit\":-5}", &r, &s,
                  &e), 0);
  CHECK_INT(s.has_byte_limit, 0);
  rt_spec_free(&s);
}

static void t_colo(void) {
  BOTH_BAD("{" FULL ",\"time_limit\":1," DEST "}", "colo_name",
           "colo_name is required for full captures");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"colo_name\":\"\"," DEST "}", "colo_name",
           "colo_name must not be empty");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"colo_name\":7," DEST "}", "colo_name",
           "colo_name must be a string (got number)");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"colo_name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
           "aaaaaaaaaaaaaaaaa\"," DEST "}", "colo_name",
           "colo_name is too long (at most 63 characters, got 64)");
  /* U1: colo is an alias on the server when colo_name is absent; colo_name wins */
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  CHECK_INT(parse("{" FULL ",\"time_limit\":1,\"colo\":\"ord02\"," DEST "}", &r, &s, &e), 0);
  CHECK_STR(s.colo_name, "ord02");
  rt_spec_free(&s);
  CHECK_INT(parse("{" FULL ",\"time_limit\":1,\"colo\":\"ord02\",\"colo_name\":\"AMS\"," DEST "}",
                  &r, &s, &e), 0);
  CHECK_STR(s.colo_name, "AMS");
  rt_spec_free(&s);
  BAD("{" FULL ",\"time_limit\":1,\"colo\":\"\"," DEST "}", r, "colo", "colo must not be empty");
  r.accept_colo_alias = 0;
  BAD("{" FULL ",\"time_limit\":1,\"colo\":\"ord02\"," DEST "}", r, "colo_name",
      "colo_name is required for full captures");
  BAD("{" FULL ",\"time_limit\":1,\"colo\":\"ord02\"," DEST "}", client(), "colo",
      "unknown field \"colo\" (not in the full capture schema)");
  /* strict server keeps the alias as a known key */
  r = server();
  r.reject_unknown_keys = 1;
  OK("{" FULL ",\"time_limit\":1,\"colo\":\"ord02\"," DEST "}", r);
}

static void t_destination(void) {
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\"}", "destination_conf",
           "destination_conf is required for full captures");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\",\"destination_conf\":\"\"}",
           "destination_conf", "destination_conf must not be empty");
  BOTH_BAD("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\",\"destination_conf\":{}}",
           "destination_conf", "destination_conf must be a string (got object)");
  /* the client checks the URI form; the server takes the string as is */
  const char *http = "{" FULL ",\"time_limit\":1,\"colo_name\":\"x\","
                     "\"destination_conf\":\"https://bucket/x?secret=hunter2\"}";
  BAD(http, client(), "destination_conf",
      "destination_conf must be a bucket URI s3://BUCKET[/dir][?query], gs://BUCKET[/dir] or "
      "r2://BUCKET?query (got \"https://bucket/x?<redacted>\")");
  OK(http, server());
  BOTH_OK("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\",\"destination_conf\":"
          "\"r2://b?account-id=a&access-key-id=k&secret-access-key=s\"}");
  BOTH_OK("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\",\"destination_conf\":\"gs://b/c/d\"}");
}

static void t_check_destination(void) {
  rt_specerr e;
  CHECK_INT(rt_spec_check_destination("s3://pcaps-bucket?region=us-east-1", "d", &e), 0);
  CHECK_INT(rt_spec_check_destination("s3://b", "d", &e), 0);
  CHECK_INT(rt_spec_check_destination("s3://b/dir/sub", "d", &e), 0);
  CHECK_INT(rt_spec_check_destination("gs://pcaps-bucket/captures", "d", &e), 0);
  CHECK_INT(rt_spec_check_destination("r2://b?account-id=1&access-key-id=2&secret-access-key=3",
                                      "d", &e), 0);
  CHECK_INT(rt_spec_check_destination("", "d", &e), RT_EINVAL);
  CHECK_STR(e.message, "d must not be empty");
  CHECK_INT(rt_spec_check_destination(NULL, "d", &e), RT_EINVAL);
  CHECK_INT(rt_spec_check_destination("s3://", "d", &e), RT_EINVAL);
  CHECK_CONTAINS(e.message, "d must name a bucket");
  CHECK_INT(rt_spec_check_destination("s3://?region=x", "d", &e), RT_EINVAL);
  CHECK_INT(rt_spec_check_destination("s3://b@d/x", "d", &e), RT_EINVAL);
  CHECK_INT(rt_spec_check_destination("ftp://b", "d", &e), RT_EINVAL);
  CHECK_STR(e.field, "d");
  CHECK_INT(rt_spec_check_destination("S3://b", "d", &e), RT_EINVAL);
  CHECK_INT(rt_spec_check_destination("s3://b/a b", "d", &e), RT_EINVAL);
  CHECK_CONTAINS(e.message, "spaces or control characters");
  CHECK_INT(rt_spec_check_destination("gs://b?x=1", "d", &e), RT_EINVAL);
  CHECK_CONTAINS(e.message, "gs:// URIs take no query string (got \"gs://b?<redacted>\")");
  CHECK_INT(rt_spec_check_destination("r2://b", "d", &e), RT_EINVAL);
  CHECK_CONTAINS(e.message, "r2:// URIs need");
  CHECK_INT(rt_spec_check_destination("r2://b?", "d", &e), RT_EINVAL);
  /* the secret never reaches a message */
  CHECK_INT(rt_spec_check_destination("r2://b c?secret-access-key=TOPSECRET", "d", &e), RT_EINVAL);
  CHECK(strstr(e.message, "TOPSECRET") == NULL);
}

static void t_redact(void) {
  char buf[64];
  CHECK_STR(rt_spec_redact_destination("r2://b?account-id=a&secret-access-key=s", buf, sizeof buf),
            "r2://b?<redacted>");
  CHECK_STR(rt_spec_redact_destination("s3://b/dir", buf, sizeof buf), "s3://b/dir");
  CHECK_STR(rt_spec_redact_destination(NULL, buf, sizeof buf), "");
  char small[17];
  rt_spec_redact_destination("r2://a-very-long-bucket-name?secret=1", small, sizeof small);
  CHECK_STR(small, "r2://?<redacted>");
  CHECK(strlen(small) < sizeof small);
  char tiny[4];
  rt_spec_redact_destination("r2://b?secret=1", tiny, sizeof tiny);
  CHECK(strstr(tiny, "sec") == NULL && strlen(tiny) < sizeof tiny);
  CHECK(rt_spec_redact_destination("x", NULL, 0) == NULL);
  /* for the journal: credentials go, what tells destinations apart stays */
  char big[256];
  CHECK_STR(rt_spec_redact_secrets("r2://b/p?account-id=a&access-key-id=k&secret-access-key=s", big, sizeof big),
            "r2://b/p?account-id=a&access-key-id=<redacted>&secret-access-key=<redacted>");
  CHECK_STR(rt_spec_redact_secrets("s3://b?region=us-east-1&X-Token=t", buf, sizeof buf),
            "s3://b?region=us-east-1&X-Token=<redacted>");
  CHECK_STR(rt_spec_redact_secrets("gs://b/dir", buf, sizeof buf), "gs://b/dir");
  rt_spec_redact_secrets("r2://b?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1&secret=TopSecretValue", small, sizeof small);
  CHECK(strlen(small) < sizeof small && strstr(small, "Top") == NULL);
  rt_spec_redact_secrets("r2://b?secret=TopSecretValue", buf, 20);
  CHECK(strlen(buf) < 20 && strstr(buf, "Top") == NULL);
  /* every parameter named like a credential, however spelt; userinfo; fragments */
  CHECK_STR(rt_spec_redact_secrets("s3://b?session_token=T&Secret=S&X-Amz-Credential=C&sig=G&"
                                   "passwd=P&Authorization=A&region=r", big, sizeof big),
            "s3://b?session_token=<redacted>&Secret=<redacted>&X-Amz-Credential=<redacted>&"
            "sig=<redacted>&passwd=<redacted>&Authorization=<redacted>&region=r");
  CHECK_STR(rt_spec_redact_secrets("s3://b?%73ecret=S&x=1", buf, sizeof buf), "s3://b?%73ecret=<redacted>&x=1");
  CHECK_STR(rt_spec_redact_secrets("https://user:PASS@h.example/x?y=1", buf, sizeof buf),
            "https://<redacted>@h.example/x?y=1");
  CHECK_STR(rt_spec_redact_secrets("https://h.example/a@b", buf, sizeof buf), "https://h.example/a@b");
  CHECK_STR(rt_spec_redact_secrets("https://h/#access_token=AT&k=v", buf, sizeof buf),
            "https://h/#access_token=<redacted>&k=v");
  for (size_t sz = 1; sz < 40; sz++) { /* cut anywhere: never a byte of a secret */
    rt_spec_redact_secrets("https://u:PWPWPW@h/?token=TKTKTK&x=1", big, sz);
    CHECK(strlen(big) < sz && !strstr(big, "PW") && !strstr(big, "TK"));
  }
}

static void t_filter(void) {
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":[]}", "filter_v1",
           "filter_v1 must be an object (got array)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":null}", "filter_v1",
           "filter_v1 must be an object (got null)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"source_address\":1}}",
           "filter_v1.source_address", "filter_v1.source_address must be a string (got number)");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"protocol\":\"tcp\"}}",
           "filter_v1.protocol", "filter_v1.protocol must be a number (got string)");
  /* addresses: the client wants IP literals (v4 or v6), the server takes any string (U17) */
  const char *cidr = "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":"
                     "{\"destination_address\":\"10.0.0.0/8\"}}";
  BAD(cidr, client(), "filter_v1.destination_address",
      "filter_v1.destination_address must be an IPv4 or IPv6 address (got \"10.0.0.0/8\")");
  OK(cidr, server());
  const char *v6 = "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":"
                   "{\"source_address\":\"2001:db8::1\"}}";
  BOTH_OK(v6);
  rt_spec_rules r = server();
  r.ipv4_only = 1;
  BAD(v6, r, "filter_v1.source_address",
      "filter_v1.source_address must be an IPv4 address (got \"2001:db8::1\")");
  BAD(cidr, r, "filter_v1.destination_address",
      "filter_v1.destination_address must be an IPv4 address (got \"10.0.0.0/8\")");
  OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":"
     "{\"source_address\":\"192.0.2.1\"}}", r);
  /* one family per packet: the client refuses a filter that mixes them (the API does) */
  const char *mixed = "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":"
                      "{\"source_address\":\"192.0.2.1\",\"destination_address\":\"2001:db8::1\"}}";
  BAD(mixed, client(), "filter_v1.destination_address",
      "filter_v1 mixes address families: source_address 192.0.2.1 and destination_address 2001:db8::1 "
      "(a packet is IPv4 or IPv6, never both)");
  OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":"
     "{\"source_address\":\"2001:db8::2\",\"destination_address\":\"2001:db8::1\"}}", client());
  /* ranges: client on, server only with the switch */
  const char *port = "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":"
                     "{\"destination_port\":65536}}";
  BAD(port, client(), "filter_v1.destination_port",
      "filter_v1.destination_port must be between 0 and 65535 (got 65536)");
  OK(port, server());
  r = server();
  r.filter_ranges = 1;
  BAD(port, r, "filter_v1.destination_port",
      "filter_v1.destination_port must be between 0 and 65535 (got 65536)");
  BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"source_port\":-1}}", r,
      "filter_v1.source_port", "filter_v1.source_port must be between 0 and 65535 (got -1)");
  BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"protocol\":256}}", r,
      "filter_v1.protocol", "filter_v1.protocol must be between 0 and 255 (got 256)");
  OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"protocol\":255,"
     "\"source_port\":0,\"destination_port\":65535}}", r);
  /* unknown members: rejected under strict keys only */
  const char *extra = "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"vlan\":1}}";
  BAD(extra, client(), "filter_v1", "filter_v1 has an unknown member \"vlan\"");
  OK(extra, server());
  /* a too-long address never overflows the fixed buffer */
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"filter_v1\":{\"source_address\":"
           "\"1111111111222222222233333333334444444444555555555566666666667777\"}}",
           "filter_v1.source_address",
           "filter_v1.source_address is too long (at most 63 characters, got 64)");
}

static void t_unknown_keys(void) {
  const char *extra = "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"comment\":\"hi\"}";
  BAD(extra, client(), "comment", "unknown field \"comment\" (not in the simple capture schema)");
  OK(extra, server());
  rt_spec_rules strict = server();
  strict.reject_unknown_keys = 1;
  BAD(extra, strict, "comment", "unknown field \"comment\" (not in the simple capture schema)");
  /* fields of the other shape */
  BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"colo_name\":\"x\"}", strict, "colo_name",
      "colo_name is not allowed for simple captures");
  BAD("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\"," DEST ",\"offset_time\":\"x\"}", strict,
      "offset_time", "offset_time is not allowed for full captures");
  /* the server ignores them without the switch */
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  CHECK_INT(parse("{" FULL ",\"time_limit\":1,\"colo_name\":\"x\"," DEST
                  ",\"offset_time\":\"garbage\"}", &r, &s, &e), 0);
  CHECK_INT(s.has_offset_time, 0);
  rt_spec_free(&s);
  CHECK_INT(parse("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1," DEST "}", &r, &s, &e), 0);
  CHECK(s.destination_conf == NULL);
  rt_spec_free(&s);
}

static void t_offset_time(void) {
  /* NOW is 2026-09-21T14:13:20Z */
  BOTH_OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":\"2026-09-21T14:13:20Z\"}");
  BOTH_OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":\"2026-09-20T14:13:20Z\"}");
  BOTH_OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":"
          "\"2026-09-21T16:13:20.123456+02:00\"}");
  BOTH_OK("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":\"2026-09-21t10:00:00z\"}");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":\"2026-09-21T14:13:21Z\"}",
           "offset_time", "offset_time must not be in the future (got \"2026-09-21T14:13:21Z\")");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":\"2026-09-20T14:13:19Z\"}",
           "offset_time",
           "offset_time must be within the last 24 hours (got \"2026-09-20T14:13:19Z\")");
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":"
           "\"2026-09-21T10:13:20-05:00\"}", "offset_time",
           "offset_time must not be in the future (got \"2026-09-21T10:13:20-05:00\")");
  static const char *const bad[] = {
      "2026-09-21", "2026-09-21T14:13:20", "2026-09-21 14:13:20Z", "2026-13-01T00:00:00Z",
      "2026-02-29T00:00:00Z", "2026-09-31T00:00:00Z", "2026-09-21T24:00:00Z",
      "2026-09-21T14:60:00Z", "2026-09-21T14:13:20.Z", "2026-09-21T14:13:20+0200",
      "2026-09-21T14:13:20ZZ", "yesterday", "", "2026-9-21T14:13:20Z"};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char body[256], msg[160];
    snprintf(body, sizeof body, "{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,"
             "\"offset_time\":\"%s\"}", bad[i]);
    snprintf(msg, sizeof msg, "offset_time must be an RFC 3339 date-time (got \"%s\")", bad[i]);
    BOTH_BAD(body, "offset_time", msg);
  }
  BOTH_BAD("{" SIMPLE ",\"time_limit\":1,\"packet_limit\":1,\"offset_time\":12}", "offset_time",
           "offset_time must be a string (got number)");
  /* leap day in a leap year parses */
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  json_t *b = json_pack("{s:s,s:s,s:i,s:i,s:s}", "system", "magic-transit", "type", "simple",
                        "time_limit", 1, "packet_limit", 1, "offset_time", "2028-02-29T00:00:00Z");
  CHECK_INT(rt_spec_parse(b, &r, 1835395200 /* 2028-02-29T00:00:00Z */, &s, &e), 0);
  CHECK_INT(s.offset_epoch, 1835395200);
  json_decref(b);
  rt_spec_free(&s);
}

static void t_hostile_values_in_messages(void) {
  /* long or control-character values are cut and made printable */
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  CHECK_INT(parse("{\"system\":\"magic-transit\",\"type\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n\"}", &r, &s, &e), RT_EINVAL);
  CHECK_CONTAINS(e.message, "...\")");
  CHECK(strlen(e.message) < 120);
  CHECK_INT(parse("{\"system\":\"magic\\ntransit\",\"type\":\"simple\"}", &r, &s, &e), RT_EINVAL);
  CHECK(strchr(e.message, '\n') == NULL);
  CHECK_INT(parse("{" SIMPLE ",\"time_limit\":1e300,\"packet_limit\":1}", &r, &s, &e), RT_EINVAL);
  CHECK_STR(e.message, "time_limit must be between 1 and 300 for simple captures (got 1e+300)");
}

static void t_to_json(void) {
  rt_spec s;
  rt_specerr e;
  rt_spec_rules r = server();
  CHECK_INT(parse("{\"filter_v1\":{\"protocol\":6,\"source_address\":\"1.2.3.4\"},"
                  "\"offset_time\":\"2026-09-21T12:00:00Z\",\"packet_limit\":10,\"time_limit\":5,"
                  "\"type\":\"simple\",\"system\":\"magic-transit\"}", &r, &s, &e), 0);
  json_t *j = rt_spec_to_json(&s);
  char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_STR(text, "{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":5,"
                  "\"packet_limit\":10,\"filter_v1\":{\"source_address\":\"1.2.3.4\","
                  "\"protocol\":6},\"offset_time\":\"2026-09-21T12:00:00Z\"}");
  free(text);
  json_decref(j);
  rt_spec_free(&s);

  CHECK_INT(parse("{" FULL ",\"time_limit\":2.5,\"colo\":\"ORD\"," DEST ",\"byte_limit\":500}",
                  &r, &s, &e), 0);
  j = rt_spec_to_json(&s);
  text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  CHECK_STR(text, "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":2.5,"
                  "\"byte_limit\":500,\"colo_name\":\"ORD\",\"destination_conf\":"
                  "\"s3://demo/pcaps?region=us-east-1\"}");
  /* what the client builds, the client accepts: round trip under client rules (2.5 aside) */
  free(text);
  json_decref(j);
  rt_spec_free(&s);
  rt_spec_free(NULL);
}

static void t_rules(void) {
  rt_spec_rules c = client(), s = server();
  CHECK(c.reject_unknown_keys && c.integers_only && c.filter_ranges && c.ip_literals &&
        c.check_destination_form && !c.accept_colo_alias && !c.ipv4_only);
  CHECK(!s.reject_unknown_keys && !s.integers_only && !s.filter_ranges && !s.ip_literals &&
        !s.check_destination_form && s.accept_colo_alias && !s.ipv4_only);
  CHECK_INT(c.max_time_limit_full, 86400);
  CHECK_INT(s.max_time_limit_full, 86400);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  RUN(t_rules);
  RUN(t_valid_bodies);
  RUN(t_body_shape);
  RUN(t_type_and_system);
  RUN(t_time_limit);
  RUN(t_integers_only);
  RUN(t_packet_limit);
  RUN(t_byte_limit);
  RUN(t_colo);
  RUN(t_destination);
  RUN(t_check_destination);
  RUN(t_redact);
  RUN(t_filter);
  RUN(t_unknown_keys);
  RUN(t_offset_time);
  RUN(t_hostile_values_in_messages);
  RUN(t_to_json);
  return check_done();
}
