/* Canonical S3 URLs (s3url.h). */
#include "s3url.h"
#include "err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int rt_s3_encode(char *out, size_t size, size_t *pos, const char *s, size_t len, int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  size_t p = *pos;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c) || (keep_slash && c == '/')) {
      if (p + 2 > size) return RT_ETOOBIG;
      out[p++] = (char)c;
    } else {
      if (p + 4 > size) return RT_ETOOBIG;
      out[p++] = '%';
      out[p++] = hex[c >> 4];
      out[p++] = hex[c & 15];
    }
  }
  if (p + 1 > size) return RT_ETOOBIG;
  out[p] = 0;
  *pos = p;
  return 0;
}

static int by_name(const void *a, const void *b) {
  const rt_s3param *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

static int put_char(char *out, size_t size, size_t *pos, char c) {
  if (*pos + 2 > size) return RT_ETOOBIG;
  out[(*pos)++] = c;
  out[*pos] = 0;
  return 0;
}

int rt_s3_query(char *out, size_t size, rt_s3param *params, int n) {
  size_t pos = 0;
  if (size == 0) return RT_ETOOBIG;
  out[0] = 0;
  if (n > 1) qsort(params, (size_t)n, sizeof *params, by_name);
  for (int i = 0; i < n; i++) {
    const char *v = params[i].value ? params[i].value : "";
    if ((i > 0 && put_char(out, size, &pos, '&')) ||
        rt_s3_encode(out, size, &pos, params[i].name, strlen(params[i].name), 0) ||
        put_char(out, size, &pos, '=') || rt_s3_encode(out, size, &pos, v, strlen(v), 0))
      return RT_ETOOBIG;
  }
  return 0;
}

int rt_s3_url(char *out, size_t size, const char *endpoint, int path_style, const char *bucket,
              const char *key, const char *query) {
  const char *host = strstr(endpoint, "://");
  if (!host) return RT_EINVAL;
  host += 3;
  int n = path_style ? snprintf(out, size, "%s/%s/", endpoint, bucket)
                     : snprintf(out, size, "%.*s%s.%s/", (int)(host - endpoint), endpoint, bucket, host);
  if (n < 0 || (size_t)n >= size) return RT_ETOOBIG;
  size_t pos = (size_t)n;
  if (key && rt_s3_encode(out, size, &pos, key, strlen(key), 1)) return RT_ETOOBIG;
  if (query && *query) {
    n = snprintf(out + pos, size - pos, "?%s", query);
    if (n < 0 || (size_t)n >= size - pos) return RT_ETOOBIG;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void rt_s3_unescape(char *s, int plus_space) {
  char *w = s;
  for (const char *r = s; *r; r++) {
    if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
      *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
      r += 2;
    } else {
      *w++ = plus_space && *r == '+' ? ' ' : *r;
    }
  }
  *w = 0;
}
