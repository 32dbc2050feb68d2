/* Cron expressions: parse the five-field syntax, the @macros and "@every DURATION" into bitsets,
 * and compute the next firing time in UTC or in the process's local time zone.
 * No allocation: an rt_cron is a plain value that may be copied. */
#ifndef PCAPRUN_CRON_H
#define PCAPRUN_CRON_H
#include <stddef.h>
#include <stdint.h>

/* Bits of rt_cron.flags */
enum {
  RT_CRON_DOM_STAR = 1 << 0, /* the day-of-month field began with '*' (see rt_cron_parse) */
  RT_CRON_DOW_STAR = 1 << 1, /* the day-of-week field began with '*' */
  RT_CRON_UTC = 1 << 2,      /* "CRON_TZ=UTC" prefix: rt_cron_next always computes in UTC */
};

/* rt_cron_next works on times from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define RT_CRON_TIME_MIN INT64_C(-62135596800)
#define RT_CRON_TIME_MAX INT64_C(253402300799)
/* Longest "@every" interval: 10 years of 365 days. */
#define RT_CRON_EVERY_MAX INT64_C(315360000)

typedef struct rt_cron {
  uint64_t minute; /* bit m set: fires in minute m (0-59) */
  uint32_t hour;   /* bit h: hour h (0-23) */
  uint32_t dom;    /* bit d: day of month d (1-31) */
  uint16_t month;  /* bit m: month m (1-12) */
  uint8_t dow;     /* bit d: day of week d (0-6, 0 = Sunday) */
  unsigned flags;  /* RT_CRON_* */
  int64_t every;   /* > 0 for "@every": the interval in seconds; the bitsets are then unused */
} rt_cron;

/* Parses `expr` into *out. Returns 0, or RT_EINVAL with a one-line message in err (when err is
 * not NULL and errlen > 0) naming the field and the problem, e.g.
 * "minute field: 61 is out of range 0-59"; *out is left untouched on error.
 *
 * Syntax, case-insensitive for names:
 *   [CRON_TZ=UTC] minute hour day-of-month month day-of-week
 *   each field a comma list of items: *, N, A-B, and any of these followed by /STEP; "A/STEP"
 *   means A up to the field's maximum. Months may be jan..dec, days sun..sat; in day-of-week
 *   7 is Sunday too. Ranges do not wrap (5-1 is an error).
 *   @yearly @annually @monthly @weekly @daily @midnight @hourly
 *   @every DURATION   units s, m, h, d, combined ("1h30m", "90s"); from 1 s to RT_CRON_EVERY_MAX
 *
 * Day matching follows Vixie cron and cronie: when the day-of-month or the day-of-week field
 * begins with '*' (a stepped star counts), a day must match both; when both are restricted, a
 * day matching either fires ("0 0 1 * mon" is the 1st and every Monday).
 * An expression that can never fire ("0 0 30 2 *", "0 0 31 4,6 *") is rejected here, so
 * rt_cron_next finds a time for every parsed expression. */
int rt_cron_parse(const char *expr, rt_cron *out, char *err, size_t errlen);

/* Stores in *next the first firing time strictly after `after` (both epoch seconds). Five-field
 * expressions fire at whole minutes of wall-clock time: in UTC when local_time is 0 or the
 * expression had CRON_TZ=UTC, else in the process's local time zone (TZ; tzset() is called,
 * so a changed TZ takes effect). "@every" returns after + interval: the caller anchors it.
 *
 * Daylight-saving time, in local time:
 *   - a wall time skipped by a spring-forward gap fires once, at the first instant after the
 *     gap (02:30 on a night that jumps 02:00 -> 03:00 fires at 03:00); several skipped times
 *     coalesce into that one firing;
 *   - a wall time repeated by a fall-back overlap fires once, at its first occurrence. So
 *     "0 * * * *" fires at 01:00 daylight time and next at 02:00 standard time, two hours later.
 *
 * Returns 0, RT_EINVAL when `after` or the result is outside RT_CRON_TIME_MIN..MAX or local time
 * cannot be computed, or RT_ENOTFOUND when nothing fires before year 10000 or within 400 years
 * (a full Gregorian cycle, which a parsed expression always fires in). */
int rt_cron_next(const rt_cron *c, int64_t after, int local_time, int64_t *next);

#endif
