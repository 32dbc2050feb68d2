/* A request to a hook, from proof to queue: the sender's proof (serve_verify.c), then the body's
 * shape, each alert's dedup key, the journal (on disk before the answer), the bounded queue.
 *
 * What each sender's body must be (anything else is 400), and the dedup key of each alert:
 *   cloudflare    a JSON object (the envelope: name, text, data, ts, account_id, policy_id,
 *                 policy_name, alert_type, alert_correlation_id, alert_event; the "test"
 *                 delivery has text alone). Cloudflare names no delivery, so the key is the
 *                 correlation id and event with a hash of the raw body: the same delivery again
 *                 is the same key, a START and its END are two.
 *   pagerduty     {"event": {"id", "event_type", ...}}; the key is X-Webhook-Id (the delivery,
 *                 repeated on retries), else the event's id.
 *   alertmanager  payload version "4" with a list of alerts; one alert each, keyed by the
 *                 group key, fingerprint, startsAt and status (a resolved alert is another
 *                 event than its firing), recorded with the group's fields beside it.
 * The alerts of one request are recorded in one transaction: all or none. */
#include "err.h"
#include "journal.h"
#include "log.h"
#include "serve.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALERTS 1000       /* alerts in one Alertmanager request */
#define RETRY_AFTER 30        /* seconds a sender is asked to wait when the queue is full */

static const char *const source_names[RT_SRC_COUNT] = {"cloudflare", "pagerduty", "alertmanager"};

const char *rt_serve_source_name(int src) { return src >= 0 && src < RT_SRC_COUNT ? source_names[src] : "?"; }

int rt_serve_source_parse(const char *name) {
  for (int i = 0; i < RT_SRC_COUNT; i++)
    if (strcmp(name, source_names[i]) == 0) return i;
  return -1;
}

/* ---- the queue ---- */

int rt_serve_enqueue(rt_serve *s, int64_t id) {
  if (s->qlen >= s->qcap) {
    s->reload = 1; /* still in the journal: read again when there is room */
    return RT_ELIMITED;
  }
  s->queue[(s->qhead + s->qlen++) % s->qcap] = id;
  if (!rt_list_empty(&s->waiters)) {
    rt_serve_wait *w = RT_CONTAINER(rt_list_first(&s->waiters), rt_serve_wait, link);
    rt_list_unlink(&w->link);
    rt_wait_done(&w->w, 0);
  }
  return 0;
}

void rt_serve_load_pending(rt_serve *s) {
  rt_journal *j = s->rt->journal;
  int n = 0;
  s->reload = 0;
  if (!j || s->qlen >= s->qcap) return;
  int64_t *ids = malloc((size_t)(s->qcap + 1) * sizeof *ids);
  if (!ids) return;
  rt_journal_alerts_pending(j, ids, (int)(s->qcap - s->qlen + 1), &n);
  for (int i = 0; i < n; i++) {
    int queued = 0; /* already in the ring (this process queued it and nobody took it yet) */
    for (unsigned k = 0; k < s->qlen && !queued; k++) queued = s->queue[(s->qhead + k) % s->qcap] == ids[i];
    if (!queued) rt_serve_enqueue(s, ids[i]);
  }
  free(ids);
}

int64_t rt_serve_dequeue(rt_serve *s) {
  if (s->qlen == 0 && s->reload) rt_serve_load_pending(s);
  if (s->qlen == 0) return 0;
  int64_t id = s->queue[s->qhead];
  s->qhead = (s->qhead + 1) % s->qcap;
  s->qlen--;
  return id;
}

/* ---- answers ---- */

/* The answer's body: {ok, error} (and retry_after, as the Retry-After header says). */
static void answer(rt_serve_answer *a, int status, const char *fmt, const char *arg) {
  a->status = status;
  char text[400];
  snprintf(text, sizeof text, fmt, arg ? arg : "");
  json_t *o = json_pack("{s:b, s:s}", "ok", status < 300, status < 300 ? "message" : "error", text);
  if (o && a->retry_after > 0) json_object_set_new(o, "retry_after", json_integer(a->retry_after));
  char *dump = o ? json_dumps(o, JSON_COMPACT) : NULL;
  snprintf(a->body, sizeof a->body, "%s\n", dump ? dump : "{}");
  free(dump);
  json_decref(o);
}

static void reject(rt_serve *s, const rt_serve_req *q, rt_serve_answer *a, int reason, int status,
                   const char *fmt, const char *arg) {
  char code[8];
  s->rejected[q->source][reason]++;
  answer(a, status, fmt, arg);
  snprintf(code, sizeof code, "%d", status);
  rt_log(reason == RT_REJ_AUTH ? RT_LOG_WARN : RT_LOG_INFO, "serve.rejected", "request refused", "source",
         rt_serve_source_name(q->source), "status", code, "answer", a->body, NULL);
}

/* ---- proof ---- */

int rt_serve_early_auth(rt_serve *s, const rt_serve_req *q) {
  switch (q->source) {
  case RT_SRC_CLOUDFLARE: return rt_serve_secret_equal(q->cf_auth, s->secret[q->source]);
  case RT_SRC_ALERTMANAGER: return rt_serve_bearer(q->authorization, s->secret[q->source]);
  case RT_SRC_PAGERDUTY: return s->secret[q->source] && q->pd_signature ? -1 : 0;
  default: return 0;
  }
}

static int authentic(rt_serve *s, const rt_serve_req *q) {
  int early = rt_serve_early_auth(s, q);
  if (early >= 0) return early;
  return rt_serve_pd_signed(q->pd_signature, q->body, q->len, s->secret[q->source]);
}

/* ---- alerts ---- */

typedef struct batch {
  rt_jalert_in in[MAX_ALERTS];
  char keys[MAX_ALERTS][65];
  char *payloads[MAX_ALERTS];
  int n;
} batch;

static const char *str(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* The dedup key of text: its SHA-256 (keys are of a fixed size whatever the sender put in). */
static void add(batch *b, int src, const char *key_text, char *payload, const char *raw) {
  rt_serve_sha256_hex(key_text, strlen(key_text), b->keys[b->n]);
  b->payloads[b->n] = payload;
  b->in[b->n] = (rt_jalert_in){rt_serve_source_name(src), b->keys[b->n], payload ? payload : raw, 0, 0};
  b->n++;
}

/* Splits a body into alerts. Returns NULL, or why the body is not one the source sends. */
static const char *split(const rt_serve_req *q, json_t *root, batch *b) {
  char key[1024], hash[65];
  if (!json_is_object(root)) return "the body is not a JSON object";
  switch (q->source) {
  case RT_SRC_CLOUDFLARE: {
    json_t *data = json_object_get(root, "data");
    if (!str(root, "text") && !str(root, "alert_type")) return "a Cloudflare notification has text or alert_type";
    if (data && !json_is_object(data) && !json_is_null(data)) return "data is not an object";
    rt_serve_sha256_hex(q->body, q->len, hash);
    snprintf(key, sizeof key, "%.200s|%.64s|%s", str(root, "alert_correlation_id") ? str(root, "alert_correlation_id") : "",
             str(root, "alert_event") ? str(root, "alert_event") : "", hash);
    add(b, q->source, key, NULL, q->body);
    return NULL;
  }
  case RT_SRC_PAGERDUTY: {
    json_t *ev = json_object_get(root, "event");
    if (!json_is_object(ev) || !str(ev, "id") || !str(ev, "event_type"))
      return "a PagerDuty webhook has event.id and event.event_type";
    snprintf(key, sizeof key, "%.600s", q->webhook_id && q->webhook_id[0] ? q->webhook_id : str(ev, "id"));
    add(b, q->source, key, NULL, q->body);
    return NULL;
  }
  default: {
    json_t *alerts = json_object_get(root, "alerts"), *a;
    size_t i;
    if (!str(root, "version") || strcmp(str(root, "version"), "4") != 0)
      return "an Alertmanager webhook has version \"4\"";
    if (!json_is_array(alerts) || json_array_size(alerts) == 0) return "alerts is not a non-empty list";
    if (json_array_size(alerts) > MAX_ALERTS) return "more than 1000 alerts in one request";
    json_array_foreach(alerts, i, a) {
      if (!json_is_object(a) || !json_is_object(json_object_get(a, "labels"))) return "an alert without labels";
      char *one = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
      if (!one) return "out of memory";
      const char *fp = str(a, "fingerprint");
      if (!fp) rt_serve_sha256_hex(one, strlen(one), hash); /* no fingerprint: the alert's own text */
      snprintf(key, sizeof key, "%.400s|%.64s|%.64s|%.32s", str(root, "groupKey") ? str(root, "groupKey") : "",
               fp ? fp : hash, str(a, "startsAt") ? str(a, "startsAt") : "", str(a, "status") ? str(a, "status") : "");
      free(one);
      json_t *rec = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O}", "receiver",
                              json_object_get(root, "receiver"), "status", json_object_get(root, "status"),
                              "groupKey", json_object_get(root, "groupKey"), "groupLabels",
                              json_object_get(root, "groupLabels"), "commonLabels",
                              json_object_get(root, "commonLabels"), "commonAnnotations",
                              json_object_get(root, "commonAnnotations"), "externalURL",
                              json_object_get(root, "externalURL"), "alert", a);
      char *payload = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
      json_decref(rec);
      if (!payload) return "out of memory";
      add(b, q->source, key, payload, NULL);
    }
    return NULL;
  }
  }
}

void rt_serve_intake(rt_serve *s, const rt_serve_req *q, rt_serve_answer *a) {
  a->retry_after = 0;
  if (q->source < 0) {
    answer(a, 404, "no such hook (hooks: /hooks/cloudflare, /hooks/pagerduty, /hooks/alertmanager)%s", NULL);
    return;
  }
  const char *name = rt_serve_source_name(q->source);
  if (!s->secret[q->source])
    { reject(s, q, a, RT_REJ_AUTH, 401, "unauthorized (this receiver has no secret configured)%s", NULL); return; }
  if (q->too_large) { reject(s, q, a, RT_REJ_TOO_LARGE, 413, "the body is larger than --max-body%s", NULL); return; }
  if (!authentic(s, q)) { reject(s, q, a, RT_REJ_AUTH, 401, "unauthorized%s", NULL); return; }
  if (s->draining) {
    a->retry_after = RETRY_AFTER;
    { reject(s, q, a, RT_REJ_DRAINING, 503, "shutting down: send it again later%s", NULL); return; }
  }
  json_error_t jerr;
  json_t *root = json_loadb(q->body ? q->body : "", q->len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) { reject(s, q, a, RT_REJ_MALFORMED, 400, "the body is not JSON: %s", jerr.text); return; }
  batch *b = calloc(1, sizeof *b);
  const char *why = b ? split(q, root, b) : "out of memory";
  if (why) {
    reject(s, q, a, RT_REJ_MALFORMED, 400, "%s", why);
  } else if (s->qlen + (unsigned)b->n > s->qcap) {
    a->retry_after = RETRY_AFTER;
    reject(s, q, a, RT_REJ_OVERFLOW, 503, "too many alerts waiting for a playbook (--queue): send it again later%s", NULL);
  } else if (!s->rt->journal || rt_journal_alerts_add(s->rt->journal, b->in, b->n) != 0) {
    a->retry_after = RETRY_AFTER;
    reject(s, q, a, RT_REJ_JOURNAL, 503, "the alert could not be recorded: send it again later%s", NULL);
  } else {
    int dups = 0;
    for (int i = 0; i < b->n; i++) {
      if (b->in[i].duplicate) dups++;
      else rt_serve_enqueue(s, b->in[i].id);
    }
    s->received[q->source] += (uint64_t)(b->n - dups);
    s->deduplicated[q->source] += (uint64_t)dups;
    char first[32], nb[16], nd[16];
    snprintf(first, sizeof first, "%lld", (long long)b->in[0].id);
    snprintf(nb, sizeof nb, "%d", b->n - dups);
    snprintf(nd, sizeof nd, "%d", dups);
    rt_log(RT_LOG_INFO, "serve.accepted", dups == b->n ? "alert delivered again: nothing to do" : "alert accepted",
           "source", name, "alert", first, "new", nb, "duplicates", dups ? nd : NULL, NULL);
    a->status = 202;
    json_t *o = json_pack("{s:b, s:i, s:i, s:I}", "ok", 1, "accepted", b->n - dups, "duplicates", dups, "alert",
                          (json_int_t)b->in[0].id);
    char *dump = o ? json_dumps(o, JSON_COMPACT) : NULL;
    snprintf(a->body, sizeof a->body, "%s\n", dump ? dump : "{}");
    free(dump);
    json_decref(o);
  }
  for (int i = 0; b && i < b->n; i++) free(b->payloads[i]);
  free(b);
  json_decref(root);
}
