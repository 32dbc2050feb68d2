/* Fault injection: each fault is a probability per response, drawn from its own seeded stream
 * so a run is repeatable. Spurious faults (5xx, 429, reset, slow, malformed) are decided before
 * the request is processed and never touch state; truncate and create-then-500/reset are decided
 * by the download and create handlers, after the state change they are meant to hide. */
#include "emu_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int emu_fault_roll(emu_server *s, double p, int kind) {
  if (p <= 0 || emu_rng_unit(&s->rng_faults) >= p) return 0;
  s->stats.faults[kind]++;
  return 1;
}

/* Is name one of the comma-separated names in list? */
static int listed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0)) return 1;
  }
  return 0;
}

emu_fault emu_fault_pick(emu_server *s, emu_op op) {
  const emu_config *c = &s->cfg;
  const struct {
    double p;
    int kind;
  } order[] = {
      {c->fault_reset, EMU_F_RESET}, {c->fault_5xx, EMU_F_5XX}, {c->fault_429, EMU_F_429},
      {c->fault_malformed, EMU_F_MALFORMED}, {c->fault_slow, EMU_F_SLOW},
  };
  emu_fault f = {.kind = -1, .slow_ms = c->slow_ms};
  if (c->fault_ops[0] && !listed(c->fault_ops, emu_op_name(op))) return f;
  int json = op != EMU_OP_DOWNLOAD && op != EMU_OP_STOP && op != EMU_OP_OWN_DELETE;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    if (order[i].kind == EMU_F_MALFORMED && !json) continue; /* only JSON answers can break */
    if (emu_fault_roll(s, order[i].p, order[i].kind)) {
      f.kind = order[i].kind;
      break;
    }
  }
  return f;
}

void emu_fault_reply(emu_server *s, const emu_fault *f, emu_reply *r) {
  static const int statuses[] = {500, 502, 503};
  switch (f->kind) {
  case EMU_F_5XX: {
    int st = statuses[emu_rng_below(&s->rng_faults, 3)];
    emu_reply_error(s, r, EMU_E_INTERNAL, st == 502 ? "Bad gateway"
                                          : st == 503 ? "Service temporarily unavailable" : NULL);
    r->status = st;
    if (st == 503) r->retry_after = 1 + emu_rng_below(&s->rng_faults, 3);
    break;
  }
  case EMU_F_429:
    emu_reply_error(s, r, EMU_E_RATE_LIMITED, NULL);
    r->status = 429;
    r->retry_after = 1 + emu_rng_below(&s->rng_faults, (uint32_t)s->cfg.fault_429_max);
    break;
  case EMU_F_RESET:
    r->drop = 1;
    break;
  case EMU_F_MALFORMED: {
    /* a cut-off success envelope, as a proxy that dropped the connection might leave */
    static const char broken[] = "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{\"id\":";
    char *text = strdup(broken);
    emu_reply_json(r, 200, text);
    break;
  }
  default:
    break;
  }
}
