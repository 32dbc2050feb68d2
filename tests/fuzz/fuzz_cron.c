/* Fuzz target: cron parsing and the next-run search.
 * Oracles: a parse fails only with RT_EINVAL and a message; a parsed expression always has a next
 * run (parse rejects those that never fire); runs strictly increase and next(run - 1) == run;
 * "@every" adds its interval; in UTC every run matches the expression when read back through
 * libc's gmtime_r, and no minute between two runs (up to two hours apart) matches; in local time
 * (America/New_York, anchors near its DST changes too) a run that is not a DST transition instant
 * matches the expression read back through localtime_r. */
#include "cron.h"
#include "err.h"
#include "fuzz.h"

#include <string.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  setenv("TZ", "America/New_York", 1);
  tzset();
  return 0;
}

static int matches_tm(const rt_cron *c, const struct tm *tm) {
  int dom = c->dom >> tm->tm_mday & 1, dow = c->dow >> tm->tm_wday & 1;
  int day = c->flags & (RT_CRON_DOM_STAR | RT_CRON_DOW_STAR) ? dom && dow : dom || dow;
  return tm->tm_sec == 0 && (c->minute >> tm->tm_min & 1) && (c->hour >> tm->tm_hour & 1) &&
         (c->month >> (tm->tm_mon + 1) & 1) && day;
}

static int matches_at(const rt_cron *c, int64_t t, int local) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!(local ? localtime_r(&tt, &tm) : gmtime_r(&tt, &tm))) abort();
  return matches_tm(c, &tm);
}

static long utc_offset(int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!localtime_r(&tt, &tm)) abort();
  return tm.tm_gmtoff;
}

/* Runs three times from `after` and checks each run. */
static void check_chain(const rt_cron *c, const char *expr, int64_t after, int local) {
  for (int i = 0; i < 3; i++) {
    int64_t next = 0, again = 0;
    int rc = rt_cron_next(c, after, local, &next);
    FUZZ_CHECK(rc == 0, "\"%s\" after %lld local %d: rc %d", expr, (long long)after, local, rc);
    FUZZ_CHECK(next > after, "\"%s\" after %lld: %lld", expr, (long long)after, (long long)next);
    if (c->every) {
      FUZZ_CHECK(next == after + c->every, "\"%s\" after %lld: %lld", expr, (long long)after,
                 (long long)next);
    } else {
      rc = rt_cron_next(c, next - 1, local, &again);
      FUZZ_CHECK(rc == 0 && again == next, "\"%s\" after %lld: %lld, but from %lld: %lld", expr,
                 (long long)after, (long long)next, (long long)next - 1, (long long)again);
      int utc = !local || (c->flags & RT_CRON_UTC);
      if (utc || utc_offset(next - 1) == utc_offset(next))
        FUZZ_CHECK(matches_at(c, next, !utc), "\"%s\" after %lld: %lld does not match", expr,
                   (long long)after, (long long)next);
      if (utc && next - after <= 7200)
        for (int64_t m = after - (after % 60 + 60) % 60 + 60; m < next; m += 60)
          FUZZ_CHECK(!matches_at(c, m, 0), "\"%s\" after %lld: %lld skips %lld", expr,
                     (long long)after, (long long)next, (long long)m);
    }
    after = next;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char expr[4097];
  if (size >= sizeof expr) return 0;
  memcpy(expr, data, size);
  expr[size] = '\0';
  rt_cron c;
  char err[128] = "";
  int rc = rt_cron_parse(expr, &c, err, sizeof err);
  if (rc != 0) {
    FUZZ_CHECK(rc == RT_EINVAL && err[0], "\"%s\": rc %d, error \"%s\"", expr, rc, err);
    return 0;
  }
  /* One anchor anywhere in 1900-2300, one within two hours of a New York DST change. */
  static const int64_t dst_changes[] = {1772953200, 1793512800, 1930806000, 1951365600};
  uint64_t h = fuzz_hash(data, size);
  int64_t anywhere = INT64_C(-2208988800) + (int64_t)(h % UINT64_C(12622780800));
  int64_t near_dst = dst_changes[h >> 62] + (int64_t)(h >> 20) % 14400 - 7200;
  check_chain(&c, expr, anywhere, 0);
  check_chain(&c, expr, near_dst, 0);
  check_chain(&c, expr, anywhere, 1);
  check_chain(&c, expr, near_dst, 1);
  return 0;
}
