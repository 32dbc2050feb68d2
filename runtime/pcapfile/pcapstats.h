/* One-pass statistics of capture files, in memory bounded whatever their size:
 *  - totals: packets, bytes on the wire, bytes captured, time range, link types, IPv4 / IPv6 /
 *    other; packets captured partially (caplen < len), among them those with a header cut, and
 *    malformed ones (pktdecode.h); fragments, VLAN-tagged, tunnelled;
 *  - per IP protocol (exact), per TCP/UDP source and destination port (exact), TCP flag counts,
 *    SYN without ACK and the SYN ratio (SYN-without-ACK packets over TCP packets whose flags
 *    were captured);
 *  - per source address, destination address and conversation (an unordered pair of
 *    addresses, with each direction's share), in top-K tables (topk.h): `capacity` entries
 *    each, exact while that many keys suffice, otherwise the heavy hitters with error bounds;
 *  - packets and bytes per interval (default 1 s) from the first packet on, at most max_bins
 *    bins: when the capture spans more, the interval doubles (bins merge pairwise);
 *  - packet sizes (wire length) in Wireshark's buckets 0-19, 20-39, 40-79, 80-159, 160-319,
 *    320-639, 640-1279, 1280-2559, 2560-5119, 5120 and up; TTL / hop limit (exact).
 * Addresses, protocols and TTLs are those of the innermost IP header (the traffic inside GRE or
 * IP-in-IP tunnels), or of the outermost with opts.outer; ports and TCP flags are always the
 * innermost transport header's. Byte counts are wire lengths (a 160-byte cut of a 1500-byte
 * packet counts 1500), as Wireshark counts them.
 * Memory: about 4 MiB of port counters, capacity * ~110 bytes per top-K table, 16 bytes per
 * series bin. Not thread-safe per object. */
#ifndef PCAPRUN_PCAPSTATS_H
#define PCAPRUN_PCAPSTATS_H
#include "pktdecode.h"
#include "topk.h"
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RT_STATS_SIZE_BUCKETS 10
#define RT_STATS_LINKTYPES 8

typedef struct rt_pcapstats_opts {
  uint32_t capacity;     /* entries per top-K table (default 4096) */
  int64_t interval_ns;   /* series interval (default 1 s) */
  uint32_t max_bins;     /* series bins at most (default 100000) */
  int outer;             /* count the outermost IP header instead of the innermost */
} rt_pcapstats_opts;

typedef struct rt_counter { uint64_t packets, bytes; } rt_counter;

typedef struct rt_pcapstats {
  rt_pcapstats_opts opts;
  uint64_t packets, bytes, captured;
  int64_t first_ns, last_ns;      /* earliest and latest timestamps */
  int64_t prev_ns;
  uint64_t out_of_order;          /* packets earlier than the one before */
  struct { int dlt; uint64_t packets; } links[RT_STATS_LINKTYPES];
  uint64_t ipv4, ipv6, other;     /* by the counted IP header's version; other: no IP */
  uint64_t truncated;             /* captured partially (caplen < len) */
  uint64_t cut_headers;           /* ... with a header cut (pktdecode.h's `truncated`) */
  uint64_t malformed, fragments, vlan, gre, ipip;
  rt_counter proto[256];
  /* TCP */
  uint64_t tcp_flagged;           /* TCP packets whose flags were captured */
  uint64_t flag[8];               /* per flag bit (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR) */
  uint64_t syn_only;              /* SYN without ACK */
  uint64_t syn_ack;
  rt_counter *ports;              /* [4][65536]: TCP and UDP source ports, then TCP and UDP
                                   * destination ports */
  rt_topk *src, *dst, *pair;
  /* the series */
  int64_t series_start;           /* start of bin 0 (the first packet's time, then earlier) */
  int64_t interval;               /* current bin width (ns) */
  rt_counter *bins;
  uint32_t nbins, bins_cap;
  uint64_t sizes[RT_STATS_SIZE_BUCKETS];
  uint64_t ttl[256];
  int failed;                     /* out of memory while growing the series */
} rt_pcapstats;

/* Default options: capacity 4096, 1 s, 100000 bins, innermost. */
void rt_pcapstats_opts_default(rt_pcapstats_opts *o);

/* Prepares s. Returns 0 or RT_ENOMEM (s needs rt_pcapstats_free either way). */
int rt_pcapstats_init(rt_pcapstats *s, const rt_pcapstats_opts *o);
void rt_pcapstats_free(rt_pcapstats *s);

/* Counts one decoded packet with its timestamp. */
void rt_pcapstats_add(rt_pcapstats *s, int64_t ts_ns, const rt_pkt *p);

/* Reads the files (in time order, pcapmerge.h; link types may differ) with an optional BPF
 * filter and counts every matching packet. cancel, when not NULL, is polled: set, it stops
 * the pass with RT_ECANCELED. Returns 0 or an RT_E* code with err set. */
int rt_pcapstats_files(rt_pcapstats *s, const char *const *paths, size_t n, const char *filter,
                       const atomic_int *cancel, char *err, size_t errlen);

/* The statistics as JSON (see stdlib/REFERENCE.md, pcaprun.pcapfile), with the `top` heaviest
 * entries of each table. NULL when out of memory. */
json_t *rt_pcapstats_json(const rt_pcapstats *s, size_t top);

#endif
