/* Streaming validator for classic (libpcap) capture files: checks the bytes of a download as they
 * pass, in any chunking, with O(1) memory and no allocation, so a large file is validated
 * without being read twice. Rules: runtime/API.md#7-downloads. Versions 2.4 and 2.2 are
 * accepted; like libpcap, records of a 2.2 file are read with orig_len before incl_len. */
#ifndef PCAPRUN_PCAPCHECK_H
#define PCAPRUN_PCAPCHECK_H
#include <stddef.h>
#include <stdint.h>

#define RT_PCAP_GLOBAL_HEADER 24
#define RT_PCAP_RECORD_HEADER 16
/* A record may exceed the header's snaplen up to this (libpcap's MAXIMUM_SNAPLEN), because some
 * writers put a small or zero snaplen in the header. */
#define RT_PCAP_SNAPLEN_SLACK 262144u
/* Sanity cap on incl_len whatever the snaplen says: a corrupt length is caught at once instead
 * of swallowing the rest of the file as one record. */
#define RT_PCAP_MAX_RECORD (16u << 20)

typedef struct rt_pcapcheck {
  /* Results. The header fields are valid once header_ok is set. */
  int header_ok;               /* a valid 24-byte global header has been seen */
  int big_endian;              /* the file's byte order */
  int nsec;                    /* timestamps in nanoseconds (magic a1b23c4d), else microseconds */
  unsigned version_major, version_minor;
  uint32_t snaplen;
  uint32_t linktype;           /* LINKTYPE_ value: the low 26 bits of the header field */
  uint64_t packets;            /* complete records */
  uint64_t data_bytes;         /* sum of incl_len over complete records */
  uint64_t offset;             /* bytes fed so far */
  int rc;                      /* 0, or the sticky error: RT_EPCAP (RT_EIO from _file) */
  char error[160];             /* message when rc != 0 */
  /* Private: the state machine. */
  int state;
  unsigned have;               /* bytes of the current header collected in buf */
  uint8_t buf[RT_PCAP_GLOBAL_HEADER]; /* the global header, then each record header */
  uint32_t left;               /* bytes of the current record's data still to come */
  uint64_t record_offset;      /* where the current record starts, for messages */
} rt_pcapcheck;

/* Starts a new check. */
void rt_pcapcheck_init(rt_pcapcheck *c);

/* Checks the next `len` bytes of the file. Returns 0, or RT_EPCAP with a message in c->error as
 * soon as the bytes cannot be a valid classic pcap: pcapng, gzip, JSON, HTML and other starts are
 * named ("JSON, not a pcap: the server sent an error body?"), record errors give the record
 * number and byte offset. Errors are sticky: later calls return the same code and do nothing.
 * The verdict never depends on how the file is split into calls. */
int rt_pcapcheck_feed(rt_pcapcheck *c, const void *data, size_t len);

/* Ends the check. Returns 0 iff no error was found, a full global header was seen (a header-only
 * file is a valid capture of 0 packets) and the data ends on a record boundary; otherwise
 * RT_EPCAP (or the earlier sticky error) with c->error set. May be called more than once. */
int rt_pcapcheck_finish(rt_pcapcheck *c);

/* Initialises *c and feeds it the whole file at `path`, e.g. to resume a download into a .part
 * file: the caller then feeds the rest and calls rt_pcapcheck_finish. Returns 0, RT_EPCAP, or
 * RT_EIO (with the message in c->error, and sticky) when the file cannot be opened or read. */
int rt_pcapcheck_file(const char *path, rt_pcapcheck *c);

#endif
