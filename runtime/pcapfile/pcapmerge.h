/* Merging capture files by time: a k-way merge over libpcap readers (pcapfile.h) with a binary
 * heap keyed by (timestamp in nanoseconds, input position). At each step the input whose next
 * packet has the earliest timestamp gives it; on a tie the input given last wins. That is the
 * order `mergecap` makes (a file whose own timestamps go backwards is taken as it comes, not
 * sorted), so `rt_pcap_merge` writes the same records, in the same order, as
 * `mergecap -F nsecpcap -w OUT IN...`. Memory: one reader per input, nothing per packet.
 *
 * rt_pcap_merge is the API for other modules (e.g. combining the several files one full
 * capture is delivered as); the iterator below is what every multi-file reader here uses. */
#ifndef PCAPRUN_PCAPMERGE_H
#define PCAPRUN_PCAPMERGE_H
#include "pcapfile.h"
#include <stddef.h>
#include <stdint.h>

/* Merges the n capture files inputs[0..n-1] (classic pcap or pcapng, any timestamp precision)
 * into one classic pcap at `output` with nanosecond timestamps, written atomically (a unique
 * temporary file beside it, fsync, rename, directory fsync: never a partial file under the
 * final name). Every input must have the same link type; the output's snapshot length is the
 * largest of the inputs'. n may be 1 (a copy in pcap form); output may be one of the inputs.
 * Returns 0, or a negative RT_E* code with a message in err:
 *   RT_EINVAL     n is 0, or the inputs' link types differ (the message names both)
 *   RT_ENOTFOUND  an input does not exist;  RT_EIO  an input cannot be read, or the output
 *                 cannot be written;  RT_EPCAP  an input is not a capture, or is corrupt or cut
 *                 short (nothing is written then)
 *   RT_ENOMEM */
int rt_pcap_merge(const char *const *inputs, size_t n, const char *output, char *err, size_t errlen);

typedef struct rt_pcapmerge {
  rt_pcapfile *in;                   /* the n readers */
  struct pcap_pkthdr **hdr;          /* each input's next packet */
  const unsigned char **data;
  size_t *heap, heapn;               /* inputs with a packet waiting, earliest on top */
  size_t n;
  size_t advance;                    /* input to read from at the next call (SIZE_MAX: none) */
  int linktype, snaplen;             /* the first input's link type; the largest snaplen */
} rt_pcapmerge;

/* Opens the n inputs, each with the BPF filter (NULL: none), and reads each one's first packet.
 * Unless mixed_links is set, inputs of different link types are refused (RT_EINVAL). Returns 0
 * or an error as rt_pcap_merge; m needs no close after a failure. */
int rt_pcapmerge_open(rt_pcapmerge *m, const char *const *paths, size_t n, const char *filter,
                      int mixed_links, char *err, size_t errlen);

/* The next packet in merged order: returns 1 with *h, *data and *which (the input's position;
 * NULL to ignore), 0 when every input is exhausted, RT_EPCAP on a corrupt input. The packet
 * stays valid until the next call. */
int rt_pcapmerge_next(rt_pcapmerge *m, struct pcap_pkthdr **h, const unsigned char **data,
                      size_t *which, char *err, size_t errlen);

/* Packets read from every input so far, matching the filter or not. */
uint64_t rt_pcapmerge_read(const rt_pcapmerge *m);

void rt_pcapmerge_close(rt_pcapmerge *m);

#endif
