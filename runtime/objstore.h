/* Object-store operations (the S3 API, which S3, R2 and GCS all speak) on the runtime's libcurl
 * multi handle and libuv loop, like the PCAPs calls: C only, never blocking; a task parks on
 * op->w, or an internal user gets op->on_done.
 *
 *   list    ListObjectsV2 under a prefix, every page (continuation-token) -> [{key, name, size,
 *           etag, modified}] in key order
 *   head    HEAD of an object -> {key, name, size, etag, modified}
 *   get     streams an object into PATH.part (resuming with Range what an earlier attempt or run
 *           left, If-Match its ETag), checked as a pcap while it arrives, fsynced, renamed to
 *           PATH -> {path, bytes, packets, linktype, key, etag, reused}
 *   read    a small object into memory (the ownership challenge) -> its bytes
 *   delete  -> true (an object already gone counts as deleted)
 *
 * Each operation's facts (method, query, accepted statuses, how its answer is read) are a row of
 * one table in objstore.c; one state machine sends, classifies and retries them all: transport
 * errors, 408, 429, 5xx and SlowDown are retried with full-jitter backoff (Retry-After honoured)
 * up to the runtime's --retries; a store that names another region for the bucket
 * (x-amz-bucket-region, or <Region> in its error) is followed there once; SignatureDoesNotMatch,
 * InvalidAccessKeyId, AccessDenied, expired tokens, NoSuchKey and NoSuchBucket end the operation
 * with a message that says what to fix (never a secret: the bucket appears redacted).
 *
 * Gets are recorded in the journal, when the run has one, by local path: the object (URI without
 * query), its ETag, partial or done, bytes and packets; a get of an object the journal shows
 * done into a file still there with its bytes is answered from the file (reused = true), and a
 * .part the journal shows as another object's is not resumed. */
#ifndef PCAPRUN_OBJSTORE_H
#define PCAPRUN_OBJSTORE_H
#include <jansson.h>
#include "http.h"
#include "partfile.h"
#include "rt.h"
#include "s3bucket.h"
#include "scheduler.h"

enum rt_objop_kind { RT_OBJ_LIST, RT_OBJ_HEAD, RT_OBJ_GET, RT_OBJ_READ, RT_OBJ_DELETE, RT_OBJ_KINDS };

typedef struct rt_objop rt_objop;
typedef struct rt_objop_def rt_objop_def;

struct rt_objop {
  rt_wait w;                  /* first: a task parks on it */
  rt_runtime *rt;
  rt_s3bucket *b;             /* a ref */
  const rt_objop_def *def;
  int kind;
  rt_http_req req;
  uv_timer_t *timer;          /* backoff */
  int phase;
  int attempts;               /* transient failures since the last progress */
  int moved;                  /* followed the bucket to another region */
  int starting;               /* inside rt_objop_start: the outcome is returned */
  void (*on_done)(rt_objop *op);
  void *user;
  /* inputs */
  char *key;                  /* full object key; list: the full prefix */
  char *path;                 /* get: the local file */
  char etag[80];              /* get: the ETag expected ("" any), then the object's */
  int64_t size;               /* get: the size expected, -1 when unknown */
  size_t max_bytes;           /* read: the largest object accepted */
  /* state */
  rt_partfile file;
  uint64_t best;              /* get: the most bytes the file has held */
  char token[1024];           /* list: the next page's continuation token */
  char hdr_region[64], hdr_etag[80], hdr_modified[64];
  int64_t hdr_length;
  /* outcome */
  int rc;
  long http_status;
  char s3_code[64];           /* the store's error code, e.g. "NoSuchKey" */
  char message[512];
  json_t *result;             /* owned */
};

/* A new operation on b (ref taken). key: the object's full key (list: the prefix). NULL on
 * ENOMEM. The caller sets path/etag/size/max_bytes as the kind needs. */
rt_objop *rt_objop_new(rt_runtime *rt, rt_s3bucket *b, int kind, const char *key);
/* Starts it. Returns RT_EAGAIN (in progress: park on op->w, or wait for on_done) or the outcome
 * (0, or an error with op->message). */
int rt_objop_start(rt_objop *op);
/* Stops it if it runs (a get keeps its .part for the next attempt) and frees it. */
void rt_objop_free(rt_objop *op);
/* The operation's name, e.g. "bucket.fetch". */
const char *rt_objop_name(const rt_objop *op);

#endif
