/* Create-request parsing and validation shared by the client (strict rules) and the emulator
 * (server rules). Every message names the field, the rule and the value, and never carries the
 * query part of a destination_conf (R2 secrets). Reference: runtime/API.md#4-create-request, #12-unknowns. */
#include "spec.h"
#include "err.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void rt_spec_rules_client(rt_spec_rules *r) {
  *r = (rt_spec_rules){.max_time_limit_full = RT_TIME_LIMIT_FULL_MAX,
                       .reject_unknown_keys = 1,
                       .integers_only = 1,
                       .filter_ranges = 1,
                       .ip_literals = 1,
                       .check_destination_form = 1};
}

void rt_spec_rules_server(rt_spec_rules *r) {
  *r = (rt_spec_rules){.max_time_limit_full = RT_TIME_LIMIT_FULL_MAX, .accept_colo_alias = 1};
}

/* ---- messages ---- */

static int fail(rt_specerr *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(rt_specerr *err, const char *field, const char *fmt, ...) {
  if (err) {
    snprintf(err->field, sizeof err->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return RT_EINVAL;
}

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER:
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  default: return "null";
  }
}

/* A number as a user would write it: 500, 1.5, 1e+30. */
static const char *fmt_num(double v, char *buf, size_t size) {
  if (v == floor(v) && fabs(v) < 1e15)
    snprintf(buf, size, "%.0f", v);
  else
    snprintf(buf, size, "%.15g", v);
  return buf;
}

/* A string value for a message: quoted, cut short so a hostile value cannot flood logs. */
static const char *fmt_str(const char *s, char *buf, size_t size) {
  size_t n = strlen(s);
  if (n > 48)
    snprintf(buf, size, "\"%.45s...\"", s);
  else
    snprintf(buf, size, "\"%s\"", s);
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  return buf;
}

/* ---- typed field readers ---- */

/* Reads a number field. Returns 1 when present, 0 when absent, RT_EINVAL on a wrong type or a
 * value outside [min, max]. `what` finishes the range sentence ("" or " for simple captures"). */
static int get_number(const json_t *obj, const char *key, const char *field, double min, double max,
                      const char *what, int check_range, const rt_spec_rules *rules, double *out,
                      rt_specerr *err) {
  const json_t *v = json_object_get(obj, key);
  char num[64], lo[32], hi[32];
  if (!v) return 0;
  if (!json_is_number(v))
    return fail(err, field, "%s must be a number (got %s)", field, json_type_name(v));
  double d = json_number_value(v);
  if (rules->integers_only && d != floor(d))
    return fail(err, field, "%s must be an integer (got %s)", field, fmt_num(d, num, sizeof num));
  if (check_range && (d < min || d > max))
    return fail(err, field, "%s must be between %s and %s%s (got %s)", field,
                fmt_num(min, lo, sizeof lo), fmt_num(max, hi, sizeof hi), what,
                fmt_num(d, num, sizeof num));
  *out = d;
  return 1;
}

/* Reads a string field into buf (size bytes). Returns 1 present, 0 absent, RT_EINVAL. */
static int get_string(const json_t *obj, const char *key, const char *field, char *buf,
                      size_t size, rt_specerr *err) {
  const json_t *v = json_object_get(obj, key);
  if (!v) return 0;
  if (!json_is_string(v))
    return fail(err, field, "%s must be a string (got %s)", field, json_type_name(v));
  if (json_string_length(v) >= size)
    return fail(err, field, "%s is too long (at most %zu characters, got %zu)", field, size - 1,
                json_string_length(v));
  if (strlen(json_string_value(v)) != json_string_length(v))
    return fail(err, field, "%s must not contain NUL characters", field);
  memcpy(buf, json_string_value(v), json_string_length(v) + 1);
  return 1;
}

/* ---- unknown keys ---- */

static const char *const simple_keys[] = {"system", "type", "time_limit", "packet_limit",
                                          "filter_v1", "offset_time", NULL};
static const char *const full_keys[] = {"system", "type", "time_limit", "packet_limit",
                                        "byte_limit", "colo_name", "destination_conf",
                                        "filter_v1", NULL};
static const char *const filter_keys[] = {"source_address", "destination_address", "source_port",
                                          "destination_port", "protocol", NULL};

static int key_listed(const char *key, const char *const *keys) {
  for (; *keys; keys++)
    if (strcmp(*keys, key) == 0) return 1;
  return 0;
}

static int check_unknown_keys(const json_t *body, int type, const rt_spec_rules *rules,
                              rt_specerr *err) {
  const char *key;
  const json_t *v;
  char buf[64];
  const char *tname = type == RT_CAP_SIMPLE ? "simple" : "full";
  json_object_foreach((json_t *)body, key, v) {
    if (key_listed(key, type == RT_CAP_SIMPLE ? simple_keys : full_keys)) continue;
    if (type == RT_CAP_FULL && rules->accept_colo_alias && strcmp(key, "colo") == 0) continue;
    if (key_listed(key, simple_keys) || key_listed(key, full_keys))
      return fail(err, key, "%s is not allowed for %s captures", key, tname);
    return fail(err, key, "unknown field %s (not in the %s capture schema)",
                fmt_str(key, buf, sizeof buf), tname);
  }
  return 0;
}

/* ---- filter_v1 ---- */

static int check_address(const char *addr, const char *field, const rt_spec_rules *rules,
                         rt_specerr *err) {
  unsigned char bin[16];
  char buf[64];
  int v4 = inet_pton(AF_INET, addr, bin) == 1;
  if (rules->ipv4_only && !v4)
    return fail(err, field, "%s must be an IPv4 address (got %s)", field,
                fmt_str(addr, buf, sizeof buf));
  if (rules->ip_literals && !v4 && inet_pton(AF_INET6, addr, bin) != 1)
    return fail(err, field, "%s must be an IPv4 or IPv6 address (got %s)", field,
                fmt_str(addr, buf, sizeof buf));
  return 0;
}

static int parse_filter(const json_t *f, const rt_spec_rules *rules, rt_filter *out,
                        rt_specerr *err) {
  static const struct {
    const char *key, *field;
    unsigned bit;
    double max;
  } nums[] = {
      {"source_port", "filter_v1.source_port", RT_F_SOURCE_PORT, 65535},
      {"destination_port", "filter_v1.destination_port", RT_F_DESTINATION_PORT, 65535},
      {"protocol", "filter_v1.protocol", RT_F_PROTOCOL, 255},
  };
  static const struct {
    const char *key, *field;
    unsigned bit;
  } addrs[] = {
      {"source_address", "filter_v1.source_address", RT_F_SOURCE_ADDRESS},
      {"destination_address", "filter_v1.destination_address", RT_F_DESTINATION_ADDRESS},
  };
  double *num_out[] = {&out->source_port, &out->destination_port, &out->protocol};
  char *addr_out[] = {out->source_address, out->destination_address};
  const char *key;
  const json_t *v;
  char buf[64];
  int rc;

  if (!json_is_object(f))
    return fail(err, "filter_v1", "filter_v1 must be an object (got %s)", json_type_name(f));
  if (rules->reject_unknown_keys) {
    json_object_foreach((json_t *)f, key, v) {
      if (!key_listed(key, filter_keys))
        return fail(err, "filter_v1", "filter_v1 has an unknown member %s",
                    fmt_str(key, buf, sizeof buf));
    }
  }
  for (unsigned i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
    rc = get_string(f, addrs[i].key, addrs[i].field, addr_out[i], sizeof out->source_address, err);
    if (rc < 0) return rc;
    if (rc == 0) continue;
    if ((rc = check_address(addr_out[i], addrs[i].field, rules, err))) return rc;
    out->present |= addrs[i].bit;
  }
  unsigned char bin[16];
  if (rules->ip_literals && (out->present & RT_F_SOURCE_ADDRESS) && (out->present & RT_F_DESTINATION_ADDRESS) &&
      (inet_pton(AF_INET, out->source_address, bin) == 1) != (inet_pton(AF_INET, out->destination_address, bin) == 1))
    return fail(err, "filter_v1.destination_address", "filter_v1 mixes address families: source_address %s and "
                "destination_address %s (a packet is IPv4 or IPv6, never both)", out->source_address,
                out->destination_address);
  for (unsigned i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    rc = get_number(f, nums[i].key, nums[i].field, 0, nums[i].max, "", rules->filter_ranges, rules,
                    num_out[i], err);
    if (rc < 0) return rc;
    if (rc) out->present |= nums[i].bit;
  }
  return 0;
}

/* ---- offset_time (RFC 3339) ---- */

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int read_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++, (*p)++) {
    if (!isdigit((unsigned char)**p)) return -1;
    v = v * 10 + (**p - '0');
  }
  *out = v;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (no timegm: it is not in C11/POSIX). */
static long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Parses YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). Returns 0 and the epoch seconds. */
static int parse_rfc3339(const char *s, time_t *out) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
  const char *p = s;
  if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) || *p++ != '-' ||
      read_digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
    return -1;
  p++;
  if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi) || *p++ != ':' ||
      read_digits(&p, 2, &se))
    return -1;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p)) return -1;
    while (isdigit((unsigned char)*p)) p++;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p++ == '-' ? -1 : 1;
    if (read_digits(&p, 2, &oh) || *p++ != ':' || read_digits(&p, 2, &om) || oh > 23 || om > 59)
      return -1;
  } else {
    return -1;
  }
  if (*p) return -1;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return -1;
  if (d > mdays[mo - 1] + (mo == 2 && is_leap(y))) return -1;
  long long t = days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + se;
  t -= sign * (oh * 3600 + om * 60);
  *out = (time_t)t;
  return 0;
}

static int parse_offset_time(const json_t *body, time_t now, rt_spec *out, rt_specerr *err) {
  char buf[64];
  int rc = get_string(body, "offset_time", "offset_time", out->offset_time,
                      sizeof out->offset_time, err);
  if (rc <= 0) return rc;
  if (parse_rfc3339(out->offset_time, &out->offset_epoch) != 0)
    return fail(err, "offset_time", "offset_time must be an RFC 3339 date-time (got %s)",
                fmt_str(out->offset_time, buf, sizeof buf));
  if (out->offset_epoch > now)
    return fail(err, "offset_time", "offset_time must not be in the future (got %s)",
                fmt_str(out->offset_time, buf, sizeof buf));
  if (out->offset_epoch < now - RT_OFFSET_TIME_MAX_AGE)
    return fail(err, "offset_time", "offset_time must be within the last 24 hours (got %s)",
                fmt_str(out->offset_time, buf, sizeof buf));
  out->has_offset_time = 1;
  return 0;
}

/* ---- destination_conf ---- */

char *rt_spec_redact_destination(const char *uri, char *buf, size_t size) {
  if (!buf || size == 0) return buf;
  if (!uri) uri = "";
  const char *q = strchr(uri, '?');
  size_t keep = q ? (size_t)(q - uri) : strlen(uri);
  const char *tail = q ? "?<redacted>" : "";
  size_t tail_len = strlen(tail);
  /* Cut the visible part so the redaction marker always fits. */
  if (keep + tail_len + 1 > size) keep = size > tail_len + 1 ? size - tail_len - 1 : 0;
  memcpy(buf, uri, keep);
  snprintf(buf + keep, size - keep, "%s", size - keep > tail_len ? tail : "");
  return buf;
}

/* Does a query parameter's name (percent-decoded, any case) suggest a secret? */
static int secret_param(const char *name, size_t len) {
  static const char *const words[] = {"key", "secret", "token", "pass", "sig", "credential",
                                      "session", "auth"};
  char plain[128];
  size_t n = 0;
  for (size_t i = 0; i < len && n < sizeof plain; i++) {
    if (name[i] == '%' && i + 2 < len && isxdigit((unsigned char)name[i + 1]) &&
        isxdigit((unsigned char)name[i + 2])) {
      char hex[3] = {name[i + 1], name[i + 2], 0};
      plain[n++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      plain[n++] = name[i];
    }
  }
  for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
    size_t wl = strlen(words[w]);
    for (size_t i = 0; i + wl <= n; i++)
      if (strncasecmp(plain + i, words[w], wl) == 0) return 1;
  }
  return 0;
}

/* Appends len bytes of s to buf (n used), as many as fit. Returns the new length. */
static size_t append(char *buf, size_t size, size_t n, const char *s, size_t len) {
  if (n + 1 >= size) return n;
  if (len > size - n - 1) len = size - n - 1;
  memcpy(buf + n, s, len);
  buf[n + len] = 0;
  return n + len;
}

char *rt_spec_redact_secrets(const char *uri, char *buf, size_t size) {
  static const char hidden[] = "<redacted>";
  if (!buf || size == 0) return buf;
  if (!uri) uri = "";
  buf[0] = 0;
  size_t n = 0;
  const char *p = uri, *authority = strstr(uri, "://");
  if (authority) { /* scheme://user:password@host: the userinfo goes whole */
    authority += 3;
    const char *end = authority + strcspn(authority, "/?#"), *at = NULL;
    for (const char *c = authority; c < end; c++)
      if (*c == '@') at = c;
    if (at) {
      n = append(buf, size, n, uri, (size_t)(authority - uri));
      n = append(buf, size, n, hidden, sizeof hidden - 1);
      p = at;
    }
  }
  size_t head = strcspn(p, "?#");
  n = append(buf, size, n, p, head);
  /* the query and the fragment, parameter by parameter */
  for (p += head; *p;) {
    n = append(buf, size, n, p, 1); /* '?', '&' or '#' */
    p++;
    size_t len = strcspn(p, "&#");
    const char *eq = memchr(p, '=', len);
    if (eq && secret_param(p, (size_t)(eq - p))) {
      n = append(buf, size, n, p, (size_t)(eq - p) + 1);
      n = append(buf, size, n, hidden, sizeof hidden - 1);
    } else {
      n = append(buf, size, n, p, len);
    }
    p += len;
  }
  return buf;
}

static int bucket_char(char c) {
  return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

int rt_spec_check_destination(const char *uri, const char *field, rt_specerr *err) {
  char red[96];
  static const char *const forms =
      "s3://BUCKET[/dir][?query], gs://BUCKET[/dir] or r2://BUCKET?query";
  if (!uri || !*uri) return fail(err, field, "%s must not be empty", field);
  rt_spec_redact_destination(uri, red, sizeof red);
  const char *rest = NULL;
  int scheme = 0; /* 1 s3, 2 gs, 3 r2 */
  if (strncmp(uri, "s3://", 5) == 0) scheme = 1;
  else if (strncmp(uri, "gs://", 5) == 0) scheme = 2;
  else if (strncmp(uri, "r2://", 5) == 0) scheme = 3;
  if (!scheme)
    return fail(err, field, "%s must be a bucket URI %s (got \"%s\")", field, forms, red);
  rest = uri + 5;
  size_t blen = 0;
  while (bucket_char(rest[blen])) blen++;
  if (blen == 0 || (rest[blen] && rest[blen] != '/' && rest[blen] != '?'))
    return fail(err, field, "%s must name a bucket: %s (got \"%s\")", field, forms, red);
  for (const char *p = rest; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f)
      return fail(err, field, "%s must not contain spaces or control characters (got \"%s\")",
                  field, red);
  const char *q = strchr(rest, '?');
  if (scheme == 2 && q)
    return fail(err, field, "%s: gs:// URIs take no query string (got \"%s\")", field, red);
  if (scheme == 3 && (!q || !q[1]))
    return fail(err, field, "%s: r2:// URIs need ?account-id=...&access-key-id=...&"
                "secret-access-key=... (got \"%s\")", field, red);
  return 0;
}

/* ---- the request ---- */

static int parse_type(const json_t *body, int *type, rt_specerr *err) {
  char buf[64];
  const json_t *t = json_object_get(body, "type");
  if (!t) return fail(err, "type", "type is required (\"simple\" or \"full\")");
  if (!json_is_string(t))
    return fail(err, "type", "type must be a string (got %s)", json_type_name(t));
  if (strcmp(json_string_value(t), "simple") == 0) *type = RT_CAP_SIMPLE;
  else if (strcmp(json_string_value(t), "full") == 0) *type = RT_CAP_FULL;
  else
    return fail(err, "type", "type must be \"simple\" or \"full\" (got %s)",
                fmt_str(json_string_value(t), buf, sizeof buf));
  return 0;
}

static int parse_system(const json_t *body, rt_specerr *err) {
  char buf[64];
  const json_t *s = json_object_get(body, "system");
  if (!s) return fail(err, "system", "system is required (\"magic-transit\")");
  if (!json_is_string(s))
    return fail(err, "system", "system must be a string (got %s)", json_type_name(s));
  if (strcmp(json_string_value(s), "magic-transit") != 0)
    return fail(err, "system", "system must be \"magic-transit\" (got %s)",
                fmt_str(json_string_value(s), buf, sizeof buf));
  return 0;
}

static int parse_limits(const json_t *body, const rt_spec_rules *rules, rt_spec *out,
                        rt_specerr *err) {
  int simple = out->type == RT_CAP_SIMPLE;
  double tmax = simple ? RT_TIME_LIMIT_SIMPLE_MAX : rules->max_time_limit_full;
  int rc = get_number(body, "time_limit", "time_limit", 1, tmax,
                      simple ? " for simple captures" : " for full captures", 1, rules,
                      &out->time_limit, err);
  if (rc < 0) return rc;
  if (rc == 0)
    return fail(err, "time_limit", "time_limit is required (seconds, 1 to %.0f)", tmax);
  rc = get_number(body, "packet_limit", "packet_limit", 1, RT_PACKET_LIMIT_MAX, "", 1, rules,
                  &out->packet_limit, err);
  if (rc < 0) return rc;
  out->has_packet_limit = rc;
  if (simple && !rc)
    return fail(err, "packet_limit", "packet_limit is required for simple captures (1 to %d)",
                RT_PACKET_LIMIT_MAX);
  if (simple) return 0; /* byte_limit is not in the simple schema: unknown-key rules apply */
  rc = get_number(body, "byte_limit", "byte_limit", 1, RT_BYTE_LIMIT_MAX, "", 1, rules,
                  &out->byte_limit, err);
  if (rc < 0) return rc;
  out->has_byte_limit = rc;
  return 0;
}

/* Full captures: colo_name (or its alias colo) and destination_conf, both required. */
static int parse_full_target(const json_t *body, const rt_spec_rules *rules, rt_spec *out,
                             rt_specerr *err) {
  const char *colo_key = "colo_name";
  if (!json_object_get(body, "colo_name") && rules->accept_colo_alias &&
      json_object_get(body, "colo"))
    colo_key = "colo";
  int rc = get_string(body, colo_key, colo_key, out->colo_name, sizeof out->colo_name, err);
  if (rc < 0) return rc;
  if (rc == 0) return fail(err, "colo_name", "colo_name is required for full captures");
  if (!out->colo_name[0]) return fail(err, colo_key, "%s must not be empty", colo_key);

  const json_t *d = json_object_get(body, "destination_conf");
  if (!d)
    return fail(err, "destination_conf", "destination_conf is required for full captures");
  if (!json_is_string(d))
    return fail(err, "destination_conf", "destination_conf must be a string (got %s)",
                json_type_name(d));
  const char *uri = json_string_value(d);
  if (!*uri) return fail(err, "destination_conf", "destination_conf must not be empty");
  if (strlen(uri) != json_string_length(d))
    return fail(err, "destination_conf", "destination_conf must not contain NUL characters");
  if (rules->check_destination_form &&
      (rc = rt_spec_check_destination(uri, "destination_conf", err)))
    return rc;
  out->destination_conf = strdup(uri);
  return out->destination_conf ? 0 : RT_ENOMEM;
}

static int parse_body(const json_t *body, const rt_spec_rules *rules, time_t now, rt_spec *out,
                      rt_specerr *err) {
  int rc;
  if (!body) return fail(err, "", "request body must be a JSON object (got nothing)");
  if (!json_is_object(body))
    return fail(err, "", "request body must be a JSON object (got %s)", json_type_name(body));
  if ((rc = parse_type(body, &out->type, err)) || (rc = parse_system(body, err))) return rc;
  if (rules->reject_unknown_keys && (rc = check_unknown_keys(body, out->type, rules, err)))
    return rc;
  if ((rc = parse_limits(body, rules, out, err))) return rc;
  if (out->type == RT_CAP_FULL && (rc = parse_full_target(body, rules, out, err))) return rc;
  const json_t *f = json_object_get(body, "filter_v1");
  if (f) {
    if ((rc = parse_filter(f, rules, &out->filter, err))) return rc;
    out->has_filter = 1;
  }
  if (out->type == RT_CAP_SIMPLE && (rc = parse_offset_time(body, now, out, err))) return rc;
  return 0;
}

int rt_spec_parse(const json_t *body, const rt_spec_rules *rules, time_t now, rt_spec *out,
                  rt_specerr *err) {
  memset(out, 0, sizeof *out);
  if (err) memset(err, 0, sizeof *err);
  int rc = parse_body(body, rules, now, out, err);
  if (rc) {
    if (rc == RT_ENOMEM) fail(err, "", "out of memory");
    rt_spec_free(out);
  }
  return rc;
}

/* ---- serialisation ---- */

static json_t *num_json(double v) {
  if (v == floor(v) && fabs(v) < 9e15) return json_integer((json_int_t)v);
  return json_real(v);
}

/* Sets key to a new value, taking the reference; reports failure once for the whole object. */
static int set_new(json_t *obj, const char *key, json_t *v) {
  return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *filter_to_json(const rt_filter *f) {
  json_t *o = json_object();
  int bad = !o;
  if (bad) return NULL;
  if (f->present & RT_F_SOURCE_ADDRESS)
    bad |= set_new(o, "source_address", json_string(f->source_address));
  if (f->present & RT_F_DESTINATION_ADDRESS)
    bad |= set_new(o, "destination_address", json_string(f->destination_address));
  if (f->present & RT_F_SOURCE_PORT) bad |= set_new(o, "source_port", num_json(f->source_port));
  if (f->present & RT_F_DESTINATION_PORT)
    bad |= set_new(o, "destination_port", num_json(f->destination_port));
  if (f->present & RT_F_PROTOCOL) bad |= set_new(o, "protocol", num_json(f->protocol));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *rt_spec_to_json(const rt_spec *s) {
  json_t *o = json_object();
  int bad = !o;
  if (bad) return NULL;
  bad |= set_new(o, "system", json_string("magic-transit"));
  bad |= set_new(o, "type", json_string(s->type == RT_CAP_FULL ? "full" : "simple"));
  bad |= set_new(o, "time_limit", num_json(s->time_limit));
  if (s->has_packet_limit) bad |= set_new(o, "packet_limit", num_json(s->packet_limit));
  if (s->type == RT_CAP_FULL) {
    if (s->has_byte_limit) bad |= set_new(o, "byte_limit", num_json(s->byte_limit));
    bad |= set_new(o, "colo_name", json_string(s->colo_name));
    if (s->destination_conf)
      bad |= set_new(o, "destination_conf", json_string(s->destination_conf));
  }
  if (s->has_filter) bad |= set_new(o, "filter_v1", filter_to_json(&s->filter));
  if (s->type == RT_CAP_SIMPLE && s->has_offset_time)
    bad |= set_new(o, "offset_time", json_string(s->offset_time));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

void rt_spec_free(rt_spec *s) {
  if (!s) return;
  free(s->destination_conf);
  memset(s, 0, sizeof *s);
}
