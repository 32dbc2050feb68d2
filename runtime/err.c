/* Names and descriptions of the runtime's error codes. */
#include "err.h"

static const struct { int rc; const char *name, *text; } errors[] = {
  {RT_OK, "OK", "success"},
  {RT_EINVAL, "INVALID", "invalid argument"},
  {RT_ENOMEM, "NOMEM", "out of memory"},
  {RT_EAGAIN, "AGAIN", "operation in progress"},
  {RT_ETIMEDOUT, "TIMEOUT", "timed out"},
  {RT_ECANCELED, "CANCELED", "canceled"},
  {RT_ELIMITED, "QUEUE_FULL", "too many waiters for a limit"},
  {RT_ETRANSPORT, "TRANSPORT", "connection failed"},
  {RT_EAPI, "API_ERROR", "the API returned an error"},
  {RT_EPROTO, "BAD_RESPONSE", "malformed API response"},
  {RT_EPCAP, "BAD_PCAP", "not a valid pcap file"},
  {RT_EIO, "IO", "file-system error"},
  {RT_ETOOBIG, "TOO_BIG", "response too large"},
  {RT_ERATELIMIT, "RATE_LIMITED", "rate-limited by the API"},
  {RT_ESHUTDOWN, "SHUTDOWN", "the runtime is shutting down"},
  {RT_ENOTFOUND, "NOT_FOUND", "not found"},
  {RT_ESTATE, "BAD_STATE", "wrong state for this operation"},
  {RT_EFAILED, "CAPTURE_FAILED", "the capture failed"},
};

const char *rt_errname(int rc) {
  for (unsigned i = 0; i < sizeof errors / sizeof errors[0]; i++)
    if (errors[i].rc == rc) return errors[i].name;
  return "UNKNOWN";
}

const char *rt_strerror(int rc) {
  for (unsigned i = 0; i < sizeof errors / sizeof errors[0]; i++)
    if (errors[i].rc == rc) return errors[i].text;
  return "unknown error";
}
