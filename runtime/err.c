/* The registry of error codes: names, meanings, retryability, exit statuses. */
#include "err.h"
#include <string.h>

static const rt_errdef errors[] = {
  {RT_OK, "OK", "success", 0, 0},
  {RT_EINVAL, "INVALID", "invalid argument", 0, 1},
  {RT_ENOMEM, "NOMEM", "out of memory", 0, 1},
  {RT_EAGAIN, "AGAIN", "operation in progress", 1, 1},
  {RT_ETIMEDOUT, "TIMEOUT", "timed out", 1, 1},
  {RT_ECANCELED, "CANCELED", "canceled", 0, 1},
  {RT_ELIMITED, "QUEUE_FULL", "too many waiters for a limit", 0, 1},
  {RT_ETRANSPORT, "TRANSPORT", "connection failed", 1, 1},
  {RT_EAPI, "API_ERROR", "the API returned an error", 0, 1},
  {RT_EPROTO, "BAD_RESPONSE", "malformed API response", 1, 1},
  {RT_EPCAP, "BAD_PCAP", "not a valid pcap file", 0, 1},
  {RT_EIO, "IO", "file-system error", 0, 1},
  {RT_ETOOBIG, "TOO_BIG", "response too large", 0, 1},
  {RT_ERATELIMIT, "RATE_LIMITED", "rate-limited by the API", 1, 1},
  {RT_ESHUTDOWN, "SHUTDOWN", "the runtime is shutting down", 0, 1},
  {RT_ENOTFOUND, "NOT_FOUND", "not found", 0, 1},
  {RT_ESTATE, "BAD_STATE", "wrong state for this operation", 0, 1},
  {RT_EFAILED, "CAPTURE_FAILED", "the capture failed", 0, 1},
  {RT_ESCRIPT, "SCRIPT_ERROR", "the script raised an error", 0, 1},
  {RT_EBUCKET, "BUCKET_NOT_VALIDATED", "the bucket is not validated for full captures", 0, 1},
  {RT_EUSAGE, "USAGE", "bad arguments", 0, 2},
  {RT_EEXIT, "EXIT", "os.exit was called", 0, 0},
};

#define NERRORS (sizeof errors / sizeof errors[0])

const rt_errdef *rt_err(int rc) {
  static const rt_errdef unknown = {0, "UNKNOWN", "unknown error", 0, 1};
  for (unsigned i = 0; i < NERRORS; i++)
    if (errors[i].rc == rc) return &errors[i];
  return &unknown;
}

const char *rt_errname(int rc) { return rt_err(rc)->name; }

const char *rt_strerror(int rc) { return rt_err(rc)->text; }

int rt_errcode(const char *name) {
  for (unsigned i = 1; name && i < NERRORS; i++)
    if (strcmp(errors[i].name, name) == 0) return errors[i].rc;
  return 0;
}

int rt_err_retryable(int rc, long http_status) {
  if (rc == RT_EAPI) return http_status == 408 || http_status == 429 || http_status >= 500;
  return rt_err(rc)->retryable;
}

void rt_err_each(void (*fn)(const rt_errdef *d, void *ud), void *ud) {
  for (unsigned i = 1; i < NERRORS; i++) fn(&errors[i], ud);
}
