/* Emulator configuration: one table of keys, used for defaults, merging and reporting, so the
 * JSON config, the admin endpoint and the README cannot drift apart. */
#include "emu_internal.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef enum { T_BOOL, T_INT, T_LONG, T_NUM, T_STR, T_ENUM, T_SECRET } ktype;

typedef struct key {
  const char *name;
  ktype type;
  size_t off, size; /* size: string capacity */
  double min, max;  /* numbers */
  const char *const *choices; /* enums: stored as the index */
  int start_only;
} key;

static const char *const scopes[] = {"account", "credential", NULL};
static const char *const windows[] = {"sliding", "fixed", NULL};
static const char *const challenge_modes[] = {"either", "contents", "filename", NULL};
static const char *const dup_modes[] = {"new", "existing", "reject", NULL};

#define F(m) offsetof(emu_config, m)
#define B(n) {#n, T_BOOL, F(n), 0, 0, 1, NULL, 0}
#define I(n, lo, hi) {#n, T_INT, F(n), 0, lo, hi, NULL, 0}
#define N(n, lo, hi) {#n, T_NUM, F(n), 0, lo, hi, NULL, 0}
#define S(n, start) {#n, T_STR, F(n), sizeof(((emu_config *)0)->n), 0, 0, NULL, start}
#define SECRET(n) {#n, T_SECRET, F(n), sizeof(((emu_config *)0)->n), 0, 0, NULL, 0}
#define E(n, ch) {#n, T_ENUM, F(n), 0, 0, 0, ch, 0}

static const key keys[] = {
    S(listen, 1), S(prefix, 1), S(bucket_dir, 1),
    {"max_body", T_INT, F(max_body), 0, 1024, 16 << 20, NULL, 1},
    N(time_scale, 1e-6, 1e6), {"seed", T_LONG, F(seed), 0, 0, 9e15, NULL, 0},
    SECRET(token), SECRET(email), SECRET(key), S(account_id, 0),
    {"allow_remote", T_BOOL, F(allow_remote), 0, 0, 1, NULL, 1},
    {"admin_token", T_SECRET, F(admin_token), sizeof(((emu_config *)0)->admin_token), 0, 0, NULL, 1},
    B(strict_keys), B(ipv4_only), B(filter_ranges), B(integers_only), B(accept_colo_alias),
    N(max_time_limit_full, 1, 1e9),
    B(echo_colo), B(doc_keys), I(list_limit, 1, 1000000), B(null_empty_lists), B(result_info),
    B(complete_status), B(list_duplicates),
    B(sample_limit), N(sample_window, 0, 1e9), E(sample_scope, scopes),
    E(sample_window_type, windows),
    B(full_limit), B(rate_limit), I(rate_limit_quota, 1, 1000000), N(rate_limit_window, 1e-3, 1e9),
    N(rate_limit_block, 0, 1e9), B(ratelimit_headers),
    N(simple_duration, -1, 1e9), N(full_pending, 0, 1e9), N(conversion_pending, 0, 1e9),
    N(conversion_running, 0, 1e9), N(fail_rate, 0, 1), B(stop_terminal_error),
    I(link_type, 1, 101), {"simple_bytes", T_LONG, F(simple_bytes), 0, 0, 1LL << 40, NULL, 0},
    N(syn_flood, 0, 1),
    {"download_rate", T_LONG, F(download_rate), 0, 0, 1LL << 40, NULL, 0},
    B(gzip_downloads), B(ignore_range),
    S(s3_access_key_id, 1),
    {"s3_secret_access_key", T_SECRET, F(s3_secret_access_key), sizeof(((emu_config *)0)->s3_secret_access_key),
     0, 0, NULL, 1},
    I(s3_page_size, 1, 1000), {"s3_rate", T_LONG, F(s3_rate), 0, 0, 1LL << 40, NULL, 0}, I(full_files, 1, 64),
    B(s3_access_denied),
    B(auto_validate_buckets), E(challenge_mode, challenge_modes), B(validate_mismatch_error),
    E(duplicate_buckets, dup_modes), N(validation_delay, 0, 1e9),
    N(fault_5xx, 0, 1), N(fault_429, 0, 1), N(fault_reset, 0, 1), N(fault_slow, 0, 1),
    N(fault_truncate, 0, 1), N(fault_malformed, 0, 1), N(fault_create_then_500, 0, 1),
    N(fault_create_then_reset, 0, 1), I(fault_429_max, 1, 86400), I(slow_ms, 0, 600000),
    S(hostile_retry_after, 0), S(hostile_ratelimit, 0), N(hostile_time_limit, 0, 1e308), S(fault_ops, 0),
};

static const struct {
  const char *name;
  emu_errdef def;
} error_defaults[EMU_E_COUNT] = {
    [EMU_E_INVALID] = {"invalid_request", {400, 1001, "Invalid request"}},
    [EMU_E_MALFORMED_JSON] = {"malformed_json", {400, 1002, "Malformed JSON in request body"}},
    [EMU_E_TOO_LARGE] = {"body_too_large", {413, 1003, "Request body too large"}},
    [EMU_E_NO_ROUTE] = {"no_route", {404, 7003, "No route for the URI"}},
    [EMU_E_METHOD] = {"method_not_allowed", {405, 10405, "Method not allowed"}},
    [EMU_E_BAD_ACCOUNT] = {"bad_account",
                           {400, 7003, "Could not route to the URI, perhaps your object "
                                       "identifier is invalid?"}},
    [EMU_E_AUTH_HEADERS] = {"auth_headers", {400, 6003, "Invalid request headers"}},
    [EMU_E_AUTH_FAILED] = {"auth_failed", {403, 10000, "Authentication error"}},
    [EMU_E_RATE_LIMITED] = {"rate_limited",
                            {429, 971, "Please wait and consider throttling your request speed"}},
    [EMU_E_SAMPLE_RATE] = {"sample_rate",
                           {429, 1110, "Too many simple packet capture requests: only one per "
                                       "minute is allowed"}},
    [EMU_E_FULL_CONCURRENCY] = {"full_concurrency",
                                {409, 1111, "A full packet capture is already pending or "
                                            "running"}},
    [EMU_E_BUCKET_UNVALIDATED] = {"bucket_unvalidated",
                                  {400, 1112, "destination_conf is not a validated bucket: "
                                              "register and validate it first"}},
    [EMU_E_NOT_FOUND] = {"not_found", {404, 1113, "Not found"}},
    [EMU_E_STOP_SIMPLE] = {"stop_simple", {400, 1114, "Only full packet captures can be "
                                                      "stopped"}},
    [EMU_E_STOP_TERMINAL] = {"stop_terminal", {400, 1115, "The packet capture has already "
                                                          "finished"}},
    [EMU_E_DOWNLOAD_NOT_READY] = {"download_not_ready",
                                  {400, 1116, "The packet capture is not ready for download"}},
    [EMU_E_DOWNLOAD_FULL] = {"download_full",
                             {400, 1117, "Full packet captures are delivered to their bucket "
                                         "and cannot be downloaded"}},
    [EMU_E_OWNERSHIP_FAILED] = {"ownership_failed",
                                {400, 1118, "The ownership challenge does not match"}},
    [EMU_E_DUPLICATE_BUCKET] = {"duplicate_bucket",
                                {400, 1119, "This bucket is already registered"}},
    [EMU_E_INTERNAL] = {"internal_error", {500, 1000, "Internal server error"}},
};

const char *emu_errkind_name(emu_errkind k) {
  return k < EMU_E_COUNT ? error_defaults[k].name : "?";
}

void emu_config_defaults(emu_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen, sizeof c->listen, "127.0.0.1:0");
  snprintf(c->prefix, sizeof c->prefix, "/client/v4");
  c->max_body = 64 * 1024;
  c->time_scale = 1.0;
  c->seed = 1;
  c->accept_colo_alias = 1;
  c->max_time_limit_full = RT_TIME_LIMIT_FULL_MAX;
  c->list_limit = 50;
  c->sample_limit = c->full_limit = c->rate_limit = c->ratelimit_headers = 1;
  c->sample_window = 60;
  c->rate_limit_quota = 1200;
  c->rate_limit_window = 300;
  c->rate_limit_block = 300;
  c->simple_duration = -1;
  c->full_pending = 2;
  c->conversion_pending = 1;
  c->conversion_running = 2;
  c->link_type = 1;
  c->fault_429_max = 5;
  c->slow_ms = 500;
  snprintf(c->s3_access_key_id, sizeof c->s3_access_key_id, "pcaprun-emulator");
  snprintf(c->s3_secret_access_key, sizeof c->s3_secret_access_key, "pcaprun-emulator-secret");
  c->s3_page_size = 1000;
  c->full_files = 1;
  for (int k = 0; k < EMU_E_COUNT; k++) c->errors[k] = error_defaults[k].def;
}

void emu_config_rules(const emu_config *c, rt_spec_rules *r) {
  rt_spec_rules_server(r);
  r->max_time_limit_full = c->max_time_limit_full;
  r->reject_unknown_keys = c->strict_keys;
  r->integers_only = c->integers_only;
  r->filter_ranges = c->filter_ranges;
  r->ipv4_only = c->ipv4_only;
  r->accept_colo_alias = c->accept_colo_alias;
  /* the emulator maps destination_conf to a directory, so it must be a bucket URI */
  r->check_destination_form = 1;
}

/* ---- merge ---- */

static int set_key(emu_config *c, const key *k, const json_t *v, char *err, size_t errlen) {
  char *base = (char *)c + k->off;
  switch (k->type) {
  case T_BOOL:
    if (!json_is_boolean(v)) break;
    *(int *)base = json_is_true(v);
    return 0;
  case T_INT:
  case T_LONG:
  case T_NUM: {
    if (!json_is_number(v)) break;
    double d = json_number_value(v);
    if (k->type != T_NUM && d != floor(d)) break;
    if (d < k->min || d > k->max) {
      snprintf(err, errlen, "config key %s must be between %g and %g (got %g)", k->name, k->min,
               k->max, d);
      return RT_EINVAL;
    }
    if (k->type == T_NUM) *(double *)base = d;
    else if (k->type == T_LONG) *(long long *)base = (long long)d;
    else *(int *)base = (int)d;
    return 0;
  }
  case T_STR:
  case T_SECRET:
    if (!json_is_string(v)) break;
    if (json_string_length(v) >= k->size) {
      snprintf(err, errlen, "config key %s is too long (at most %zu bytes)", k->name, k->size - 1);
      return RT_EINVAL;
    }
    memcpy(base, json_string_value(v), json_string_length(v) + 1);
    return 0;
  case T_ENUM:
    if (!json_is_string(v)) break;
    for (int i = 0; k->choices[i]; i++)
      if (strcmp(k->choices[i], json_string_value(v)) == 0) {
        *(int *)base = i;
        return 0;
      }
    break;
  }
  static const char *const type_names[] = {"a boolean", "an integer", "an integer", "a number",
                                           "a string",
                                           "one of the listed words", "a string"};
  snprintf(err, errlen, "config key %s must be %s", k->name, type_names[k->type]);
  if (k->type == T_ENUM) {
    size_t n = strlen(err);
    for (int i = 0; k->choices[i] && n < errlen; i++, n = strlen(err))
      snprintf(err + n, errlen - n, "%s%s", i ? "|" : ": ", k->choices[i]);
  }
  return RT_EINVAL;
}

/* "errors": {"sample_rate": {"status": 429, "code": 1110, "message": "..."}, ...} */
static int merge_errors(emu_config *c, const json_t *obj, char *err, size_t errlen) {
  const char *name;
  const json_t *def;
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "config key errors must be an object");
    return RT_EINVAL;
  }
  json_object_foreach((json_t *)obj, name, def) {
    int k = 0;
    while (k < EMU_E_COUNT && strcmp(error_defaults[k].name, name) != 0) k++;
    if (k == EMU_E_COUNT || !json_is_object(def)) {
      snprintf(err, errlen, "config errors.%.40s: unknown error kind or not an object", name);
      return RT_EINVAL;
    }
    const json_t *st = json_object_get(def, "status"), *code = json_object_get(def, "code"),
                 *msg = json_object_get(def, "message");
    if ((st && (!json_is_integer(st) || json_integer_value(st) < 200 ||
                json_integer_value(st) > 599)) ||
        (code && (!json_is_integer(code) || json_integer_value(code) < 0 ||
                  json_integer_value(code) > 1000000000)) ||
        (msg && (!json_is_string(msg) || json_string_length(msg) >= sizeof c->errors[k].message))) {
      snprintf(err, errlen, "config errors.%s: status must be 200..599, code an integer, message "
               "a string under %zu bytes", name, sizeof c->errors[k].message);
      return RT_EINVAL;
    }
    if (st) c->errors[k].status = (int)json_integer_value(st);
    if (code) c->errors[k].code = (int)json_integer_value(code);
    if (msg) snprintf(c->errors[k].message, sizeof c->errors[k].message, "%s", json_string_value(msg));
  }
  return 0;
}

static int check_consistency(const emu_config *c, char *err, size_t errlen) {
  if (c->link_type != 1 && c->link_type != 101) {
    snprintf(err, errlen, "config key link_type must be 1 (Ethernet) or 101 (raw IP)");
    return RT_EINVAL;
  }
  if (c->prefix[0] && (c->prefix[0] != '/' || c->prefix[strlen(c->prefix) - 1] == '/')) {
    snprintf(err, errlen, "config key prefix must be empty or start with '/' and not end with it");
    return RT_EINVAL;
  }
  if (strncmp(c->prefix, "/__admin", 8) == 0) {
    snprintf(err, errlen, "config key prefix must not be under /__admin");
    return RT_EINVAL;
  }
  if ((c->email[0] != 0) != (c->key[0] != 0)) {
    snprintf(err, errlen, "config keys email and key go together");
    return RT_EINVAL;
  }
  return 0;
}

int emu_config_merge(emu_config *c, const json_t *obj, int at_start, char *err, size_t errlen) {
  const char *name;
  const json_t *v;
  emu_config next = *c;
  if (!json_is_object(obj)) {
    snprintf(err, errlen, "config must be a JSON object");
    return RT_EINVAL;
  }
  json_object_foreach((json_t *)obj, name, v) {
    int rc;
    if (strcmp(name, "errors") == 0) {
      if ((rc = merge_errors(&next, v, err, errlen))) return rc;
      continue;
    }
    const key *k = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !k; i++)
      if (strcmp(keys[i].name, name) == 0) k = &keys[i];
    if (!k) {
      snprintf(err, errlen, "unknown config key \"%.60s\"", name);
      return RT_EINVAL;
    }
    if (k->start_only && !at_start) {
      snprintf(err, errlen, "config key %s can only be set when the emulator starts", name);
      return RT_EINVAL;
    }
    if ((rc = set_key(&next, k, v, err, errlen))) return rc;
  }
  int rc = check_consistency(&next, err, errlen);
  if (rc == 0) *c = next;
  return rc;
}

json_t *emu_config_to_json(const emu_config *c) {
  json_t *o = json_object(), *errs = json_object();
  if (!o || !errs) {
    json_decref(o);
    json_decref(errs);
    return NULL;
  }
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const key *k = &keys[i];
    const char *base = (const char *)c + k->off;
    json_t *v = NULL;
    switch (k->type) {
    case T_BOOL: v = json_boolean(*(const int *)base); break;
    case T_NUM: v = json_real(*(const double *)base); break;
    case T_INT: v = json_integer(*(const int *)base); break;
    case T_LONG: v = json_integer(*(const long long *)base); break;
    case T_STR: v = json_string(base); break;
    case T_SECRET: v = json_string(*base ? "<set>" : ""); break; /* never echo credentials */
    case T_ENUM: v = json_string(k->choices[*(const int *)base]); break;
    }
    json_object_set_new(o, k->name, v);
  }
  for (int k = 0; k < EMU_E_COUNT; k++)
    json_object_set_new(errs, error_defaults[k].name,
                        json_pack("{s:i,s:i,s:s}", "status", c->errors[k].status, "code",
                                  c->errors[k].code, "message", c->errors[k].message));
  json_object_set_new(o, "errors", errs);
  return o;
}
