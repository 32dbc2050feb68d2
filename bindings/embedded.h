/* Lua modules compiled into the binary (see stdlib/embed.cmake). */
#ifndef PCAPRUN_EMBEDDED_H
#define PCAPRUN_EMBEDDED_H
#include <stddef.h>

typedef struct rt_embedded {
  const char *name;      /* module name for require, e.g. "pcaprun.campaign" */
  const char *chunkname; /* "@stdlib/campaign.lua", for tracebacks */
  const char *source;
  size_t len;
} rt_embedded;

extern const rt_embedded rt_embedded_modules[]; /* ends with a zeroed entry */

#endif
