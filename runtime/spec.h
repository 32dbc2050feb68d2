/* PCAPs request bodies: parse and validate a create request, the way the client checks it
 * before sending and the way the emulator checks it on arrival. One implementation, two rule sets
 * (rt_spec_rules_client / rt_spec_rules_server), so a rule is written once.
 * Reference: runtime/API.md#4-create-request and #12-unknowns (U1, U5, U6, U16, U17, U21). */
#ifndef PCAPRUN_SPEC_H
#define PCAPRUN_SPEC_H
#include <jansson.h>
#include <time.h>

enum { RT_CAP_SIMPLE = 1, RT_CAP_FULL = 2 };

/* Limits of the documented API (runtime/API.md#4-create-request). */
#define RT_TIME_LIMIT_SIMPLE_MAX 300
#define RT_TIME_LIMIT_FULL_MAX 86400
#define RT_PACKET_LIMIT_MAX 10000
#define RT_BYTE_LIMIT_MAX 1000000000
#define RT_OFFSET_TIME_MAX_AGE (24 * 3600)

/* The account and user limits (runtime/API.md#9-limits): one simple create per minute per
 * account, one full capture pending or running per account, 1200 requests per 5 minutes per
 * user. The client enforces them; the emulator answers as the API does when they are broken. */
#define RT_SAMPLE_INTERVAL 60
#define RT_FULL_SLOTS 1
#define RT_API_BUDGET 1200
#define RT_API_WINDOW 300

/* Which checks apply. Client rules are strict: the client never sends what the schema does not
 * define, and sends integers only. Server rules follow the schema and the emulator's switches. */
typedef struct rt_spec_rules {
  double max_time_limit_full; /* 86400 by default (U6) */
  int reject_unknown_keys;    /* client: 1; server: 0 unless --strict (U16) */
  int integers_only;          /* client: 1; server: 0 unless switched on (U21) */
  int filter_ranges;          /* ports 0..65535, protocol 0..255: client 1; server 0 (U17) */
  int ip_literals;            /* addresses must be IP literals: client 1 (v4 or v6); server 0 */
  int ipv4_only;              /* server switch: addresses must be IPv4 literals (U17) */
  int accept_colo_alias;      /* accept "colo" when "colo_name" is absent: server 1, client 0 (U1) */
  int check_destination_form; /* destination_conf must be s3://, gs:// or r2:// with a bucket: client 1 */
} rt_spec_rules;

void rt_spec_rules_client(rt_spec_rules *r);
void rt_spec_rules_server(rt_spec_rules *r);

/* Presence bits of rt_filter.present */
enum {
  RT_F_SOURCE_ADDRESS = 1 << 0,
  RT_F_DESTINATION_ADDRESS = 1 << 1,
  RT_F_SOURCE_PORT = 1 << 2,
  RT_F_DESTINATION_PORT = 1 << 3,
  RT_F_PROTOCOL = 1 << 4,
};

typedef struct rt_filter {
  unsigned present;
  char source_address[64];
  char destination_address[64];
  double source_port, destination_port, protocol;
} rt_filter;

/* A validated create request. Strings are copied; free with rt_spec_free. */
typedef struct rt_spec {
  int type;                /* RT_CAP_SIMPLE or RT_CAP_FULL */
  double time_limit;       /* seconds */
  int has_packet_limit;
  double packet_limit;
  int has_byte_limit;      /* full only */
  double byte_limit;
  char colo_name[64];      /* full only; "" when absent */
  char *destination_conf;  /* full only; NULL when absent */
  int has_filter;          /* filter_v1 was present (possibly empty) */
  rt_filter filter;
  int has_offset_time;     /* simple only */
  char offset_time[40];    /* RFC 3339 as sent */
  time_t offset_epoch;     /* offset_time as seconds since the epoch */
} rt_spec;

/* Why a body was rejected: the field (dotted path, e.g. "filter_v1.destination_port", or "" for
 * the body itself) and the rule, as one readable sentence naming the value, e.g.
 *   field = "time_limit",
 *   message = "time_limit must be between 1 and 300 for simple captures (got 500)". */
typedef struct rt_specerr {
  char field[64];
  char message[256];
} rt_specerr;

/* Parses and validates a create body (a JSON object) under the given rules at time `now` (for
 * offset_time). Returns 0 and fills *out, or RT_EINVAL and fills *err (out is then zeroed and
 * owns nothing). Rules: runtime/API.md#4-create-request: required sets per type, enums, ranges,
 * filter_v1 members, offset_time within the last 24 h (and not in the future). */
int rt_spec_parse(const json_t *body, const rt_spec_rules *rules, time_t now, rt_spec *out,
                  rt_specerr *err);

/* The request body to send, keys in a fixed order: system, type, time_limit, packet_limit,
 * byte_limit, colo_name, destination_conf, filter_v1, offset_time. Numbers that are whole are
 * written as JSON integers. Returns a new reference, or NULL on ENOMEM. */
json_t *rt_spec_to_json(const rt_spec *s);

/* Checks a bucket URI: s3://BUCKET[/dir][?query], gs://BUCKET[/dir], r2://BUCKET?query.
 * Returns 0 or RT_EINVAL with *err naming `field`. */
int rt_spec_check_destination(const char *uri, const char *field, rt_specerr *err);

/* Copies `uri` into buf with the query part replaced by "?<redacted>" (R2 URIs carry secrets,
 * runtime/API.md#8-buckets). Always NUL-terminates; returns buf. */
char *rt_spec_redact_destination(const char *uri, char *buf, size_t size);
/* The one redaction of URIs, for C and Lua (log.redact, bucket.redact): uri with its userinfo
 * (scheme://user:password@host) and the values of query (and fragment) parameters whose names
 * hold "key", "secret", "token", "pass", "sig", "credential", "session" or "auth" (any case,
 * percent-decoded) replaced by <redacted>. What tells destinations apart (bucket, path, region,
 * account-id) stays, credentials go. Cut to fit buf (never in the middle of a secret, which is
 * not copied at all). Returns buf. */
char *rt_spec_redact_secrets(const char *uri, char *buf, size_t size);

/* Frees what rt_spec_parse allocated and zeroes *s. Safe on a zeroed spec. */
void rt_spec_free(rt_spec *s);

#endif
