/* Canonical S3 request URLs. libcurl 7.88's SigV4 signer signs the URL's path and query exactly
 * as they are written, where AWS signs them canonical; so every URL pcaprun sends to an object
 * store is written canonical in the first place, and then both agree:
 *   - path: each byte of the key percent-encoded the AWS way (A-Za-z0-9 - _ . ~ and '/' kept,
 *     anything else %XX in upper case), never normalised (no "." or ".." folding);
 *   - query: parameters sorted by name (byte order), names and values encoded the same way with
 *     '/' encoded too, and `name=` for a parameter without a value.
 * Functions write into a caller's buffer and return 0, or RT_ETOOBIG when it is too small. */
#ifndef PCAPRUN_S3URL_H
#define PCAPRUN_S3URL_H
#include <stddef.h>

typedef struct rt_s3param {
  const char *name;
  const char *value; /* NULL or "" is sent as `name=` */
} rt_s3param;

/* Appends len bytes of s, encoded, at out + *pos (NUL-terminated); keep_slash keeps '/'. */
int rt_s3_encode(char *out, size_t size, size_t *pos, const char *s, size_t len, int keep_slash);
/* The canonical query string of n parameters (sorts params in place); "" when n is 0. */
int rt_s3_query(char *out, size_t size, rt_s3param *params, int n);
/* The URL of key in bucket: endpoint "scheme://host[:port]" (no trailing slash); path style puts
 * the bucket in the path (https://host/bucket/key), virtual-hosted style in the host name
 * (https://bucket.host/key). query (canonical, may be NULL or "") is appended after '?'. */
int rt_s3_url(char *out, size_t size, const char *endpoint, int path_style, const char *bucket,
              const char *key, const char *query);
/* Decodes %XX escapes (and '+' as a space when plus_space) in place. */
void rt_s3_unescape(char *s, int plus_space);

#endif
