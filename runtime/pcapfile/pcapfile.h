/* Reading capture files through libpcap: classic pcap (microsecond or nanosecond timestamps,
 * either byte order) and pcapng (several sections are fine as long as every interface has the
 * same link type), always opened at nanosecond precision, so a timestamp is an exact count of
 * nanoseconds whatever the file holds. An optional BPF filter (pcap_compile's language, the
 * one tcpdump takes) is compiled against the file's link type and applied to every packet with
 * pcap_offline_filter: rt_pcapfile_next returns only the packets that match.
 *
 * A packet returned by rt_pcapfile_next stays valid until the next call on the same file.
 * Nothing here allocates per packet. Not thread-safe per file; distinct files may be read on
 * distinct threads (libpcap's compiler is reentrant since 1.8). */
#ifndef PCAPRUN_PCAPFILE_H
#define PCAPRUN_PCAPFILE_H
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_pcapfile {
  pcap_t *p;
  struct bpf_program prog;
  int filtered;          /* prog holds a compiled filter */
  int linktype;          /* DLT_ value (pcap_datalink) */
  int snaplen;
  uint64_t read;         /* packets read so far, matching the filter or not */
  char *buf;             /* the stream's buffer (glibc ignores a size without one) */
  const char *path;      /* borrowed from the caller of rt_pcapfile_open */
} rt_pcapfile;

/* Opens path (which must stay valid while f is open) with an optional BPF filter (NULL or ""
 * for none). Returns 0, or fills err and returns RT_ENOTFOUND (no such file), RT_EIO (cannot
 * read it), RT_EPCAP (not a capture libpcap reads) or RT_EINVAL (the filter does not compile
 * for this file's link type). f needs no close after a failure. */
int rt_pcapfile_open(rt_pcapfile *f, const char *path, const char *filter, char *err, size_t errlen);

/* The next packet that matches the filter: returns 1 and sets *h and *data, 0 at the end of the
 * file, or RT_EPCAP with err set when the file is corrupt or cut short (the message names the
 * file and how many packets were read before). */
int rt_pcapfile_next(rt_pcapfile *f, struct pcap_pkthdr **h, const unsigned char **data, char *err,
                     size_t errlen);

void rt_pcapfile_close(rt_pcapfile *f);

/* A packet's timestamp in nanoseconds since the epoch (the file is read at nanosecond
 * precision, so tv_usec holds nanoseconds). */
static inline int64_t rt_pcap_ns(const struct pcap_pkthdr *h) {
  return (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec;
}

/* The link type's name as libpcap spells it ("EN10MB", "RAW"), or "DLT_<n>". Static storage for
 * known types; unknown ones are written into buf. */
const char *rt_pcap_linktype_name(int dlt, char *buf, size_t len);

#endif
