/* Atomic capture output: a uniquely named temporary file, libpcap's dumper, fsync, rename. The
 * kernel is asked to start writing every WRITEBACK bytes (sync_file_range), so the disk works
 * while records are still being made and the final fsync has little left to wait for. */
#define _GNU_SOURCE /* sync_file_range */
#include "pcapout.h"
#include "err.h"
#include "fsutil.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WRITE_BUFFER (1 << 20)
#define WRITEBACK (16 << 20)

/* Creates PATH.XXXXXX.tmp exclusively (never through a symlink); returns the fd or -1. */
static int create_tmp(rt_pcapout *o) {
  for (int attempt = 0; attempt < 100; attempt++) {
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
      r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL) ^ (uint32_t)attempt * 40503u;
    if (snprintf(o->tmp, sizeof o->tmp, "%s.%06x.tmp", o->path, r & 0xffffff) >= (int)sizeof o->tmp) {
      errno = ENAMETOOLONG;
      break;
    }
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    if (errno != EEXIST) break;
  }
  o->tmp[0] = 0; /* not ours: never to be removed */
  return -1;
}

int rt_pcapout_open(rt_pcapout *o, const char *path, int dlt, int snaplen, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path) {
    snprintf(err, errlen, "%s: path too long", path);
    return RT_EIO;
  }
  int fd = -1;
  FILE *f = NULL;
  if (!(o->buf = malloc(WRITE_BUFFER))) {
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  if (rt_mkdir_parents(path) != 0 || (fd = create_tmp(o)) < 0 || !(f = fdopen(fd, "wb"))) {
    snprintf(err, errlen, "cannot create %s: %s", fd < 0 ? path : o->tmp, strerror(errno));
    if (fd >= 0) close(fd);
    rt_pcapout_abort(o);
    return RT_EIO;
  }
  setvbuf(f, o->buf, _IOFBF, WRITE_BUFFER); /* glibc ignores the size without a buffer */
  __fsetlocking(f, FSETLOCKING_BYCALLER);
  o->dead = pcap_open_dead_with_tstamp_precision(dlt, snaplen, PCAP_TSTAMP_PRECISION_NANO);
  o->dumper = o->dead ? pcap_dump_fopen(o->dead, f) : NULL;
  if (!o->dumper) {
    snprintf(err, errlen, "cannot write %s: %s", o->tmp, o->dead ? pcap_geterr(o->dead) : "out of memory");
    fclose(f);
    rt_pcapout_abort(o);
    return o->dead ? RT_EIO : RT_ENOMEM;
  }
  o->bytes = 24;
  return 0;
}

void rt_pcapout_write(rt_pcapout *o, const struct pcap_pkthdr *h, const unsigned char *data) {
  pcap_dump((unsigned char *)o->dumper, h, data);
  o->packets++;
  o->bytes += 16 + (uint64_t)h->caplen;
  if (o->bytes - o->written_back >= WRITEBACK) {
    FILE *f = pcap_dump_file(o->dumper);
    if (fflush(f) == 0) /* an error stays in f for commit */
      sync_file_range(fileno(f), (off_t)o->written_back, (off_t)(o->bytes - o->written_back), SYNC_FILE_RANGE_WRITE);
    o->written_back = o->bytes;
  }
}

int rt_pcapout_commit(rt_pcapout *o, char *err, size_t errlen) {
  FILE *f = pcap_dump_file(o->dumper);
  int bad = pcap_dump_flush(o->dumper) != 0 || ferror(f) || fsync(fileno(f)) != 0;
  int e = errno;
  pcap_dump_close(o->dumper); /* closes f; nothing is left to write, so it cannot fail now */
  o->dumper = NULL;
  if (!bad && rename(o->tmp, o->path) != 0) bad = 1, e = errno;
  if (bad) {
    snprintf(err, errlen, "cannot write %s: %s", o->path, strerror(e));
    rt_pcapout_abort(o);
    return RT_EIO;
  }
  o->tmp[0] = 0;
  rt_pcapout_abort(o);
  if (rt_fsync_parent(o->path) != 0) {
    snprintf(err, errlen, "cannot sync the directory of %s: %s", o->path, strerror(errno));
    return RT_EIO;
  }
  return 0;
}

void rt_pcapout_abort(rt_pcapout *o) {
  if (o->dumper) pcap_dump_close(o->dumper);
  o->dumper = NULL;
  if (o->dead) pcap_close(o->dead);
  o->dead = NULL;
  if (o->tmp[0]) unlink(o->tmp);
  o->tmp[0] = 0;
  free(o->buf); /* after the stream that used it is closed */
  o->buf = NULL;
}
