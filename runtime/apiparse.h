/* Parsing what the API sends back: the v4 envelope, capture objects, status values and RFC 3339
 * times. Pure functions over bytes and jansson values: no I/O, fuzzed (tests/fuzz). */
#ifndef PCAPRUN_APIPARSE_H
#define PCAPRUN_APIPARSE_H
#include <jansson.h>
#include <stddef.h>

enum rt_status {
  RT_ST_UNKNOWN = 0, /* "unknown" or any value we do not recognise: non-terminal */
  RT_ST_PENDING, RT_ST_RUNNING, RT_ST_CONV_PENDING, RT_ST_CONV_RUNNING,
  RT_ST_SUCCESS, RT_ST_COMPLETE, RT_ST_FAILED,
};
int rt_status_parse(const char *s);
const char *rt_status_name(int st);
int rt_status_terminal(int st);   /* success, complete, failed */
/* Still holds the account's full-capture slot: pending, running, or a status we do not know. */
int rt_status_holds_slot(int st);

typedef struct rt_envelope {
  int success;
  json_t *root;         /* owned */
  json_t *result;       /* borrowed from root; may be NULL or JSON null */
  json_t *errors;       /* borrowed: the errors[] array, or NULL */
  long cf_code;         /* errors[0].code, or 0 */
  char message[384];    /* errors joined as "message (code)"; or why the body is not an envelope */
} rt_envelope;

/* Parses a v4 envelope {success, errors, messages, result}. Unknown keys are ignored.
 * Returns 0 (see env->success), or RT_EPROTO with env->message saying what is wrong.
 * Always leaves env safe to free. */
int rt_envelope_parse(const char *body, size_t len, rt_envelope *env);
void rt_envelope_free(rt_envelope *env);

typedef struct rt_capinfo {
  char id[33];
  int type;             /* RT_CAP_SIMPLE / RT_CAP_FULL */
  int status;
  char status_raw[32];
  double submitted;     /* epoch s, 0 when absent */
  double time_limit;    /* s, 0 when absent */
  char colo[64];        /* colo_name, else colo (runtime/API.md#12-unknowns U1) */
} rt_capinfo;

/* Reads the fields the runtime depends on. id (32 hex digits), type and status are required;
 * the rest are optional. Returns 0 or RT_EPROTO with the reason in why. */
int rt_capinfo_parse(const json_t *obj, rt_capinfo *out, char *why, size_t whylen);
/* Walks a capture list (a JSON array): the next item from *i on that parses, with *info filled and
 * *i past it, or NULL at the end. Items that do not parse are skipped: a capture pcaprun cannot
 * read is not one it can own or match. Start with *i = 0; a non-array is an empty list. */
const json_t *rt_capinfo_next(const json_t *list, size_t *i, rt_capinfo *info);
/* The field an API error names: errors[0].source.pointer ("/filter_v1/protocol") as a dotted
 * path ("filter_v1.protocol") in buf, or NULL when there is none (or it is not a plain path). */
const char *rt_error_field(const json_t *errors, char *buf, size_t size);
/* A capture or ownership id: exactly 32 hex digits (it goes into URLs and file names). */
int rt_id_valid(const char *id);

/* RFC 3339 ("2026-11-26T17:29:20.641845Z", or with a ±hh:mm offset) -> epoch seconds.
 * Returns 0 or RT_EINVAL. */
int rt_time_parse(const char *s, double *epoch);
/* Epoch seconds -> "2026-11-26T17:29:20.641845Z"; "(not a time)" outside years 1..9999. */
void rt_time_format(double epoch, char *buf, size_t size);

#endif
