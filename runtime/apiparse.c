/* Parsing API responses: envelope, capture objects, statuses, times. */
#include "apiparse.h"
#include "err.h"
#include "spec.h"
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {
  "unknown", "pending", "running", "conversion_pending", "conversion_running",
  "success", "complete", "failed"};

int rt_status_parse(const char *s) {
  for (int i = 1; i < (int)(sizeof status_names / sizeof status_names[0]); i++)
    if (strcmp(s, status_names[i]) == 0) return i;
  return RT_ST_UNKNOWN;
}

const char *rt_status_name(int st) {
  return st >= 0 && st <= RT_ST_FAILED ? status_names[st] : "unknown";
}

int rt_status_terminal(int st) { return st == RT_ST_SUCCESS || st == RT_ST_COMPLETE || st == RT_ST_FAILED; }

int rt_status_holds_slot(int st) { return st == RT_ST_PENDING || st == RT_ST_RUNNING || st == RT_ST_UNKNOWN; }

void rt_envelope_free(rt_envelope *env) {
  json_decref(env->root);
  env->root = env->result = env->errors = NULL;
}

/* An error's code as a long; a code that is not a number, or out of range, is 0. */
static long error_code(const json_t *code) {
  if (json_is_integer(code)) {
    json_int_t v = json_integer_value(code);
    return v >= LONG_MIN && v <= LONG_MAX ? (long)v : 0;
  }
  double d = json_number_value(code); /* 0 for non-numbers */
  return d >= -1e15 && d <= 1e15 ? (long)d : 0;
}

/* "Authentication error (10000); ..." from errors[] (and nested error_chain). */
static void join_errors(const json_t *errors, char *buf, size_t size, long *first_code) {
  size_t i, used = 0;
  json_t *e;
  buf[0] = 0;
  json_array_foreach(errors, i, e) {
    const char *msg = json_string_value(json_object_get(e, "message"));
    json_t *code = json_object_get(e, "code");
    long c = error_code(code);
    if (i == 0 && first_code) *first_code = c;
    int n = snprintf(buf + used, size - used, "%s%s (%ld)", i ? "; " : "", msg ? msg : "error", c);
    if (n < 0 || (size_t)n >= size - used) break;
    used += (size_t)n;
    const json_t *chain = json_object_get(e, "error_chain");
    if (json_is_array(chain) && json_array_size(chain) && used + 4 < size) {
      char inner[160];
      join_errors(chain, inner, sizeof inner, NULL);
      n = snprintf(buf + used, size - used, ": %s", inner);
      if (n < 0 || (size_t)n >= size - used) break;
      used += (size_t)n;
    }
  }
}

int rt_envelope_parse(const char *body, size_t len, rt_envelope *env) {
  memset(env, 0, sizeof *env);
  json_error_t jerr;
  if (!body || len == 0) {
    snprintf(env->message, sizeof env->message, "empty response body");
    return RT_EPROTO;
  }
  env->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!env->root) {
    snprintf(env->message, sizeof env->message, "response is not JSON (%s at byte %d)", jerr.text, jerr.position);
    return RT_EPROTO;
  }
  json_t *success = json_object_get(env->root, "success");
  if (!json_is_object(env->root) || !json_is_boolean(success)) {
    snprintf(env->message, sizeof env->message, "response is not an API envelope (no boolean 'success')");
    return RT_EPROTO;
  }
  env->success = json_is_true(success);
  env->result = json_object_get(env->root, "result");
  json_t *errors = json_object_get(env->root, "errors");
  if (json_is_array(errors)) env->errors = errors;
  if (!env->success) {
    if (env->errors && json_array_size(env->errors)) join_errors(env->errors, env->message, sizeof env->message, &env->cf_code);
    else snprintf(env->message, sizeof env->message, "the API reported failure without an error message");
  }
  return 0;
}

const char *rt_error_field(const json_t *errors, char *buf, size_t size) {
  const char *ptr = json_string_value(json_object_get(json_object_get(json_array_get(errors, 0), "source"), "pointer"));
  if (!ptr || size == 0) return NULL;
  size_t n = 0;
  for (const char *p = ptr[0] == '/' ? ptr + 1 : ptr; *p && n + 1 < size; p++) {
    unsigned char ch = (unsigned char)*p;
    if (!(isalnum(ch) || ch == '_' || ch == '/')) return NULL; /* not a field path we can name */
    buf[n++] = ch == '/' ? '.' : (char)ch;
  }
  buf[n] = 0;
  return n ? buf : NULL;
}

int rt_id_valid(const char *id) {
  if (!id || strlen(id) != 32) return 0;
  for (const char *p = id; *p; p++)
    if (!isxdigit((unsigned char)*p)) return 0;
  return 1;
}

static const char *str_field(const json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

int rt_capinfo_parse(const json_t *obj, rt_capinfo *out, char *why, size_t whylen) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(obj)) { snprintf(why, whylen, "capture is not an object"); return RT_EPROTO; }
  const char *id = str_field(obj, "id"), *type = str_field(obj, "type"), *status = str_field(obj, "status");
  if (!rt_id_valid(id)) { snprintf(why, whylen, "capture id is missing or not 32 hex digits"); return RT_EPROTO; }
  if (!type || (strcmp(type, "simple") && strcmp(type, "full"))) {
    snprintf(why, whylen, "capture %s has no valid type", id);
    return RT_EPROTO;
  }
  if (!status) { snprintf(why, whylen, "capture %s has no status", id); return RT_EPROTO; }
  snprintf(out->id, sizeof out->id, "%s", id);
  out->type = type[0] == 's' ? RT_CAP_SIMPLE : RT_CAP_FULL;
  out->status = rt_status_parse(status);
  snprintf(out->status_raw, sizeof out->status_raw, "%s", status);
  const char *submitted = str_field(obj, "submitted");
  if (submitted) rt_time_parse(submitted, &out->submitted);
  json_t *tl = json_object_get(obj, "time_limit");
  double limit = json_number_value(tl); /* outside the API's range: unknown, never a timer */
  if (limit > 0 && limit <= RT_TIME_LIMIT_FULL_MAX) out->time_limit = limit;
  const char *colo = str_field(obj, "colo_name");
  if (!colo) colo = str_field(obj, "colo");
  if (colo) snprintf(out->colo, sizeof out->colo, "%s", colo);
  return 0;
}

int rt_time_parse(const char *s, double *epoch) {
  struct tm tm = {0};
  int n = 0;
  if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec, &n) != 6 || n < 19)
    return RT_EINVAL;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return RT_EINVAL;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const char *p = s + n;
  double frac = 0;
  if (*p == '.') {
    double scale = 0.1;
    if (!isdigit((unsigned char)p[1])) return RT_EINVAL;
    for (p++; isdigit((unsigned char)*p); p++, scale /= 10) frac += (*p - '0') * scale;
  }
  long offset = 0;
  if (*p == 'Z' || *p == 'z') p++;
  else if (*p == '+' || *p == '-') {
    int oh, om, m = 0;
    if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 || oh > 23 || om > 59) return RT_EINVAL;
    offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
    p += 6;
  } else return RT_EINVAL;
  if (*p) return RT_EINVAL;
  *epoch = (double)timegm(&tm) - (double)offset + frac;
  return 0;
}

void rt_time_format(double epoch, char *buf, size_t size) {
  /* years 1..9999 only: anything else (NaN, a hostile journal row) is not a time, and would
   * overflow the conversions below */
  if (!(epoch >= -62135596800.0 && epoch < 253402300800.0)) {
    snprintf(buf, size, "(not a time)");
    return;
  }
  time_t secs = (time_t)floor(epoch);
  long usec = (long)((epoch - (double)secs) * 1e6 + 0.5);
  if (usec >= 1000000) { secs++; usec -= 1000000; }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, size, "%s.%06ldZ", base, usec);
}

const json_t *rt_capinfo_next(const json_t *list, size_t *i, rt_capinfo *info) {
  char why[160];
  while (*i < json_array_size(list)) {
    const json_t *item = json_array_get(list, (*i)++);
    if (rt_capinfo_parse(item, info, why, sizeof why) == 0) return item;
  }
  return NULL;
}
