/* GET /metrics: the daemon's counters and what the runtime knows of each account, in the
 * Prometheus text exposition format 0.0.4 (# HELP, # TYPE, name{label="value"} value). Labels
 * carry source names, capture statuses, account ids and principal ids (a keyed hash of a token,
 * or an email): never a secret. */
#include "pcaps.h"
#include "serve.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out { char *buf; size_t len, cap; int failed; } out;

static void put(out *o, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) { o->failed = 1; return; }
    if (o->buf && o->len + (size_t)n < o->cap) { o->len += (size_t)n; return; }
    size_t cap = o->cap ? o->cap * 2 : 8192;
    while (cap < o->len + (size_t)n + 1) cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b) { o->failed = 1; return; }
    o->buf = b;
    o->cap = cap;
  }
}

static void head(out *o, const char *name, const char *type, const char *help) {
  put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newlines escaped. */
static const char *esc(const char *v, char *buf, size_t size) {
  size_t n = 0;
  for (; *v && n + 3 < size; v++) {
    if (*v == '\\' || *v == '"') buf[n++] = '\\';
    if (*v == '\n') { buf[n++] = '\\'; buf[n++] = 'n'; continue; }
    buf[n++] = *v;
  }
  buf[n] = 0;
  return buf;
}

/* Requests counted in a window now: in flight, and answered within the window. */
static unsigned window_used(const rt_window *w, uint64_t now) {
  unsigned used = w->inflight;
  for (unsigned k = 0; k < w->ndone && w->n; k++)
    if (w->done[(w->head + k) % w->n] + w->window_ms > now) used++;
  return used;
}

static const char *const reasons[RT_REJ_COUNT] = {"unauthorized", "malformed", "too_large", "overflow",
                                                  "draining", "journal"};

char *rt_serve_metrics(rt_serve *s) {
  out o = {0};
  char a[160], b[160];
  head(&o, "pcaprun_alerts_received_total", "counter", "Alerts accepted and recorded, by source.");
  for (int i = 0; i < RT_SRC_COUNT; i++)
    put(&o, "pcaprun_alerts_received_total{source=\"%s\"} %llu\n", rt_serve_source_name(i),
        (unsigned long long)s->received[i]);
  head(&o, "pcaprun_alerts_deduplicated_total", "counter", "Deliveries of alerts already recorded, by source.");
  for (int i = 0; i < RT_SRC_COUNT; i++)
    put(&o, "pcaprun_alerts_deduplicated_total{source=\"%s\"} %llu\n", rt_serve_source_name(i),
        (unsigned long long)s->deduplicated[i]);
  head(&o, "pcaprun_alerts_rejected_total", "counter", "Requests refused, by source and reason.");
  for (int i = 0; i < RT_SRC_COUNT; i++)
    for (int r = 0; r < RT_REJ_COUNT; r++)
      put(&o, "pcaprun_alerts_rejected_total{source=\"%s\",reason=\"%s\"} %llu\n", rt_serve_source_name(i),
          reasons[r], (unsigned long long)s->rejected[i][r]);
  head(&o, "pcaprun_alerts_queued", "gauge", "Accepted alerts waiting for a playbook.");
  put(&o, "pcaprun_alerts_queued %u\n", s->qlen);
  head(&o, "pcaprun_alerts_queue_capacity", "gauge", "The most alerts that may wait (--queue).");
  put(&o, "pcaprun_alerts_queue_capacity %u\n", s->qcap);
  head(&o, "pcaprun_playbooks_running", "gauge", "Playbook runs in progress.");
  put(&o, "pcaprun_playbooks_running %llu\n", (unsigned long long)s->running);
  head(&o, "pcaprun_playbooks_finished_total", "counter", "Playbook runs that ended well.");
  put(&o, "pcaprun_playbooks_finished_total %llu\n", (unsigned long long)s->finished);
  head(&o, "pcaprun_playbooks_failed_total", "counter", "Playbook runs that failed or were canceled.");
  put(&o, "pcaprun_playbooks_failed_total %llu\n", (unsigned long long)s->failed);
  head(&o, "pcaprun_alerts_skipped_total", "counter", "Alerts handled without a run (cooldown, no route, dry run).");
  put(&o, "pcaprun_alerts_skipped_total %llu\n", (unsigned long long)s->skipped);
  head(&o, "pcaprun_draining", "gauge", "1 once SIGTERM came: no new playbooks.");
  put(&o, "pcaprun_draining %d\n", s->draining);

  rt_runtime *rt = s->rt;
  uint64_t now = rt_now_ms(rt);
  head(&o, "pcaprun_captures", "gauge", "Captures this process follows or made, by account and status.");
  RT_LIST_EACH(it, &rt->accounts) {
    rt_account *acct = RT_CONTAINER(it, rt_account, link);
    unsigned count[RT_ST_FAILED + 1] = {0};
    RT_LIST_EACH(ct, &acct->captures) {
      int st = RT_CONTAINER(ct, rt_capture, link)->status;
      if (st >= 0 && st <= RT_ST_FAILED) count[st]++;
    }
    for (int st = 0; st <= RT_ST_FAILED; st++)
      put(&o, "pcaprun_captures{account=\"%s\",status=\"%s\"} %u\n", esc(acct->account_id, a, sizeof a),
          rt_status_name(st), count[st]);
  }
  static const char *const gauges[][2] = {
    {"pcaprun_full_slot_in_use", "Full captures holding the account's slot (pending or running)."},
    {"pcaprun_full_slot_capacity", "Full captures the account may have pending or running (--full-slots)."},
    {"pcaprun_full_slot_waiters", "Full creates waiting for the slot."},
    {"pcaprun_simple_creates_waiters", "Simple creates waiting for the account's sample rate."},
  };
  for (int g = 0; g < 4; g++) {
    head(&o, gauges[g][0], "gauge", gauges[g][1]);
    RT_LIST_EACH(it, &rt->accounts) {
      rt_account *acct = RT_CONTAINER(it, rt_account, link);
      unsigned v = g == 0 ? acct->full.in_use : g == 1 ? acct->full.capacity : g == 2 ? acct->full.nwaiters
                                                                                   : acct->sample.nwaiters;
      put(&o, "%s{account=\"%s\"} %u\n", gauges[g][0], esc(acct->account_id, a, sizeof a), v);
    }
  }
  head(&o, "pcaprun_budget_requests_left", "gauge",
       "Requests the credential's budget allows now (--api-budget), by endpoint and principal.");
  RT_LIST_EACH(it, &rt->principals) {
    rt_principal *p = RT_CONTAINER(it, rt_principal, link);
    unsigned used = window_used(&p->api, now);
    put(&o, "pcaprun_budget_requests_left{server=\"%s\",principal=\"%s\"} %u\n", esc(p->server, a, sizeof a),
        esc(p->id, b, sizeof b), p->api.n > used ? p->api.n - used : 0);
  }
  head(&o, "pcaprun_budget_waiters", "gauge", "Requests waiting for the credential's budget.");
  RT_LIST_EACH(it, &rt->principals) {
    rt_principal *p = RT_CONTAINER(it, rt_principal, link);
    put(&o, "pcaprun_budget_waiters{server=\"%s\",principal=\"%s\"} %u\n", esc(p->server, a, sizeof a),
        esc(p->id, b, sizeof b), p->api.nwaiters);
  }
  if (o.failed) {
    free(o.buf);
    return NULL;
  }
  return o.buf;
}
