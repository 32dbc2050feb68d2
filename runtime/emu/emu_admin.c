/* Introspection for tests and users, outside the API prefix, with no limits (and no auth unless
 * an admin token is set: emu_pipeline.c checks it before calling here):
 *   GET  /__admin/stats     counters (requests, faults, captures, buckets, violations)
 *   GET  /__admin/config    the running configuration
 *   POST /__admin/config    merge a JSON object into it
 *   POST /__admin/reset     forget captures, buckets, limits and counters; reseed
 *   GET  /__admin/captures  every capture with its timeline in real seconds */
#define _XOPEN_SOURCE 700 /* nftw */
#include "emu_internal.h"
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[EMU_OP_COUNT] = {
    "list", "create", "get", "download", "stop", "ownership_list", "ownership_add",
    "ownership_validate", "ownership_delete", "unrouted"};
static const char *const fault_names[EMU_F_COUNT] = {
    "5xx", "429", "reset", "slow", "truncate", "malformed", "create_then_500", "create_then_reset"};
static const char *const violation_names[EMU_V_COUNT] = {
    "sample_rate", "full_concurrency", "api_budget", "invalid_requests", "download_before_ready",
    "duplicate_creates"};

const char *emu_op_name(emu_op op) { return op < EMU_OP_COUNT ? op_names[op] : "?"; }

void emu_stats_count(emu_server *s, emu_op op, int status) {
  emu_stats *st = &s->stats;
  st->requests++;
  st->by_op[op]++;
  for (size_t i = 0; i < sizeof st->by_status / sizeof st->by_status[0]; i++) {
    if (st->by_status[i].n == 0) st->by_status[i].status = status;
    if (st->by_status[i].status == status) {
      st->by_status[i].n++;
      return;
    }
  }
}

/* ---- reset ---- */

static int rm_below_root(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag;
  if (ftw->level > 0) remove(path);
  return 0;
}

void emu_reset(emu_server *s) {
  emu_captures_clear(s);
  emu_buckets_clear(s);
  emu_keyrecs_clear(s);
  memset(&s->stats, 0, sizeof s->stats);
  uint64_t seed = (uint64_t)s->cfg.seed;
  emu_rng_seed(&s->rng_ids, seed, 1);
  emu_rng_seed(&s->rng_faults, seed, 2);
  emu_rng_seed(&s->rng_fail, seed, 3);
  /* ids repeat after a reseed: generated downloads must not outlive their captures */
  if (s->data_dir[0]) {
    pthread_mutex_lock(&s->gen_mu);
    nftw(s->data_dir, rm_below_root, 16, FTW_DEPTH | FTW_PHYS);
    pthread_mutex_unlock(&s->gen_mu);
  }
}

/* ---- stats ---- */

static json_t *counters(const long long *v, const char *const *names, int n, int with_total) {
  json_t *o = json_object();
  long long total = 0;
  for (int i = 0; i < n; i++) {
    json_object_set_new(o, names[i], json_integer(v[i]));
    total += v[i];
  }
  if (with_total) json_object_set_new(o, "total", json_integer(total));
  return o;
}

static json_t *stats_json(emu_server *s) {
  const emu_stats *st = &s->stats;
  double now = emu_api_now(s);
  json_t *by_status = json_object(), *cap_status = json_object();
  for (size_t i = 0; i < sizeof st->by_status / sizeof st->by_status[0] && st->by_status[i].n; i++) {
    char key[16];
    if (st->by_status[i].status) snprintf(key, sizeof key, "%d", st->by_status[i].status);
    else snprintf(key, sizeof key, "dropped");
    json_object_set_new(by_status, key, json_integer(st->by_status[i].n));
  }
  long long n_captures = 0, n_buckets = 0;
  RT_LIST_EACH(it, &s->captures) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    const char *name = emu_status_name(emu_capture_status(s, c, now));
    json_object_set_new(cap_status, name,
                        json_integer(json_integer_value(json_object_get(cap_status, name)) + 1));
    n_captures++;
  }
  RT_LIST_EACH(it, &s->buckets) n_buckets++;
  json_t *o = json_pack(
      "{s:s,s:s,s:f,s:f,s:{s:I,s:I,s:o,s:o},s:o,s:{s:I,s:I,s:I,s:I,s:o},s:{s:I,s:I},"
      "s:{s:I,s:I},s:o}",
      "base_url", s->base_url, "bucket_dir", s->bucket_dir, "uptime_s",
      emu_mono_now() - s->started_mono, "api_now", now,
      "requests", "total", (json_int_t)st->requests, "admin", (json_int_t)st->admin_requests,
      "by_operation", counters(st->by_op, op_names, EMU_OP_COUNT, 0), "by_status", by_status,
      "faults", counters(st->faults, fault_names, EMU_F_COUNT, 1),
      "captures", "total", (json_int_t)n_captures,
      "created", (json_int_t)(st->captures_created[RT_CAP_SIMPLE] + st->captures_created[RT_CAP_FULL]),
      "simple", (json_int_t)st->captures_created[RT_CAP_SIMPLE],
      "full", (json_int_t)st->captures_created[RT_CAP_FULL], "by_status", cap_status,
      "buckets", "registered", (json_int_t)n_buckets, "created", (json_int_t)st->buckets_created,
      "files", "delivered", (json_int_t)st->files_delivered, "bytes_served",
      (json_int_t)st->bytes_served,
      "violations", counters(st->violations, violation_names, EMU_V_COUNT, 1));
  if (o) json_object_set_new(o, "s3", emu_s3_stats(s)); /* the S3 API: URL and counters */
  return o;
}

char *emu_stats_json(emu_server *s) {
  pthread_mutex_lock(&s->mu);
  json_t *o = stats_json(s);
  pthread_mutex_unlock(&s->mu);
  char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  return text;
}

/* ---- captures ---- */

static json_t *capture_timeline(emu_server *s, emu_capture *c, double now) {
  int full = c->spec.type == RT_CAP_FULL;
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:b,s:s,s:s,s:b}", "id", c->id,
                        "account", c->account, "type", full ? "full" : "simple", "status",
                        emu_status_name(emu_capture_status(s, c, now)), "submitted", c->submitted,
                        "submitted_s", emu_api_to_real(s, c->t_submit), "ended_s",
                        emu_api_to_real(s, full ? c->t_conv_pending : c->t_done), "ready_s",
                        emu_api_to_real(s, c->t_done), "stopped", c->stopped, "stop_requested",
                        c->stop_requested, "intent", c->intent, "fails", c->will_fail != 0);
  if (o && full) {
    json_object_set_new(o, "colo_name", json_string(c->spec.colo_name));
    json_object_set_new(o, "running_s", json_real(emu_api_to_real(s, c->t_running)));
    json_object_set_new(o, "packets_captured", json_integer(emu_capture_packets(c, now)));
    json_object_set_new(o, "delivered", json_boolean(c->delivered));
  }
  return o;
}

static json_t *captures_json(emu_server *s) {
  json_t *arr = json_array();
  double now = emu_api_now(s);
  RT_LIST_EACH(it, &s->captures)
    json_array_append_new(arr, capture_timeline(s, RT_CONTAINER(it, emu_capture, link), now));
  return json_pack("{s:f,s:o}", "now_s", emu_mono_now() - s->started_mono, "captures", arr);
}

char *emu_captures_text(emu_server *s) {
  pthread_mutex_lock(&s->mu);
  json_t *o = captures_json(s);
  pthread_mutex_unlock(&s->mu);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return text;
}

/* ---- config ---- */

int emu_configure_json(emu_server *s, const char *text, char *err, size_t errlen) {
  json_error_t jerr;
  json_t *obj = json_loads(text ? text : "", 0, &jerr);
  if (!obj) {
    snprintf(err, errlen, "config is not valid JSON: %s", jerr.text);
    return RT_EINVAL;
  }
  pthread_mutex_lock(&s->mu);
  emu_config next = s->cfg;
  int rc = emu_config_merge(&next, obj, 0, err, errlen);
  if (rc == 0) emu_set_config(s, &next);
  pthread_mutex_unlock(&s->mu);
  json_decref(obj);
  return rc;
}

/* ---- the endpoints ---- */

static void reply_text(emu_reply *r, int status, json_t *o) {
  emu_reply_json(r, status, o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL);
  json_decref(o);
}

void emu_admin_handle(emu_server *s, const char *method, const char *path, const char *body,
                      size_t body_len, emu_reply *r) {
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  const char *name = path + strlen("/__admin/");
  char err[256];
  pthread_mutex_lock(&s->mu);
  s->stats.admin_requests++;
  pthread_mutex_unlock(&s->mu);
  if (strcmp(name, "stats") == 0 && get) {
    pthread_mutex_lock(&s->mu);
    json_t *o = stats_json(s);
    pthread_mutex_unlock(&s->mu);
    reply_text(r, 200, o);
  } else if (strcmp(name, "captures") == 0 && get) {
    pthread_mutex_lock(&s->mu);
    json_t *o = captures_json(s);
    pthread_mutex_unlock(&s->mu);
    reply_text(r, 200, o);
  } else if (strcmp(name, "config") == 0 && (get || post)) {
    char *text = body && body_len ? strndup(body, body_len) : NULL;
    int rc = post ? emu_configure_json(s, text ? text : "", err, sizeof err) : 0;
    free(text);
    if (rc) {
      reply_text(r, 400, json_pack("{s:s}", "error", err));
      return;
    }
    pthread_mutex_lock(&s->mu);
    json_t *o = emu_config_to_json(&s->cfg);
    pthread_mutex_unlock(&s->mu);
    reply_text(r, 200, o);
  } else if (strcmp(name, "reset") == 0 && post) {
    pthread_mutex_lock(&s->mu);
    emu_reset(s);
    pthread_mutex_unlock(&s->mu);
    reply_text(r, 200, json_pack("{s:b}", "ok", 1));
  } else if (!strcmp(name, "stats") || !strcmp(name, "captures") || !strcmp(name, "config") ||
             !strcmp(name, "reset")) {
    reply_text(r, 405, json_pack("{s:s}", "error", "method not allowed"));
  } else {
    reply_text(r, 404, json_pack("{s:s}", "error", "unknown admin endpoint; see "
                                 "runtime/emu/README.md"));
  }
}
