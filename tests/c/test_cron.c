/* Cron expressions: parsing, each parse error, and next-run times checked against dates read off
 * a calendar and the zone transitions zdump prints (UTC, America/New_York, Europe/Berlin, plus
 * Australia/Lord_Howe's half-hour shift and the day Pacific/Apia skipped). */
#include "check.h"
#include "cron.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* "2026-11-26T06:44:00Z" -> epoch seconds, through libc's timegm, independent of cron.c. */
static int64_t utc(const char *iso) {
  struct tm tm = {0};
  if (sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec) != 6)
    abort();
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm);
}

static rt_cron parse_ok(const char *expr) {
  rt_cron c;
  char err[128] = "";
  int rc = rt_cron_parse(expr, &c, err, sizeof err);
  if (rc != 0) fprintf(stderr, "parse \"%s\": %s\n", expr, err);
  CHECK_INT(rc, 0);
  return c;
}

/* The first firing of `expr` strictly after `after`, in UTC (local_time 0) or local time. */
static int64_t next_of(const char *expr, const char *after, int local_time) {
  rt_cron c = parse_ok(expr);
  int64_t next = -1;
  CHECK_INT(rt_cron_next(&c, utc(after), local_time, &next), 0);
  return next;
}

#define CHECK_NEXT(expr, after, want) CHECK_INT(next_of(expr, after, 0), utc(want))
#define CHECK_NEXT_LOCAL(expr, after, want) CHECK_INT(next_of(expr, after, 1), utc(want))

/* Fires `expr` repeatedly from `after` and checks the firings against want[0..n). */
static void check_series(const char *expr, const char *after, int local_time,
                         const char *const *want, int n) {
  rt_cron c = parse_ok(expr);
  int64_t t = utc(after);
  for (int i = 0; i < n; i++) {
    CHECK_INT(rt_cron_next(&c, t, local_time, &t), 0);
    CHECK_INT(t, utc(want[i]));
  }
}

static void set_tz(const char *tz) {
  if (tz)
    setenv("TZ", tz, 1);
  else
    unsetenv("TZ");
  tzset();
}

static void t_parse_fields(void) {
  rt_cron c = parse_ok("*/15 * * * *");
  CHECK(c.minute == (UINT64_C(1) << 0 | UINT64_C(1) << 15 | UINT64_C(1) << 30 | UINT64_C(1) << 45));
  CHECK_INT(c.hour, 0xFFFFFF);
  CHECK_INT(c.dom, 0xFFFFFFFE);
  CHECK_INT(c.month, 0x1FFE);
  CHECK_INT(c.dow, 0x7F);
  CHECK_INT(c.flags, RT_CRON_DOM_STAR | RT_CRON_DOW_STAR);
  CHECK_INT(c.every, 0);

  c = parse_ok("  5/20\t9-17/4 1,15,31 JAN,jul-Aug mon-FRI  ");
  CHECK(c.minute == (UINT64_C(1) << 5 | UINT64_C(1) << 25 | UINT64_C(1) << 45));
  CHECK_INT(c.hour, 1 << 9 | 1 << 13 | 1 << 17);
  CHECK_INT(c.dom, 1 << 1 | 1 << 15 | 1u << 31);
  CHECK_INT(c.month, 1 << 1 | 1 << 7 | 1 << 8);
  CHECK_INT(c.dow, 0x3E);
  CHECK_INT(c.flags, 0);

  CHECK_INT(parse_ok("0 0 * * 7").dow, 1);
  CHECK_INT(parse_ok("0 0 * * 5-7").dow, 1 << 0 | 1 << 5 | 1 << 6);
  CHECK_INT(parse_ok("0 0 * * */2").dow, 1 << 0 | 1 << 2 | 1 << 4 | 1 << 6);
  CHECK_INT(parse_ok("0 0 * * 1/2").dow, 1 << 1 | 1 << 3 | 1 << 5);
  CHECK_INT(parse_ok("0 0 * * 7/3").dow, 1);
  CHECK_INT(parse_ok("0 0 * * sun,Sat").dow, 1 << 0 | 1 << 6);
  CHECK_INT(parse_ok("0 0 * 10-12/2 *").month, 1 << 10 | 1 << 12);
  CHECK_INT(parse_ok("0 0 * 11/1 *").month, 1 << 11 | 1 << 12);
  CHECK_INT(parse_ok("0 0 * 6-6/3 *").month, 1 << 6); /* a range, not "A/STEP" */
  CHECK_INT(parse_ok("0 3,1-2,*/12 * * *").hour, 1 << 0 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 12);
  CHECK(parse_ok("*/60 * * * *").minute == 1);
  CHECK_INT(parse_ok("0 0 */2 * mon").flags, RT_CRON_DOM_STAR);
  CHECK_INT(parse_ok("0 0 13 * *").flags, RT_CRON_DOW_STAR);
  CHECK_INT(parse_ok("CRON_TZ=UTC 0 0 * * *").flags,
            RT_CRON_UTC | RT_CRON_DOM_STAR | RT_CRON_DOW_STAR);
  CHECK_INT(parse_ok("TZ=Etc/UTC @daily").flags & RT_CRON_UTC, RT_CRON_UTC);
}

static int same_schedule(const rt_cron *a, const rt_cron *b) {
  return a->minute == b->minute && a->hour == b->hour && a->dom == b->dom &&
         a->month == b->month && a->dow == b->dow && a->flags == b->flags && a->every == b->every;
}

static void t_parse_macros(void) {
  static const char *const pairs[][2] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {" @MIDNIGHT ", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    rt_cron a = parse_ok(pairs[i][0]), b = parse_ok(pairs[i][1]);
    CHECK(same_schedule(&a, &b));
  }
  CHECK_INT(parse_ok("@every 15m").every, 900);
  CHECK_INT(parse_ok("@every 1h30m").every, 5400);
  CHECK_INT(parse_ok("@every 90s").every, 90);
  CHECK_INT(parse_ok("@Every   1d2h3m4s ").every, 93784);
  CHECK_INT(parse_ok("@every 1s").every, 1);
  CHECK_INT(parse_ok("@every 3650d").every, RT_CRON_EVERY_MAX);
}

static void t_parse_errors(void) {
  static const char *const cases[][2] = {
    {"61 * * * *", "minute field: 61 is out of range 0-59"},
    {"* * * *", "expected 5 fields, got 4"},
    {"* * * * * *", "expected 5 fields, got 6"},
    {"   ", "expected 5 fields, got 0"},
    {"0 24 * * *", "hour field: 24 is out of range 0-23"},
    {"0 0 0 * *", "day-of-month field: 0 is out of range 1-31"},
    {"0 0 32 * *", "day-of-month field: 32 is out of range 1-31"},
    {"0 0 * 13 *", "month field: 13 is out of range 1-12"},
    {"0 0 * * 8", "day-of-week field: 8 is out of range 0-7"},
    {"99999999999999 * * * *", "minute field: 99999999999999 is out of range 0-59"},
    {"0 0 * foo *", "month field: unknown name 'foo'"},
    {"0 0 * * jan", "day-of-week field: unknown name 'jan'"},
    {"0 0 * * monday", "day-of-week field: unknown name 'monday'"},
    {"mon * * * *", "minute field: unknown name 'mon'"},
    {"30-10 * * * *", "minute field: range 30-10 is reversed"},
    {"0 0 * * fri-mon", "day-of-week field: range fri-mon is reversed"},
    {"*/0 * * * *", "minute field: step 0 is out of range 1-60"},
    {"0 */25 * * *", "hour field: step 25 is out of range 1-24"},
    {"0 0 * * */8", "day-of-week field: step 8 is out of range 1-7"},
    {"*/ * * * *", "minute field: expected a step after '/' in '*/'"},
    {"1-5/x * * * *", "minute field: expected a step after '/' in '1-5/x'"},
    {"1,,2 * * * *", "minute field: empty list item"},
    {"0 0 1, * *", "day-of-month field: empty list item"},
    {"5x * * * *", "minute field: unexpected 'x' in '5x'"},
    {"1-2-3 * * * *", "minute field: unexpected '-' in '1-2-3'"},
    {"** * * * *", "minute field: unexpected '*' in '**'"},
    {"1- * * * *", "minute field: expected a number after '-'"},
    {"-1 * * * *", "minute field: expected a number at '-1'"},
    {"? * * * *", "minute field: expected a number at '?'"},
    {"0 0 30 2 *", "day-of-month field: none of these days occurs in the selected months"},
    {"0 0 31 4,6,9,11 *", "day-of-month field: none of these days occurs in the selected months"},
    {"0 0 30,31 feb */2", "day-of-month field: none of these days occurs in the selected months"},
    {"@every 5x", "@every: unknown unit 'x'"},
    {"@every 15ms", "@every: unknown unit 'ms'"},
    {"@every 1.5h", "@every: unknown unit '.'"},
    {"@every 1H", "@every: unknown unit 'H'"},
    {"@every 10", "@every: missing unit after 10 (use s, m, h or d)"},
    {"@every", "@every: missing duration"},
    {"@every h", "@every: expected a number at 'h'"},
    {"@every 0s", "@every: duration must be at least 1s"},
    {"@every 0h0m", "@every: duration must be at least 1s"},
    {"@every 3651d", "@every: duration is longer than 10 years"},
    {"@every 99999999999999999999d", "@every: duration is longer than 10 years"},
    {"@every 1h 5m", "@every: unexpected text after the duration"},
    {"@reboot", "unknown macro '@reboot'"},
    {"@daily 5", "unexpected text after @daily"},
    {"CRON_TZ=Europe/Paris 0 0 * * *", "CRON_TZ: only UTC is supported, got 'Europe/Paris'"},
    {"CRON_TZ=UTC", "expected 5 fields, got 0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rt_cron c = {.every = 77};
    char err[128] = "";
    CHECK_INT(rt_cron_parse(cases[i][0], &c, err, sizeof err), RT_EINVAL);
    CHECK_STR(err, cases[i][1]);
    CHECK_INT(c.every, 77); /* untouched */
  }
  rt_cron c;
  char small[8];
  CHECK_INT(rt_cron_parse("61 * * * *", &c, NULL, 0), RT_EINVAL);
  CHECK_INT(rt_cron_parse(NULL, &c, NULL, 0), RT_EINVAL);
  CHECK_INT(rt_cron_parse("61 * * * *", &c, small, sizeof small), RT_EINVAL);
  CHECK_STR(small, "minute ");
}

static void t_next_utc(void) {
  CHECK_NEXT("*/15 * * * *", "2026-11-26T06:44:00Z", "2026-11-26T06:45:00Z");
  CHECK_NEXT("*/15 * * * *", "2026-11-26T06:44:59Z", "2026-11-26T06:45:00Z");
  CHECK_NEXT("*/15 * * * *", "2026-11-26T06:45:00Z", "2026-11-26T07:00:00Z"); /* strictly after */
  CHECK_NEXT("*/15 * * * *", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z");
  CHECK_NEXT("0 0 1 1 *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z");
  CHECK_NEXT("@yearly", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z");
  CHECK_NEXT("0 0 1 1 *", "1969-06-01T00:00:00Z", "1970-01-01T00:00:00Z");
  /* 2026-03-01 is a Sunday */
  CHECK_NEXT("@weekly", "2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z");
  CHECK_NEXT("30 8 * jun-aug sat,sun", "2026-05-31T09:00:00Z", "2026-06-06T08:30:00Z");
  /* Step and range combinations: minutes 10,30,50 of hours 9,13,17. */
  static const char *const steps[] = {"2026-06-01T13:10:00Z", "2026-06-01T13:30:00Z",
                                      "2026-06-01T13:50:00Z", "2026-06-01T17:10:00Z",
                                      "2026-06-01T17:30:00Z", "2026-06-01T17:50:00Z",
                                      "2026-06-02T09:10:00Z"};
  check_series("10-50/20 9-17/4 * * *", "2026-06-01T09:50:00Z", 0, steps, 7);
  CHECK_NEXT("5/20 */12 * * *", "2026-06-01T00:45:00Z", "2026-06-01T12:05:00Z");
  CHECK_NEXT("0 0 * 11/1 *", "2026-01-15T00:00:00Z", "2026-11-01T00:00:00Z");
}

static void t_next_day_rules(void) {
  /* Both restricted: the 1st or any Monday (Mondays in March 2026: 2, 9, 16, 23, 30). */
  static const char *const either[] = {"2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z",
                                       "2026-03-16T00:00:00Z", "2026-03-23T00:00:00Z",
                                       "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z",
                                       "2026-04-06T00:00:00Z"};
  check_series("0 0 1 * mon", "2026-03-01T00:00:00Z", 0, either, 7);
  CHECK_NEXT("0 12 13 * fri", "2026-02-07T00:00:00Z", "2026-02-13T12:00:00Z");
  CHECK_NEXT("0 12 13 * fri", "2026-02-13T12:00:00Z", "2026-02-20T12:00:00Z");
  /* Day-of-month starts with '*': both must match, odd days that are Mondays: 9, 23. */
  CHECK_NEXT("0 0 */2 * mon", "2026-03-01T00:00:00Z", "2026-03-09T00:00:00Z");
  CHECK_NEXT("0 0 */2 * mon", "2026-03-09T00:00:00Z", "2026-03-23T00:00:00Z");
  /* Day-of-week starts with '*': a 13th on Sun, Tue, Thu or Sat. The 13ths of March, April
   * and May 2026 are a Friday, a Monday and a Wednesday; June 13 is a Saturday. */
  CHECK_NEXT("0 0 13 * */2", "2026-03-01T00:00:00Z", "2026-06-13T00:00:00Z");
  CHECK_NEXT("0 0 * * mon", "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z");
}

static void t_next_month_edges(void) {
  CHECK_NEXT("0 0 31 * *", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"); /* April has 30 */
  CHECK_NEXT("0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"); /* February skipped */
  CHECK_NEXT("0 0 29 * *", "2027-01-29T00:00:00Z", "2027-03-29T00:00:00Z"); /* 2027 not leap */
  CHECK_NEXT("0 0 29 * *", "2028-01-29T00:00:00Z", "2028-02-29T00:00:00Z");
  CHECK_NEXT("0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
  CHECK_NEXT("0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z");
  CHECK_NEXT("0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"); /* 2100 not leap */
  CHECK_NEXT("59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
  /* A 29 February that is a Sunday: 2088, then 2128. A 5-year search would give up. */
  CHECK_NEXT("0 0 29 2 */7", "2088-03-01T00:00:00Z", "2128-02-29T00:00:00Z");
}

static void t_next_limits(void) {
  rt_cron c = parse_ok("0 0 29 2 *");
  int64_t next = 0;
  /* 9996 is the last leap year before 10000. */
  CHECK_INT(rt_cron_next(&c, utc("9996-01-01T00:00:00Z"), 0, &next), 0);
  CHECK_INT(next, utc("9996-02-29T00:00:00Z"));
  CHECK_INT(rt_cron_next(&c, utc("9997-01-01T00:00:00Z"), 0, &next), RT_ENOTFOUND);
  CHECK_INT(rt_cron_next(&c, RT_CRON_TIME_MAX + 1, 0, &next), RT_EINVAL);
  CHECK_INT(rt_cron_next(&c, RT_CRON_TIME_MIN - 1, 0, &next), RT_EINVAL);
  /* A zeroed rt_cron matches nothing: the bounded search ends. */
  rt_cron never = {0};
  CHECK_INT(rt_cron_next(&never, 0, 0, &next), RT_ENOTFOUND);

  c = parse_ok("@every 90s");
  CHECK_INT(rt_cron_next(&c, 1000, 0, &next), 0);
  CHECK_INT(next, 1090);
  CHECK_INT(rt_cron_next(&c, 1001, 1, &next), 0);
  CHECK_INT(next, 1091);
  CHECK_INT(rt_cron_next(&c, RT_CRON_TIME_MAX - 89, 0, &next), RT_EINVAL);
}

static void t_dst_new_york(void) {
  set_tz("America/New_York");
  /* Ordinary days: 09:00 EST is 14:00Z, 09:00 EDT is 13:00Z. */
  CHECK_NEXT_LOCAL("0 9 * * *", "2026-01-15T00:00:00Z", "2026-01-15T14:00:00Z");
  CHECK_NEXT_LOCAL("0 9 * * *", "2026-07-15T00:00:00Z", "2026-07-15T13:00:00Z");
  /* CRON_TZ=UTC overrides the local zone. */
  CHECK_NEXT_LOCAL("CRON_TZ=UTC 0 9 * * *", "2026-07-15T00:00:00Z", "2026-07-15T09:00:00Z");

  /* 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00Z): 02:30 does not exist, fires at 07:00Z. */
  static const char *const gap[] = {"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z",
                                    "2026-03-09T06:30:00Z"};
  check_series("30 2 * * *", "2026-03-07T00:00:00Z", 1, gap, 3);
  /* Every quarter hour: 01:45 EST, then 02:00-02:45 and 03:00 all land on 07:00Z, once. */
  static const char *const quarters[] = {"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z",
                                         "2026-03-08T07:15:00Z"};
  check_series("*/15 * * * *", "2026-03-08T06:30:00Z", 1, quarters, 3);

  /* 2026-11-01 02:00 EDT falls back to 01:00 EST (06:00Z): 01:30 happens at 05:30Z and 06:30Z
   * and fires only at the first. */
  static const char *const overlap[] = {"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z",
                                        "2026-11-02T06:30:00Z"};
  check_series("30 1 * * *", "2026-10-31T00:00:00Z", 1, overlap, 3);
  /* From inside the second pass (01:10 EST), today's 01:30 is already past. */
  CHECK_NEXT_LOCAL("30 1 * * *", "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z");
  /* Hourly: 01:00 EDT, then 01:00 EST is a repeat, so 02:00 EST. */
  static const char *const hourly[] = {"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z",
                                       "2026-11-01T08:00:00Z"};
  check_series("0 * * * *", "2026-11-01T04:30:00Z", 1, hourly, 3);
  set_tz(NULL);
}

static void t_dst_berlin(void) {
  set_tz("Europe/Berlin");
  /* 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00Z). */
  CHECK_NEXT_LOCAL("30 2 * * *", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z");
  CHECK_NEXT_LOCAL("30 2 * * *", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z");
  CHECK_NEXT_LOCAL("0 3 * * *", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z");
  CHECK_NEXT_LOCAL("0 3 * * *", "2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z");
  /* 2026-10-25 03:00 CEST falls back to 02:00 CET (01:00Z): 02:30 at 00:30Z and 01:30Z. */
  static const char *const overlap[] = {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"};
  check_series("30 2 * * *", "2026-10-24T23:00:00Z", 1, overlap, 2);
  CHECK_NEXT_LOCAL("30 2 * * *", "2026-10-25T01:15:00Z", "2026-10-26T01:30:00Z");
  CHECK_NEXT_LOCAL("0 0 1 * *", "2026-06-15T00:00:00Z", "2026-06-30T22:00:00Z");
  set_tz(NULL);
}

static void t_dst_odd_zones(void) {
  set_tz("UTC");
  CHECK_NEXT_LOCAL("*/15 * * * *", "2026-11-26T06:44:00Z", "2026-11-26T06:45:00Z");
  /* Lord Howe moves by half an hour: 2026-10-04 02:00 +1030 jumps to 02:30 +11 (15:30Z). */
  set_tz("Australia/Lord_Howe");
  CHECK_NEXT_LOCAL("15 2 * * *", "2026-10-03T12:00:00Z", "2026-10-03T15:30:00Z");
  CHECK_NEXT_LOCAL("45 2 * * *", "2026-10-03T12:00:00Z", "2026-10-03T15:45:00Z");
  /* Samoa skipped 2011-12-30 entirely: 23:59:59 -10 on the 29th, then 00:00 +14 on the 31st. */
  set_tz("Pacific/Apia");
  static const char *const skipped[] = {"2011-12-30T10:00:00Z", "2011-12-30T22:00:00Z"};
  check_series("0 12 * * *", "2011-12-29T22:00:00Z", 1, skipped, 2);
  set_tz(NULL);
}

int main(void) {
  const char *tz = getenv("TZ");
  char saved[128] = "";
  if (tz) snprintf(saved, sizeof saved, "%s", tz);
  RUN(t_parse_fields);
  RUN(t_parse_macros);
  RUN(t_parse_errors);
  RUN(t_next_utc);
  RUN(t_next_day_rules);
  RUN(t_next_month_edges);
  RUN(t_next_limits);
  RUN(t_dst_new_york);
  RUN(t_dst_berlin);
  RUN(t_dst_odd_zones);
  set_tz(tz ? saved : NULL);
  return check_done();
}
