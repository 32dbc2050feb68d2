/* Bounded request bodies in memory (bodybuf.h). */
#include "bodybuf.h"
#include "err.h"
#include <stdlib.h>
#include <string.h>

int rt_bodybuf_append(rt_bodybuf *b, const char *p, size_t n, size_t max) {
  if (b->too_large || b->len + n > max) {
    b->too_large = 1;
    return 0;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return RT_ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

void rt_bodybuf_free(rt_bodybuf *b) {
  free(b->data);
  *b = (rt_bodybuf){0};
}
