/* The runtime's C side against an in-process emulator, for the tests of runtime/pcaps/: an
 * rt_runtime on a libuv loop of its own (HTTP, one principal, its credentials, one account at the
 * emulator), as runtime/main.c builds it, without Lua (calls and captures are C only).
 * The emulator's clock is frozen from the start: a test steps it (clock_advance) and waits for
 * events on the loop (RUN_UNTIL), never for time, so a loaded machine changes nothing it sees. */
#ifndef PCAPRUN_RT_EMU_TEST_H
#define PCAPRUN_RT_EMU_TEST_H
#include "emu_test.h"
#include "log.h"
#include "pcaps.h"

/* API seconds are this many real seconds in these tests (the runtime's --time-scale). */
#define TEST_SCALE 0.01

typedef struct rt_fix {
  emu_fix emu;
  uv_loop_t loop;
  rt_runtime rt;
  uv_timer_t tick;       /* keeps each turn of the loop short, so RUN_UNTIL looks often */
  rt_principal *p;
  rt_creds *creds;
  rt_account *acct;
} rt_fix;

static void rt_fix_tick(uv_timer_t *t) { (void)t; }

/* Starts the emulator with config (its clock frozen) and a runtime pointed at it; tune (may be
 * NULL) adjusts the runtime's options before the limiters are made from them. */
static inline void rt_fix_start(rt_fix *f, const char *config, void (*tune)(rt_options *o)) {
  memset(f, 0, sizeof *f);
  CHECK_INT(emu_fix_start(&f->emu, config ? config : "{}"), 0);
  clock_freeze(&f->emu);
  rt_log_setup(RT_LOG_TEXT, getenv("PCAPRUN_TEST_LOG") ? RT_LOG_DEBUG : RT_LOG_ERROR, 0);
  uv_loop_init(&f->loop);
  rt_runtime *rt = &f->rt;
  rt->loop = &f->loop;
  rt_options_default(&rt->opt);
  rt->opt.time_scale = TEST_SCALE;
  rt->opt.http_timeout = 30 * slow_factor();
  rt->rng = 0x9e3779b97f4a7c15ull; /* the backoff's jitter, repeatable */
  if (tune) tune(&rt->opt);
  rt->t0_ms = rt_now_ms(rt);
  rt->t0_wall = rt_wall();
  rt_list_init(&rt->accounts);
  rt_list_init(&rt->principals);
  CHECK_INT(rt_http_init(rt), 0);
  uv_timer_init(&f->loop, &f->tick);
  uv_timer_start(&f->tick, rt_fix_tick, 20, 20);
  char err[256] = "";
  f->p = rt_principal_get(rt, f->emu.base, RT_ID_TOKEN, "test-token");
  f->creds = rt_creds_new(BEARER, NULL, f->p);
  f->acct = rt_account_get(rt, f->emu.base, ACCT, f->creds, err, sizeof err);
  CHECK(f->p && f->creds && f->acct);
}

/* Shuts down as runtime/main.c does: the accounts (their polls and calls), HTTP, the loop. */
static inline void rt_fix_stop(rt_fix *f) {
  f->rt.closing = 1;
  rt_accounts_close(&f->rt);
  rt_creds_unref(f->creds);
  rt_http_close(&f->rt);
  uv_close((uv_handle_t *)&f->tick, NULL);
  int rc = UV_EBUSY;
  for (int i = 0; i < 100 && (rc = uv_loop_close(&f->loop)) == UV_EBUSY; i++) uv_run(&f->loop, UV_RUN_NOWAIT);
  CHECK_INT(rc, 0); /* every handle closed */
  emu_fix_stop(&f->emu);
}

/* Turns the loop until cond holds (a hang guard of 60 real seconds, not a speed claim), then
 * checks it. */
#define RUN_UNTIL(f, cond) do { double end_ = now_s() + 60 * slow_factor(); \
    while (!(cond) && now_s() < end_) uv_run(&(f)->loop, UV_RUN_ONCE); \
    CHECK(cond); } while (0)

/* A call of kind on the fixture's account; id (may be NULL) names its capture. */
static inline rt_call *new_call(rt_fix *f, int kind, const char *id) {
  rt_call *c = rt_call_new(f->acct, f->creds, kind);
  CHECK(c != NULL);
  if (id) snprintf(c->id, sizeof c->id, "%s", id);
  return c;
}

/* A create call for body (JSON text) under intent, type from the body. */
static inline rt_call *new_create(rt_fix *f, const char *body, const char *intent) {
  rt_call *c = new_call(f, RT_CALL_CREATE, NULL);
  c->body = json_loads(body, 0, NULL);
  const char *type = json_string_value(json_object_get(c->body, "type"));
  c->create.type = type && !strcmp(type, "full") ? RT_CAP_FULL : RT_CAP_SIMPLE;
  snprintf(c->create.intent, sizeof c->create.intent, "%s", intent);
  return c;
}

/* Starts c and turns the loop until it has ended; returns its code. */
static inline int run_call(rt_fix *f, rt_call *c) {
  int rc = rt_call_start(c);
  if (rc != RT_EAGAIN) return rc;
  RUN_UNTIL(f, rt_call_done(c));
  return c->rc;
}

/* How many requests of operation op ("get", "create", "list", "stop") the emulator answered. */
static inline long long emu_ops(rt_fix *f, const char *op) {
  char path[64];
  snprintf(path, sizeof path, "requests.by_operation.%s", op);
  return stat_of(&f->emu, path);
}

#endif
