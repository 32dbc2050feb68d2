/* The API's limits (runtime/API.md#9-limits; U2, U4, U18), all in API seconds:
 *   - one simple create per sample_window per account (or credential), sliding or fixed;
 *   - rate_limit_quota requests per rate_limit_window per credential (sliding; every request
 *     counts, refused ones too), then a block of rate_limit_block seconds.
 * The one-full-capture rule lives with the captures (emu_captures.c). Header values are whole API
 * seconds rounded up: the client scales them by its own time scale. */
#include "emu_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long ceil_secs(double d) { return d <= 0 ? 0 : (long)ceil(d - 1e-9); }

/* ---- request budget ---- */

/* The oldest request still in the ring. */
static double ring_oldest(const emu_keyrec *k) {
  return k->ring[(k->ring_head - k->ring_len + k->ring_cap) % k->ring_cap];
}

/* Drops requests older than the window from the ring (oldest first). */
static void ring_expire(emu_keyrec *k, double cutoff) {
  while (k->ring_len > 0 && ring_oldest(k) <= cutoff) k->ring_len--;
}

/* Makes room for one more request: a full ring below the quota doubles (oldest first again);
 * at the quota it stays full and the next request replaces the oldest. A new quota starts
 * afresh. */
static int ring_room(emu_keyrec *k, int quota) {
  if (k->quota != quota) {
    free(k->ring);
    k->ring = NULL;
    k->quota = quota;
    k->ring_cap = k->ring_head = k->ring_len = 0;
  }
  if (k->ring_len < k->ring_cap || k->ring_cap == quota) return 0;
  int cap = k->ring_cap ? k->ring_cap * 2 : 8;
  if (cap > quota) cap = quota;
  double *ring = malloc((size_t)cap * sizeof *ring);
  if (!ring) return RT_ENOMEM;
  for (int i = 0; i < k->ring_len; i++)
    ring[i] = k->ring[(k->ring_head - k->ring_len + i + k->ring_cap) % k->ring_cap];
  free(k->ring);
  k->ring = ring;
  k->ring_cap = cap;
  k->ring_head = k->ring_len;
  return 0;
}

int emu_budget_charge(emu_server *s, const char *cred, emu_reply *r) {
  const emu_config *c = &s->cfg;
  double now = emu_api_now(s);
  emu_keyrec *k = emu_keyrec_get(s, cred);
  if (!k || ring_room(k, c->rate_limit_quota)) return 0; /* out of memory: do not limit */
  ring_expire(k, now - c->rate_limit_window);
  int over = k->ring_len >= k->quota;
  /* record this request; a full ring forgets its oldest entry, which is outside the count */
  k->ring[k->ring_head] = now;
  k->ring_head = (k->ring_head + 1) % k->ring_cap;
  if (k->ring_len < k->ring_cap) k->ring_len++;

  if (over && now >= k->blocked_until) k->blocked_until = now + c->rate_limit_block;
  if (c->ratelimit_headers) {
    r->ratelimit_left = c->rate_limit_quota - k->ring_len;
    if (r->ratelimit_left < 0) r->ratelimit_left = 0;
    r->ratelimit_reset = (int)ceil_secs(ring_oldest(k) + c->rate_limit_window - now);
  }
  if (now >= k->blocked_until) return 0;
  emu_reply_error(s, r, EMU_E_RATE_LIMITED, NULL);
  r->retry_after = ceil_secs(k->blocked_until - now);
  if (r->retry_after < 1) r->retry_after = 1;
  if (c->ratelimit_headers) r->ratelimit_reset = (int)r->retry_after;
  emu_violation(s, EMU_V_API_BUDGET);
  return 1;
}

/* ---- simple captures: one per window ---- */

static void sample_key(emu_server *s, const emu_request *q, char out[48]) {
  if (s->cfg.sample_scope == EMU_SCOPE_CREDENTIAL) snprintf(out, 48, "s%.40s", q->cred);
  else snprintf(out, 48, "a:%.40s", q->account);
}

/* Seconds until a simple create is allowed again; 0 when allowed now. */
static double sample_wait(emu_server *s, const emu_keyrec *k, double now) {
  const emu_config *c = &s->cfg;
  if (!k->has_simple || c->sample_window <= 0) return 0;
  if (c->sample_window_type == EMU_WINDOW_FIXED) {
    /* windows are aligned on multiples of sample_window since the server started */
    double start = floor(now / c->sample_window) * c->sample_window;
    return k->last_simple >= start ? start + c->sample_window - now : 0;
  }
  double wait = k->last_simple + c->sample_window - now;
  return wait > 0 ? wait : 0;
}

int emu_sample_check(emu_server *s, const emu_request *q, emu_reply *r) {
  char key[48];
  if (!s->cfg.sample_limit) return 0;
  sample_key(s, q, key);
  emu_keyrec *k = emu_keyrec_find(s, key);
  double wait = k ? sample_wait(s, k, emu_api_now(s)) : 0;
  if (wait <= 0) return 0;
  emu_reply_error(s, r, EMU_E_SAMPLE_RATE, NULL);
  r->retry_after = ceil_secs(wait);
  if (r->retry_after < 1) r->retry_after = 1;
  emu_violation(s, EMU_V_SAMPLE_RATE);
  return 1;
}

void emu_sample_record(emu_server *s, const emu_request *q) {
  char key[48];
  sample_key(s, q, key);
  emu_keyrec *k = emu_keyrec_get(s, key);
  if (!k) return;
  k->has_simple = 1;
  k->last_simple = emu_api_now(s);
}
