/* Captures: the lifecycle computed from timestamps (runtime/API.md#6-statuses) and the five capture
 * operations: list, create, get, download, stop. All functions run under s->mu.
 *   simple: pending -> success (or failed) after time_limit (or simple_duration)
 *   full:   pending (full_pending) -> running (time_limit) -> conversion_pending
 *           -> conversion_running -> success / complete (or failed, with error_message)
 * Every duration is in API seconds; the API clock runs time_scale times slower than real time. */
#include "emu_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const status_names[] = {"pending", "running", "conversion_pending",
                                           "conversion_running", "success", "complete", "failed"};

const char *emu_status_name(emu_status st) { return status_names[st]; }

static const char *const fail_messages[] = {
    "",
    "No packets matched the filter in the time limit given. Please modify the filter or try "
    "again.",
    "Could not write the capture to the bucket. Check the destination and its permissions.",
};

emu_capture *emu_capture_find(emu_server *s, const char *account, const char *id) {
  RT_LIST_EACH(it, &s->captures) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    if (strcmp(c->id, id) == 0 && strcasecmp(c->account, account) == 0) return c;
  }
  return NULL;
}

void emu_captures_clear(emu_server *s) {
  RT_LIST_EACH(it, &s->captures) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    rt_list_unlink(&c->link);
    rt_spec_free(&c->spec);
    free(c);
  }
}

int emu_capture_needs_delivery(emu_server *s, const emu_capture *c, double now) {
  (void)s;
  return c->spec.type == RT_CAP_FULL && !c->will_fail && !c->delivered && now >= c->t_done;
}

emu_status emu_capture_status(emu_server *s, const emu_capture *c, double now) {
  if (now >= c->t_done) {
    if (c->will_fail) return EMU_S_FAILED;
    /* a full capture shows success only once its file is in the bucket */
    if (emu_capture_needs_delivery(s, c, now)) return EMU_S_CONVERSION_RUNNING;
    return c->ends_complete ? EMU_S_COMPLETE : EMU_S_SUCCESS;
  }
  if (c->spec.type == RT_CAP_SIMPLE || now < c->t_running) return EMU_S_PENDING;
  if (now < c->t_conv_pending) return EMU_S_RUNNING;
  if (now < c->t_conv_running) return EMU_S_CONVERSION_PENDING;
  return EMU_S_CONVERSION_RUNNING;
}

long long emu_capture_packets(const emu_capture *c, double now) {
  double end = now < c->t_conv_pending ? now : c->t_conv_pending;
  if (end <= c->t_running) return 0;
  double frac = (end - c->t_running) / c->spec.time_limit;
  return (long long)floor((double)c->packets_total * (frac < 1 ? frac : 1));
}

/* How many packets a simple capture holds: a sampled trickle, at most packet_limit. */
static long long simple_packets(const emu_capture *c) {
  double n = ceil(50 * c->spec.time_limit);
  return (long long)(n < c->spec.packet_limit ? n : c->spec.packet_limit);
}

/* ---- JSON ---- */

static json_t *capture_json(emu_server *s, const emu_capture *c, double now) {
  const emu_config *cfg = &s->cfg;
  emu_status st = emu_capture_status(s, c, now);
  json_t *req = rt_spec_to_json(&c->spec); /* the request as accepted, keys in a fixed order */
  json_t *o = json_object();
  if (!req || !o) goto oom;
  json_object_set_new(o, "id", json_string(c->id));
  json_object_set_new(o, "type", json_string(c->spec.type == RT_CAP_FULL ? "full" : "simple"));
  json_object_set_new(o, "system", json_string("magic-transit"));
  json_object_set_new(o, "status", json_string(emu_status_name(st)));
  json_object_set_new(o, "submitted", json_string(c->submitted));
  json_object_set(o, "time_limit", json_object_get(req, "time_limit"));
  if (cfg->hostile_time_limit > 0) json_object_set_new(o, "time_limit", json_real(cfg->hostile_time_limit));
  json_t *filter = json_object_get(req, "filter_v1");
  json_object_set_new(o, "filter_v1", filter ? json_incref(filter) : json_object());
  if (c->spec.type == RT_CAP_SIMPLE) {
    if (c->spec.has_offset_time) json_object_set_new(o, "offset_time", json_string(c->spec.offset_time));
    if (cfg->doc_keys)
      json_object_set_new(o, "packets_remaining",
                          json_integer(st == EMU_S_SUCCESS || st == EMU_S_COMPLETE ? 0
                                           : (json_int_t)c->spec.packet_limit));
  } else {
    if (c->spec.has_byte_limit) json_object_set(o, "byte_limit", json_object_get(req, "byte_limit"));
    json_object_set_new(o, "colo_name", json_string(c->spec.colo_name));
    if (cfg->echo_colo) json_object_set_new(o, "colo", json_string(c->spec.colo_name));
    json_object_set_new(o, "destination_conf", json_string(c->spec.destination_conf));
    json_object_set_new(o, "packets_captured", json_integer(emu_capture_packets(c, now)));
    if (c->stopped) json_object_set_new(o, "stop_requested", json_string(c->stop_requested));
    if (st == EMU_S_FAILED) json_object_set_new(o, "error_message", json_string(fail_messages[c->will_fail]));
  }
  if (cfg->doc_keys && c->spec.has_packet_limit)
    json_object_set(o, "packet_limit", json_object_get(req, "packet_limit"));
  json_decref(req);
  return o;
oom:
  json_decref(req);
  json_decref(o);
  return NULL;
}

/* ---- list, get ---- */

void emu_op_list(emu_server *s, const emu_request *q, emu_reply *r) {
  double now = emu_api_now(s);
  json_t *arr = json_array();
  long long total = 0;
  /* newest first: walk the list (oldest first) backwards */
  for (rt_list *it = s->captures.prev; arr && it != &s->captures; it = it->prev) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    if (strcasecmp(c->account, q->account) != 0) continue;
    if (total++ >= s->cfg.list_limit) continue;
    json_t *item = capture_json(s, c, now);
    if (s->cfg.list_duplicates && item) json_array_append_new(arr, json_deep_copy(item));
    json_array_append_new(arr, item);
  }
  json_t *info = NULL;
  if (s->cfg.result_info)
    info = json_pack("{s:I,s:i,s:i,s:I}", "count", (json_int_t)json_array_size(arr), "page", 1,
                     "per_page", s->cfg.list_limit, "total_count", (json_int_t)total);
  if (s->cfg.null_empty_lists && arr && json_array_size(arr) == 0) {
    json_decref(arr);
    arr = json_null();
  }
  emu_reply_json(r, 200, emu_envelope_ok(arr, info));
}

void emu_op_get(emu_server *s, const emu_request *q, emu_reply *r) {
  emu_capture *c = emu_capture_find(s, q->account, q->id);
  if (!c) {
    emu_reply_error(s, r, EMU_E_NOT_FOUND, "Packet capture not found");
    return;
  }
  emu_reply_ok(r, capture_json(s, c, emu_api_now(s)));
}

/* ---- create ---- */

/* Refusals of a valid body: limits and the bucket rules. Returns 1 after filling r. */
static int refuse_create(emu_server *s, const emu_request *q, const rt_spec *spec, emu_reply *r) {
  if (spec->type == RT_CAP_SIMPLE) return emu_sample_check(s, q, r);
  char dir[PATH_MAX];
  if (emu_bucket_path(s->bucket_dir, spec->destination_conf, dir, sizeof dir) != 0) {
    emu_reply_error(s, r, EMU_E_INVALID, "destination_conf must name a bucket and a plain "
                    "path (letters, digits, '.', '_', '-', '='; no '..')");
    emu_violation(s, EMU_V_INVALID);
    return 1;
  }
  if (s->cfg.full_limit) {
    double now = emu_api_now(s);
    RT_LIST_EACH(it, &s->captures) {
      emu_capture *c = RT_CONTAINER(it, emu_capture, link);
      if (c->spec.type != RT_CAP_FULL || strcasecmp(c->account, q->account) != 0) continue;
      emu_status st = emu_capture_status(s, c, now);
      if (st == EMU_S_PENDING || st == EMU_S_RUNNING) {
        emu_reply_error(s, r, EMU_E_FULL_CONCURRENCY, NULL);
        emu_violation(s, EMU_V_FULL_CONCURRENCY);
        return 1;
      }
    }
  }
  if (!s->cfg.auto_validate_buckets &&
      !emu_bucket_validated(s, q->account, spec->destination_conf)) {
    emu_reply_error(s, r, EMU_E_BUCKET_UNVALIDATED, NULL);
    return 1;
  }
  return 0;
}

static void set_timeline(emu_server *s, emu_capture *c, double now) {
  const emu_config *cfg = &s->cfg;
  c->t_submit = now;
  if (c->spec.type == RT_CAP_SIMPLE) {
    c->t_running = c->t_conv_pending = now;
    c->t_done = now + (cfg->simple_duration >= 0 ? cfg->simple_duration : c->spec.time_limit);
    return;
  }
  c->t_running = now + cfg->full_pending;
  c->t_conv_pending = c->t_running + c->spec.time_limit;
  c->t_conv_running = c->t_conv_pending + cfg->conversion_pending;
  c->t_done = c->t_conv_running + cfg->conversion_running;
}

static emu_capture *new_capture(emu_server *s, const emu_request *q, rt_spec *spec) {
  emu_capture *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->spec = *spec; /* takes destination_conf */
  memset(spec, 0, sizeof *spec);
  emu_rng_hex(&s->rng_ids, c->id);
  snprintf(c->account, sizeof c->account, "%.32s", q->account);
  snprintf(c->intent, sizeof c->intent, "%s", q->intent);
  c->wall_submit = emu_wall_now();
  emu_format_time(c->wall_submit, c->submitted);
  set_timeline(s, c, emu_api_now(s));
  /* one draw per capture whatever fail_rate is, so outcomes stay stable for a seed */
  c->will_fail = emu_rng_unit(&s->rng_fail) < s->cfg.fail_rate;
  c->ends_complete = s->cfg.complete_status;
  c->seed = emu_hash(c->id, 32, (uint64_t)s->cfg.seed);
  if (c->spec.type == RT_CAP_FULL) {
    /* about 20 packets per second, within packet_limit, and byte_limit at full-size frames */
    double n = fmin(ceil(20 * c->spec.time_limit), RT_PACKET_LIMIT_MAX);
    if (c->spec.has_packet_limit) n = fmin(n, c->spec.packet_limit);
    if (c->spec.has_byte_limit) n = fmin(n, floor(c->spec.byte_limit / 1514));
    c->packets_total = (long long)n;
  }
  rt_list_push(&s->captures, &c->link);
  return c;
}

static int is_duplicate(emu_server *s, const emu_capture *created) {
  if (!created->intent[0]) return 0;
  RT_LIST_EACH(it, &s->captures) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    if (c != created && strcmp(c->intent, created->intent) == 0 &&
        strcasecmp(c->account, created->account) == 0)
      return 1;
  }
  return 0;
}

void emu_op_create(emu_server *s, const emu_request *q, emu_reply *r) {
  int empty;
  json_t *body = emu_parse_body(s, q, r, &empty);
  if (!body && !empty) return;
  rt_spec_rules rules;
  rt_spec spec;
  rt_specerr err;
  emu_config_rules(&s->cfg, &rules);
  int rc = rt_spec_parse(body, &rules, (time_t)emu_wall_now(), &spec, &err);
  json_decref(body);
  if (rc) {
    emu_reply_error(s, r, EMU_E_INVALID, err.message);
    emu_violation(s, EMU_V_INVALID);
    return;
  }
  if (refuse_create(s, q, &spec, r)) {
    rt_spec_free(&spec);
    return;
  }
  emu_capture *c = new_capture(s, q, &spec);
  rt_spec_free(&spec);
  if (!c) {
    emu_reply_error(s, r, EMU_E_INTERNAL, NULL);
    return;
  }
  if (c->spec.type == RT_CAP_SIMPLE) emu_sample_record(s, q);
  if (is_duplicate(s, c)) emu_violation(s, EMU_V_DUPLICATE_CREATES);
  s->stats.captures_created[c->spec.type]++;
  /* U20: the create is applied, but the client hears an error or nothing */
  if (emu_fault_roll(s, s->cfg.fault_create_then_500, EMU_F_CREATE_THEN_500)) {
    emu_reply_error(s, r, EMU_E_INTERNAL, NULL);
    return;
  }
  if (emu_fault_roll(s, s->cfg.fault_create_then_reset, EMU_F_CREATE_THEN_RESET)) {
    r->drop = 1;
    return;
  }
  emu_reply_ok(r, capture_json(s, c, emu_api_now(s)));
}

/* ---- stop ---- */

void emu_op_stop(emu_server *s, const emu_request *q, emu_reply *r) {
  emu_capture *c = emu_capture_find(s, q->account, q->id);
  if (!c) {
    emu_reply_error(s, r, EMU_E_NOT_FOUND, "Packet capture not found");
    return;
  }
  if (c->spec.type != RT_CAP_FULL) {
    emu_reply_error(s, r, EMU_E_STOP_SIMPLE, NULL);
    return;
  }
  double now = emu_api_now(s);
  emu_status st = emu_capture_status(s, c, now);
  int terminal = st == EMU_S_SUCCESS || st == EMU_S_COMPLETE || st == EMU_S_FAILED;
  if (terminal) {
    if (s->cfg.stop_terminal_error) emu_reply_error(s, r, EMU_E_STOP_TERMINAL, NULL);
    else emu_reply_empty(r, 204);
    return;
  }
  if (!c->stopped) {
    c->stopped = 1;
    emu_format_time(emu_wall_now(), c->stop_requested);
  }
  if (st == EMU_S_PENDING || st == EMU_S_RUNNING) { /* the capture ends now and converts */
    if (now < c->t_running) c->t_running = now;
    c->t_conv_pending = now;
    c->t_conv_running = now + s->cfg.conversion_pending;
    c->t_done = c->t_conv_running + s->cfg.conversion_running;
  }
  emu_reply_empty(r, 204);
}

/* ---- download ---- */

void emu_op_download(emu_server *s, const emu_request *q, emu_reply *r) {
  emu_capture *c = emu_capture_find(s, q->account, q->id);
  if (!c) {
    emu_reply_error(s, r, EMU_E_NOT_FOUND, "Packet capture not found");
    return;
  }
  emu_status st = emu_capture_status(s, c, emu_api_now(s));
  if (c->spec.type == RT_CAP_FULL || (st != EMU_S_SUCCESS && st != EMU_S_COMPLETE)) {
    emu_reply_error(s, r, c->spec.type == RT_CAP_FULL ? EMU_E_DOWNLOAD_FULL
                                                        : EMU_E_DOWNLOAD_NOT_READY, NULL);
    emu_violation(s, EMU_V_DOWNLOAD_BEFORE_READY);
    return;
  }
  emu_pcap_params *p = r->pcap;
  memset(p, 0, sizeof *p);
  /* the name carries what shapes the bytes, so a config change makes a new file */
  if (snprintf(p->path, sizeof p->path, "%s/%s-l%d-b%lld-s%g.pcap", s->data_dir, c->id,
               s->cfg.link_type, s->cfg.simple_bytes, s->cfg.syn_flood) >= (int)sizeof p->path) {
    emu_reply_error(s, r, EMU_E_INTERNAL, "data directory path too long");
    return;
  }
  p->link_type = s->cfg.link_type;
  p->snaplen = 160;
  p->packets = simple_packets(c);
  p->pad_bytes = s->cfg.simple_bytes;
  p->syn_flood = s->cfg.syn_flood;
  p->max_packets = c->spec.has_packet_limit ? (long long)c->spec.packet_limit : RT_PACKET_LIMIT_MAX;
  /* simple captures look back from offset_time (default: the request time) */
  double ref = c->spec.has_offset_time ? (double)c->spec.offset_epoch : c->wall_submit;
  p->t_span = c->spec.time_limit;
  p->t_start = ref - p->t_span;
  p->filter = c->spec.filter;
  p->seed = c->seed;
  p->gzip = s->cfg.gzip_downloads;
  r->is_file = 1;
  r->status = 200;
  r->truncate = emu_fault_roll(s, s->cfg.fault_truncate, EMU_F_TRUNCATE);
  r->rate = s->cfg.download_rate;
}
