/* ctest-labels: unit;valgrind
 * Parsing what the API sends: envelopes (success, errors with error_chain, null results, extra
 * keys), capture objects (colo vs colo_name, bad ids), statuses, RFC 3339 times. */
#include "apiparse.h"
#include "check.h"
#include <math.h>
#include "err.h"
#include "spec.h"
#include <string.h>

static int parse(const char *body, rt_envelope *env) { return rt_envelope_parse(body, strlen(body), env); }

static void t_envelope(void) {
  rt_envelope e;
  CHECK_INT(parse("{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{\"id\":\"x\"}}", &e), 0);
  CHECK(e.success && json_is_object(e.result));
  rt_envelope_free(&e);
  CHECK_INT(parse("{\"success\":true,\"errors\":[],\"messages\":[],\"result\":null}", &e), 0);
  CHECK(e.success && json_is_null(e.result)); /* null lists are empty lists to the caller */
  rt_envelope_free(&e);
  CHECK_INT(parse("{\"success\":false,\"errors\":[{\"code\":10000,\"message\":\"Authentication error\",\"type\":null}],"
                  "\"messages\":[],\"result\":null,\"extra\":1}", &e), 0);
  CHECK(!e.success);
  CHECK_INT(e.cf_code, 10000);
  CHECK_STR(e.message, "Authentication error (10000)");
  rt_envelope_free(&e);
  CHECK_INT(parse("{\"success\":false,\"errors\":[{\"code\":6003,\"message\":\"Invalid request headers\","
                  "\"error_chain\":[{\"code\":6111,\"message\":\"Invalid format for Authorization header\"}]}],"
                  "\"messages\":[],\"result\":null}", &e), 0);
  CHECK_STR(e.message, "Invalid request headers (6003): Invalid format for Authorization header (6111)");
  rt_envelope_free(&e);
  CHECK_INT(parse("{\"success\":false,\"errors\":[],\"messages\":[],\"result\":null}", &e), 0);
  CHECK_CONTAINS(e.message, "without an error message");
  rt_envelope_free(&e);
}

static void t_envelope_malformed(void) {
  rt_envelope e;
  const char *bad[] = {"", "{\"success\": tru", "[1,2]", "{\"result\":{}}", "{\"success\":\"yes\"}",
                       "<html>502 Bad Gateway</html>", "{\"success\":true,\"success\":false}"};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_INT(parse(bad[i], &e), RT_EPROTO);
    CHECK(e.message[0] != 0);
    rt_envelope_free(&e);
  }
  CHECK_INT(rt_envelope_parse(NULL, 0, &e), RT_EPROTO);
  rt_envelope_free(&e);
}

static void t_capinfo(void) {
  json_error_t jerr;
  json_t *o = json_loads("{\"id\":\"66802ca5668e47a2b82c2e6746e45037\",\"type\":\"full\",\"status\":\"running\","
                         "\"submitted\":\"2026-11-26T17:29:20.641845Z\",\"time_limit\":600,\"colo\":\"ORD\"}", 0, &jerr);
  rt_capinfo c;
  char why[128];
  CHECK_INT(rt_capinfo_parse(o, &c, why, sizeof why), 0);
  CHECK_STR(c.id, "66802ca5668e47a2b82c2e6746e45037");
  CHECK_INT(c.type, RT_CAP_FULL);
  CHECK_INT(c.status, RT_ST_RUNNING);
  CHECK_STR(c.colo, "ORD"); /* "colo" when "colo_name" is absent (runtime/API.md#12-unknowns U1) */
  CHECK(c.time_limit == 600);
  CHECK(c.submitted > 1795714160.64 && c.submitted < 1795714160.65);
  json_object_set_new(o, "colo_name", json_string("ord02"));
  CHECK_INT(rt_capinfo_parse(o, &c, why, sizeof why), 0);
  CHECK_STR(c.colo, "ord02"); /* colo_name wins */
  json_object_set_new(o, "status", json_string("teleporting"));
  CHECK_INT(rt_capinfo_parse(o, &c, why, sizeof why), 0);
  CHECK_INT(c.status, RT_ST_UNKNOWN); /* unknown statuses are non-terminal, not errors */
  CHECK_STR(c.status_raw, "teleporting");
  /* numbers that would become timers are bounded: outside the API's range, time_limit is unknown */
  const double hostile[] = {1e300, -5, 86401, INFINITY, NAN};
  for (unsigned i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    json_object_set_new(o, "time_limit", json_real(hostile[i]));
    CHECK_INT(rt_capinfo_parse(o, &c, why, sizeof why), 0);
    CHECK(c.time_limit == 0);
  }
  json_object_set_new(o, "id", json_string("../../etc/passwd-000000000000000000"));
  CHECK_INT(rt_capinfo_parse(o, &c, why, sizeof why), RT_EPROTO); /* ids reach file names */
  json_object_set_new(o, "id", json_string("66802ca5668e47a2b82c2e6746e45037"));
  json_object_del(o, "type");
  CHECK_INT(rt_capinfo_parse(o, &c, why, sizeof why), RT_EPROTO);
  CHECK_CONTAINS(why, "type");
  json_decref(o);
  CHECK_INT(rt_capinfo_parse(NULL, &c, why, sizeof why), RT_EPROTO);
}

static void t_status(void) {
  CHECK(rt_status_terminal(RT_ST_SUCCESS) && rt_status_terminal(RT_ST_COMPLETE) && rt_status_terminal(RT_ST_FAILED));
  CHECK(!rt_status_terminal(RT_ST_CONV_RUNNING) && !rt_status_terminal(RT_ST_UNKNOWN));
  CHECK(rt_status_holds_slot(RT_ST_PENDING) && rt_status_holds_slot(RT_ST_RUNNING) && rt_status_holds_slot(RT_ST_UNKNOWN));
  CHECK(!rt_status_holds_slot(RT_ST_CONV_PENDING) && !rt_status_holds_slot(RT_ST_FAILED));
  CHECK_INT(rt_status_parse("conversion_pending"), RT_ST_CONV_PENDING);
  CHECK_STR(rt_status_name(RT_ST_COMPLETE), "complete");
}

static void t_time(void) {
  double t;
  CHECK_INT(rt_time_parse("2026-11-26T00:00:00Z", &t), 0);
  CHECK(t == 1795651200.0);
  CHECK_INT(rt_time_parse("2026-11-26T02:00:00+02:00", &t), 0);
  CHECK(t == 1795651200.0);
  CHECK_INT(rt_time_parse("2026-11-25T19:00:00.5-05:00", &t), 0);
  CHECK(t == 1795651200.5);
  const char *bad[] = {"2026-11-26", "2026-11-26T00:00:00", "2026-13-01T00:00:00Z", "2026-11-26T00:00:00Zjunk",
                       "2026-11-26T00:00:00.Z", "yesterday", "2026-11-26T00:00:00+2:00"};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_INT(rt_time_parse(bad[i], &t), RT_EINVAL);
  char buf[40];
  rt_time_format(1795651200.641845, buf, sizeof buf);
  CHECK_STR(buf, "2026-11-26T00:00:00.641845Z");
  CHECK_INT(rt_time_parse(buf, &t), 0);
  CHECK(t > 1795651200.6418 && t < 1795651200.6419);
  /* what is not a time (a hostile journal row) formats as such, without overflowing */
  rt_time_format(1.10639e+74, buf, sizeof buf);
  CHECK_STR(buf, "(not a time)");
  rt_time_format(NAN, buf, sizeof buf);
  CHECK_STR(buf, "(not a time)");
  rt_time_format(-1e300, buf, sizeof buf);
  CHECK_STR(buf, "(not a time)");
}

/* The field an error names, from errors[0].source.pointer. */
static void t_error_field(void) {
  char buf[64];
  json_t *e = json_loads("[{\"code\":1004,\"message\":\"x\",\"source\":{\"pointer\":\"/filter_v1/protocol\"}}]",
                         0, NULL);
  CHECK_STR(rt_error_field(e, buf, sizeof buf), "filter_v1.protocol");
  json_decref(e);
  e = json_loads("[{\"code\":1004,\"source\":{\"pointer\":\"/a b\"}}, {\"code\":1}]", 0, NULL);
  CHECK(rt_error_field(e, buf, sizeof buf) == NULL); /* not a plain path: no field */
  json_decref(e);
  CHECK(rt_error_field(NULL, buf, sizeof buf) == NULL);
}

int main(void) {
  RUN(t_envelope);
  RUN(t_error_field);
  RUN(t_envelope_malformed);
  RUN(t_capinfo);
  RUN(t_status);
  RUN(t_time);
  return check_done();
}
