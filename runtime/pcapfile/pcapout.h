/* Writing a capture file atomically: classic pcap with nanosecond timestamps (libpcap's dumper
 * on a nanosecond pcap_open_dead handle), written to a temporary file of a unique name beside
 * the final one (PATH.XXXXXX.tmp, created with O_EXCL|O_NOFOLLOW, so an existing file or a
 * symlink there is never written through), then flushed, fsynced, renamed to PATH and the
 * directory fsynced. A file under PATH is therefore always complete; a failed or abandoned
 * output leaves nothing behind (the temporary file is removed). PATH's directories are created.
 *
 * Records are written as given: a timestamp read at nanosecond precision (pcapfile.h) stays
 * exact. Not thread-safe per output. */
#ifndef PCAPRUN_PCAPOUT_H
#define PCAPRUN_PCAPOUT_H
#include <limits.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rt_pcapout {
  pcap_t *dead;
  pcap_dumper_t *dumper;
  char *buf;             /* the stream's buffer */
  uint64_t packets;      /* records written */
  uint64_t bytes;        /* the file's size so far: the 24-byte header and every record */
  uint64_t written_back; /* bytes handed to the kernel to start writing */
  char path[PATH_MAX], tmp[PATH_MAX];
} rt_pcapout;

/* Starts PATH.XXXXXX.tmp for records of link type dlt (a DLT_ value) and snapshot length
 * snaplen. Returns 0, or fills err and returns RT_EIO (RT_ENOMEM). o needs no abort after a
 * failure. */
int rt_pcapout_open(rt_pcapout *o, const char *path, int dlt, int snaplen, char *err, size_t errlen);

/* Appends one record (h->ts.tv_usec holds nanoseconds). A write error shows at commit. */
void rt_pcapout_write(rt_pcapout *o, const struct pcap_pkthdr *h, const unsigned char *data);

/* Flushes, fsyncs, renames the temporary file to PATH and fsyncs the directory. Returns 0, or
 * fills err and returns RT_EIO, having removed the temporary file. Either way o is closed. */
int rt_pcapout_commit(rt_pcapout *o, char *err, size_t errlen);

/* Closes and removes the temporary file. Safe on an output already committed or aborted. */
void rt_pcapout_abort(rt_pcapout *o);

#endif
