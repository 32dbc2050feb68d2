/* The API clock: API seconds run time_scale times slower than real ones, so the emulator's
 * captures, windows and blocks all follow one clock; changing time_scale rebases it. Tests may
 * stop it and step it (a loaded machine then changes nothing they see). Also the sleep of the
 * slow fault and of paced downloads, which ends early when the server stops. */
#include "emu_internal.h"
#include <time.h>

double emu_api_now(emu_server *s) {
  if (s->clock_frozen) return s->frozen_api;
  return s->api_base + (emu_mono_now() - s->real_base) / s->cfg.time_scale;
}

void emu_clock_set(emu_server *s, int freeze, double advance) {
  if (freeze == 1 && !s->clock_frozen) {
    s->frozen_api = emu_api_now(s);
    s->clock_frozen = 1;
  } else if (freeze == 0 && s->clock_frozen) {
    s->api_base = s->frozen_api;
    s->real_base = emu_mono_now();
    s->clock_frozen = 0;
  } else if (freeze == -1 && s->clock_frozen && advance > 0) {
    s->frozen_api += advance;
  }
}

double emu_api_to_real(emu_server *s, double api) {
  return s->real_base + (api - s->api_base) * s->cfg.time_scale - s->started_mono;
}

void emu_set_config(emu_server *s, const emu_config *c) {
  if (c->time_scale != s->cfg.time_scale && !s->clock_frozen) {
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
