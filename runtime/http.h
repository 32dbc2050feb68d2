/* HTTP on libcurl's multi interface, driven by the libuv loop (socket and timer callbacks, after
 * curl's docs/examples/multi-uv.c with its gaps fixed: poll errors, a final transfer ending on a
 * timer tick, results read before the handle is removed).
 *
 * Requests are C only: rt_http_start queues a transfer and `done` is called from the loop when it
 * ends, with curl_code/status/body filled in. `done` may start new requests; it never runs Lua.
 * TLS verification is always on; only http and https are allowed. Responses are held in memory up
 * to max_body bytes, or, when `sink` is set, 2xx bodies stream to it (memory stays flat). */
#ifndef PCAPRUN_HTTP_H
#define PCAPRUN_HTTP_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include "rt.h"

typedef struct rt_http_req rt_http_req;
typedef void (*rt_http_done_fn)(rt_http_req *r);
/* Receives a 2xx body's bytes; returns 0, or a negative RT_E* code to abort the transfer. */
typedef int (*rt_http_sink_fn)(rt_http_req *r, const void *data, size_t len);
/* Sees each response header (name and value, trimmed) of every response of the transfer. */
typedef void (*rt_http_header_fn)(rt_http_req *r, const char *name, const char *value);

struct rt_http_req {
  /* request: set by the caller, kept across retries */
  char method[8];             /* "GET" (default), "POST", "PUT", "DELETE", "HEAD" (no body read) */
  char *url;
  struct curl_slist *headers;
  char *body;                 /* request body (owned), or NULL */
  size_t body_len;
  double timeout;             /* whole-transfer timeout, real seconds (0: none) */
  double stall_timeout;       /* abort when no byte arrives for this long, real seconds (0: none) */
  size_t max_body;            /* cap of an in-memory response body */
  uint64_t range_from;        /* > 0: ask for bytes from this offset (Range: bytes=N-) */
  int fresh_connect;          /* never on a reused connection: libcurl silently re-sends a request
                                 whose reused connection died, which a non-idempotent create must
                                 not risk */
  rt_http_sink_fn sink;       /* stream 2xx bodies here instead of memory */
  void *sink_data;
  int identity;               /* ask for the body unencoded (Accept-Encoding: identity), e.g. a
                                 file resumed by Range: offsets must be the file's */
  rt_http_header_fn on_header_line; /* optional: response headers the caller reads itself */
  /* AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4), for object stores: set all three. libcurl
   * copies them when the transfer starts; the caller wipes its own copies. Signed requests keep
   * their path as given (CURLOPT_PATH_AS_IS), since the path given is the one signed. */
  const char *aws_sigv4;      /* provider, e.g. "aws:amz:us-east-1:s3", or NULL */
  const char *username;       /* access key id (CURLOPT_USERNAME: keys may contain ':') */
  const char *password;       /* secret access key */
  rt_http_done_fn done;
  void *user;
  /* response: cleared by each start */
  int curl_code;              /* CURLE_OK, or why the transfer failed */
  int abort_rc;               /* RT_E* code when we aborted (sink error, body too big) */
  long status;                /* HTTP status, 0 when none arrived */
  char *resp;                 /* in-memory body (NUL-terminated), or NULL */
  size_t resp_len, resp_cap;
  uint64_t sunk;              /* bytes passed to the sink */
  double retry_after;         /* Retry-After in seconds, or -1 */
  long ratelimit_left;        /* "Ratelimit: ...;r=N;t=S": N, or -1 */
  double ratelimit_reset;     /* S (at most a day), or -1 */
  char content_type[96];
  char content_encoding[32];  /* the answer's Content-Encoding, "" when none */
  char errbuf[CURL_ERROR_SIZE];
  long new_connections;       /* connections this transfer had to open (0 = reused) */
  /* internal */
  CURL *easy;
  rt_http *http;
  rt_list link;
  int active;
};

int rt_http_init(rt_runtime *rt);
/* Aborts every transfer (no callbacks) and frees the multi handle; the loop must run afterwards so
 * socket handles can close. */
void rt_http_close(rt_runtime *rt);

void rt_http_req_init(rt_http_req *r);
/* Sets the URL (copied). Returns 0 or RT_ENOMEM. */
int rt_http_req_url(rt_http_req *r, const char *url);
/* Adds a header line such as "Accept: application/json" (copied). Returns 0 or RT_ENOMEM. */
int rt_http_req_header(rt_http_req *r, const char *line);
/* Sets the body (copied). Returns 0 or RT_ENOMEM. */
int rt_http_req_body(rt_http_req *r, const char *data, size_t len);
/* Starts (or restarts, for a retry) the transfer. Returns 0 or RT_ENOMEM / RT_ESHUTDOWN. */
int rt_http_start(rt_http *h, rt_http_req *r);
/* Aborts an active transfer without calling `done`. No-op when not active. */
void rt_http_cancel(rt_http_req *r);
/* Frees everything the request owns (cancels it first). */
void rt_http_req_free(rt_http_req *r);

/* Is url fit to carry credentials: https, or http to a literal loopback address or localhost (an
 * emulator, a test server), with no user name or password in it, so that a secret never crosses a
 * network in the clear (plain http never goes through a proxy either)? Returns 0 and the host
 * name in host, or RT_EINVAL with a message naming the URL as `what` ("base URL") with its secrets
 * redacted. */
int rt_http_check_secure_url(const char *url, const char *what, char *host, size_t hostlen, char *err,
                             size_t errlen);

/* Counters, for tests and benchmarks. */
typedef struct rt_http_stats {
  uint64_t requests, connections, active;
} rt_http_stats;
void rt_http_get_stats(rt_http *h, rt_http_stats *s);

#endif
