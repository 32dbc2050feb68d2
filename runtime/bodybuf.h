/* A request body kept in memory as it arrives, up to a bound: past it the bytes are dropped and
 * the body is marked too large, so that a server reads the request to its end and answers 413
 * instead of growing without limit. Used by the servers on libmicrohttpd (the emulator, and
 * pcaprun serve). */
#ifndef PCAPRUN_BODYBUF_H
#define PCAPRUN_BODYBUF_H
#include <stddef.h>

typedef struct rt_bodybuf {
  char *data;       /* NUL-terminated; NULL while empty */
  size_t len, cap;
  int too_large;    /* more than the bound arrived (or was announced): data is incomplete */
} rt_bodybuf;

/* Appends n bytes, or drops them once the body would pass max. Returns 0 or RT_ENOMEM. */
int rt_bodybuf_append(rt_bodybuf *b, const char *p, size_t n, size_t max);
void rt_bodybuf_free(rt_bodybuf *b);

#endif
