/* Reading capture files through libpcap, with a BPF filter. The file is opened with our own
 * stdio stream so that it gets a large buffer (libpcap reads each record with two freads; with
 * stdio's 4 KiB one, reading costs more than all the rest) and no lock per fread, and the kernel
 * is told the access is sequential. */
#include "pcapfile.h"
#include "err.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUFFER (1 << 20)

int rt_pcapfile_open(rt_pcapfile *f, const char *path, const char *filter, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  f->path = path;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    int e = errno;
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    return e == ENOENT ? RT_ENOTFOUND : RT_EIO;
  }
  if (!(f->buf = malloc(READ_BUFFER))) {
    fclose(fp);
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  setvbuf(fp, f->buf, _IOFBF, READ_BUFFER);
  __fsetlocking(fp, FSETLOCKING_BYCALLER); /* one thread reads it: no lock per fread */
  posix_fadvise(fileno(fp), 0, 0, POSIX_FADV_SEQUENTIAL);
  char pe[PCAP_ERRBUF_SIZE] = "";
  f->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, pe);
  if (!f->p) { /* on failure libpcap leaves the stream to us */
    fclose(fp);
    free(f->buf);
    f->buf = NULL;
    snprintf(err, errlen, "%s: not a capture file libpcap can read (%s)", path, pe);
    return RT_EPCAP;
  }
  f->linktype = pcap_datalink(f->p);
  f->snaplen = pcap_snapshot(f->p);
  if (filter && *filter) {
    if (pcap_compile(f->p, &f->prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      snprintf(err, errlen, "filter '%s': %s", filter, pcap_geterr(f->p));
      rt_pcapfile_close(f);
      return RT_EINVAL;
    }
    f->filtered = 1;
  }
  return 0;
}

int rt_pcapfile_next(rt_pcapfile *f, struct pcap_pkthdr **h, const unsigned char **data, char *err,
                     size_t errlen) {
  for (;;) {
    int rc = pcap_next_ex(f->p, h, data);
    if (rc == PCAP_ERROR_BREAK) return 0;
    if (rc != 1) {
      snprintf(err, errlen, "%s: bad capture data after %llu packets: %s", f->path,
               (unsigned long long)f->read, pcap_geterr(f->p));
      return RT_EPCAP;
    }
    f->read++;
    if (!f->filtered || pcap_offline_filter(&f->prog, *h, *data)) return 1;
  }
}

void rt_pcapfile_close(rt_pcapfile *f) {
  if (f->filtered) pcap_freecode(&f->prog);
  if (f->p) pcap_close(f->p); /* closes the stream, which used buf */
  free(f->buf);
  f->p = NULL;
  f->buf = NULL;
  f->filtered = 0;
}

const char *rt_pcap_linktype_name(int dlt, char *buf, size_t len) {
  const char *name = pcap_datalink_val_to_name(dlt);
  if (name) return name;
  snprintf(buf, len, "DLT_%d", dlt);
  return buf;
}
