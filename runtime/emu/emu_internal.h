/* Internals of the PCAPs API emulator, shared by its files:
 *   emu_config.c    configuration keys, defaults, JSON merge
 *   emu_util.c      random numbers, ids, clocks, timestamps, secret comparison
 *   emu_clock.c     the API clock (time_scale), sleeping
 *   emu_reply.c     JSON envelopes, error replies, request bodies, violation counters
 *   emu_pipeline.c  one request without sockets: admin or routing, faults, auth, limits, operation
 *   emu_server.c    libmicrohttpd: headers and bodies in, replies out (files, ranges); start/stop
 *   emu_limits.c    per-account sample limit, request budget
 *   emu_keyrecs.c   the limiters' records: hash table, least recently used forgotten first
 *   emu_captures.c  capture lifecycle and the five capture operations
 *   emu_buckets.c   bucket ownership operations, bucket paths
 *   emu_deliver.c   full captures written into their buckets when they finish
 *   emu_pcap.c      synthetic pcap files that match a filter (libpcap)
 *   emu_fault.c     fault injection
 *   emu_admin.c     /__admin endpoints, stats
 *   emu_s3.c        the bucket directory over the S3 API, on its own port
 *   emu_main.c      `pcaprun emulator` command line
 * Locking: everything in emu_server below `mu` is guarded by it. Handlers run with it held and
 * never block; slow work (sleeping faults, pcap generation, sending files) runs without it. */
#ifndef PCAPRUN_EMU_INTERNAL_H
#define PCAPRUN_EMU_INTERNAL_H
#include "emu.h"
#include "err.h"
#include "list.h"
#include "spec.h"
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

/* ---- configuration (emu_config.c) ---- */

/* Error answers whose status, code and message are configurable (config key "errors"). */
typedef enum {
  EMU_E_INVALID,            /* body failed validation */
  EMU_E_MALFORMED_JSON,     /* body is not JSON */
  EMU_E_TOO_LARGE,          /* body over max_body */
  EMU_E_NO_ROUTE,           /* unknown path */
  EMU_E_METHOD,             /* known path, wrong method */
  EMU_E_BAD_ACCOUNT,        /* account_id is not 32 hex characters */
  EMU_E_AUTH_HEADERS,       /* missing or malformed auth headers (error_chain added) */
  EMU_E_AUTH_FAILED,        /* wrong credentials or account */
  EMU_E_RATE_LIMITED,       /* over the request budget (1200 / 300 s) */
  EMU_E_SAMPLE_RATE,        /* second simple create within the window */
  EMU_E_FULL_CONCURRENCY,   /* a full capture is already pending or running */
  EMU_E_BUCKET_UNVALIDATED, /* full create to a bucket without a validated ownership */
  EMU_E_NOT_FOUND,          /* unknown pcap or ownership id */
  EMU_E_STOP_SIMPLE,        /* stop on a simple capture */
  EMU_E_STOP_TERMINAL,      /* stop on a finished full capture (stop_terminal_error) */
  EMU_E_DOWNLOAD_NOT_READY, /* download before success */
  EMU_E_DOWNLOAD_FULL,      /* download of a full capture */
  EMU_E_OWNERSHIP_FAILED,   /* wrong challenge (validate_mismatch_error) */
  EMU_E_DUPLICATE_BUCKET,   /* bucket registered twice (duplicate_buckets = "reject") */
  EMU_E_INTERNAL,           /* injected 5xx */
  EMU_E_COUNT
} emu_errkind;

typedef struct emu_errdef {
  int status, code;
  char message[160];
} emu_errdef;

enum { EMU_SCOPE_ACCOUNT, EMU_SCOPE_CREDENTIAL };
enum { EMU_WINDOW_SLIDING, EMU_WINDOW_FIXED };
enum { EMU_CHALLENGE_EITHER, EMU_CHALLENGE_CONTENTS, EMU_CHALLENGE_FILENAME };
enum { EMU_DUP_NEW, EMU_DUP_EXISTING, EMU_DUP_REJECT };

/* Plain data (no pointers): copied whole, merged on a copy, swapped under the lock. */
typedef struct emu_config {
  char listen[128], prefix[128], bucket_dir[PATH_MAX];
  int max_body;
  double time_scale;
  long long seed;
  char token[256], email[256], key[256], account_id[64];
  int allow_remote;            /* listen may be other than loopback */
  char admin_token[256];       /* required by the admin endpoints when set (always off loopback) */
  /* validation (server rules, runtime/API.md#12-unknowns) */
  int strict_keys, ipv4_only, filter_ranges, integers_only, accept_colo_alias;
  double max_time_limit_full;
  /* response shapes */
  int echo_colo, doc_keys, list_limit, null_empty_lists, result_info, complete_status;
  int list_duplicates;         /* test knob: lists show each capture twice (a hostile API) */
  /* limits */
  int sample_limit, sample_scope, sample_window_type;
  double sample_window;
  int full_limit, rate_limit, rate_limit_quota, ratelimit_headers;
  double rate_limit_window, rate_limit_block;
  /* lifecycle */
  double simple_duration, full_pending, conversion_pending, conversion_running, fail_rate;
  int stop_terminal_error;
  /* pcap files */
  int link_type, gzip_downloads, ignore_range;
  long long simple_bytes;
  double syn_flood;            /* share of packets that are a SYN flood on one address */
  long long download_rate;     /* bytes per real second of each download, 0: as fast as it goes */
  /* the S3 API: its keys (start only), page size, GET pacing, files per full capture */
  char s3_access_key_id[128], s3_secret_access_key[128];
  int s3_page_size, full_files, s3_access_denied;
  long long s3_rate;
  /* buckets */
  int auto_validate_buckets, challenge_mode, validate_mismatch_error, duplicate_buckets;
  double validation_delay;
  /* faults: probabilities per response */
  double fault_5xx, fault_429, fault_reset, fault_slow, fault_truncate, fault_malformed,
      fault_create_then_500, fault_create_then_reset;
  int fault_429_max, slow_ms;
  /* hostile numbers, to test that clients bound what servers say: when set, every 429 says
   * Retry-After: hostile_retry_after, every answer carries Ratelimit: hostile_ratelimit, and
   * capture objects say time_limit: hostile_time_limit */
  char hostile_retry_after[32], hostile_ratelimit[64];
  char fault_ops[128];      /* spurious faults strike only these operations ("create,stop"); "": all */
  double hostile_time_limit;
  emu_errdef errors[EMU_E_COUNT];
} emu_config;

void emu_config_defaults(emu_config *c);
/* Merges a JSON object into *c. `at_start` allows the keys that only take effect when the server
 * starts (listen, prefix, bucket_dir, max_body). Returns 0 or RT_EINVAL with a message. */
int emu_config_merge(emu_config *c, const json_t *obj, int at_start, char *err, size_t errlen);
/* The whole configuration as JSON (credentials shown as "<set>" or ""). */
json_t *emu_config_to_json(const emu_config *c);
/* The server rules of rt_spec_parse that this configuration selects. */
void emu_config_rules(const emu_config *c, rt_spec_rules *r);
const char *emu_errkind_name(emu_errkind k);

/* ---- utilities (emu_util.c) ---- */

typedef struct emu_rng { uint64_t s; } emu_rng;
void emu_rng_seed(emu_rng *r, uint64_t seed, uint64_t stream);
uint64_t emu_rng_next(emu_rng *r);
double emu_rng_unit(emu_rng *r);                /* [0, 1) */
uint32_t emu_rng_below(emu_rng *r, uint32_t n); /* [0, n) */
void emu_rng_hex(emu_rng *r, char out[33]);     /* 32 lowercase hex characters */
uint64_t emu_hash(const void *data, size_t len, uint64_t h); /* FNV-1a 64, chainable */
#define EMU_HASH_INIT 0xcbf29ce484222325ULL

double emu_mono_now(void); /* seconds, monotonic */
double emu_wall_now(void); /* seconds since the epoch */
/* RFC 3339 UTC with microseconds, e.g. 2026-11-26T17:29:20.641845Z. */
void emu_format_time(double wall, char out[40]);
int emu_is_hex32(const char *s);

/* Constant-time comparison of a secret with what a request sent (the time depends only on the
 * length of `given`). */
int emu_secret_equal(const char *given, const char *secret);

/* v4 envelopes as malloc'd JSON text (emu_reply.c). `result` is stolen (NULL means JSON null). */
char *emu_envelope_ok(json_t *result, json_t *result_info);
/* A failure envelope with one error; `chain_code` > 0 adds an error_chain entry. */
char *emu_envelope_err(int code, const char *message, int chain_code, const char *chain_message);

/* ---- server state ---- */

typedef enum {
  EMU_OP_LIST, EMU_OP_CREATE, EMU_OP_GET, EMU_OP_DOWNLOAD, EMU_OP_STOP,
  EMU_OP_OWN_LIST, EMU_OP_OWN_ADD, EMU_OP_OWN_VALIDATE, EMU_OP_OWN_DELETE,
  EMU_OP_UNROUTED, EMU_OP_COUNT
} emu_op;
const char *emu_op_name(emu_op op);

enum {
  EMU_V_SAMPLE_RATE, EMU_V_FULL_CONCURRENCY, EMU_V_API_BUDGET, EMU_V_INVALID,
  EMU_V_DOWNLOAD_BEFORE_READY, EMU_V_DUPLICATE_CREATES, EMU_V_COUNT
};
enum {
  EMU_F_5XX, EMU_F_429, EMU_F_RESET, EMU_F_SLOW, EMU_F_TRUNCATE, EMU_F_MALFORMED,
  EMU_F_CREATE_THEN_500, EMU_F_CREATE_THEN_RESET, EMU_F_COUNT
};

typedef struct emu_stats {
  long long requests, admin_requests, by_op[EMU_OP_COUNT];
  struct { int status; long long n; } by_status[48];
  long long faults[EMU_F_COUNT], violations[EMU_V_COUNT];
  long long captures_created[3], buckets_created, files_delivered, bytes_served;
} emu_stats;

/* Capture status values (runtime/API.md#6-statuses). */
typedef enum {
  EMU_S_PENDING, EMU_S_RUNNING, EMU_S_CONVERSION_PENDING, EMU_S_CONVERSION_RUNNING,
  EMU_S_SUCCESS, EMU_S_COMPLETE, EMU_S_FAILED
} emu_status;
const char *emu_status_name(emu_status st);

typedef struct emu_capture {
  rt_list link;
  char id[33], account[33], intent[96];
  rt_spec spec; /* owns destination_conf */
  char submitted[40], stop_requested[40];
  double wall_submit; /* epoch seconds */
  /* timeline in API seconds (emu_api_now); simple captures use t_done only */
  double t_submit, t_running, t_conv_pending, t_conv_running, t_done;
  int will_fail, ends_complete, stopped, delivered;
  long long packets_total; /* full: packets of an uninterrupted run */
  uint64_t seed;           /* pcap contents */
} emu_capture;

typedef struct emu_bucket {
  rt_list link;
  char id[33], account[33], token[33];
  char *destination_conf;
  char filename[64], submitted[40], validated[40];
  int status;             /* 0 pending, 1 success, 2 failed */
  int validating;         /* a correct challenge arrived; success at t_valid */
  double t_valid;         /* API seconds */
} emu_bucket;

/* Per-key limiter state (emu_keyrecs.c): keys "a:<account>" (sample limit by account),
 * "s<cred>" (sample limit by credential), "c:<hash>" (a credential's request budget). */
typedef struct emu_keyrec {
  rt_list lru;              /* most recently used first */
  struct emu_keyrec *next;  /* hash chain */
  uint64_t hash;
  char key[48];
  int has_simple;
  double last_simple;       /* API seconds of the last accepted simple create */
  double *ring;             /* request times (API seconds), grown up to quota */
  int ring_cap, ring_head, ring_len, quota;
  double blocked_until;
} emu_keyrec;

enum {
  EMU_KEYRECS_MAX = 4096,   /* records kept; past it the least recently used is forgotten */
  EMU_KEYTAB_SIZE = 8192    /* hash slots (a power of two) */
};

struct emu_server {
  pthread_mutex_t mu;
  emu_config cfg;
  struct MHD_Daemon *mhd;
  char base_url[320], bucket_dir[PATH_MAX], data_dir[PATH_MAX];
  int own_bucket_dir;
  int exposed, admin_token_made; /* listening off loopback; admin_token made up at start */
  emu_rng rng_ids, rng_faults, rng_fail;
  double real_base, api_base; /* API clock: api = api_base + (real - real_base) / time_scale */
  double started_mono;
  rt_list captures, buckets; /* captures: oldest first */
  rt_list keyrecs;            /* limiter records, most recently used first */
  emu_keyrec *keytab[EMU_KEYTAB_SIZE];
  int nkeyrecs;
  emu_stats stats;
  /* the ticker thread delivers full captures when they finish */
  pthread_t ticker;
  pthread_cond_t cond;
  int stopping, ticker_started;
  pthread_mutex_t gen_mu; /* serialises pcap file generation (held without mu) */
  /* the S3 API over bucket_dir (emu_s3.c); its keys are fixed at start */
  struct emu_s3 *s3;
  char s3_url[160], s3_key_id[128], s3_secret[128];
};

/* The server without its HTTP side (no socket, no delivery thread): its state, configuration and
 * directories, ready for emu_handle. emu_start adds the rest; emu_stop frees either. Returns 0 or
 * RT_E* with a message in err. The fuzz target tests/fuzz/fuzz_emu.c uses it alone. */
int emu_server_new(const char *config_json, emu_server **out, char *err, size_t errlen);

/* ---- the API clock (emu_clock.c) ---- */

/* API clock (under mu). */
double emu_api_now(emu_server *s);
/* Seconds since the server started of an API instant (for the admin timeline). */
double emu_api_to_real(emu_server *s, double api);
/* Installs a new configuration (under mu); rebases the API clock when time_scale changes. */
void emu_set_config(emu_server *s, const emu_config *c);
/* Sleeps up to ms milliseconds, less when the server stops (takes and releases mu). */
void emu_sleep_ms(emu_server *s, long ms);

/* ---- the request pipeline (emu_pipeline.c) and replies (emu_reply.c) ---- */

typedef struct emu_request {
  /* what the caller hands the pipeline (header values NULL when absent) */
  const char *method;
  const char *body;
  size_t body_len;
  int too_large;            /* the body was over max_body (and dropped) */
  const char *authorization, *auth_email, *auth_key; /* Authorization, X-Auth-Email, X-Auth-Key */
  char intent[96];          /* X-Pcaprun-Intent */
  const char *range;        /* Range */
  const char *admin_token;  /* X-Pcaprun-Admin-Token (admin endpoints) */
  /* what the pipeline finds */
  emu_op op;
  char account[40], id[40]; /* path parameters (truncated; checked by the handlers) */
  char cred[48];            /* keyrec key of the credential, "" before auth */
} emu_request;

typedef struct emu_reply {
  int status;
  char *body; /* malloc'd JSON text, or NULL */
  size_t body_len;
  long retry_after;    /* seconds (API), or -1 */
  int drop;            /* close the connection without answering */
  int ratelimit_left, ratelimit_reset; /* -1 when not known */
  const char *allow;   /* 405: the methods of the route */
  /* downloads: the file to send, made outside the lock */
  int is_file, truncate;
  long long rate;              /* download_rate, read under mu */
  struct emu_pcap_params *pcap;
} emu_reply;

/* Answers one request (q filled by the caller, op/account/id/cred by the pipeline): the admin
 * endpoints, or an API request through routing, faults, auth, limits and its operation. Takes
 * mu itself; a slow fault sleeps (without it) before answering. r from emu_reply_init. */
void emu_handle(emu_server *s, const char *url, emu_request *q, emu_reply *r);
/* An empty reply (500 until a handler fills it); a download's file parameters go to *pcap. */
void emu_reply_init(emu_reply *r, struct emu_pcap_params *pcap);
/* Fills r with a JSON reply (takes `text`). */
void emu_reply_json(emu_reply *r, int status, char *text);
/* Fills r with the configured error `kind`; `detail` (may be NULL) replaces the message. */
void emu_reply_error(emu_server *s, emu_reply *r, emu_errkind kind, const char *detail);
/* A success envelope around `result` (stolen). */
void emu_reply_ok(emu_reply *r, json_t *result);
void emu_reply_empty(emu_reply *r, int status);
/* Parses a JSON request body. Returns NULL with r filled on malformed JSON; an empty body gives
 * NULL with *empty set, which the validators report as missing. */
json_t *emu_parse_body(emu_server *s, const emu_request *q, emu_reply *r, int *empty);
/* Counts a violation (under mu). */
void emu_violation(emu_server *s, int which);

/* Parses a Range header for a file of size bytes: 1 (off/len set), 0 (no usable range: the whole
 * file), -1 (unsatisfiable). */
int emu_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);
/* A response of len bytes of fd from off (fd is closed with it), sent at about rate bytes per
 * second (0: at once) and cut after `cut` bytes (cut < len: the connection is aborted there). */
struct MHD_Response *emu_paced_response(emu_server *s, int fd, uint64_t off, uint64_t cut, uint64_t len,
                                        long long rate);
struct sockaddr_storage;
/* "HOST:PORT" or "[V6]:PORT" with a numeric host (or localhost). *loopback says whether only
 * this machine can connect (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
int emu_parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6, int *loopback, char *host,
                     size_t hostlen);

/* ---- limits (emu_limits.c) and their records (emu_keyrecs.c) ---- */

/* The record of key, or NULL when there is none (find) / on ENOMEM (get, which makes it,
 * forgetting the least recently used record when EMU_KEYRECS_MAX are kept). Both count as a use. */
emu_keyrec *emu_keyrec_find(emu_server *s, const char *key);
emu_keyrec *emu_keyrec_get(emu_server *s, const char *key);
void emu_keyrecs_clear(emu_server *s);
/* Request budget: counts this request for the credential; on refusal fills r and returns 1. */
int emu_budget_charge(emu_server *s, const char *cred, emu_reply *r);
/* Sample limit: 1 when a simple create must be refused now (fills r). */
int emu_sample_check(emu_server *s, const emu_request *q, emu_reply *r);
void emu_sample_record(emu_server *s, const emu_request *q);

/* ---- captures (emu_captures.c) ---- */

void emu_op_list(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_create(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_get(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_download(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_stop(emu_server *s, const emu_request *q, emu_reply *r);
emu_status emu_capture_status(emu_server *s, const emu_capture *c, double now);
long long emu_capture_packets(const emu_capture *c, double now);
emu_capture *emu_capture_find(emu_server *s, const char *account, const char *id);
void emu_captures_clear(emu_server *s);
/* Full captures whose timeline has reached success but whose file is not written yet. */
int emu_capture_needs_delivery(emu_server *s, const emu_capture *c, double now);

/* ---- buckets (emu_buckets.c) ---- */

void emu_op_own_list(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_own_add(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_own_validate(emu_server *s, const emu_request *q, emu_reply *r);
void emu_op_own_delete(emu_server *s, const emu_request *q, emu_reply *r);
void emu_buckets_clear(emu_server *s);
/* 1 when the account has a validated ownership record with exactly this destination_conf. */
int emu_bucket_validated(emu_server *s, const char *account, const char *destination_conf);
/* Directory of a bucket URI under the bucket dir (s3://b/dir?x -> <bucket_dir>/b/dir).
 * Returns 0, or RT_EINVAL for URIs that are not buckets or that would leave the bucket dir. */
int emu_bucket_path(const char *bucket_dir, const char *uri, char *out, size_t size);

/* ---- delivery (emu_deliver.c) ---- */

/* Writes full captures that have finished into their buckets (takes and releases mu). */
void emu_deliver_finished(emu_server *s);

/* ---- pcap files (emu_pcap.c) ---- */

typedef struct emu_pcap_params {
  char path[PATH_MAX];      /* final file; written as a new path.tmp.XXXXXXXX, then renamed */
  int link_type;            /* 1 Ethernet or 101 raw IP */
  int snaplen;              /* 160 for simple captures */
  long long packets;        /* how many packets */
  long long pad_bytes;      /* when > 0: make the file about this big, with at most max_packets
                               records (larger ones, up to 256 KiB each, as a real capture of
                               that packet_limit could hold); a benchmark's knob */
  long long max_packets;    /* the capture's packet_limit */
  double t_start, t_span;   /* packet times: epoch seconds, spread over t_span */
  rt_filter filter;
  uint64_t seed;
  int gzip;                 /* also write path.gz (gzip container, stored blocks) */
  double syn_flood;         /* share of packets that are SYNs from anywhere to one address */
} emu_pcap_params;

/* Writes the file unless it exists already. Thread-safe through s->gen_mu. */
int emu_pcap_ensure(emu_server *s, const emu_pcap_params *p);
/* Writes one pcap file (atomically: tmp + rename). */
int emu_pcap_write(const emu_pcap_params *p);

/* ---- faults (emu_fault.c) ---- */

typedef struct emu_fault {
  int kind;    /* EMU_F_* or -1 */
  long slow_ms;
} emu_fault;

/* Decides the spurious fault for a request before it is processed (under mu). */
emu_fault emu_fault_pick(emu_server *s, emu_op op);
/* Decides whether a download is truncated / a create is answered 500 or dropped (under mu). */
int emu_fault_roll(emu_server *s, double p, int kind);
/* Fills r for a spurious fault picked by emu_fault_pick (under mu). */
void emu_fault_reply(emu_server *s, const emu_fault *f, emu_reply *r);

/* ---- S3 API (emu_s3.c) ---- */

/* Serves bucket_dir over the S3 API on its own port (same host as the API); sets s3_url. */
int emu_s3_start(emu_server *s, char *err, size_t errlen);
void emu_s3_stop(emu_server *s);
/* {"url", "requests", "by_operation", "denied", "ranged_gets", "gets": {key: GETs}} (takes its
 * own lock). */
json_t *emu_s3_stats(emu_server *s);

/* ---- admin (emu_admin.c) ---- */

/* Handles /__admin/... (takes mu itself). */
void emu_admin_handle(emu_server *s, const char *method, const char *path, const char *body,
                      size_t body_len, emu_reply *r);
void emu_stats_count(emu_server *s, emu_op op, int status);
void emu_reset(emu_server *s); /* under mu */

#endif
