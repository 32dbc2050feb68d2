/* Error values handed to scripts: a table with metatable "pcaprun.error".
 *   err.code         symbolic: "INVALID", "API_ERROR", "RATE_LIMITED", "TIMEOUT", "CANCELED", ...
 *   err.message      one readable sentence
 *   err.op           the operation, e.g. "pcap.create"
 *   err.field        for INVALID: the field at fault, e.g. "time_limit"
 *   err.http_status  HTTP status when the API answered
 *   err.cf_code      Cloudflare's first error code; err.cf_errors the whole errors[] list
 *   err.retryable    true when trying again later may succeed
 *   err.retry_after  seconds (API time) the API asked us to wait
 * tostring(err) is one line: "API_ERROR: Authentication error (pcap.create: HTTP 403, Cloudflare code 10000)". */
#ifndef PCAPRUN_LERR_H
#define PCAPRUN_LERR_H
#include <jansson.h>
#include <lua.h>

typedef struct rt_errinfo {
  int rc;                 /* RT_E* code */
  const char *message;    /* NULL: rt_strerror(rc) */
  const char *op;
  const char *field;
  long http_status;       /* 0: none */
  int retryable;
  double retry_after;     /* < 0: none */
  const json_t *cf_errors;/* the envelope's errors[] (borrowed), or NULL */
} rt_errinfo;

#define RT_ERRINFO(code, msg) ((rt_errinfo){.rc = (code), .message = (msg), .retry_after = -1})

/* Pushes an error table. [-0, +1, m] */
void l_pusherror(lua_State *L, const rt_errinfo *e);
/* Pushes nil, error and returns 2: the "operational failure" result. [-0, +2, m] */
int l_fail(lua_State *L, const rt_errinfo *e);
/* Pushes nil, error for a bare code. [-0, +2, m] */
int l_failrc(lua_State *L, int rc, const char *op, const char *message);
/* Raises a CANCELED error (task cancellation unwinds the task). [-0, +0, v] */
int l_raise_canceled(lua_State *L);
int luaopen_pcaprun_error(lua_State *L);

#endif
