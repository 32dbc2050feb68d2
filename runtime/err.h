/* Error codes shared by every C module: functions return 0 or one of these (negative). */
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
};

/* Short upper-case name of an error code, e.g. "TIMEOUT"; never NULL. */
const char *rt_errname(int rc);
/* One-line human description of an error code; never NULL. */
const char *rt_strerror(int rc);

#endif
