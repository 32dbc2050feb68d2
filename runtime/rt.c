/* Runtime defaults and clocks. */
#include "rt.h"
#include <lauxlib.h>
#include "err.h"
#include <stdlib.h>
#include <math.h>
#include <sys/random.h>
#include <time.h>

void rt_options_default(rt_options *o) {
  o->time_scale = 1.0;
  o->sample_interval = 60;
  o->full_slots = 1;
  o->api_budget = 1200;
  o->api_window = 300;
  o->max_waiters = 10000;
  o->retries = 8;
  o->http_timeout = 60;
  o->max_body = 8u << 20;
  o->log_format = RT_LOG_TEXT;
  o->log_level = RT_LOG_INFO;
  o->progress = 1;
}

uint64_t rt_now_ms(rt_runtime *rt) {
  uv_update_time(rt->loop);
  return uv_now(rt->loop);
}

uint64_t rt_api_ms(const rt_runtime *rt, double api_seconds) {
  if (!(api_seconds > 0)) return 0;
  double ms = ceil(api_seconds * 1000.0 * rt->opt.time_scale);
  return ms < 1e15 ? (uint64_t)ms : (uint64_t)1e15; /* 31,000 years: forever, without overflow */
}

double rt_ms_api(const rt_runtime *rt, uint64_t ms) { return (double)ms / 1000.0 / rt->opt.time_scale; }

double rt_wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double rt_virtual_now(rt_runtime *rt) {
  return rt->t0_wall + rt_ms_api(rt, rt_now_ms(rt) - rt->t0_ms);
}

static const char RT_KEY = 'r'; /* registry key: its address */

void rt_attach_lua(rt_runtime *rt, lua_State *L) {
  lua_pushlightuserdata(L, rt);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &RT_KEY);
}

rt_runtime *rt_from_lua(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &RT_KEY);
  rt_runtime *rt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return rt;
}

double rt_random(rt_runtime *rt) {
  if (!rt->rng) rt->rng = (uint64_t)uv_hrtime() | 1;
  uint64_t x = rt->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rt->rng = x;
  return (double)(x >> 11) / 9007199254740992.0;
}

int rt_random_bytes(void *buf, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = getrandom((char *)buf + got, n - got, 0);
    if (r < 0) return RT_EIO;
    got += (size_t)r;
  }
  return 0;
}

double rt_clamp_seconds(double s, double max) {
  if (!(s > 0)) return 0; /* NaN too */
  return s < max ? s : max;
}

uv_timer_t *rt_timer_new(rt_runtime *rt, void *data) {
  uv_timer_t *t = malloc(sizeof *t);
  if (!t) return NULL;
  uv_timer_init(rt->loop, t);
  t->data = data;
  return t;
}

static void timer_closed(uv_handle_t *h) { free(h); }

void rt_timer_free(uv_timer_t **t) {
  if (*t) uv_close((uv_handle_t *)*t, timer_closed);
  *t = NULL;
}

void rt_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t ms) {
  uv_update_time(t->loop);
  uv_timer_start(t, cb, ms, 0);
}
