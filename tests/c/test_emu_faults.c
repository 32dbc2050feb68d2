/* ctest-labels: emu;valgrind
 * ctest-timeout: 300
 * Fault injection over real HTTP: each fault at probability 1 (and a seeded share), its answer,
 * its counter, and that no fault corrupts state. */
#include "emu_test.h"

static emu_fix F;

static void start(const char *cfg) { CHECK_INT(emu_fix_start(&F, cfg), 0); }

static void t_5xx(void) {
  start("{\"fault_5xx\":1}");
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 30; i++) {
    http_res r = api(&F, "GET", "/pcaps", NULL);
    CHECK(r.status == 500 || r.status == 502 || r.status == 503);
    CHECK(json_is_false(jpath(r.json, "success")) && jint(r.json, "errors.0.code") >= 1000);
    seen[r.status == 500 ? 0 : r.status == 502 ? 1 : 2]++;
    long ra = http_header_long(&r, "Retry-After");
    if (r.status == 503) CHECK(ra >= 1 && ra <= 3);
    else CHECK_INT(ra, -1);
    http_free(&r);
  }
  CHECK(seen[0] && seen[1] && seen[2]);
  CHECK_INT(stat_of(&F, "faults.5xx"), 30);
  /* spurious faults apply before processing: a faulted create creates nothing */
  http_res r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK(r.status >= 500);
  http_free(&r);
  CHECK_INT(stat_of(&F, "captures.total"), 0);
  emu_fix_stop(&F);
}

static void t_429(void) {
  start("{\"fault_429\":1,\"fault_429_max\":4}");
  for (int i = 0; i < 20; i++) {
    http_res r = api(&F, "GET", "/pcaps", NULL);
    CHECK_INT(r.status, 429);
    long ra = http_header_long(&r, "Retry-After");
    CHECK(ra >= 1 && ra <= 4);
    http_free(&r);
  }
  CHECK_INT(stat_of(&F, "faults.429"), 20);
  CHECK_INT(stat_of(&F, "violations.api_budget"), 0); /* spurious: not the client's fault */
  emu_fix_stop(&F);
}

static void t_reset(void) {
  start("{\"fault_reset\":1}");
  http_res r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.curl, CURLE_GOT_NOTHING);
  CHECK_INT(r.status, 0);
  http_free(&r);
  CHECK_INT(stat_of(&F, "faults.reset"), 1);
  CHECK_INT(stat_of(&F, "requests.by_status.dropped"), 1);
  CHECK_INT(admin_config(&F, "{\"fault_reset\":0}"), 200);
  r = api(&F, "GET", "/pcaps", NULL); /* the server is fine afterwards */
  CHECK_INT(r.status, 200);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_slow(void) {
  start("{\"fault_slow\":1,\"slow_ms\":300}");
  double t0 = now_s();
  http_res r = api(&F, "GET", "/pcaps", NULL);
  double took = now_s() - t0;
  CHECK_INT(r.status, 200); /* slow, then answered normally */
  CHECK(took >= 0.3);
  http_free(&r);
  /* one slow connection does not hold up the others (thread per connection) */
  CHECK_INT(admin_config(&F, "{\"slow_ms\":100}"), 200);
  t0 = now_s();
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK(now_s() - t0 < 0.3 * slow_factor() + 0.2);
  http_free(&r);
  CHECK_INT(stat_of(&F, "faults.slow"), 2);
  emu_fix_stop(&F);
}

static void t_truncate(void) {
  start("{\"simple_duration\":0,\"time_scale\":0.001}");
  char id[33];
  CHECK_INT(create_capture(&F, "{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":"
                               "100,\"packet_limit\":2000}", id), 200);
  http_res whole = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK_INT(whole.status, 200);
  CHECK_INT(admin_config(&F, "{\"fault_truncate\":1}"), 200);
  http_res r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK_INT(r.curl, CURLE_PARTIAL_FILE); /* Content-Length promised more than arrived */
  CHECK(r.len < whole.len);
  CHECK(r.len == 0 || memcmp(r.body, whole.body, r.len) == 0);
  http_free(&r);
  /* JSON answers are never truncated; the fault only applies to downloads */
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  http_free(&r);
  CHECK_INT(stat_of(&F, "faults.truncate"), 1);
  http_free(&whole);
  emu_fix_stop(&F);
}

static void t_malformed(void) {
  start("{\"fault_malformed\":1,\"simple_duration\":0,\"time_scale\":0.001}");
  http_res r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(r.status, 200);
  CHECK(r.body && r.json == NULL); /* not JSON */
  http_free(&r);
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK(r.json == NULL);
  http_free(&r);
  CHECK_INT(stat_of(&F, "captures.total"), 0);
  /* not on stop, delete or download */
  r = api(&F, "PUT", "/pcaps/ffffffffffffffffffffffffffffffff/stop", NULL);
  CHECK_INT(r.status, 404);
  CHECK(r.json != NULL);
  http_free(&r);
  CHECK_INT(stat_of(&F, "faults.malformed"), 2);
  emu_fix_stop(&F);
}

static void t_create_then_fail(void) {
  start("{\"fault_create_then_500\":1,\"sample_limit\":false}");
  http_res r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.status, 500);
  http_free(&r);
  /* the create was applied: the capture is listed (U20 reconciliation) */
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(json_array_size(jpath(r.json, "result")), 1);
  http_free(&r);
  CHECK_INT(admin_config(&F, "{\"fault_create_then_500\":0,\"fault_create_then_reset\":1}"), 200);
  r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
  CHECK_INT(r.curl, CURLE_GOT_NOTHING);
  http_free(&r);
  r = api(&F, "GET", "/pcaps", NULL);
  CHECK_INT(json_array_size(jpath(r.json, "result")), 2);
  http_free(&r);
  /* only accepted creates are hit: an invalid body still gets its 400 */
  r = api(&F, "POST", "/pcaps", "{}");
  CHECK_INT(r.status, 400);
  http_free(&r);
  CHECK_INT(stat_of(&F, "faults.create_then_500"), 1);
  CHECK_INT(stat_of(&F, "faults.create_then_reset"), 1);
  CHECK_INT(stat_of(&F, "faults.total"), 2);
  emu_fix_stop(&F);
}

/* A seeded share of faults: the same seed gives the same sequence; state stays consistent. */
static void t_seeded_mix(void) {
  char seq[2][64];
  for (int run = 0; run < 2; run++) {
    start("{\"seed\":9,\"fault_5xx\":0.2,\"fault_429\":0.2,\"fault_reset\":0.1,"
          "\"fault_malformed\":0.1,\"sample_limit\":false}");
    for (int i = 0; i < 40; i++) {
      http_res r = api(&F, "POST", "/pcaps", SIMPLE_BODY);
      seq[run][i] = r.curl != CURLE_OK ? 'x' : r.status == 200 && !r.json ? 'm'
                    : r.status == 200 ? 'o' : r.status == 429 ? 'r' : 'e';
      http_free(&r);
    }
    seq[run][40] = 0;
    /* every 'o' created exactly one capture; no fault created or lost any */
    long long created = 0;
    for (int i = 0; i < 40; i++) created += seq[run][i] == 'o';
    CHECK_INT(stat_of(&F, "captures.total"), created);
    CHECK(created > 5 && created < 35);
    emu_fix_stop(&F);
  }
  CHECK_STR(seq[0], seq[1]);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_ALL);
  RUN(t_5xx);
  RUN(t_429);
  RUN(t_reset);
  RUN(t_slow);
  RUN(t_truncate);
  RUN(t_malformed);
  RUN(t_create_then_fail);
  RUN(t_seeded_mix);
  curl_global_cleanup();
  return check_done();
}
