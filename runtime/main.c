/* pcaprun: command line, start-up and the orderly shutdown of the runtime. */
#include "cli.h"
#include "emu/emu.h"
#include "err.h"
#include "journal.h"
#include "lbind.h"
#include "log.h"
#include "pcap_cli.h"
#include "pcaps.h"
#include "progress.h"
#include <jansson.h>
#include "rt.h"
#include "scheduler.h"
#include "serve.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
  "Usage: pcaprun [options] SCRIPT [ARGS...]\n"
  "       pcaprun [options] -e CHUNK [ARGS...]\n"
  "       pcaprun emulator [options]     run the PCAPs API emulator (see: pcaprun emulator --help)\n"
  "       pcaprun journal [PATH] [--json] show what a journal holds\n"
  "       pcaprun pcap stats|top|merge|filter|slice|split FILE... [--json]\n"
  "                                      answers from capture files (see: pcaprun pcap --help)\n"
  "       pcaprun serve [options] SCRIPT  run playbooks when alerts arrive (see: pcaprun serve --help)\n"
  "\n"
  "Runs a Lua 5.4 script that drives Cloudflare's PCAPs API (packet captures). API calls look\n"
  "synchronous to the script; the runtime runs many at once and keeps every API limit.\n"
  "\n"
  "Options:\n"
  "  -e CHUNK                run the Lua code CHUNK instead of a script file\n"
  "  --emulate               start the built-in API emulator on loopback and point the default\n"
  "                          client at it (no credentials needed; any bucket counts as validated)\n"
  "  --emulator-config JSON  settings for that emulator, e.g. '{\"fault_5xx\":0.1,\"seed\":7}'\n"
  "  --journal PATH          crash-safe record of intents, captures, downloads and shared limits\n"
  "                          (SQLite, mode 0600): the same script run again resumes where it\n"
  "                          stopped, and pcaprun processes sharing it share the account's limits;\n"
  "                          default $XDG_STATE_HOME/pcaprun/journal.db (~/.local/state/...), none\n"
  "                          with --emulate\n"
  "  --no-journal            run without a journal\n"
  "  --time-scale F          multiply every API-time duration (limit windows, capture durations,\n"
  "                          backoffs, sleeps) by F; use the same F as the emulator (default 1)\n"
  "  --sample-interval SECS  seconds between simple-capture creates per account (default 60)\n"
  "  --full-slots N          full captures pending or running per account (default 1)\n"
  "  --api-budget N/SECS     API requests per window per account (default 1200/300)\n"
  "  --max-waiters N         bound of each limiter's wait queue (default 10000)\n"
  "  --retries N             attempts for a transient API failure (default 8)\n"
  "  --http-timeout SECS     timeout of one HTTP request, real seconds (default 60)\n"
  "  --max-memory MIB        cap the script's Lua heap; past it, allocations fail with\n"
  "                          'not enough memory' in the task (default: no cap)\n"
  "  --log-format text|json  human text (default) or JSON lines on stderr\n"
  "  --log-level LEVEL       debug, info (default), warn, error or off\n"
  "  -v, --verbose           --log-level debug\n"
  "  -q, --quiet             --log-level warn\n"
  "  --no-progress           no status line on a terminal\n"
  "  -h, --help              show this help\n"
  "  --version               show the version\n"
  "\n"
  "Environment (the same variables as Cloudflare's own tools):\n"
  "  CLOUDFLARE_API_TOKEN    API token (or CLOUDFLARE_EMAIL with CLOUDFLARE_API_KEY)\n"
  "  CLOUDFLARE_ACCOUNT_ID   account for the default client\n"
  "  CLOUDFLARE_BASE_URL     API endpoint (default https://api.cloudflare.com/client/v4)\n"
  "\n"
  "Exit status: 0 success, 1 script or task failure, 2 usage error, 128+N stopped by signal N.\n";

typedef struct cli {
  const char *script, *chunk, *emu_config, *journal;
  int emulate, no_journal;
  int argc;
  char **argv;
  rt_serve_cli *serve;    /* pcaprun serve: its own options, else NULL */
} cli;

static int usage_error(const char *fmt, const char *arg) { return rt_cli_usage("pcaprun", fmt, arg); }

static int parse_double(const char *s, double lo, double hi, double *out) { return rt_cli_number(s, lo, hi, 0, out); }

static int parse_int(const char *s, int lo, int hi, int *out) {
  double v;
  if (rt_cli_number(s, lo, hi, 1, &v)) return RT_EINVAL;
  *out = (int)v;
  return 0;
}

static int takes_value(const cli *c, const char *a) {
  if (c->serve && rt_serve_option_kind(a) == 1) return 1;
  static const char *const names[] = {
    "-e", "--emulator-config", "--journal", "--time-scale", "--sample-interval", "--full-slots",
    "--api-budget", "--max-waiters", "--retries", "--http-timeout", "--max-memory", "--log-format",
    "--log-level", NULL};
  for (const char *const *n = names; *n; n++)
    if (!strcmp(a, *n)) return 1;
  return 0;
}

/* Parses argv into o and c. Returns -1 to continue, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, rt_options *o, cli *c) {
  int i = 1;
  char name[32];
  for (; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-' || strcmp(a, "-") == 0) break;
    const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
    if (eq && (size_t)(eq - a) < sizeof name) { /* --name=value */
      snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
      if (!takes_value(c, name)) return usage_error("unknown option %s", a);
      a = name;
      v = eq + 1;
      i--; /* the value is not the next argument */
    }
    if (strcmp(a, "--") == 0) { i++; break; }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(c->serve ? rt_serve_usage : usage_text, stdout); return 0; }
    if (c->serve && rt_serve_option_kind(a) == 0) { rt_serve_option(c->serve, a, NULL); continue; }
    if (!strcmp(a, "--version")) { printf("pcaprun %s\n", PCAPRUN_VERSION); return 0; }
    if (!strcmp(a, "--emulate")) { c->emulate = 1; continue; }
    if (!strcmp(a, "--no-journal")) { c->no_journal = 1; continue; }
    if (!strcmp(a, "--no-progress")) { o->progress = 0; continue; }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { o->log_level = RT_LOG_DEBUG; continue; }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { o->log_level = RT_LOG_WARN; continue; }
    /* options with a value */
    if (!takes_value(c, a)) return usage_error("unknown option %s", a);
    if (!v) return usage_error("option %s needs a value", a);
    i++;
    if (c->serve && rt_serve_option_kind(a) == 1) {
      if (rt_serve_option(c->serve, a, v)) return 2;
      continue;
    }
    if (!strcmp(a, "-e") && c->serve) return usage_error("%s", "pcaprun serve runs a SCRIPT file (it reads it again on SIGHUP)");
    if (!strcmp(a, "-e")) { c->chunk = v; i++; break; }
    if (!strcmp(a, "--emulator-config")) c->emu_config = v;
    else if (!strcmp(a, "--journal")) c->journal = v;
    else if (!strcmp(a, "--time-scale")) {
      if (parse_double(v, 1e-6, 1e6, &o->time_scale)) return usage_error("--time-scale: expected a number > 0, got '%s'", v);
    } else if (!strcmp(a, "--sample-interval")) {
      if (parse_double(v, 0, 86400, &o->sample_interval)) return usage_error("--sample-interval: expected seconds 0..86400, got '%s'", v);
    } else if (!strcmp(a, "--full-slots")) {
      if (parse_int(v, 1, 1000, &o->full_slots)) return usage_error("--full-slots: expected an integer 1..1000, got '%s'", v);
    } else if (!strcmp(a, "--api-budget")) {
      char n[32];
      const char *slash = strchr(v, '/');
      snprintf(n, sizeof n, "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
      if (parse_int(n, 1, 1000000, &o->api_budget) || (slash && parse_double(slash + 1, 0.001, 86400, &o->api_window)))
        return usage_error("--api-budget: expected N or N/SECONDS (e.g. 1200/300), got '%s'", v);
    } else if (!strcmp(a, "--max-waiters")) {
      if (parse_int(v, 1, 10000000, &o->max_waiters)) return usage_error("--max-waiters: expected an integer >= 1, got '%s'", v);
    } else if (!strcmp(a, "--retries")) {
      if (parse_int(v, 1, 1000, &o->retries)) return usage_error("--retries: expected an integer 1..1000, got '%s'", v);
    } else if (!strcmp(a, "--http-timeout")) {
      if (parse_double(v, 0.001, 86400, &o->http_timeout)) return usage_error("--http-timeout: expected seconds > 0, got '%s'", v);
    } else if (!strcmp(a, "--max-memory")) {
      int mib;
      if (parse_int(v, 1, 1 << 20, &mib)) return usage_error("--max-memory: expected MiB >= 1, got '%s'", v);
      o->max_memory = (size_t)mib << 20;
    } else if (!strcmp(a, "--log-format")) {
      if (!strcmp(v, "text")) o->log_format = RT_LOG_TEXT;
      else if (!strcmp(v, "json")) o->log_format = RT_LOG_JSON;
      else return usage_error("--log-format: expected text or json, got '%s'", v);
    } else if (!strcmp(a, "--log-level")) {
      if ((o->log_level = rt_log_level_parse(v)) < 0) return usage_error("--log-level: expected debug, info, warn, error or off, got '%s'", v);
    }
  }
  if (!c->chunk) {
    if (i >= argc) return usage_error("%s", "missing SCRIPT (or -e CHUNK)");
    c->script = argv[i++];
  }
  c->argc = argc - i;
  c->argv = argv + i;
  return -1;
}

/* Starts the in-process emulator at the runtime's time scale, with any bucket accepted (so a
 * demo needs no bucket set-up); --emulator-config settings override. */
static emu_server *start_emulator(rt_runtime *rt, const char *user_config) {
  json_t *cfg = json_pack("{s:f, s:b}", "time_scale", rt->opt.time_scale, "auto_validate_buckets", 1);
  if (user_config) {
    json_error_t jerr;
    json_t *user = json_loads(user_config, 0, &jerr);
    if (!json_is_object(user)) {
      fprintf(stderr, "pcaprun: --emulator-config: not a JSON object (%s)\n", jerr.text);
      json_decref(user);
      json_decref(cfg);
      return NULL;
    }
    json_object_update(cfg, user);
    json_decref(user);
  }
  char *text = json_dumps(cfg, JSON_COMPACT);
  json_decref(cfg);
  emu_server *emu = NULL;
  char url[512];
  int rc = text ? emu_start(text, &emu, url, sizeof url) : RT_ENOMEM;
  free(text);
  if (rc) {
    fprintf(stderr, "pcaprun: cannot start the emulator: %s\n", url);
    return NULL;
  }
  emu_lua_attach(rt->L, emu, url);
  if (emu_exposed(emu))
    rt_log(RT_LOG_WARN, "emulator", "the emulator listens off loopback (allow_remote): anyone who can reach "
           "this machine can use it; its admin endpoints need PCAPRUN_EMULATOR_ADMIN_TOKEN", "url", url, NULL);
  rt->s3_endpoint = emu_s3_url(emu); /* buckets are read through the emulator's S3 API */
  emu_s3_keys(emu, &rt->s3_key_id, &rt->s3_secret);
  rt_log(RT_LOG_INFO, "emulator", "emulator started", "url", url, "buckets", emu_bucket_dir(emu),
         "s3", emu_s3_url(emu), NULL);
  return emu;
}

/* The journal: --journal PATH, opened now; else the default, opened when the run first needs it
 * (a script that never calls the API makes none), and none under --emulate (an in-process
 * emulator forgets everything when the run ends: there would be nothing to resume). Returns 0,
 * or 2 when the journal asked for cannot be used. */
static int open_journal(rt_runtime *rt, const cli *c) {
  if (c->serve && c->no_journal) return usage_error("%s", "pcaprun serve records every alert in a journal: drop --no-journal");
  if (c->no_journal || (c->emulate && !c->journal && !c->serve)) return 0;
  char *fallback = !c->journal && c->serve ? rt_journal_default_path() : NULL; /* a daemon needs it now */
  if (!c->journal && !fallback) {
    rt->journal_default = rt_journal_default_path();
    return 0;
  }
  char err[512];
  int rc = rt_journal_open(c->journal ? c->journal : fallback, 0, &rt->journal, err, sizeof err);
  free(fallback);
  if (rc == 0) return 0;
  fprintf(stderr, "pcaprun: --journal: %s\n", err);
  return 2;
}

/* Closes what is left on the loop: run it until every handle's close callback has run. */
static void close_loop(uv_loop_t *loop) {
  for (int i = 0; i < 100 && uv_loop_close(loop) == UV_EBUSY; i++) uv_run(loop, UV_RUN_NOWAIT);
}

/* `pcaprun [options] SCRIPT`, or with `serve`, the daemon: the same runtime, with the daemon's
 * HTTP server on the loop and pcaprun.serve's daemon as the main task (it runs the script). */
static int run(int argc, char **argv, rt_serve_cli *serve_cli) {
  rt_runtime rt;
  memset(&rt, 0, sizeof rt);
  rt_options_default(&rt.opt);
  cli c = {.serve = serve_cli};
  int rc = parse_args(argc, argv, &rt.opt, &c);
  if (rc >= 0) return rc;
  rt_log_setup(rt.opt.log_format, rt.opt.log_level, rt.opt.progress);

  uv_loop_t loop;
  uv_loop_init(&loop);
  rt.loop = &loop;
  rt.t0_ms = rt_now_ms(&rt);
  rt.t0_wall = rt_wall();
  rt_list_init(&rt.accounts);
  rt_list_init(&rt.principals);
  if (rt_host_open(&rt) || rt_sched_init(&rt) || rt_http_init(&rt)) {
    fprintf(stderr, "pcaprun: out of memory\n");
    return 1;
  }
  rt_host_preload(&rt, "pcaprun.emulator", luaopen_pcaprun_emulator);
  if (serve_cli) rt_host_preload(&rt, "pcaprun.daemon", luaopen_pcaprun_daemon);
  uv_timer_t progress;
  rt_progress_start(&rt, &progress);
  emu_server *emu = NULL;
  rt_serve *daemon = NULL;
  int code = 1;
  if (open_journal(&rt, &c)) code = 2;
  else if (c.emulate && !(emu = start_emulator(&rt, c.emu_config))) code = 2;
  else if (c.serve && rt_serve_start(&rt, c.serve, &daemon)) code = 2;
  else if (c.serve && (rc = rt_host_start(&rt, NULL, "return require('pcaprun.serve').daemon(...)", c.argc + 1,
                                          c.argv - 1)) == 0) code = rt_sched_run(&rt);
  else if (!c.serve && (rc = rt_host_start(&rt, c.script, c.chunk, c.argc, c.argv)) == 0) code = rt_sched_run(&rt);
  else code = rc == RT_ENOTFOUND ? 2 : 1;
  /* Shutdown: every task has finished, so no task owns a call any more.
   * Lua goes first, then what the runtime still runs on its own, then the loop. */
  rt.closing = 1;
  rt_progress_stop(&progress);
  rt_host_close(&rt);
  rt_serve_stop(daemon);
  rt_accounts_close(&rt);
  rt_journal_close(rt.journal);
  rt.journal = NULL;
  free(rt.journal_default);
  rt_http_close(&rt);
  rt_sched_close(&rt);
  close_loop(&loop);
  emu_stop(emu);
  return code;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "emulator") == 0) return emu_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "journal") == 0) return rt_journal_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "pcap") == 0) return rt_pcap_main(argc - 1, argv + 1);
  rt_serve_cli serve;
  rt_serve_cli_default(&serve);
  if (argc > 1 && strcmp(argv[1], "serve") == 0) return run(argc - 1, argv + 1, &serve);
  return run(argc, argv, NULL);
}
