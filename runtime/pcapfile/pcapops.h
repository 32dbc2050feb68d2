/* Capture file operations in one pass: read one or more files in time order (pcapmerge.h),
 * keep the packets that match a BPF filter and fall in a time window, and write them to one
 * new file or split them over several (every N packets, or before a file would pass N bytes).
 * merge, filter, slice and split are this one operation with different options. Every output
 * file is written atomically (pcapout.h): classic pcap, nanosecond timestamps, the inputs'
 * link type and largest snapshot length. Memory is one reader per input and one writer,
 * whatever the files' sizes. */
#ifndef PCAPRUN_PCAPOPS_H
#define PCAPRUN_PCAPOPS_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_pcapcopy_opts {
  const char *const *inputs;  /* files read in time order (merged) */
  size_t ninputs;
  const char *filter;         /* BPF expression, or NULL */
  /* Time window [start, end) in nanoseconds since the epoch; INT64_MIN / INT64_MAX for none.
   * With start_relative / end_relative set, the bound counts from the first packet that
   * matches the filter instead (so +10 s is "ten seconds after the first packet"). */
  int64_t start_ns, end_ns;
  int start_relative, end_relative;
  const char *output;         /* the output file; when splitting, the name of the parts: out.pcap
                               * gives out-00001.pcap, out-00002.pcap, ... */
  uint64_t split_packets;     /* > 0: a new part every so many packets */
  uint64_t split_bytes;       /* > 0: a new part before one would exceed so many bytes (every
                               * part holds at least one packet) */
  const atomic_int *cancel;   /* when set to non-zero, stop (RT_ECANCELED); NULL: never */
} rt_pcapcopy_opts;

#define RT_PCAPCOPY_OPTS(in, n, out) \
  ((rt_pcapcopy_opts){.inputs = (in), .ninputs = (n), .output = (out), .start_ns = INT64_MIN, \
                      .end_ns = INT64_MAX})

typedef struct rt_pcapcopy_file {
  char *path;
  uint64_t packets, bytes;    /* records, file size */
} rt_pcapcopy_file;

typedef struct rt_pcapcopy_result {
  uint64_t read;              /* packets read from the inputs */
  uint64_t written;           /* packets written */
  size_t nfiles;              /* files written, in order (one without splitting; none when a
                               * split found no packet) */
  rt_pcapcopy_file *files;
} rt_pcapcopy_result;

/* Runs the operation. Returns 0, or a negative RT_E* code with err set (see rt_pcap_merge in
 * pcapmerge.h; RT_ECANCELED when canceled). On failure no output file of this call exists
 * except the parts of a split that were completed (listed in r). Free r with
 * rt_pcapcopy_result_free in every case. */
int rt_pcap_copy(const rt_pcapcopy_opts *o, rt_pcapcopy_result *r, char *err, size_t errlen);
void rt_pcapcopy_result_free(rt_pcapcopy_result *r);

/* The name of part `index` (from 1) of a split output: "dir/out.pcap" -> "dir/out-00001.pcap",
 * "dir/out" -> "dir/out-00001". Returns 0, or -1 when it does not fit. */
int rt_pcap_part_name(const char *output, unsigned long index, char *buf, size_t len);

/* Seconds with up to 9 decimals ("12.5"), exactly, as nanoseconds. Returns 0 or -1. */
int rt_pcap_parse_seconds(const char *s, int64_t *ns);
/* A time-window bound: epoch seconds ("1764139440.5"), an RFC 3339 time with its zone
 * ("2025-11-26T06:44:00.5Z"), or "+SECONDS" after the first packet (*relative set); to the
 * nanosecond. Returns 0 or -1. */
int rt_pcap_parse_time(const char *s, int64_t *ns, int *relative);

#endif
