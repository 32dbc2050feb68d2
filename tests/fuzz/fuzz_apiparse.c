/* Fuzz target: the API response parser, the way the runtime reads a body (call.c): the v4
 * envelope, then the capture object in `result`, or each item of a `result` list.
 * Oracles: the envelope parse returns 0 or RT_EPROTO; a failure leaves a message and nothing to
 * free, a success an object with a boolean `success`, and a failed envelope always says why;
 * messages are NUL-terminated in their buffers; a parsed capture has a 32-hex-digit id, a known
 * type, a status whose name parses back to it (unknown values stay non-terminal) and, when its
 * `submitted` time parses, that time formats and parses back to itself (to the microsecond). */
#include "apiparse.h"
#include "err.h"
#include "fuzz.h"
#include "spec.h"

#include <math.h>
#include <string.h>

static void check_time(const char *s, double epoch) {
  char again[64];
  double back = 0;
  /* rt_time_format writes four-digit years only for 1000..9999. */
  if (!(epoch >= -30610224000.0 && epoch < 253402300800.0)) return;
  rt_time_format(epoch, again, sizeof again);
  FUZZ_CHECK(rt_time_parse(again, &back) == 0, "\"%s\" -> %.6f -> \"%s\" does not parse", s, epoch, again);
  FUZZ_CHECK(fabs(back - epoch) <= 1e-6 * (1 + fabs(epoch) * 1e-9), "\"%s\" -> %.6f -> \"%s\" -> %.6f", s, epoch,
             again, back);
}

static void check_capture(const json_t *obj) {
  rt_capinfo info;
  char why[128] = "";
  int rc = rt_capinfo_parse(obj, &info, why, sizeof why);
  if (rc != 0) {
    FUZZ_CHECK(rc == RT_EPROTO && why[0] && memchr(why, 0, sizeof why), "rc %d, why \"%s\"", rc, why);
    return;
  }
  FUZZ_CHECK(rt_id_valid(info.id), "id \"%s\"", info.id);
  FUZZ_CHECK(info.type == RT_CAP_SIMPLE || info.type == RT_CAP_FULL, "type %d", info.type);
  FUZZ_CHECK(info.status >= RT_ST_UNKNOWN && info.status <= RT_ST_FAILED, "status %d", info.status);
  FUZZ_CHECK(memchr(info.status_raw, 0, sizeof info.status_raw) && memchr(info.colo, 0, sizeof info.colo),
             "unterminated string");
  if (info.status != RT_ST_UNKNOWN)
    FUZZ_CHECK(rt_status_parse(rt_status_name(info.status)) == info.status, "status %d", info.status);
  else
    FUZZ_CHECK(!rt_status_terminal(info.status) && rt_status_holds_slot(info.status),
               "unknown status \"%s\" must be non-terminal and hold the slot", info.status_raw);
  const char *submitted = json_string_value(json_object_get(obj, "submitted"));
  double epoch;
  if (submitted && rt_time_parse(submitted, &epoch) == 0) check_time(submitted, epoch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rt_envelope env;
  int rc = rt_envelope_parse((const char *)data, size, &env);
  FUZZ_CHECK(memchr(env.message, 0, sizeof env.message), "unterminated message");
  if (rc != 0) {
    FUZZ_CHECK(rc == RT_EPROTO && env.message[0], "rc %d, message \"%s\"", rc, env.message);
  } else {
    FUZZ_CHECK(json_is_object(env.root) && json_is_boolean(json_object_get(env.root, "success")),
               "accepted a body that is not an envelope");
    FUZZ_CHECK(env.success == json_is_true(json_object_get(env.root, "success")), "success %d", env.success);
    FUZZ_CHECK(env.success || env.message[0], "a failure without a message");
    FUZZ_CHECK(!env.errors || json_is_array(env.errors), "errors is not an array");
    if (json_is_array(env.result)) {
      size_t i;
      json_t *item;
      json_array_foreach(env.result, i, item) check_capture(item);
    } else if (env.result) {
      check_capture(env.result);
    }
  }
  rt_envelope_free(&env);
  FUZZ_CHECK(!env.root && !env.result && !env.errors, "free left pointers behind");

  /* The body as one time string too: whatever parses must survive a format round trip. */
  char s[64];
  double epoch;
  if (size < sizeof s) {
    memcpy(s, data, size);
    s[size] = 0;
    if (rt_time_parse(s, &epoch) == 0) check_time(s, epoch);
  }
  return 0;
}
