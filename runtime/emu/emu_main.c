/* `pcaprun emulator [options]`: runs the emulator as a server process. The base URL is the first
 * line of stdout so scripts can read it; everything else goes to stderr. */
#include "emu_internal.h"
#include "cli.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char usage[] =
    "usage: pcaprun emulator [options]\n"
    "\n"
    "Serves a faithful Cloudflare PCAPs API on loopback for offline rehearsals and tests.\n"
    "Prints the base URL (e.g. http://127.0.0.1:PORT/client/v4) as the first line of stdout,\n"
    "then serves until SIGINT or SIGTERM and exits 0. Usage errors exit 2.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT  address to bind (default 127.0.0.1:0, an ephemeral port;\n"
    "                      IPv6 as [::1]:PORT). Only loopback addresses, unless\n"
    "  --allow-remote      lets it listen elsewhere (e.g. 0.0.0.0:8080): anyone who can\n"
    "                      reach this machine can then use it; its admin endpoints need\n"
    "                      an admin token (PCAPRUN_EMULATOR_ADMIN_TOKEN, or one made up\n"
    "                      and printed on stderr)\n"
    "  --time-scale F      real seconds per API second (default 1; 0.01 makes a 60 s\n"
    "                      capture finish in 0.6 s). Retry-After and Ratelimit headers\n"
    "                      stay in API seconds.\n"
    "  --seed N            seed for ids, pcap contents, failures and faults (default 1)\n"
    "  --bucket-dir DIR    directory standing for the buckets: ownership challenges and\n"
    "                      full captures land in DIR/<bucket>/<path>/ (default: a new\n"
    "                      temporary directory, printed on stderr and removed on exit)\n"
    "  --token T           accept only this API token (Authorization: Bearer T)\n"
    "  --email E --key K   accept only this email and Global API key (X-Auth-Email and\n"
    "                      X-Auth-Key); without --token/--email/--key any non-empty\n"
    "                      credentials are accepted\n"
    "  --fail-rate R       share of captures that end 'failed' (0..1, default 0)\n"
    "  --config JSON       more settings as a JSON object, e.g.\n"
    "                      '{\"auto_validate_buckets\":true,\"fault_5xx\":0.1}'; the keys are\n"
    "                      those of POST /__admin/config (runtime/emu/README.md)\n"
    "  --help              show this text\n"
    "\n"
    "Command-line arguments are visible to other users of this machine (ps). Pass\n"
    "credentials in the environment instead: PCAPRUN_EMULATOR_TOKEN, PCAPRUN_EMULATOR_EMAIL\n"
    "and PCAPRUN_EMULATOR_KEY (options win over the environment).\n"
    "\n"
    "Admin endpoints: GET /__admin/stats, GET|POST /__admin/config, POST /__admin/reset,\n"
    "GET /__admin/captures. With an admin token (PCAPRUN_EMULATOR_ADMIN_TOKEN; always one\n"
    "with --allow-remote) they need it in the header X-Pcaprun-Admin-Token.\n";

static int usage_error(const char *fmt, const char *arg) { return rt_cli_usage("pcaprun emulator", fmt, arg); }

/* Turns the options into a config object. Returns 0, 1 (help shown) or 2 (usage error). */
static int parse_args(int argc, char **argv, json_t *cfg) {
  static const struct {
    const char *opt, *key;
    int number;
  } opts[] = {
      {"--listen", "listen", 0}, {"--time-scale", "time_scale", 1}, {"--seed", "seed", 1},
      {"--bucket-dir", "bucket_dir", 0}, {"--token", "token", 0}, {"--email", "email", 0},
      {"--key", "key", 0}, {"--fail-rate", "fail_rate", 1},
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return 1;
    }
    if (!strcmp(a, "--allow-remote")) {
      json_object_set_new(cfg, "allow_remote", json_true());
      continue;
    }
    size_t k = 0;
    while (k < sizeof opts / sizeof opts[0] && strcmp(opts[k].opt, a) != 0) k++;
    if (k == sizeof opts / sizeof opts[0] && strcmp(a, "--config") != 0)
      return usage_error("unknown option %s", a);
    if (i + 1 >= argc) return usage_error("%s needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--config")) {
      json_error_t jerr;
      json_t *extra = json_loads(v, 0, &jerr);
      if (!json_is_object(extra)) {
        json_decref(extra);
        return usage_error("--config needs a JSON object (got '%s')", v);
      }
      json_object_update(cfg, extra);
      json_decref(extra);
      continue;
    }
    double d;
    if (opts[k].number && rt_cli_number(v, -1e15, 1e15, 0, &d)) return usage_error("%s needs a number", a);
    json_object_set_new(cfg, opts[k].key,
                        !opts[k].number ? json_string(v)
                        : d == (json_int_t)d ? json_integer((json_int_t)d) : json_real(d));
  }
  return 0;
}

/* Credentials from the environment, unless an option set them. */
static void env_credentials(json_t *cfg) {
  static const char *const vars[][2] = {{"PCAPRUN_EMULATOR_TOKEN", "token"},
                                        {"PCAPRUN_EMULATOR_EMAIL", "email"},
                                        {"PCAPRUN_EMULATOR_KEY", "key"}};
  for (size_t i = 0; i < 3; i++) {
    const char *v = getenv(vars[i][0]);
    if (v && *v && !json_object_get(cfg, vars[i][1]))
      json_object_set_new(cfg, vars[i][1], json_string(v));
  }
}

/* A server process: as many file descriptors as the hard limit allows (up to 65536), so that
 * many idle connections do not lock others out (the server's connection limit follows it). */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int emu_main(int argc, char **argv) {
  json_t *cfg = json_object();
  if (!cfg) return 1;
  int rc = parse_args(argc, argv, cfg);
  if (rc) {
    json_decref(cfg);
    return rc == 1 ? 0 : 2;
  }
  env_credentials(cfg);
  raise_fd_limit();
  char *text = json_dumps(cfg, JSON_COMPACT);
  json_decref(cfg);

  /* block the signals before any thread starts, so only sigwait below sees them */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  emu_server *s;
  char url[512];
  rc = text ? emu_start(text, &s, url, sizeof url) : RT_ENOMEM;
  free(text);
  if (rc) {
    fprintf(stderr, "pcaprun emulator: %s\n", url);
    return rc == RT_EINVAL ? 2 : 1;
  }
  printf("%s\n", url);
  fflush(stdout);
  int admin_len = (int)(strstr(url + 7, "/") ? strstr(url + 7, "/") - url : (long)strlen(url));
  fprintf(stderr, "pcaprun emulator: serving %s\npcaprun emulator: bucket dir %s\n"
          "pcaprun emulator: admin %.*s/__admin/stats\n", url, emu_bucket_dir(s), admin_len, url);
  if (emu_exposed(s))
    fprintf(stderr, "pcaprun emulator: listening off loopback (--allow-remote): anyone who can "
            "reach this machine can use it\n");
  if (emu_made_admin_token(s))
    fprintf(stderr, "pcaprun emulator: admin token %s (send it as X-Pcaprun-Admin-Token; set "
            "PCAPRUN_EMULATOR_ADMIN_TOKEN to choose it)\n", emu_made_admin_token(s));
  fprintf(stderr, "pcaprun emulator: S3 API %s (path style)\n", emu_s3_url(s));
  int sig = 0;
  sigwait(&set, &sig);
  fprintf(stderr, "pcaprun emulator: stopping (signal %d)\n", sig);
  emu_stop(s);
  return 0;
}
