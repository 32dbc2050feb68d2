/* Replies: the v4 JSON envelopes, error answers of a configured kind, request bodies parsed or
 * refused, and the violation counters the replies feed. Every handler builds its answer with
 * these, so they depend on nothing else of the emulator. All run under s->mu. */
#include "emu_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- envelopes ---- */

static char *dump(json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  return text;
}

char *emu_envelope_ok(json_t *result, json_t *result_info) {
  json_t *o = json_object();
  if (!o) {
    json_decref(result);
    json_decref(result_info);
    return NULL;
  }
  json_object_set_new(o, "success", json_true());
  json_object_set_new(o, "errors", json_array());
  json_object_set_new(o, "messages", json_array());
  json_object_set_new(o, "result", result ? result : json_null());
  if (result_info) json_object_set_new(o, "result_info", result_info);
  return dump(o);
}

char *emu_envelope_err(int code, const char *message, int chain_code, const char *chain_message) {
  json_t *e = json_pack("{s:i,s:s}", "code", code, "message", message);
  if (e && chain_code > 0)
    json_object_set_new(e, "error_chain", json_pack("[{s:i,s:s}]", "code", chain_code, "message",
                                                    chain_message ? chain_message : ""));
  if (!e) return NULL;
  return dump(json_pack("{s:b,s:[o],s:[],s:n}", "success", 0, "errors", e, "messages", "result"));
}

/* ---- replies ---- */

void emu_reply_init(emu_reply *r, emu_pcap_params *pcap) {
  *r = (emu_reply){.status = 500, .retry_after = -1, .ratelimit_left = -1, .ratelimit_reset = -1,
                   .pcap = pcap};
}

void emu_reply_json(emu_reply *r, int status, char *text) {
  free(r->body);
  r->status = text ? status : 500;
  r->body = text;
  r->body_len = text ? strlen(text) : 0;
}

void emu_reply_error(emu_server *s, emu_reply *r, emu_errkind kind, const char *detail) {
  const emu_errdef *d = &s->cfg.errors[kind];
  int chain = 0;
  const char *chain_msg = NULL;
  if (kind == EMU_E_AUTH_HEADERS) { /* detail says which header (6111 Bearer, 6103 key) */
    chain = detail && strstr(detail, "Authorization") ? 6111 : 6103;
    chain_msg = detail;
    detail = NULL;
  }
  emu_reply_json(r, d->status, emu_envelope_err(d->code, detail ? detail : d->message, chain,
                                                chain_msg));
}

void emu_reply_ok(emu_reply *r, json_t *result) {
  emu_reply_json(r, 200, emu_envelope_ok(result, NULL));
}

void emu_reply_empty(emu_reply *r, int status) {
  free(r->body);
  r->body = NULL;
  r->body_len = 0;
  r->status = status;
}

void emu_violation(emu_server *s, int which) {
  s->stats.violations[which]++;
}

json_t *emu_parse_body(emu_server *s, const emu_request *q, emu_reply *r, int *empty) {
  json_error_t jerr;
  *empty = q->body_len == 0;
  if (*empty) return NULL;
  json_t *body = json_loadb(q->body, q->body_len, JSON_DECODE_ANY, &jerr);
  if (!body) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s (line %d, column %d)",
             s->cfg.errors[EMU_E_MALFORMED_JSON].message, jerr.text, jerr.line, jerr.column);
    emu_reply_error(s, r, EMU_E_MALFORMED_JSON, msg);
    emu_violation(s, EMU_V_INVALID);
  }
  return body;
}
