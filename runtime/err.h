/* The error codes of pcaprun, in one registry (err.c): every module returns 0 or one of these
 * (negative), and every error a script sees carries one by name. Each code has a name (what
 * err.code says in Lua), a meaning, whether trying again later may succeed, and the exit status
 * of a run whose main task ends with it. Lua gets the same table as `error.codes`.
 * Outcomes that are not errors (a call still in progress, a claim to wait for) are never
 * returned as positive numbers: they go into a function's output parameters. */
#ifndef PCAPRUN_ERR_H
#define PCAPRUN_ERR_H

enum {
  RT_OK = 0,
  RT_EINVAL = -1,     /* bad argument or request (caught before anything is sent) */
  RT_ENOMEM = -2,     /* out of memory */
  RT_EAGAIN = -3,     /* not finished yet: the operation was queued (internal) */
  RT_ETIMEDOUT = -4,  /* a deadline passed */
  RT_ECANCELED = -5,  /* the task or operation was cancelled */
  RT_ELIMITED = -6,   /* a limiter's wait queue is full */
  RT_ETRANSPORT = -7, /* connection failed, reset or timed out at the HTTP level */
  RT_EAPI = -8,       /* the API answered with an error envelope or an error status */
  RT_EPROTO = -9,     /* the API answered with something malformed */
  RT_EPCAP = -10,     /* a downloaded file is not a valid classic pcap */
  RT_EIO = -11,       /* local file-system error */
  RT_ETOOBIG = -12,   /* a response body exceeded its cap */
  RT_ERATELIMIT = -13,/* rate-limited by the API (429) and out of retries */
  RT_ESHUTDOWN = -14, /* the runtime is shutting down */
  RT_ENOTFOUND = -15, /* no such object */
  RT_ESTATE = -16,    /* the object is in the wrong state for this operation */
  RT_EFAILED = -17,   /* the capture ended in status "failed" */
  RT_ESCRIPT = -18,   /* an error raised or returned by script code that is not an error value */
  RT_EBUCKET = -19,   /* the bucket's ownership is not validated for full captures */
  RT_EUSAGE = -20,    /* bad arguments to a script (pcaprun.args): the run exits 2, no traceback */
  RT_EEXIT = -21,     /* os.exit() unwinding the tasks: the run ends with the status it gave */
};

typedef struct rt_errdef {
  int rc;
  const char *name;   /* "TIMEOUT" */
  const char *text;   /* "timed out" */
  int retryable;      /* trying again later may succeed (API_ERROR: see rt_err_retryable) */
  int exit_status;    /* of a run whose main task fails with it */
} rt_errdef;

/* The registry's entry for rc; an unknown code gets a generic entry. Never NULL. */
const rt_errdef *rt_err(int rc);
/* Short upper-case name of an error code, e.g. "TIMEOUT"; never NULL. */
const char *rt_errname(int rc);
/* One-line human description of an error code; never NULL. */
const char *rt_strerror(int rc);
/* The code named `name` ("TIMEOUT"), or 0 when there is none. */
int rt_errcode(const char *name);
/* May trying again later succeed? The registry says, except for API_ERROR, where the answer's
 * HTTP status does: 408, 429 and 5xx yes, any other no. */
int rt_err_retryable(int rc, long http_status);
/* Calls fn for every code of the registry (RT_OK excluded), in order. */
void rt_err_each(void (*fn)(const rt_errdef *d, void *ud), void *ud);

#endif
