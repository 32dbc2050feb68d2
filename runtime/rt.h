/* The runtime context: one thread, one libuv loop, one lua_State. Everything the runtime owns
 * hangs off rt_runtime; there is no other global state. */
#ifndef PCAPRUN_RT_H
#define PCAPRUN_RT_H
#include <stdint.h>
#include <uv.h>
#include <lua.h>
#include "list.h"

typedef struct rt_http rt_http;
typedef struct rt_journal rt_journal;

enum { RT_LOG_TEXT = 0, RT_LOG_JSON = 1 };
enum { RT_LOG_DEBUG = 0, RT_LOG_INFO = 1, RT_LOG_WARN = 2, RT_LOG_ERROR = 3, RT_LOG_OFF = 4 };

/* Settings from the command line. Durations marked "API s" are API time: the runtime multiplies
 * them by time_scale (so a rehearsal against an emulator at the same scale runs faster). */
typedef struct rt_options {
  double time_scale;      /* --time-scale F (default 1) */
  double sample_interval; /* API s between simple creates per account (60) */
  int full_slots;         /* full captures pending or running per account (1) */
  int api_budget;         /* requests per api_window per account (1200) */
  double api_window;      /* API s (300) */
  int max_waiters;        /* queue bound of each limiter (10000) */
  int retries;            /* attempts for a transient failure (8) */
  double http_timeout;    /* real seconds per HTTP request (60) */
  size_t max_body;        /* cap of an in-memory response body (8 MiB) */
  int log_format;         /* RT_LOG_TEXT or RT_LOG_JSON */
  int log_level;
  int progress;           /* status line on a TTY */
  size_t max_memory;      /* cap of the Lua heap in bytes (0: none) */
} rt_options;

void rt_options_default(rt_options *o);

typedef struct rt_runtime {
  uv_loop_t *loop;
  lua_State *L;           /* main thread; tasks are coroutines of it */
  rt_options opt;
  rt_http *http;
  /* scheduler */
  rt_list runq;           /* tasks ready to run */
  rt_list failed;         /* tasks that failed and were not joined (anchored) */
  rt_list live;           /* unfinished tasks */
  uv_idle_t drain;        /* active while runq is non-empty */
  unsigned next_task_id;
  unsigned tasks_alive;   /* tasks not finished */
  struct rt_task *main_task;
  rt_list signal_waiters; /* tasks parked in task.signal() */
  uv_async_t sigasync;    /* wakes the loop from the SIGINT/SIGTERM handler */
  int signals_seen;       /* signals the loop has handled */
  int hangups_seen;       /* SIGHUPs the loop has handled */
  int hangup_caught;      /* SIGHUP is caught (a task waited for it) */
  uv_timer_t report_timer; /* after a first signal: says what the run still waits for */
  uint64_t resumed_ns;    /* when the running task was last resumed (runaway detection) */
  int closing;            /* shutting down: no new work */
  int exit_code;
  unsigned background;     /* operations the runtime owns and finishes before the run ends
                             (a create whose task gave up, a stop it sends) */
  uv_timer_t background_timer; /* the tasks are done: checks whether those have ended too */
  /* accounts and their limiters */
  rt_list accounts;
  rt_list principals;     /* credential identities and their request budgets */
  unsigned char fingerprint_key[32]; /* keys credential fingerprints when there is no journal */
  int fingerprint_key_set;
  rt_journal *journal;    /* crash-safe record and limits shared between processes, or NULL */
  char *journal_default;  /* the default journal's path, opened when first needed (journal.h) */
  /* the default object-store endpoint and keys (--emulate: the emulator's S3 API), borrowed from
   * their owner for the whole run; NULL: the environment's (objstore.h) */
  const char *s3_endpoint, *s3_key_id, *s3_secret;
  /* time */
  uint64_t t0_ms;         /* loop time at start */
  double t0_wall;         /* wall clock (epoch s) at start */
  uint64_t rng;           /* xorshift state for jitter */
  /* memory accounting for the Lua allocator */
  size_t lua_bytes, lua_limit;
} rt_runtime;

/* Loop time in ms (refreshed). */
uint64_t rt_now_ms(rt_runtime *rt);
/* An API-time duration in seconds as real milliseconds under the time scale (rounded up). */
uint64_t rt_api_ms(const rt_runtime *rt, double api_seconds);
/* Real milliseconds as API seconds. */
double rt_ms_api(const rt_runtime *rt, uint64_t ms);
/* Wall clock now, epoch seconds (real). */
double rt_wall(void);
/* The script's clock: epoch seconds that advance 1/time_scale times as fast as the wall clock
 * from the start of the run (equal to rt_wall when time_scale is 1). */
double rt_virtual_now(rt_runtime *rt);

/* A timer of its own memory for `data`, which lives until its close callback has run (the loop
 * may still hold it when its owner goes): NULL on ENOMEM. rt_timer_free closes it, frees it
 * then, and sets *t to NULL; a NULL *t is a no-op. */
uv_timer_t *rt_timer_new(rt_runtime *rt, void *data);
void rt_timer_free(uv_timer_t **t);
/* Starts t to fire ms from now: from the present, not from the loop's cached time, which lags
 * behind while tasks run (a sleep or a retry-after would end early by as much). */
void rt_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t ms);

/* A uniformly random number in [0, 1). */
double rt_random(rt_runtime *rt);
/* n bytes from the kernel's random source (for secrets). Returns 0 or RT_EIO. */
int rt_random_bytes(void *buf, size_t n);
/* A duration from outside (a server's header, a script's argument) as a number of seconds in
 * [0, max]: NaN and negatives are 0, anything larger (infinity included) is max. */
double rt_clamp_seconds(double s, double max);

/* The runtime of a Lua state (stored in the registry by rt_attach_lua at start-up). */
rt_runtime *rt_from_lua(lua_State *L);
void rt_attach_lua(rt_runtime *rt, lua_State *L);

#endif
