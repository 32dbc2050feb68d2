/* Object-store providers (s3bucket.h). */
#include "s3bucket.h"
#include "err.h"
#include "http.h"
#include "spec.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int region_ok(const char *r) {
  size_t n = strlen(r);
  return n > 0 && n < 48 && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

int rt_s3bucket_set_region(rt_s3bucket *b, const char *region) {
  if (!region_ok(region)) return RT_EINVAL;
  snprintf(b->region, sizeof b->region, "%s", region);
  snprintf(b->sigv4, sizeof b->sigv4, "aws:amz:%s:s3", region);
  if (b->aws_default) {
    char url[128];
    snprintf(url, sizeof url, "https://s3.%s.amazonaws.com", region);
    char *e = strdup(url);
    if (!e) return RT_ENOMEM;
    free(b->endpoint);
    b->endpoint = e;
  }
  return 0;
}

rt_s3bucket *rt_s3bucket_ref(rt_s3bucket *b) {
  if (b) b->refs++;
  return b;
}

void rt_s3bucket_unref(rt_s3bucket *b) {
  if (!b || --b->refs > 0) return;
  rt_awskeys_free(&b->keys);
  free(b->endpoint);
  free(b->prefix);
  free(b->shown);
  free(b);
}

/* The URI's query parameters this module reads, percent-decoded. */
typedef struct uri_query {
  char region[64], account[64], key_id[256], secret[256];
} uri_query;

static void parse_query(const char *q, uri_query *out) {
  memset(out, 0, sizeof *out);
  while (q && *q) {
    size_t len = strcspn(q, "&");
    const char *eq = memchr(q, '=', len);
    if (eq) {
      size_t nlen = (size_t)(eq - q);
      char *dst = NULL;
      size_t dsize = 0;
      if (nlen == 6 && !strncmp(q, "region", 6)) dst = out->region, dsize = sizeof out->region;
      else if (nlen == 10 && !strncmp(q, "account-id", 10)) dst = out->account, dsize = sizeof out->account;
      else if (nlen == 13 && !strncmp(q, "access-key-id", 13)) dst = out->key_id, dsize = sizeof out->key_id;
      else if (nlen == 17 && !strncmp(q, "secret-access-key", 17)) dst = out->secret, dsize = sizeof out->secret;
      if (dst) {
        snprintf(dst, dsize, "%.*s", (int)(len - nlen - 1), eq + 1);
        rt_s3_unescape(dst, 0);
      }
    }
    q += len;
    if (*q == '&') q++;
  }
}

static int fail(char *err, size_t errlen, int rc, const char *shown, const char *fmt, const char *arg) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, arg);
  snprintf(err, errlen, "bucket %s: %s", shown, msg);
  return rc;
}

/* Where the bucket's requests go: an endpoint given or found, else the provider's. */
static int place(rt_s3bucket *b, const rt_s3opts *o, const uri_query *q, char *err, size_t errlen) {
  const char *ep = o->endpoint ? o->endpoint : o->default_endpoint ? o->default_endpoint : rt_aws_endpoint();
  char url[320];
  if (!ep) {
    if (b->provider == RT_S3_AWS) {
      snprintf(url, sizeof url, "https://s3.%s.amazonaws.com", b->region);
      b->aws_default = 1;
      b->path_style = strchr(b->name, '.') != NULL; /* a dotted name breaks the TLS wildcard */
    } else if (b->provider == RT_S3_R2) {
      if (!q->account[0] || strspn(q->account, "0123456789abcdefABCDEF") != strlen(q->account))
        return fail(err, errlen, RT_EINVAL, b->shown, "r2:// needs ?account-id=<hex account id>%s", "");
      snprintf(url, sizeof url, "https://%s.r2.cloudflarestorage.com", q->account);
      b->path_style = 1;
    } else {
      snprintf(url, sizeof url, "https://storage.googleapis.com");
      b->path_style = 1;
    }
    ep = url;
  } else {
    b->path_style = 1;
  }
  char host[256], why[300];
  if (rt_http_check_secure_url(ep, "the endpoint", host, sizeof host, why, sizeof why))
    return fail(err, errlen, RT_EINVAL, b->shown, "%s", why);
  size_t n = strlen(ep);
  while (n > 0 && ep[n - 1] == '/') n--;
  if (!(b->endpoint = strndup(ep, n))) return RT_ENOMEM;
  if (strchr(b->endpoint + strcspn(b->endpoint, ":") + 3, '/'))
    return fail(err, errlen, RT_EINVAL, b->shown, "the endpoint must be scheme://host[:port] with no path (got %s)", b->endpoint);
  return 0;
}

static int find_keys(rt_s3bucket *b, const rt_s3opts *o, uri_query *q, char *err, size_t errlen) {
  const char *id = o->access_key_id, *secret = o->secret_access_key, *token = o->session_token;
  if (!id && !secret && !o->profile) {
    if (q->key_id[0] && q->secret[0]) id = q->key_id, secret = q->secret, token = NULL;
    else if (o->default_key_id && !o->endpoint) id = o->default_key_id, secret = o->default_secret, token = NULL;
  }
  char why[300];
  int rc = rt_awskeys_find(id, secret, token, o->profile, &b->keys, why, sizeof why);
  if (rc) return fail(err, errlen, rc, b->shown, "%s", why);
  return 0;
}

int rt_s3bucket_open(const char *uri, const rt_s3opts *o, rt_s3bucket **out, char *err, size_t errlen) {
  rt_specerr se;
  *out = NULL;
  if (rt_spec_check_destination(uri, "bucket", &se)) {
    snprintf(err, errlen, "%s", se.message);
    return RT_EINVAL;
  }
  rt_s3bucket *b = calloc(1, sizeof *b);
  if (!b) return RT_ENOMEM;
  b->refs = 1;
  char shown[1024];
  b->shown = strdup(rt_spec_redact_secrets(uri, shown, sizeof shown));
  b->provider = !strncmp(uri, "s3://", 5) ? RT_S3_AWS : !strncmp(uri, "gs://", 5) ? RT_S3_GCS : RT_S3_R2;
  const char *rest = uri + 5, *qs = strchr(rest, '?');
  size_t span = qs ? (size_t)(qs - rest) : strlen(rest), blen = strcspn(rest, "/?");
  uri_query q;
  parse_query(qs ? qs + 1 : NULL, &q);
  int rc = RT_ENOMEM;
  if (!b->shown) goto out;
  rc = RT_EINVAL;
  if (blen >= sizeof b->name || blen < 3) {
    rc = fail(err, errlen, RT_EINVAL, b->shown, "bucket names have 3 to 63 characters%s", "");
    goto out;
  }
  memcpy(b->name, rest, blen);
  /* the directory: segments joined by '/', with a trailing '/' */
  char dir[1024] = "";
  size_t dn = 0;
  for (const char *p = rest + blen; p < rest + span;) {
    while (p < rest + span && *p == '/') p++;
    size_t len = strcspn(p, "/?");
    if (len > (size_t)(rest + span - p)) len = (size_t)(rest + span - p);
    if (len == 0) break;
    if (dn + len + 2 > sizeof dir) {
      rc = fail(err, errlen, RT_EINVAL, b->shown, "the bucket path is too long%s", "");
      goto out;
    }
    dn += (size_t)snprintf(dir + dn, sizeof dir - dn, "%.*s/", (int)len, p);
    p += len;
  }
  rc = RT_ENOMEM;
  if (!(b->prefix = strdup(dir))) goto out;
  char region[64] = "";
  if (b->provider != RT_S3_AWS) snprintf(region, sizeof region, "auto");
  else if (o->region) snprintf(region, sizeof region, "%s", o->region);
  else if (q.region[0]) snprintf(region, sizeof region, "%s", q.region);
  else if (rt_aws_region(o->profile, region, sizeof region) != 0) snprintf(region, sizeof region, "us-east-1");
  if (b->provider != RT_S3_AWS && o->region) snprintf(region, sizeof region, "%s", o->region);
  if (!region_ok(region)) {
    rc = fail(err, errlen, RT_EINVAL, b->shown, "'%s' is not a region name", region);
    goto out;
  }
  rt_s3bucket_set_region(b, region);
  if ((rc = place(b, o, &q, err, errlen)) || (rc = find_keys(b, o, &q, err, errlen))) goto out;
  if (strpbrk(b->keys.id, "\r\n") || (b->keys.token && strpbrk(b->keys.token, "\r\n"))) {
    rc = fail(err, errlen, RT_EINVAL, b->shown, "the access key id or session token contains a line break%s", "");
    goto out;
  }
  *out = b;
  b = NULL;
  rc = 0;
out:
  memset(&q, 0, sizeof q);
  if (b && rc == RT_ENOMEM) snprintf(err, errlen, "out of memory");
  rt_s3bucket_unref(b);
  return rc;
}

int rt_s3bucket_url(const rt_s3bucket *b, const char *key, rt_s3param *params, int n, char *out, size_t size) {
  char query[3072];
  if (rt_s3_query(query, sizeof query, params, n)) return RT_ETOOBIG;
  return rt_s3_url(out, size, b->endpoint, b->path_style, b->name, key, query);
}
