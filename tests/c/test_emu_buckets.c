/* ctest-labels: emu;valgrind
 * ctest-timeout: 300
 * Bucket ownership end to end (runtime/API.md#8-buckets, U7-U10): add writes a challenge file into the
 * bucket directory, validate checks it, full creates need a validated bucket unless
 * auto_validate_buckets, finished full captures land in the bucket; admin reset and captures. */
#include "emu_test.h"
#include <sys/stat.h>

static emu_fix F;

#define DEST "s3://demo/pcaps?region=us-east-1"
#define ADD_BODY "{\"destination_conf\":\"" DEST "\"}"

static int read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  buf[n] = 0;
  fclose(f);
  return 0;
}

/* Adds DEST; fills the ownership id and the challenge file's contents. */
static void add_bucket(char *id, char *token) {
  http_res r = api(&F, "POST", "/pcaps/ownership", ADD_BODY);
  CHECK_INT(r.status, 200);
  const char *fn = jstr(r.json, "result.filename");
  char path[1024];
  snprintf(path, sizeof path, "%s/demo/pcaps/%s", emu_bucket_dir(F.s), fn ? fn : "?");
  CHECK_INT(read_file(path, token, 64), 0);
  snprintf(id, 33, "%s", jstr(r.json, "result.id") ? jstr(r.json, "result.id") : "");
  http_free(&r);
}

static http_res validate(const char *dest, const char *challenge) {
  char body[512];
  snprintf(body, sizeof body, "{\"destination_conf\":\"%s\",\"ownership_challenge\":\"%s\"}", dest,
           challenge);
  return api(&F, "POST", "/pcaps/ownership/validate", body);
}

static void t_ownership_flow(void) {
  CHECK_INT(emu_fix_start(&F, "{\"time_scale\":0.001}"), 0);
  /* a full create to an unregistered bucket is refused */
  http_res r = api(&F, "POST", "/pcaps", FULL_BODY_FOR(DEST));
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1112);
  http_free(&r);
  /* add: pending, validated "", a challenge file in the bucket */
  r = api(&F, "POST", "/pcaps/ownership", ADD_BODY);
  CHECK_INT(r.status, 200);
  CHECK_STR(jstr(r.json, "result.status"), "pending");
  CHECK_STR(jstr(r.json, "result.validated"), "");
  CHECK_STR(jstr(r.json, "result.destination_conf"), DEST);
  const char *fn = jstr(r.json, "result.filename");
  CHECK(fn && strncmp(fn, "ownership-challenge-", 20) == 0 && strlen(fn) == 20 + 32 + 4);
  CHECK(jstr(r.json, "result.id") && strlen(jstr(r.json, "result.id")) == 32);
  CHECK(jstr(r.json, "result.submitted") && strlen(jstr(r.json, "result.submitted")) == 27);
  char path[1024], token[64], filename[80], id[33];
  snprintf(path, sizeof path, "%s/demo/pcaps/%s", emu_bucket_dir(F.s), fn);
  snprintf(filename, sizeof filename, "%s", fn);
  snprintf(id, sizeof id, "%s", jstr(r.json, "result.id"));
  CHECK_INT(read_file(path, token, sizeof token), 0);
  CHECK(strlen(token) == 32);
  http_free(&r);
  /* still refused while pending */
  r = api(&F, "POST", "/pcaps", FULL_BODY_FOR(DEST));
  CHECK_INT(r.status, 400);
  http_free(&r);
  /* a wrong challenge: 200 with status failed */
  r = validate(DEST, "not-the-token");
  CHECK_INT(r.status, 200);
  CHECK_STR(jstr(r.json, "result.status"), "failed");
  http_free(&r);
  /* the contents (with a trailing newline, as read from a file) validate it */
  char with_nl[80];
  snprintf(with_nl, sizeof with_nl, "%s\\n", token);
  r = validate(DEST, with_nl);
  CHECK_INT(r.status, 200);
  CHECK_STR(jstr(r.json, "result.status"), "success");
  const char *validated = jstr(r.json, "result.validated");
  CHECK(validated && strlen(validated) == 27);
  http_free(&r);
  /* listed, and full creates with exactly this string now work */
  r = api(&F, "GET", "/pcaps/ownership", NULL);
  CHECK_INT(json_array_size(jpath(r.json, "result")), 1);
  CHECK_STR(jstr(r.json, "result.0.status"), "success");
  http_free(&r);
  r = api(&F, "POST", "/pcaps", FULL_BODY_FOR("s3://demo/pcaps?region=us-west-2"));
  CHECK_INT(r.status, 400); /* not exactly the same string */
  http_free(&r);
  char cap[33];
  CHECK_INT(create_capture(&F, FULL_BODY_FOR(DEST), cap), 200);
  /* delete: 204, then unknown: 404; creates are refused again */
  r = api_fmt(&F, "DELETE", NULL, "/pcaps/ownership/%s", id);
  CHECK_INT(r.status, 204);
  CHECK_INT(r.len, 0);
  http_free(&r);
  r = api_fmt(&F, "DELETE", NULL, "/pcaps/ownership/%s", id);
  CHECK_INT(r.status, 404);
  http_free(&r);
  r = validate(DEST, token);
  CHECK_INT(r.status, 404);
  http_free(&r);
  CHECK_INT(stat_of(&F, "buckets.registered"), 0);
  CHECK_INT(stat_of(&F, "buckets.created"), 1);
  emu_fix_stop(&F);
}

static void t_challenge_modes(void) {
  CHECK_INT(emu_fix_start(&F, "{\"challenge_mode\":\"contents\"}"), 0);
  char id[33], token[64], filename[80];
  http_res r = api(&F, "POST", "/pcaps/ownership", ADD_BODY);
  snprintf(filename, sizeof filename, "%s", jstr(r.json, "result.filename"));
  http_free(&r);
  add_bucket(id, token); /* a second record for the same bucket (U10 default: new id) */
  r = api(&F, "GET", "/pcaps/ownership", NULL);
  CHECK_INT(json_array_size(jpath(r.json, "result")), 2);
  http_free(&r);
  r = validate(DEST, filename); /* contents mode: the filename is not enough */
  CHECK_STR(jstr(r.json, "result.status"), "failed");
  http_free(&r);
  r = validate(DEST, token);
  CHECK_STR(jstr(r.json, "result.status"), "success");
  CHECK_STR(jstr(r.json, "result.id"), id); /* the record whose token matched */
  http_free(&r);
  CHECK_INT(admin_config(&F, "{\"challenge_mode\":\"filename\"}"), 200);
  r = validate(DEST, filename);
  CHECK_STR(jstr(r.json, "result.status"), "success");
  http_free(&r);
  /* mismatch as an error (switch) */
  CHECK_INT(admin_config(&F, "{\"validate_mismatch_error\":true}"), 200);
  r = validate(DEST, "wrong");
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1118);
  http_free(&r);
  /* missing fields */
  r = api(&F, "POST", "/pcaps/ownership/validate", "{\"destination_conf\":\"" DEST "\"}");
  CHECK_INT(r.status, 400);
  CHECK_STR(jstr(r.json, "errors.0.message"), "ownership_challenge is required");
  http_free(&r);
  r = api(&F, "POST", "/pcaps/ownership", "{}");
  CHECK_INT(r.status, 400);
  CHECK_STR(jstr(r.json, "errors.0.message"), "destination_conf is required");
  http_free(&r);
  r = api(&F, "POST", "/pcaps/ownership", "{\"destination_conf\":\"s3://x/../../etc\"}");
  CHECK_INT(r.status, 400);
  http_free(&r);
  r = api(&F, "POST", "/pcaps/ownership", "{\"destination_conf\":\"ftp://x\"}");
  CHECK_INT(r.status, 400);
  http_free(&r);
  r = api(&F, "POST", "/pcaps/ownership", "[1");
  CHECK_INT(r.status, 400);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_duplicates_and_delay(void) {
  CHECK_INT(emu_fix_start(&F, "{\"duplicate_buckets\":\"existing\",\"validation_delay\":30}"), 0);
  clock_freeze(&F); /* validation ends when the test steps the clock past it */
  char a[33], b[33], token[64], t2[64];
  add_bucket(a, token);
  add_bucket(b, t2);
  CHECK_STR(a, b); /* the existing record comes back */
  CHECK_STR(token, t2);
  /* validation takes validation_delay: pending first, then success */
  http_res r = validate(DEST, token);
  CHECK_STR(jstr(r.json, "result.status"), "pending");
  CHECK_STR(jstr(r.json, "result.validated"), "");
  http_free(&r);
  r = api(&F, "POST", "/pcaps", FULL_BODY_FOR(DEST));
  CHECK_INT(r.status, 400);
  http_free(&r);
  clock_advance(&F, 29.9);
  r = api(&F, "GET", "/pcaps/ownership", NULL);
  CHECK_STR(jstr(r.json, "result.0.status"), "pending");
  http_free(&r);
  clock_advance(&F, 0.1);
  r = api(&F, "GET", "/pcaps/ownership", NULL);
  CHECK_STR(jstr(r.json, "result.0.status"), "success");
  http_free(&r);
  CHECK_INT(admin_config(&F, "{\"duplicate_buckets\":\"reject\"}"), 200);
  r = api(&F, "POST", "/pcaps/ownership", ADD_BODY);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1119);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_r2_and_gcs(void) {
  CHECK_INT(emu_fix_start(&F, "{}"), 0);
  const char *r2 = "r2://logs?account-id=abc&access-key-id=AKID&secret-access-key=SECRET";
  char body[512];
  snprintf(body, sizeof body, "{\"destination_conf\":\"%s\"}", r2);
  http_res r = api(&F, "POST", "/pcaps/ownership", body);
  CHECK_INT(r.status, 200);
  CHECK_STR(jstr(r.json, "result.destination_conf"), r2); /* echoed as registered (U23) */
  char path[1024], token[64];
  snprintf(path, sizeof path, "%s/logs/%s", emu_bucket_dir(F.s), jstr(r.json, "result.filename"));
  CHECK_INT(read_file(path, token, sizeof token), 0);
  http_free(&r);
  /* validate without the R2 keys (runtime/API.md#8-buckets, step 4) */
  r = validate("r2://logs?account-id=abc", token);
  CHECK_STR(jstr(r.json, "result.status"), "success");
  http_free(&r);
  r = api(&F, "POST", "/pcaps/ownership", "{\"destination_conf\":\"gs://pcaps-bucket/captures\"}");
  CHECK_INT(r.status, 200);
  snprintf(path, sizeof path, "%s/pcaps-bucket/captures/%s", emu_bucket_dir(F.s),
           jstr(r.json, "result.filename"));
  struct stat st;
  CHECK_INT(stat(path, &st), 0);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_auto_validate_and_delivery(void) {
  char dir[] = "/tmp/pcaprun-buckets-XXXXXX", cfg[512], id[33];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(cfg, sizeof cfg, "{\"time_scale\":0.0001,\"auto_validate_buckets\":true,"
           "\"bucket_dir\":\"%s/nested\"}", dir);
  CHECK_INT(emu_fix_start(&F, cfg), 0);
  CHECK_CONTAINS(emu_bucket_dir(F.s), "/nested");
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("gs://other/deep/path"), id), 200);
  CHECK(wait_status(&F, id, "success", 5));
  char path[1024];
  snprintf(path, sizeof path, "%s/nested/other/deep/path/pcap_%s.pcap", dir, id);
  struct stat st;
  CHECK_INT(stat(path, &st), 0);
  CHECK(st.st_size > 24);
  /* a given bucket_dir is the user's: it stays after stop */
  emu_fix_stop(&F);
  CHECK_INT(stat(path, &st), 0);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_INT(system(cmd), 0);
}

static void t_admin(void) {
  CHECK_INT(emu_fix_start(&F, "{\"time_scale\":0.01,\"auto_validate_buckets\":true}"), 0);
  char id[33], url[600];
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("s3://b"), id), 200);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  snprintf(url, sizeof url, "%s/captures", F.admin);
  http_res r = http_do("GET", url, NULL, NULL);
  CHECK_INT(r.status, 200);
  CHECK_INT(json_array_size(jpath(r.json, "captures")), 2);
  CHECK_STR(jstr(r.json, "captures.0.type"), "full");
  CHECK_STR(jstr(r.json, "captures.0.colo_name"), "ORD");
  double sub = json_number_value(jpath(r.json, "captures.0.submitted_s"));
  double run = json_number_value(jpath(r.json, "captures.0.running_s"));
  double ended = json_number_value(jpath(r.json, "captures.0.ended_s"));
  double ready = json_number_value(jpath(r.json, "captures.0.ready_s"));
  CHECK(run - sub > 0.019 && run - sub < 0.021);     /* full_pending 2 s * 0.01 */
  CHECK(ended - run > 0.599 && ended - run < 0.601); /* time_limit 60 s */
  CHECK(ready - ended > 0.029 && ready - ended < 0.031);
  CHECK_STR(jstr(r.json, "captures.1.type"), "simple");
  http_free(&r);
  /* stats shape */
  snprintf(url, sizeof url, "%s/stats", F.admin);
  r = http_do("GET", url, NULL, NULL);
  CHECK_INT(jint(r.json, "captures.simple"), 1);
  CHECK_INT(jint(r.json, "captures.full"), 1);
  CHECK_INT(jint(r.json, "requests.by_operation.create"), 2);
  CHECK_INT(jint(r.json, "requests.by_status.200"), 2);
  CHECK_STR(jstr(r.json, "bucket_dir"), emu_bucket_dir(F.s));
  http_free(&r);
  char *text = emu_stats_json(F.s);
  CHECK_CONTAINS(text, "\"violations\"");
  free(text);
  /* config: errors are 400 with a message; start-only keys are refused */
  r = http_do("POST", (snprintf(url, sizeof url, "%s/config", F.admin), url), NULL,
              "{\"listen\":\"127.0.0.1:1\"}");
  CHECK_INT(r.status, 400);
  CHECK_STR(jstr(r.json, "error"), "config key listen can only be set when the emulator starts");
  http_free(&r);
  char err[128];
  CHECK_INT(emu_configure_json(F.s, "{\"slow_ms\":-1}", err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, "slow_ms must be between 0 and 600000");
  CHECK_INT(emu_configure_json(F.s, "{\"errors\":{\"nope\":{}}}", err, sizeof err), RT_EINVAL);
  CHECK_INT(emu_configure_json(F.s, "{\"errors\":{\"not_found\":{\"status\":99}}}", err,
                               sizeof err), RT_EINVAL);
  CHECK_INT(emu_configure_json(F.s, "[]", err, sizeof err), RT_EINVAL);
  CHECK_INT(emu_configure_json(F.s, "{\"seed\":7,\"list_limit\":5}", err, sizeof err), 0);
  /* reset forgets captures and counters; ids restart from the seed */
  admin_reset(&F);
  CHECK_INT(stat_of(&F, "captures.total"), 0);
  CHECK_INT(stat_of(&F, "requests.total"), 0);
  char a[33], b[33];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, a), 200);
  admin_reset(&F);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, b), 200);
  CHECK_STR(a, b);
  /* the clock: stopped, stepped, refused steps on a running clock and bad bodies, let go */
  snprintf(url, sizeof url, "%s/clock", F.admin);
  r = http_do("POST", url, NULL, "{\"advance\":5}");
  CHECK_INT(r.status, 400);
  CHECK_CONTAINS(jstr(r.json, "error"), "stopped clock");
  http_free(&r);
  r = http_do("POST", url, NULL, "{\"freeze\":true}");
  CHECK(json_is_true(jpath(r.json, "frozen")));
  double t = json_number_value(jpath(r.json, "api_now"));
  http_free(&r);
  r = http_do("POST", url, NULL, "{\"advance\":90.5}");
  CHECK(json_number_value(jpath(r.json, "api_now")) == t + 90.5);
  http_free(&r);
  static const char *const bad[] = {"{\"advance\":-1}", "{\"freeze\":1}", "{\"step\":1}", "[]", "x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = http_do("POST", url, NULL, bad[i]);
    CHECK_INT(r.status, 400);
    http_free(&r);
  }
  r = http_do("POST", url, NULL, "{\"freeze\":false}");
  CHECK(json_is_false(jpath(r.json, "frozen")));
  CHECK(json_number_value(jpath(r.json, "api_now")) >= t + 90.5); /* runs on from there */
  http_free(&r);
  r = http_do("GET", url, NULL, NULL);
  CHECK_INT(r.status, 200);
  CHECK(json_number_value(jpath(r.json, "api_now")) >= t + 90.5);
  http_free(&r);
  /* unknown admin paths and methods */
  snprintf(url, sizeof url, "%s/nope", F.admin);
  r = http_do("GET", url, NULL, NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  snprintf(url, sizeof url, "%s/stats", F.admin);
  r = http_do("DELETE", url, NULL, NULL);
  CHECK_INT(r.status, 405);
  http_free(&r);
  emu_fix_stop(&F);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_ALL);
  RUN(t_ownership_flow);
  RUN(t_challenge_modes);
  RUN(t_duplicates_and_delay);
  RUN(t_r2_and_gcs);
  RUN(t_auto_validate_and_delivery);
  RUN(t_admin);
  curl_global_cleanup();
  return check_done();
}
