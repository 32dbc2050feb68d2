/* ctest-labels: emu;valgrind
 * ctest-timeout: 300
 * Capture lifecycle, stop semantics, failures, and downloads (pcap contents checked with
 * libpcap: header, snaplen, link type, packets matching the filter, timestamps), HTTP Range,
 * gzip and the simple_bytes bench knob. */
#include "emu_test.h"
#include <arpa/inet.h>
#include <pcap/pcap.h>

static emu_fix F;
static double SCALE(double base) { return base * slow_factor(); }

static void start_scaled(double scale, const char *extra) {
  char cfg[512];
  snprintf(cfg, sizeof cfg, "{\"time_scale\":%g%s%s}", scale, extra[0] ? "," : "", extra);
  CHECK_INT(emu_fix_start(&F, cfg), 0);
}

static const char *status_of(const char *id, char *buf) {
  http_res r = api_fmt(&F, "GET", NULL, "/pcaps/%s", id);
  snprintf(buf, 32, "%s", jstr(r.json, "result.status") ? jstr(r.json, "result.status") : "?");
  http_free(&r);
  return buf;
}

static void t_simple_lifecycle(void) {
  double sc = SCALE(0.01);
  start_scaled(sc, "");
  char id[33], st[32];
  /* on a stopped clock: pending for time_limit API seconds, then success */
  clock_freeze(&F);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  CHECK_STR(status_of(id, st), "pending");
  clock_advance(&F, 59.9);
  CHECK_STR(status_of(id, st), "pending");
  clock_advance(&F, 0.1);
  CHECK_STR(status_of(id, st), "success");
  emu_fix_stop(&F);
  /* on the running clock: time_limit 60 at time_scale 0.01 takes 0.6 s, never less */
  start_scaled(sc, "");
  double t0 = now_s();
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  CHECK(wait_status(&F, id, "success", 5));
  CHECK(now_s() - t0 >= 60 * sc * 0.95);
  emu_fix_stop(&F);
  /* simple_duration overrides time_limit; complete_status ends in "complete" */
  start_scaled(sc, "\"simple_duration\":0,\"complete_status\":true");
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  CHECK_STR(status_of(id, st), "complete");
  emu_fix_stop(&F);
}

static void t_full_lifecycle(void) {
  double sc = SCALE(0.005);
  start_scaled(sc, "\"auto_validate_buckets\":true,\"full_pending\":20,\"conversion_pending\":20,"
                   "\"conversion_running\":20");
  char id[33];
  /* the documented order on a stopped clock, stepped through each phase (API seconds: pending
   * 20, running 40, conversion_pending 20, conversion_running 20); packets grow while running */
  static const struct { double step; const char *status; long long packets; } phases[] = {
      {0, "pending", 0},   {10, "pending", 0},          {20, "running", 100},
      {10, "running", 200}, {30, "conversion_pending", 400}, {20, "conversion_running", 400}};
  clock_freeze(&F);
  CHECK_INT(create_capture(&F, "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":40,"
                               "\"packet_limit\":400,\"colo_name\":\"ORD\","
                               "\"destination_conf\":\"s3://demo/pcaps?region=us-east-1\"}", id),
            200);
  for (size_t k = 0; k < sizeof phases / sizeof phases[0]; k++) {
    clock_advance(&F, phases[k].step);
    http_res r = api_fmt(&F, "GET", NULL, "/pcaps/%s", id);
    CHECK_STR(jstr(r.json, "result.status"), phases[k].status);
    CHECK_INT(jint(r.json, "result.packets_captured"), phases[k].packets); /* 400 spread over 40 s */
    http_free(&r);
  }
  clock_advance(&F, 20); /* done: success once the file is in the bucket (the delivery thread) */
  CHECK(wait_status(&F, id, "success", 10));
  /* delivered to the bucket as pcap_<id>.pcap */
  char path[1024];
  snprintf(path, sizeof path, "%s/demo/pcaps/pcap_%s.pcap", emu_bucket_dir(F.s), id);
  char err[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, err);
  CHECK(p != NULL);
  if (p) {
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
      CHECK(h->caplen == h->len); /* full captures keep whole packets */
      n++;
    }
    CHECK_INT(n, 400);
    CHECK_INT(pcap_datalink(p), DLT_EN10MB);
    pcap_close(p);
  }
  CHECK_INT(stat_of(&F, "files.delivered"), 1);
  emu_fix_stop(&F);
}

static void t_stop(void) {
  double sc = SCALE(0.01);
  start_scaled(sc, "\"auto_validate_buckets\":true,\"full_limit\":false,\"full_pending\":1000");
  char pending[33], running[33], simple[33], st[32];
  clock_freeze(&F); /* each phase lasts until the test steps past it */
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("s3://b"), pending), 200);
  /* stop while pending: 204, no body, stop_requested set, converts now */
  http_res r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", pending);
  CHECK_INT(r.status, 204);
  CHECK_INT(r.len, 0);
  http_free(&r);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s", pending);
  CHECK_STR(jstr(r.json, "result.status"), "conversion_pending");
  const char *stop = jstr(r.json, "result.stop_requested");
  CHECK(stop && strlen(stop) == 27 && stop[26] == 'Z');
  CHECK_INT(jint(r.json, "result.packets_captured"), 0);
  char first_stop[40];
  snprintf(first_stop, sizeof first_stop, "%s", stop ? stop : "");
  http_free(&r);
  /* stop while converting: 204, the first stop time stays */
  r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", pending);
  CHECK_INT(r.status, 204);
  http_free(&r);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s", pending);
  CHECK_STR(jstr(r.json, "result.stop_requested"), first_stop);
  http_free(&r);
  clock_advance(&F, 3); /* 3 API s of conversion, then success once delivered */
  CHECK(wait_status(&F, pending, "success", 10));
  /* terminal: 204 and nothing changes (switch: 400) */
  r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", pending);
  CHECK_INT(r.status, 204);
  http_free(&r);
  CHECK_STR(status_of(pending, st), "success");
  CHECK_INT(admin_config(&F, "{\"stop_terminal_error\":true}"), 200);
  r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", pending);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1115);
  http_free(&r);
  /* stop while running: packets so far are kept */
  CHECK_INT(admin_config(&F, "{\"full_pending\":0}"), 200);
  CHECK_INT(create_capture(&F, "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":300,"
                               "\"colo_name\":\"ORD\",\"destination_conf\":\"s3://b\"}", running),
            200);
  clock_advance(&F, 60);
  r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", running);
  CHECK_INT(r.status, 204);
  http_free(&r);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s", running);
  long long kept = jint(r.json, "result.packets_captured");
  CHECK_INT(kept, 1200); /* 20/s for 60 of 300 s */
  http_free(&r);
  clock_advance(&F, 20);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s", running);
  CHECK_INT(jint(r.json, "result.packets_captured"), kept);
  http_free(&r);
  /* simple: 400; unknown: 404 */
  CHECK_INT(create_capture(&F, SIMPLE_BODY, simple), 200);
  r = api_fmt(&F, "PUT", NULL, "/pcaps/%s/stop", simple);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1114);
  http_free(&r);
  r = api(&F, "PUT", "/pcaps/00000000000000000000000000000000/stop", NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_fail_rate(void) {
  start_scaled(0.001, "\"fail_rate\":1,\"simple_duration\":0,\"full_pending\":0,"
                      "\"conversion_pending\":0,\"conversion_running\":0,"
                      "\"auto_validate_buckets\":true");
  char simple[33], full[33], st[32];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, simple), 200);
  CHECK_INT(create_capture(&F, "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":1,"
                               "\"colo_name\":\"ORD\",\"destination_conf\":\"s3://b\"}", full), 200);
  sleep_s(0.01);
  CHECK_STR(status_of(simple, st), "failed");
  http_res r = api_fmt(&F, "GET", NULL, "/pcaps/%s", full);
  CHECK_STR(jstr(r.json, "result.status"), "failed");
  CHECK_CONTAINS(jstr(r.json, "result.error_message"), "No packets matched the filter");
  http_free(&r);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", simple);
  CHECK_INT(r.status, 400);
  http_free(&r);
  CHECK_INT(stat_of(&F, "captures.by_status.failed"), 2);
  emu_fix_stop(&F);
  /* a seeded share: the same seed fails the same captures */
  int fails[2] = {0, 0};
  for (int run = 0; run < 2; run++) {
    start_scaled(0.001, "\"fail_rate\":0.5,\"simple_duration\":0,\"sample_limit\":false,"
                        "\"seed\":42");
    for (int i = 0; i < 20; i++) {
      CHECK_INT(create_capture(&F, SIMPLE_BODY, simple), 200);
      fails[run] = fails[run] * 2 % 1000003 + (strcmp(status_of(simple, st), "failed") == 0);
    }
    emu_fix_stop(&F);
  }
  CHECK_INT(fails[0], fails[1]);
  CHECK(fails[0] != 0);
}

/* ---- downloads ---- */

typedef struct pcap_summary {
  int ok, linktype, snaplen, packets, bad_caplen, bad_len, unmatched;
  double first, last;
} pcap_summary;

/* Reads a pcap from memory with libpcap and checks each packet against the filter. */
static pcap_summary inspect(const http_res *r, const char *dst, int dport, int proto) {
  pcap_summary s = {0};
  char path[] = "/tmp/pcaprun-test-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, r->body, r->len) != (ssize_t)r->len) return s;
  close(fd);
  char err[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, err);
  unlink(path);
  if (!p) return s;
  s.ok = 1;
  s.linktype = pcap_datalink(p);
  s.snaplen = pcap_snapshot(p);
  struct pcap_pkthdr *h;
  const u_char *d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    double t = (double)h->ts.tv_sec + h->ts.tv_usec / 1e6;
    if (!s.packets++) s.first = t;
    s.last = t;
    if (h->caplen > 160 || h->caplen > h->len) s.bad_caplen++;
    if (h->len < 60 || h->len > 1514) s.bad_len++;
    const u_char *ip = d + 14;
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, ip + 16, addr, sizeof addr);
    int l4 = (ip[0] & 15) * 4;
    if (d[12] != 8 || d[13] != 0 || (proto >= 0 && ip[9] != proto) ||
        (dst && strcmp(addr, dst) != 0) ||
        (dport >= 0 && (ip[l4 + 2] << 8 | ip[l4 + 3]) != dport))
      s.unmatched++;
  }
  pcap_close(p);
  return s;
}

static void make_ready_simple(const char *body, char *id) {
  CHECK_INT(create_capture(&F, body, id), 200);
  CHECK(wait_status(&F, id, "success", 5));
}

static void t_download(void) {
  start_scaled(0.0001, "\"sample_limit\":false,\"auto_validate_buckets\":true");
  char id[33], full[33];
  /* before ready, full capture, unknown */
  CHECK_INT(admin_config(&F, "{\"simple_duration\":100000}"), 200);
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  http_res r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1116);
  char ct[64];
  CHECK_STR(http_header(&r, "Content-Type", ct, sizeof ct), "application/json");
  http_free(&r);
  CHECK_INT(create_capture(&F, FULL_BODY_FOR("s3://b"), full), 200);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", full);
  CHECK_INT(r.status, 400);
  CHECK_INT(jint(r.json, "errors.0.code"), 1117);
  http_free(&r);
  r = api(&F, "GET", "/pcaps/ffffffffffffffffffffffffffffffff/download", NULL);
  CHECK_INT(r.status, 404);
  http_free(&r);
  CHECK_INT(stat_of(&F, "violations.download_before_ready"), 2);
  CHECK_INT(admin_config(&F, "{\"simple_duration\":-1}"), 200);

  /* a filtered capture: every packet matches, within limits and the capture window */
  time_t now = time(NULL);
  char offset[40], body[512];
  strftime(offset, sizeof offset, "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now - 3600}));
  snprintf(body, sizeof body, "{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,"
           "\"packet_limit\":250,\"offset_time\":\"%s\",\"filter_v1\":{\"destination_address\":"
           "\"203.0.113.7\",\"destination_port\":443,\"protocol\":6}}", offset);
  make_ready_simple(body, id);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK_INT(r.status, 200);
  CHECK_STR(http_header(&r, "Content-Type", ct, sizeof ct), "application/vnd.tcpdump.pcap");
  CHECK(r.len > 24 && memcmp(r.body, "\xd4\xc3\xb2\xa1", 4) == 0); /* little-endian, µs */
  pcap_summary s = inspect(&r, "203.0.113.7", 443, 6);
  CHECK(s.ok);
  CHECK_INT(s.linktype, DLT_EN10MB);
  CHECK_INT(s.snaplen, 160);
  CHECK(s.packets > 0 && s.packets <= 250);
  CHECK_INT(s.bad_caplen, 0);
  CHECK_INT(s.bad_len, 0);
  CHECK_INT(s.unmatched, 0);
  CHECK(s.first >= (double)(now - 3600 - 60) && s.last <= (double)(now - 3600) + 1);
  /* the same capture downloads the same bytes */
  http_res again = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK(again.len == r.len && memcmp(again.body, r.body, r.len) == 0);
  http_free(&again);
  http_free(&r);

  /* UDP with a source CIDR; ICMP; a filter nothing can match gives an empty capture */
  make_ready_simple("{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,"
                    "\"packet_limit\":50,\"filter_v1\":{\"protocol\":17,\"destination_port\":53}}",
                    id);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  s = inspect(&r, NULL, 53, 17);
  CHECK(s.ok && s.packets == 50 && s.unmatched == 0);
  http_free(&r);
  make_ready_simple("{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":60,"
                    "\"packet_limit\":50,\"filter_v1\":{\"protocol\":1,\"destination_port\":53}}",
                    id);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK_INT(r.status, 200);
  CHECK_INT(r.len, 24); /* header only: a valid capture with no packets */
  http_free(&r);
  /* IPv6 when the filter says so */
  make_ready_simple("{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":10,"
                    "\"packet_limit\":20,\"filter_v1\":{\"source_address\":\"2001:db8::5\"}}", id);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK(r.len > 24 + 16 + 14);
  CHECK(r.len > 40 && (unsigned char)r.body[24 + 16 + 12] == 0x86 &&
        (unsigned char)r.body[24 + 16 + 13] == 0xdd);
  http_free(&r);
  /* link type 101 (raw IP) */
  CHECK_INT(admin_config(&F, "{\"link_type\":101}"), 200);
  r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK(r.len >= 24 && r.body[20] == 101);
  http_free(&r);
  emu_fix_stop(&F);
}

static void t_range_and_gzip(void) {
  start_scaled(0.0001, "\"simple_duration\":0");
  char id[33], cr[96];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  http_res whole = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  CHECK_INT(whole.status, 200);
  char url[1024];
  snprintf(url, sizeof url, "%s/accounts/" ACCT "/pcaps/%s/download", F.base, id);
  static const struct { const char *range; long status; size_t off, len; } cases[] = {
      {"Range: bytes=100-", 206, 100, 0}, {"Range: bytes=0-23", 206, 0, 24},
      {"Range: bytes=10-10", 206, 10, 1}, {"Range: bytes=-50", 206, 0, 50},
      {"Range: bytes=5-999999999", 206, 5, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *hdrs[] = {BEARER, cases[i].range, NULL};
    http_res r = http_do("GET", url, hdrs, NULL);
    size_t off = cases[i].off, len = cases[i].len;
    if (i == 3) off = whole.len - 50;
    if (!len) len = whole.len - off;
    CHECK_INT(r.status, cases[i].status);
    CHECK_INT(r.len, len);
    CHECK(r.len == len && memcmp(r.body, whole.body + off, len) == 0);
    char want[96];
    snprintf(want, sizeof want, "bytes %zu-%zu/%zu", off, off + len - 1, whole.len);
    CHECK_STR(http_header(&r, "Content-Range", cr, sizeof cr), want);
    http_free(&r);
  }
  const char *past[] = {BEARER, "Range: bytes=999999-", NULL};
  http_res r = http_do("GET", url, past, NULL);
  CHECK_INT(r.status, 416);
  char want[64];
  snprintf(want, sizeof want, "bytes */%zu", whole.len);
  CHECK_STR(http_header(&r, "Content-Range", cr, sizeof cr), want);
  http_free(&r);
  const char *multi[] = {BEARER, "Range: bytes=0-1,5-6", NULL};
  r = http_do("GET", url, multi, NULL); /* several ranges: the whole file */
  CHECK_INT(r.status, 200);
  CHECK_INT(r.len, whole.len);
  http_free(&r);
  /* Content-Encoding: gzip (U14); libcurl decodes it to the same bytes */
  CHECK_INT(admin_config(&F, "{\"gzip_downloads\":true}"), 200);
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, BEARER);
  http_res g = {0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &g);
  CHECK_INT(curl_easy_perform(c), CURLE_OK);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  CHECK_STR(http_header(&g, "Content-Encoding", cr, sizeof cr), "gzip");
  CHECK(g.len == whole.len && memcmp(g.body, whole.body, whole.len) == 0);
  http_free(&g);
  http_free(&whole);
  emu_fix_stop(&F);
}

static void t_simple_bytes(void) {
  start_scaled(0.0001, "\"simple_duration\":0,\"simple_bytes\":1048576");
  char id[33];
  CHECK_INT(create_capture(&F, SIMPLE_BODY, id), 200);
  double t0 = now_s();
  http_res r = api_fmt(&F, "GET", NULL, "/pcaps/%s/download", id);
  double secs = now_s() - t0;
  CHECK_INT(r.status, 200);
  CHECK(r.len >= 1048576 && r.len < 1048576 + 200);
  pcap_summary s = inspect(&r, NULL, -1, -1);
  /* packet_limit 100: a real capture of that limit holds at most 100 records, so they are large */
  CHECK(s.ok && s.packets == 100 && s.snaplen > 10000);
  fprintf(stderr, "  1 MiB padded capture: %zu bytes, %d packets, %.3f s\n", r.len, s.packets, secs);
  http_free(&r);
  CHECK(stat_of(&F, "files.bytes_served") >= 1048576);
  emu_fix_stop(&F);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  curl_global_init(CURL_GLOBAL_ALL);
  RUN(t_simple_lifecycle);
  RUN(t_full_lifecycle);
  RUN(t_stop);
  RUN(t_fail_rate);
  RUN(t_download);
  RUN(t_range_and_gzip);
  RUN(t_simple_bytes);
  curl_global_cleanup();
  return check_done();
}
