/* The API clock: API seconds run time_scale times slower than real ones, so the emulator's
 * captures, windows and blocks all follow one clock; changing time_scale rebases it. Also the
 * sleep of the slow fault and of paced downloads, which ends early when the server stops. */
#include "emu_internal.h"
#include <time.h>

double emu_api_now(emu_server *s) {
  return s->api_base + (emu_mono_now() - s->real_base) / s->cfg.time_scale;
}

double emu_api_to_real(emu_server *s, double api) {
  return s->real_base + (api - s->api_base) * s->cfg.time_scale - s->started_mono;
}

void emu_set_config(emu_server *s, const emu_config *c) {
  if (c->time_scale != s->cfg.time_scale) {
    s->api_base = emu_api_now(s);
    s->real_base = emu_mono_now();
  }
  s->cfg = *c;
}

void emu_sleep_ms(emu_server *s, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  long long ns = until.tv_nsec + ms * 1000000LL;
  until.tv_sec += (time_t)(ns / 1000000000LL);
  until.tv_nsec = (long)(ns % 1000000000LL);
  pthread_mutex_lock(&s->mu);
  while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->mu, &until) == 0) {
  }
  pthread_mutex_unlock(&s->mu);
}
