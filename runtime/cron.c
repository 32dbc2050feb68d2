/* Cron expressions: parsing into bitsets, and the next firing time in UTC or local time.
 * The search walks wall-clock civil time (year, month, day, hour, minute) field by field, then
 * maps the wall time it found to an instant; in local time that mapping is where DST is handled. */
#include "cron.h"
#include "err.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

_Static_assert(sizeof(time_t) >= 8, "rt_cron_next needs a 64-bit time_t");

#define SEARCH_YEARS 400 /* the Gregorian calendar repeats every 400 years, weekdays included */
#define LAST_YEAR 9999
#define ERR_TEXT_MAX 32  /* longest piece of the input quoted in an error message */

/* ---- parsing ---- */

typedef struct errbuf { char *buf; size_t len; } errbuf;

__attribute__((format(printf, 2, 3)))
static int fail(errbuf *e, const char *fmt, ...) {
  if (e->buf && e->len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
  }
  return RT_EINVAL;
}

/* Length of s..end to quote in a message. */
static int quoted(const char *s, const char *end) {
  return end - s > ERR_TEXT_MAX ? ERR_TEXT_MAX : (int)(end - s);
}

static const char *skip_space(const char *p) {
  while (isspace((unsigned char)*p)) p++;
  return p;
}

static const char *skip_word(const char *p) {
  while (*p && !isspace((unsigned char)*p)) p++;
  return p;
}

typedef struct field {
  const char *name;
  int min, max;      /* accepted values; day-of-week accepts 7 for Sunday */
  int star_max;      /* top of '*' and of "A/STEP": 6 for day-of-week, so Sunday is not doubled */
  const char *names; /* three-letter names of min, min+1, ... back to back, or NULL */
} field;

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, NFIELDS };

static const field fields[NFIELDS] = {
  {"minute", 0, 59, 59, NULL},
  {"hour", 0, 23, 23, NULL},
  {"day-of-month", 1, 31, 31, NULL},
  {"month", 1, 12, 12, "janfebmaraprmayjunjulaugsepoctnovdec"},
  {"day-of-week", 0, 7, 6, "sunmontuewedthufrisat"},
};

/* Reads a decimal number at *p (before end), saturating so that huge inputs stay huge. */
static long read_number(const char **p, const char *end) {
  long n = 0;
  for (; *p < end && isdigit((unsigned char)**p); (*p)++)
    if (n < 1000000) n = n * 10 + (**p - '0');
  return n;
}

/* Reads a number or a name at *p and advances *p past it. */
static int parse_value(const field *f, const char **p, const char *end, int *v, errbuf *e) {
  const char *s = *p;
  if (s < end && isdigit((unsigned char)*s)) {
    long n = read_number(p, end);
    if (n < f->min || n > f->max)
      return fail(e, "%s field: %.*s is out of range %d-%d", f->name, quoted(s, *p), s, f->min,
                  f->max);
    *v = (int)n;
    return 0;
  }
  if (s < end && isalpha((unsigned char)*s)) {
    while (*p < end && isalpha((unsigned char)**p)) (*p)++;
    if (f->names && *p - s == 3)
      for (int i = 0; f->names[3 * i]; i++)
        if (strncasecmp(s, f->names + 3 * i, 3) == 0) {
          *v = f->min + i;
          return 0;
        }
    return fail(e, "%s field: unknown name '%.*s'", f->name, quoted(s, *p), s);
  }
  if (s == end) return fail(e, "%s field: expected a number after '-'", f->name);
  return fail(e, "%s field: expected a number at '%.*s'", f->name, quoted(s, end), s);
}

/* One list item: "*", "N", "A-B", each optionally followed by "/STEP". */
static int parse_item(const field *f, const char *s, const char *end, uint64_t *bits, errbuf *e) {
  const char *p = s;
  int lo, hi, step = 1, single = 0, rc;
  if (*p == '*') {
    lo = f->min;
    hi = f->star_max;
    p++;
  } else {
    if ((rc = parse_value(f, &p, end, &lo, e)) != 0) return rc;
    hi = lo;
    single = 1;
    if (p < end && *p == '-') {
      single = 0;
      p++;
      if ((rc = parse_value(f, &p, end, &hi, e)) != 0) return rc;
      if (hi < lo) return fail(e, "%s field: range %.*s is reversed", f->name, quoted(s, p), s);
    }
  }
  if (p < end && *p == '/') {
    const char *num = ++p;
    int width = f->star_max - f->min + 1;
    if (p == end || !isdigit((unsigned char)*p))
      return fail(e, "%s field: expected a step after '/' in '%.*s'", f->name, quoted(s, end), s);
    long n = read_number(&p, end);
    if (n < 1 || n > width)
      return fail(e, "%s field: step %.*s is out of range 1-%d", f->name, quoted(num, p), num,
                  width);
    step = (int)n;
    if (single && lo < f->star_max) hi = f->star_max; /* "A/STEP" */
  }
  if (p != end)
    return fail(e, "%s field: unexpected '%c' in '%.*s'", f->name, *p, quoted(s, end), s);
  for (int v = lo; v <= hi; v += step) *bits |= UINT64_C(1) << v;
  return 0;
}

static int parse_field(const field *f, const char *s, const char *end, uint64_t *bits, errbuf *e) {
  *bits = 0;
  for (;;) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *item_end = comma ? comma : end;
    if (item_end == s) return fail(e, "%s field: empty list item", f->name);
    int rc = parse_item(f, s, item_end, bits, e);
    if (rc || !comma) return rc;
    s = comma + 1;
  }
}

static const int max_month_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static int parse_fields(const char *p, rt_cron *c, errbuf *e) {
  const char *start[NFIELDS], *stop[NFIELDS];
  size_t n = 0;
  for (p = skip_space(p); *p; p = skip_space(p), n++) {
    if (n < NFIELDS) start[n] = p;
    p = skip_word(p);
    if (n < NFIELDS) stop[n] = p;
  }
  if (n != NFIELDS) return fail(e, "expected 5 fields, got %zu", n);

  uint64_t bits[NFIELDS];
  for (int i = 0; i < NFIELDS; i++) {
    int rc = parse_field(&fields[i], start[i], stop[i], &bits[i], e);
    if (rc) return rc;
  }
  if (bits[F_DOW] & (1u << 7)) bits[F_DOW] = (bits[F_DOW] | 1u) & ~(1u << 7); /* 7 is Sunday */
  c->minute = bits[F_MINUTE];
  c->hour = (uint32_t)bits[F_HOUR];
  c->dom = (uint32_t)bits[F_DOM];
  c->month = (uint16_t)bits[F_MONTH];
  c->dow = (uint8_t)bits[F_DOW];
  if (*start[F_DOM] == '*') c->flags |= RT_CRON_DOM_STAR;
  if (*start[F_DOW] == '*') c->flags |= RT_CRON_DOW_STAR;

  /* Only a restricted day-of-month that must match (day-of-week starred) can be impossible: a
   * starred day-of-month contains the 1st, and a restricted day-of-week matches every month. */
  if ((c->flags & RT_CRON_DOW_STAR) && !(c->flags & RT_CRON_DOM_STAR)) {
    for (int m = 1; m <= 12; m++)
      if ((c->month >> m & 1) && (c->dom & ((UINT64_C(1) << (max_month_days[m] + 1)) - 2)))
        return 0;
    return fail(e, "day-of-month field: none of these days occurs in the selected months");
  }
  return 0;
}

/* "@every DURATION": one or more NUMBER UNIT pairs with no spaces between. */
static int parse_every(const char *p, rt_cron *c, errbuf *e) {
  p = skip_space(p);
  const char *end = skip_word(p);
  int64_t total = 0;
  if (p == end) return fail(e, "@every: missing duration");
  while (p < end) {
    const char *num = p;
    if (!isdigit((unsigned char)*p))
      return fail(e, "@every: expected a number at '%.*s'", quoted(p, end), p);
    long n = read_number(&p, end);
    const char *unit = p;
    while (p < end && !isdigit((unsigned char)*p)) p++;
    int64_t scale = 0;
    if (p - unit == 1) {
      switch (*unit) {
        case 's': scale = 1; break;
        case 'm': scale = 60; break;
        case 'h': scale = 3600; break;
        case 'd': scale = 86400; break;
        default: break;
      }
    }
    if (unit == p)
      return fail(e, "@every: missing unit after %.*s (use s, m, h or d)", quoted(num, p), num);
    if (!scale) return fail(e, "@every: unknown unit '%.*s'", quoted(unit, p), unit);
    /* n saturates at about 1e7, so n * scale cannot overflow before this check. */
    total += n * scale;
    if (total > RT_CRON_EVERY_MAX) return fail(e, "@every: duration is longer than 10 years");
  }
  if (*skip_space(end)) return fail(e, "@every: unexpected text after the duration");
  if (total < 1) return fail(e, "@every: duration must be at least 1s");
  c->every = total;
  return 0;
}

static const struct { const char *name, *fields; } macros[] = {
  {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
  {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
  {"@hourly", "0 * * * *"},
};

static int parse_macro(const char *p, rt_cron *c, errbuf *e) {
  const char *end = skip_word(p);
  size_t len = (size_t)(end - p);
  if (len == 6 && strncasecmp(p, "@every", 6) == 0) return parse_every(end, c, e);
  for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
    if (strlen(macros[i].name) != len || strncasecmp(p, macros[i].name, len) != 0) continue;
    if (*skip_space(end)) return fail(e, "unexpected text after %s", macros[i].name);
    return parse_fields(macros[i].fields, c, e);
  }
  return fail(e, "unknown macro '%.*s'", quoted(p, end), p);
}

int rt_cron_parse(const char *expr, rt_cron *out, char *err, size_t errlen) {
  errbuf e = {err, errlen};
  rt_cron c;
  memset(&c, 0, sizeof c);
  if (!expr) return fail(&e, "expected 5 fields, got 0");
  const char *p = skip_space(expr);
  /* "CRON_TZ=zone" as in cronie (robfig/cron also reads "TZ="); only UTC, because another zone
   * would mean switching the process's TZ. */
  static const char *const tz_keys[] = {"CRON_TZ=", "TZ="};
  for (int i = 0; i < 2; i++) {
    size_t klen = strlen(tz_keys[i]);
    if (strncmp(p, tz_keys[i], klen) != 0) continue;
    const char *zone = p + klen, *end = skip_word(zone);
    size_t zlen = (size_t)(end - zone);
    if (!((zlen == 3 && strncmp(zone, "UTC", 3) == 0) ||
          (zlen == 7 && strncmp(zone, "Etc/UTC", 7) == 0)))
      return fail(&e, "CRON_TZ: only UTC is supported, got '%.*s'", quoted(zone, end), zone);
    c.flags |= RT_CRON_UTC;
    p = skip_space(end);
    break;
  }
  int rc = *p == '@' ? parse_macro(p, &c, &e) : parse_fields(p, &c, &e);
  if (rc == 0) *out = c;
  return rc;
}

/* ---- calendar ---- */

/* A wall-clock minute in the proleptic Gregorian calendar. */
typedef struct civil { int64_t y; int mo, d, h, mi; } civil;

static int month_days(int64_t y, int m) {
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && !leap ? 28 : max_month_days[m];
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil; exact for negative years). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Wall-clock seconds: the epoch time the wall clock would show if the zone were UTC. */
static int64_t civil_seconds(const civil *w) {
  return days_from_civil(w->y, w->mo, w->d) * 86400 + w->h * 3600 + w->mi * 60;
}

static int64_t tm_seconds(const struct tm *tm) {
  return days_from_civil(tm->tm_year + INT64_C(1900), tm->tm_mon + 1, tm->tm_mday) * 86400 +
         tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
}

static void next_month(civil *w) {
  w->d = 1;
  w->h = w->mi = 0;
  if (++w->mo > 12) {
    w->mo = 1;
    w->y++;
  }
}

static void next_day(civil *w) {
  w->h = w->mi = 0;
  if (++w->d > month_days(w->y, w->mo)) next_month(w);
}

static void next_hour(civil *w) {
  w->mi = 0;
  if (++w->h > 23) next_day(w);
}

static void next_minute(civil *w) {
  if (++w->mi > 59) next_hour(w);
}

/* The lowest set bit of `bits` at or above `from`, or -1. */
static int next_bit(uint64_t bits, int from) {
  bits >>= from;
  return bits ? from + __builtin_ctzll(bits) : -1;
}

static int day_matches(const rt_cron *c, const civil *w) {
  int64_t z = days_from_civil(w->y, w->mo, w->d);
  int wday = (int)((z % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
  int dom = c->dom >> w->d & 1, dow = c->dow >> wday & 1;
  if (c->flags & (RT_CRON_DOM_STAR | RT_CRON_DOW_STAR)) return dom && dow;
  return dom || dow;
}

/* Advances *w to the first matching wall-clock minute at or after it, until last_year ends. */
static int next_match(const rt_cron *c, civil *w, int64_t last_year) {
  while (w->y <= last_year) {
    if (!(c->month >> w->mo & 1)) {
      next_month(w);
    } else if (!day_matches(c, w)) {
      next_day(w);
    } else {
      int h = next_bit(c->hour, w->h);
      if (h < 0) {
        next_day(w);
        continue;
      }
      if (h != w->h) {
        w->h = h;
        w->mi = 0;
      }
      int m = next_bit(c->minute, w->mi);
      if (m < 0) {
        next_hour(w);
        continue;
      }
      w->mi = m;
      return 0;
    }
  }
  return RT_ENOTFOUND;
}

/* ---- local time ---- */

/* The UTC offset (seconds east) in force at instant t. */
static int utc_offset(int64_t t, int64_t *off) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!localtime_r(&tt, &tm)) return RT_EINVAL;
  *off = tm_seconds(&tm) - t;
  return 0;
}

/* The instant at which the local clock first shows `wall` (wall-clock seconds). In a fall-back
 * overlap that is the earlier of two; in a spring-forward gap the clock never shows it, and the
 * answer is the first instant after the gap. Offsets are sampled a day either side: a zone
 * changes offset months apart, so at most one change lies between, and each candidate instant is
 * checked against the offset actually in force there. */
static int local_instant(int64_t wall, int64_t *when) {
  int64_t off[2], best = INT64_MAX;
  if (utc_offset(wall - 86400, &off[0]) || utc_offset(wall + 86400, &off[1])) return RT_EINVAL;
  for (int i = 0; i < 2; i++) {
    int64_t t = wall - off[i], o;
    if (utc_offset(t, &o)) return RT_EINVAL;
    if (o == off[i] && t < best) best = t;
  }
  if (best != INT64_MAX) {
    *when = best;
    return 0;
  }
  /* A gap: the offset rose from off[0] to off[1] at some instant in (lo, hi]; find it. */
  int64_t lo = wall - off[1], hi = wall - off[0], before;
  if (lo >= hi || utc_offset(lo, &before)) return RT_EINVAL; /* two changes within two days */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2, o;
    if (utc_offset(mid, &o)) return RT_EINVAL;
    if (o == before)
      lo = mid;
    else
      hi = mid;
  }
  *when = hi;
  return 0;
}

int rt_cron_next(const rt_cron *c, int64_t after, int local_time, int64_t *next) {
  if (after < RT_CRON_TIME_MIN || after > RT_CRON_TIME_MAX) return RT_EINVAL;
  if (c->every > 0) {
    if (after > RT_CRON_TIME_MAX - c->every) return RT_EINVAL;
    *next = after + c->every;
    return 0;
  }
  int local = local_time && !(c->flags & RT_CRON_UTC);
  time_t t = (time_t)after;
  struct tm tm;
  if (local) tzset();
  if (!(local ? localtime_r(&t, &tm) : gmtime_r(&t, &tm))) return RT_EINVAL;
  civil w = {tm.tm_year + INT64_C(1900), tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min};
  int64_t last_year = w.y + SEARCH_YEARS < LAST_YEAR ? w.y + SEARCH_YEARS : LAST_YEAR;

  /* Wall times map to instants in nondecreasing order (first occurrences, gaps to their end),
   * so the first match whose instant is after `after` is the answer. Starting at the minute
   * `after` is in, at most a few candidates fall at or before it: one in UTC, an overlap's worth
   * when `after` is in the second pass through repeated wall times. */
  for (;;) {
    int rc = next_match(c, &w, last_year);
    if (rc) return rc;
    int64_t when = civil_seconds(&w);
    if (local && (rc = local_instant(when, &when)) != 0) return rc;
    if (when > after) {
      if (when > RT_CRON_TIME_MAX) return RT_EINVAL;
      *next = when;
      return 0;
    }
    next_minute(&w);
  }
}
