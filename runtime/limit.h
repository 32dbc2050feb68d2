/* Limiters: admission happens here, before a request is sent.
 *
 * rt_window: at most n events in any window_ms. An event holds a place from the moment it is
 *   granted (a request in flight) until window_ms after it is committed (its response arrived),
 *   so a server that counts arrivals can never see more than n in a window. Used for the API
 *   request budget (1200 per 300 s) and the simple-capture rate (1 per 60 s).
 * rt_gate: at most capacity holders at once (the full-capture slot).
 *
 * After a pause (the API said wait: a 429's retry-after), a window lets one request through
 * first — a probe — and the others only once that one was answered (committed) without a new
 * pause, so that a server still refusing sees one request, not the whole queue at once.
 * Both keep waiters in a queue — FIFO, or by priority then FIFO for the gate — bounded by
 * max_waiters. A newcomer never overtakes a waiter. Permits are handed to the queue head by
 * calling its `granted` callback (C only; it may start a request, never runs Lua). Re-entrant
 * release from inside `granted` is safe. */
#ifndef PCAPRUN_LIMIT_H
#define PCAPRUN_LIMIT_H
#include <stdint.h>
#include "rt.h"

typedef struct rt_waiter rt_waiter;
struct rt_waiter {
  rt_list link;
  int priority;                  /* gate only: higher first */
  void (*granted)(rt_waiter *w); /* the permit is now the waiter's */
  void *user;
  uint64_t since_ms;
};

typedef struct rt_limit_stats {
  uint64_t granted, queued, rejected; /* rejected: the queue was full */
  uint64_t wait_ms_total, wait_ms_max;
} rt_limit_stats;

typedef struct rt_window {
  rt_runtime *rt;
  const char *name;
  unsigned n;                   /* 0: unlimited */
  uint64_t window_ms;
  uint64_t *done;               /* ring of commit times */
  unsigned head, ndone, inflight;
  uint64_t paused_until;        /* retry-after: nothing is granted before this */
  int probe;                    /* paused: the next grant is a probe */
  int probing;                  /* a probe is in flight: nothing else is granted */
  rt_list waiters;
  unsigned nwaiters, max_waiters;
  uv_timer_t *timer;
  int dispatching, again;
  rt_limit_stats stats;
} rt_window;

typedef struct rt_gate {
  rt_runtime *rt;
  const char *name;
  unsigned capacity, in_use;
  rt_list waiters;
  unsigned nwaiters, max_waiters;
  int dispatching, again;
  rt_limit_stats stats;
} rt_gate;

int rt_window_init(rt_window *w, rt_runtime *rt, const char *name, unsigned n, uint64_t window_ms,
                   unsigned max_waiters);
void rt_window_close(rt_window *w);
/* 0: granted now (the caller holds a place); RT_EAGAIN: queued, `granted` runs later;
 * RT_ELIMITED: the queue is full. */
int rt_window_acquire(rt_window *w, rt_waiter *wt);
void rt_window_cancel(rt_window *w, rt_waiter *wt);
/* The held place's event happened now: it counts until now + window. A probe's commit ends the
 * probing (a pause that came with its answer is set before the commit, and starts a new one). */
void rt_window_commit(rt_window *w);
/* The held place's event did not happen: the place is free again. */
void rt_window_release(rt_window *w);
/* Grants nothing before until_ms (loop time); a later pause extends, an earlier one is ignored. */
void rt_window_pause(rt_window *w, uint64_t until_ms);
/* Loop time at which the queue head could next be granted (now if it could be now). */
uint64_t rt_window_next_ms(rt_window *w);

int rt_gate_init(rt_gate *g, rt_runtime *rt, const char *name, unsigned capacity, unsigned max_waiters);
int rt_gate_acquire(rt_gate *g, rt_waiter *wt);
void rt_gate_cancel(rt_gate *g, rt_waiter *wt);
void rt_gate_release(rt_gate *g);
/* Takes a place regardless of capacity (a capture found holding the slot, e.g. made by another
 * tool): later acquirers wait until it is released. */
void rt_gate_force(rt_gate *g);

#endif
