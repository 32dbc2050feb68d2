/* Sliding-window and gate limiters with bounded waiter queues. */
#include "limit.h"
#include "err.h"
#include <stdlib.h>

static void queue_push(rt_list *q, unsigned *count, rt_waiter *wt, int by_priority) {
  rt_list *pos = q;
  if (by_priority) /* before the first waiter of lower priority: FIFO within a priority */
    RT_LIST_EACH(it, q) {
      if (RT_CONTAINER(it, rt_waiter, link)->priority < wt->priority) { pos = it; break; }
    }
  rt_list_insert_before(pos, &wt->link);
  (*count)++;
}

static rt_waiter *queue_pop(rt_list *q, unsigned *count) {
  rt_list *first = rt_list_first(q);
  if (!first) return NULL;
  rt_list_unlink(first);
  (*count)--;
  return RT_CONTAINER(first, rt_waiter, link);
}

static void note_grant(rt_limit_stats *s, rt_waiter *wt, uint64_t now) {
  uint64_t waited = now - wt->since_ms;
  s->granted++;
  s->wait_ms_total += waited;
  if (waited > s->wait_ms_max) s->wait_ms_max = waited;
}

/* ---- window ---- */

static void window_expire(rt_window *w, uint64_t now) {
  while (w->ndone > 0 && w->done[w->head] + w->window_ms <= now) {
    w->head = (w->head + 1) % w->n;
    w->ndone--;
  }
}

/* When a new place could be granted: now, a later time, or UINT64_MAX (only in-flight events
 * hold the places, so a commit or release must come first). */
static uint64_t window_ready_at(rt_window *w, uint64_t now) {
  if (w->probing) return UINT64_MAX; /* a probe's answer comes first */
  uint64_t at = now;
  if (w->n) {
    window_expire(w, now);
    if (w->inflight + w->ndone >= w->n) {
      if (w->ndone == 0) return UINT64_MAX;
      at = w->done[w->head] + w->window_ms;
    }
  }
  return at > w->paused_until ? at : w->paused_until;
}

static void window_dispatch(rt_window *w);

/* A place is given: after a pause, it is the probe. */
static void grant(rt_window *w) {
  w->inflight++;
  if (w->probe) {
    w->probe = 0;
    w->probing = 1;
  }
}

/* The probe's answer has come (or it never left): others may go. */
static void probe_over(rt_window *w) { w->probing = 0; }

static void on_window_timer(uv_timer_t *t) { window_dispatch(t->data); }

static void window_dispatch(rt_window *w) {
  if (w->dispatching) { w->again = 1; return; }
  w->dispatching = 1;
  do {
    w->again = 0;
    while (w->nwaiters > 0) {
      uint64_t now = rt_now_ms(w->rt), at = window_ready_at(w, now);
      if (at > now) {
        if (at != UINT64_MAX) uv_timer_start(w->timer, on_window_timer, at - now, 0);
        break;
      }
      rt_waiter *wt = queue_pop(&w->waiters, &w->nwaiters);
      grant(w);
      note_grant(&w->stats, wt, now);
      wt->granted(wt);
    }
  } while (w->again);
  if (w->nwaiters == 0) uv_timer_stop(w->timer);
  w->dispatching = 0;
}

int rt_window_init(rt_window *w, rt_runtime *rt, const char *name, unsigned n, uint64_t window_ms,
                   unsigned max_waiters) {
  *w = (rt_window){.rt = rt, .name = name, .n = window_ms ? n : 0, .window_ms = window_ms,
                   .max_waiters = max_waiters};
  rt_list_init(&w->waiters);
  w->done = w->n ? calloc(w->n, sizeof *w->done) : NULL;
  if ((w->n && !w->done) || !(w->timer = rt_timer_new(rt, w))) {
    free(w->done);
    return RT_ENOMEM;
  }
  return 0;
}

void rt_window_close(rt_window *w) {
  rt_timer_free(&w->timer);
  free(w->done);
  w->done = NULL;
}

int rt_window_acquire(rt_window *w, rt_waiter *wt) {
  uint64_t now = rt_now_ms(w->rt);
  wt->since_ms = now;
  if (w->nwaiters == 0 && window_ready_at(w, now) <= now) {
    grant(w);
    note_grant(&w->stats, wt, now);
    return 0;
  }
  if (w->nwaiters >= w->max_waiters) {
    w->stats.rejected++;
    return RT_ELIMITED;
  }
  queue_push(&w->waiters, &w->nwaiters, wt, 0);
  w->stats.queued++;
  window_dispatch(w); /* arms the timer */
  return RT_EAGAIN;
}

void rt_window_cancel(rt_window *w, rt_waiter *wt) {
  if (!rt_list_linked(&wt->link)) return;
  rt_list_unlink(&wt->link);
  w->nwaiters--;
  window_dispatch(w); /* the next waiter may now be the head */
}

void rt_window_commit(rt_window *w) {
  if (w->inflight) w->inflight--;
  probe_over(w);
  if (w->n == 0) {
    window_dispatch(w);
    return;
  }
  uint64_t now = rt_now_ms(w->rt);
  window_expire(w, now);
  if (w->ndone == w->n) { /* cannot happen while inflight + ndone <= n; keep the ring sane */
    w->head = (w->head + 1) % w->n;
    w->ndone--;
  }
  /* Loop time is whole milliseconds, rounded down; round the commit up so that the window
   * measured here is never shorter than the one the server measures. */
  w->done[(w->head + w->ndone) % w->n] = now + 1;
  w->ndone++;
  window_dispatch(w);
}

void rt_window_release(rt_window *w) {
  if (w->inflight) w->inflight--;
  probe_over(w);
  window_dispatch(w);
}

void rt_window_pause(rt_window *w, uint64_t until_ms) {
  until_ms++; /* loop time is rounded down: never resume before the server's moment */
  if (until_ms > w->paused_until) w->paused_until = until_ms;
  w->probe = 1;
  window_dispatch(w);
}

uint64_t rt_window_next_ms(rt_window *w) { return window_ready_at(w, rt_now_ms(w->rt)); }

/* ---- gate ---- */

static void gate_dispatch(rt_gate *g) {
  if (g->dispatching) { g->again = 1; return; }
  g->dispatching = 1;
  do {
    g->again = 0;
    while (g->nwaiters > 0 && g->in_use < g->capacity) {
      rt_waiter *wt = queue_pop(&g->waiters, &g->nwaiters);
      g->in_use++;
      note_grant(&g->stats, wt, rt_now_ms(g->rt));
      wt->granted(wt);
    }
  } while (g->again);
  g->dispatching = 0;
}

int rt_gate_init(rt_gate *g, rt_runtime *rt, const char *name, unsigned capacity, unsigned max_waiters) {
  *g = (rt_gate){.rt = rt, .name = name, .capacity = capacity, .max_waiters = max_waiters};
  rt_list_init(&g->waiters);
  return 0;
}

int rt_gate_acquire(rt_gate *g, rt_waiter *wt) {
  uint64_t now = rt_now_ms(g->rt);
  wt->since_ms = now;
  if (g->nwaiters == 0 && g->in_use < g->capacity) {
    g->in_use++;
    note_grant(&g->stats, wt, now);
    return 0;
  }
  if (g->nwaiters >= g->max_waiters) {
    g->stats.rejected++;
    return RT_ELIMITED;
  }
  queue_push(&g->waiters, &g->nwaiters, wt, 1);
  g->stats.queued++;
  return RT_EAGAIN;
}

void rt_gate_cancel(rt_gate *g, rt_waiter *wt) {
  if (!rt_list_linked(&wt->link)) return;
  rt_list_unlink(&wt->link);
  g->nwaiters--;
}

void rt_gate_release(rt_gate *g) {
  if (g->in_use) g->in_use--;
  gate_dispatch(g);
}

void rt_gate_force(rt_gate *g) { g->in_use++; }
