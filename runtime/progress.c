/* Progress on a terminal: a status line, refreshed twice a second, that says what the run is
 * waiting for — captures in flight, tasks queued for the full-capture slot or the sample rate,
 * a pause for retry-after. Only in text mode on a TTY (rt_log_status is a no-op otherwise). */
#include "progress.h"
#include "log.h"
#include "pcaps.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PERIOD_MS 500

static void add(char *buf, size_t size, const char *fmt, ...) {
  size_t n = strlen(buf);
  if (n + 3 >= size) return;
  if (n) strcpy(buf + n, " | "), n += 3;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, size - n, fmt, ap);
  va_end(ap);
}

static void on_tick(uv_timer_t *t) {
  rt_runtime *rt = t->data;
  unsigned active = 0, converting = 0, slot = 0, sample = 0;
  double sample_in = 0, paused = 0;
  uint64_t now = rt_now_ms(rt);
  RT_LIST_EACH(it, &rt->accounts) {
    rt_account *a = RT_CONTAINER(it, rt_account, link);
    RT_LIST_EACH(ci, &a->captures) {
      int st = RT_CONTAINER(ci, rt_capture, link)->status;
      if (st == RT_ST_PENDING || st == RT_ST_RUNNING) active++;
      else if (st == RT_ST_CONV_PENDING || st == RT_ST_CONV_RUNNING) converting++;
    }
    slot += a->full.nwaiters;
    sample += a->sample.nwaiters;
    uint64_t next = rt_window_next_ms(&a->sample);
    if (a->sample.nwaiters && next > now && next != UINT64_MAX) sample_in = rt_ms_api(rt, next - now);
  }
  RT_LIST_EACH(it, &rt->principals) {
    rt_principal *p = RT_CONTAINER(it, rt_principal, link);
    if (p->api.paused_until > now) paused = fmax(paused, rt_ms_api(rt, p->api.paused_until - now));
  }
  char line[256] = "";
  if (active || converting) add(line, sizeof line, "captures: %u pending/running, %u converting", active, converting);
  if (slot) add(line, sizeof line, "%u waiting for the full-capture slot", slot);
  if (sample) add(line, sizeof line, "%u waiting for the sample rate (next in %.0f s)", sample, sample_in);
  if (paused > 0) add(line, sizeof line, "rate-limited by the API: %.0f s left", paused);
  rt_log_status(line[0] ? line : NULL);
}

void rt_progress_start(rt_runtime *rt, uv_timer_t *timer) {
  uv_timer_init(rt->loop, timer);
  timer->data = rt;
  uv_timer_start(timer, on_tick, PERIOD_MS, PERIOD_MS);
  uv_unref((uv_handle_t *)timer);
}

void rt_progress_stop(uv_timer_t *timer) {
  rt_log_status(NULL);
  uv_close((uv_handle_t *)timer, NULL);
}
