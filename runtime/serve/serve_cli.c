/* pcaprun serve's own options, and the daemon's start and stop. The runtime's options (journal,
 * logs, --emulate, limits) are parsed by runtime/main.c as for any script; the script is run by
 * pcaprun.serve's daemon (stdlib/serve.lua), which reads the routes it declares. */
#include "cli.h"
#include "err.h"
#include "journal.h"
#include "log.h"
#include "serve.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_QUEUE 1000
#define DEFAULT_MAX_BODY (1 << 20)

const char rt_serve_usage[] =
  "Usage: pcaprun serve [options] SCRIPT\n"
  "\n"
  "Receives alerts and runs the playbooks SCRIPT routes them to: Cloudflare Notifications\n"
  "webhooks (POST /hooks/cloudflare), PagerDuty v3 webhooks (POST /hooks/pagerduty) and\n"
  "Prometheus Alertmanager (POST /hooks/alertmanager); GET /healthz and GET /metrics. Each\n"
  "accepted alert is recorded in the journal before the answer (202), so none is lost and a\n"
  "redelivery runs nothing. The first line on stdout is the base URL it listens on.\n"
  "SIGTERM or SIGINT: no new playbooks; running ones get --grace, then stop their full captures.\n"
  "SIGHUP: reads SCRIPT again (queued alerts stay queued). See pcaprun-serve(1).\n"
  "\n"
  "Options:\n"
  "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080; port 0 picks one;\n"
  "                       [::1]:PORT for IPv6). Off loopback it warns: put a reverse proxy or\n"
  "                       tunnel in front of a loopback address instead\n"
  "  --dry-run            run no playbook: log each alert, its route and the filter it maps to\n"
  "  --max-running N      playbooks running at once (default 4)\n"
  "  --queue N            accepted alerts waiting for a playbook; beyond it, 503 with\n"
  "                       Retry-After (default 1000)\n"
  "  --cooldown SECS      after a playbook starts for a target, its next START alert within\n"
  "                       SECS is recorded and skipped (default 600; 0: none)\n"
  "  --grace SECS         after SIGTERM, seconds running playbooks may take before they are\n"
  "                       canceled, stopping their full captures (default 60)\n"
  "  --max-body BYTES     largest request body (default 1048576)\n"
  "  and the runtime's options (pcaprun --help): --journal PATH (default\n"
  "  $XDG_STATE_HOME/pcaprun/journal.db; serve always keeps one), --emulate, --time-scale F,\n"
  "  --full-slots N, --api-budget N/SECS, --log-format text|json, --log-level, -q, -v\n"
  "\n"
  "Secrets, from the environment (or the script: serve.secrets{...}), never from argv:\n"
  "  PCAPRUN_CF_WEBHOOK_SECRET         the secret of the Cloudflare webhook destination\n"
  "                                    (sent as cf-webhook-auth)\n"
  "  PCAPRUN_PAGERDUTY_WEBHOOK_SECRET  the PagerDuty subscription's signing secret\n"
  "  PCAPRUN_ALERTMANAGER_TOKEN        the bearer token of Alertmanager's http_config\n"
  "A receiver without its secret refuses every request (401).\n"
  "\n"
  "Exit status: 0 after a clean shutdown, 2 on a usage error or a SCRIPT that does not load.\n";

void rt_serve_cli_default(rt_serve_cli *c) {
  *c = (rt_serve_cli){.listen = "127.0.0.1:8080", .dry_run = -1, .max_running = -1, .queue = DEFAULT_QUEUE,
                      .cooldown = -1, .grace = -1, .max_body = DEFAULT_MAX_BODY};
}

static const struct { const char *name; int value; } options[] = {
  {"--listen", 1}, {"--dry-run", 0}, {"--max-running", 1}, {"--queue", 1}, {"--cooldown", 1},
  {"--grace", 1}, {"--max-body", 1},
};

int rt_serve_option_kind(const char *name) {
  for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
    if (strcmp(name, options[i].name) == 0) return options[i].value;
  return -1;
}

int rt_serve_option(rt_serve_cli *c, const char *name, const char *value) {
  static const char cmd[] = "pcaprun serve";
  double v;
  if (!strcmp(name, "--dry-run")) c->dry_run = 1;
  else if (!strcmp(name, "--listen")) c->listen = value;
  else if (!strcmp(name, "--max-running")) {
    if (rt_cli_number(value, 1, 10000, 1, &v)) return rt_cli_usage(cmd, "--max-running: expected an integer 1..10000, got '%s'", value);
    c->max_running = (int)v;
  } else if (!strcmp(name, "--queue")) {
    if (rt_cli_number(value, 1, 1000000, 1, &v)) return rt_cli_usage(cmd, "--queue: expected an integer 1..1000000, got '%s'", value);
    c->queue = (int)v;
  } else if (!strcmp(name, "--cooldown")) {
    if (rt_cli_number(value, 0, 86400 * 30, 0, &c->cooldown)) return rt_cli_usage(cmd, "--cooldown: expected seconds 0..2592000, got '%s'", value);
  } else if (!strcmp(name, "--grace")) {
    if (rt_cli_number(value, 0, 86400, 0, &c->grace)) return rt_cli_usage(cmd, "--grace: expected seconds 0..86400, got '%s'", value);
  } else if (!strcmp(name, "--max-body")) {
    if (rt_cli_number(value, 1024, 64 << 20, 1, &v)) return rt_cli_usage(cmd, "--max-body: expected bytes 1024..67108864, got '%s'", value);
    c->max_body = (size_t)v;
  }
  return 0;
}

/* The secrets from the environment; the script may set them too (pcaprun.daemon). */
static void read_secrets(rt_serve *s) {
  static const char *const vars[RT_SRC_COUNT] = {"PCAPRUN_CF_WEBHOOK_SECRET", "PCAPRUN_PAGERDUTY_WEBHOOK_SECRET",
                                                 "PCAPRUN_ALERTMANAGER_TOKEN"};
  for (int i = 0; i < RT_SRC_COUNT; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) s->secret[i] = strdup(v);
  }
}

int rt_serve_start(rt_runtime *rt, const rt_serve_cli *c, rt_serve **out) {
  *out = NULL;
  rt_serve *s = calloc(1, sizeof *s);
  if (!s || !(s->queue = calloc((size_t)c->queue, sizeof *s->queue))) {
    free(s);
    fprintf(stderr, "pcaprun serve: out of memory\n");
    return 2;
  }
  s->rt = rt;
  s->cli = *c;
  s->qcap = (unsigned)c->queue;
  rt_list_init(&s->waiters);
  read_secrets(s);
  rt_serve_load_pending(s);
  char err[256];
  if (rt_serve_http_start(s, err, sizeof err)) {
    fprintf(stderr, "pcaprun serve: %s\n", err);
    rt_serve_stop(s);
    return 2;
  }
  printf("%s\n", s->url);
  fflush(stdout);
  lua_pushlightuserdata(rt->L, s); /* for pcaprun.daemon, which the executable makes requirable */
  lua_setfield(rt->L, LUA_REGISTRYINDEX, "pcaprun.daemon.server");
  char queued[16];
  snprintf(queued, sizeof queued, "%u", s->qlen);
  rt_log(RT_LOG_INFO, "serve.started", "listening for alerts", "url", s->url, "journal",
         rt->journal ? rt_journal_path(rt->journal) : NULL, "pending", s->qlen ? queued : NULL, NULL);
  *out = s;
  return 0;
}

void rt_serve_stop(rt_serve *s) {
  if (!s) return;
  for (int i = 0; i < RT_SRC_COUNT; i++) {
    if (s->secret[i]) memset(s->secret[i], 0, strlen(s->secret[i]));
    free(s->secret[i]);
  }
  free(s->queue);
  if (!rt_serve_http_stop(s)) free(s);
}
