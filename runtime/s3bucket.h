/* Object-store providers: from a bucket URI of the forms the PCAPs API takes as destination_conf
 * (and options) to where the bucket's objects are and how requests to it are signed.
 *   s3://BUCKET[/dir][?region=R]  AWS S3: https://BUCKET.s3.R.amazonaws.com (virtual-hosted;
 *                                 path style https://s3.R.amazonaws.com/BUCKET for names with
 *                                 dots); R from the option, the URI, the environment or the
 *                                 profile, else us-east-1.
 *   r2://BUCKET[/dir]?account-id=A[&access-key-id=K&secret-access-key=S]
 *                                 Cloudflare R2: https://A.r2.cloudflarestorage.com/BUCKET, region
 *                                 "auto"; the keys may be in the URI, as the PCAPs API takes them.
 *   gs://BUCKET[/dir]             Google Cloud Storage's S3-compatible XML API with HMAC keys:
 *                                 https://storage.googleapis.com/BUCKET, region "auto".
 * An endpoint (option, else the runtime's default — the emulator's S3 server under --emulate —
 * else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) replaces the provider's and uses path style; it
 * must be https, or http to loopback. Keys: options, else the URI's (R2), else the runtime's
 * default keys (with its default endpoint), else the AWS environment and profile (awsconf.h).
 * Requests are signed by libcurl with the provider string "aws:amz:REGION:s3". */
#ifndef PCAPRUN_S3BUCKET_H
#define PCAPRUN_S3BUCKET_H
#include "awsconf.h"
#include "s3url.h"

enum { RT_S3_AWS = 1, RT_S3_GCS = 2, RT_S3_R2 = 3 };

/* Explicit settings (a script's options); NULL when not given. */
typedef struct rt_s3opts {
  const char *access_key_id, *secret_access_key, *session_token, *region, *endpoint, *profile;
  const char *default_endpoint; /* the runtime's own, e.g. the emulator's S3 server */
  const char *default_key_id, *default_secret; /* the keys that go with it */
} rt_s3opts;

/* A bucket as requests see it. Shared by the operations on it (refcounted); wiped when freed. */
typedef struct rt_s3bucket {
  int refs;
  int provider;          /* RT_S3_* */
  char *endpoint;        /* scheme://host[:port], no trailing slash */
  int path_style;
  int aws_default;       /* AWS's own endpoint: it moves with the region */
  char name[64];         /* the bucket */
  char *prefix;          /* the URI's directory: "" or "dir/" */
  char region[64];
  char sigv4[96];        /* "aws:amz:REGION:s3" */
  rt_awskeys keys;
  char *shown;           /* the URI with its secrets redacted, for messages */
} rt_s3bucket;

/* Resolves uri with o. Returns 0 and a bucket with one ref, or RT_EINVAL / RT_ENOTFOUND (no
 * keys) / RT_ENOMEM with a message in err (never a secret). */
int rt_s3bucket_open(const char *uri, const rt_s3opts *o, rt_s3bucket **out, char *err, size_t errlen);
rt_s3bucket *rt_s3bucket_ref(rt_s3bucket *b);
void rt_s3bucket_unref(rt_s3bucket *b);
/* The bucket lives in another region (the store said so): sign for it, and move AWS's endpoint
 * there. Returns 0, or RT_EINVAL for a region name that cannot be one. */
int rt_s3bucket_set_region(rt_s3bucket *b, const char *region);
/* The URL of key (a full object key, or NULL for the bucket itself) with the query built from
 * params (sorted in place). Returns 0 or RT_ETOOBIG. */
int rt_s3bucket_url(const rt_s3bucket *b, const char *key, rt_s3param *params, int n, char *out, size_t size);

#endif
