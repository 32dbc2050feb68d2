/* Fuzz target: the create-request validator (spec.c) under the client and the server rules.
 * Oracles, for each rule set: a rejection is RT_EINVAL with a message and a zeroed spec; an
 * accepted body serialises (rt_spec_to_json), goes over the wire as text, and parses again under
 * the same rules to the same JSON; and what the client accepts the server accepts too, both the
 * body and what the client would send (client rules are the stricter set), so the runtime never
 * sends a body the emulator refuses. A redacted destination never shows its query. */
#include "err.h"
#include "fuzz.h"
#include "spec.h"

#include <string.h>

/* offset_time must lie in the day before "now": a fixed now keeps runs reproducible, and the
 * seed corpus uses times just before it (2027-01-15T08:00:00Z). */
#define NOW ((time_t)1800000000)

static const rt_spec zero_spec;

static int parse(const json_t *body, const rt_spec_rules *rules, rt_spec *spec, const char *who) {
  rt_specerr err;
  int rc = rt_spec_parse(body, rules, NOW, spec, &err);
  FUZZ_CHECK(rc == 0 || rc == RT_EINVAL, "%s: rc %d", who, rc);
  FUZZ_CHECK(memchr(err.message, 0, sizeof err.message) && memchr(err.field, 0, sizeof err.field),
             "%s: unterminated error", who);
  if (rc)
    FUZZ_CHECK(err.message[0] && memcmp(spec, &zero_spec, sizeof *spec) == 0,
               "%s: rejected without a message or with a spec left behind (\"%s\")", who, err.message);
  return rc;
}

/* What would go on the wire for spec: rt_spec_to_json, dumped as text and loaded back. */
static json_t *wire(const rt_spec *spec) {
  json_t *j = rt_spec_to_json(spec);
  FUZZ_CHECK(j != NULL, "rt_spec_to_json failed");
  char *text = json_dumps(j, JSON_COMPACT);
  FUZZ_CHECK(text != NULL, "json_dumps failed");
  json_error_t jerr;
  json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  FUZZ_CHECK(back != NULL && json_equal(back, j), "%s does not load back: %s", text, jerr.text);
  free(text);
  json_decref(j);
  return back;
}

/* The redacted form of a bucket URI: a prefix of the part before '?', then "?<redacted>" when
 * there was a query; never any of the query itself. */
static void check_redacted(const char *uri, const char *who) {
  char red[64];
  rt_spec_redact_destination(uri, red, sizeof red);
  FUZZ_CHECK(memchr(red, 0, sizeof red), "%s: unterminated redaction", who);
  const char *q = strchr(uri, '?'), *rq = strchr(red, '?');
  size_t shown = rq ? (size_t)(rq - red) : strlen(red);
  FUZZ_CHECK(shown <= (q ? (size_t)(q - uri) : strlen(uri)) && memcmp(red, uri, shown) == 0 &&
                 (q ? rq && strcmp(rq, "?<redacted>") == 0 : !rq),
             "%s: \"%s\" redacted as \"%s\"", who, uri, red);
}

/* Parses body under rules; when accepted, the wire form parses again and serialises the same.
 * Returns the wire form (or NULL when rejected). */
static json_t *round_trip(const json_t *body, const rt_spec_rules *rules, const char *who) {
  rt_spec spec, again;
  if (parse(body, rules, &spec, who)) return NULL;
  json_t *sent = wire(&spec);
  FUZZ_CHECK(parse(sent, rules, &again, who) == 0, "%s: its own output is refused", who);
  json_t *resent = wire(&again);
  FUZZ_CHECK(json_equal(sent, resent), "%s: the output changes when parsed again", who);
  if (spec.destination_conf) check_redacted(spec.destination_conf, who);
  json_decref(resent);
  rt_spec_free(&spec);
  rt_spec_free(&again);
  return sent;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t jerr;
  json_t *body = json_loadb((const char *)data, size, 0, &jerr);
  if (!body) return 0;
  rt_spec_rules client, server;
  rt_spec_rules_client(&client);
  rt_spec_rules_server(&server);
  json_t *sent = round_trip(body, &client, "client");
  json_t *accepted = round_trip(body, &server, "server");
  if (sent) {
    FUZZ_CHECK(accepted != NULL, "the server refuses a body the client accepts");
    rt_spec spec;
    FUZZ_CHECK(parse(sent, &server, &spec, "server") == 0, "the server refuses what the client sends");
    rt_spec_free(&spec);
  }
  json_decref(sent);
  json_decref(accepted);
  json_decref(body);
  return 0;
}
