/* Files being received (partfile.h). */
#include "partfile.h"
#include "err.h"
#include "fsutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void rt_partfile_init(rt_partfile *f) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
}

static int io_error(rt_partfile *f, const char *what) {
  snprintf(f->message, sizeof f->message, "cannot %s %s: %s", what, f->part, strerror(errno));
  return RT_EIO;
}

int rt_partfile_open(rt_partfile *f, const char *path, int pcap, int resume) {
  if (f->fd >= 0) return 0;
  int rc = rt_partfile_create(f, path, pcap);
  return rc ? rc : rt_partfile_resume(f, resume);
}

int rt_partfile_create(rt_partfile *f, const char *path, int pcap) {
  size_t n = strlen(path) + 6;
  free(f->path);
  free(f->part);
  f->path = strdup(path);
  f->part = malloc(n);
  if (!f->path || !f->part) return RT_ENOMEM;
  snprintf(f->part, n, "%s.part", path);
  f->pcap = pcap;
  /* never through a symlink, nor into a file that is not a regular one of ours */
  if (rt_mkdir_parents(path) || (f->fd = rt_open_write(f->part, RT_OPEN_RESUME, 0644, NULL, 0)) < 0)
    return io_error(f, "create");
  struct stat st;
  f->offset = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  rt_pcapcheck_init(&f->check);
  return 0;
}

int rt_partfile_resume(rt_partfile *f, int resume) {
  if (f->offset > 0 && resume && (!f->pcap || rt_pcapcheck_file(f->part, &f->check) == 0)) return 0;
  return rt_partfile_restart(f);
}

int rt_partfile_restart(rt_partfile *f) {
  if (f->offset > 0 && ftruncate(f->fd, 0) != 0) return io_error(f, "empty");
  f->offset = 0;
  rt_pcapcheck_init(&f->check);
  return 0;
}

int rt_partfile_write(rt_partfile *f, const void *data, size_t len) {
  int bad = f->pcap && rt_pcapcheck_feed(&f->check, data, len);
  for (const char *p = data; len > 0;) {
    ssize_t n = pwrite(f->fd, p, len, (off_t)f->offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(f, "write");
    p += n;
    len -= (size_t)n;
    f->offset += (uint64_t)n;
  }
  if (bad) {
    snprintf(f->message, sizeof f->message, "not a valid pcap: %s", f->check.error);
    return RT_EPCAP;
  }
  return 0;
}

int rt_partfile_commit(rt_partfile *f) {
  int clean = f->check.rc == 0; /* nothing wrong so far: a short file is a cut transfer */
  if (f->pcap && rt_pcapcheck_finish(&f->check)) {
    snprintf(f->message, sizeof f->message, "%s", f->check.error);
    return clean ? RT_EAGAIN : RT_EPCAP;
  }
  int rc = fsync(f->fd);
  if (close(f->fd) != 0) rc = -1;
  f->fd = -1;
  if (rc != 0) return io_error(f, "write");
  if (rename(f->part, f->path) != 0 || rt_fsync_parent(f->path) != 0) return io_error(f, "rename");
  return 0;
}

void rt_partfile_close(rt_partfile *f, int invalid) {
  if (f->fd < 0) return;
  close(f->fd);
  f->fd = -1;
  if (!invalid && f->offset == 0 && f->part) unlink(f->part); /* nothing to resume */
  if (invalid && f->part) {
    size_t n = strlen(f->path) + 9;
    char *bad = malloc(n);
    if (bad) {
      snprintf(bad, n, "%s.invalid", f->path);
      rename(f->part, bad);
      free(bad);
    }
  }
}

void rt_partfile_free(rt_partfile *f) {
  rt_partfile_close(f, 0);
  free(f->path);
  free(f->part);
  f->path = f->part = NULL;
}
