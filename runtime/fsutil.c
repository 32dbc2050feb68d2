/* Durable file operations, opened safely (rt_open_write). */
#include "fsutil.h"
#include "err.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int rt_mkdir_p(const char *dir) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) { errno = ENAMETOOLONG; return RT_EIO; }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return RT_EIO;
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return RT_EIO;
  return 0;
}

int rt_mkdir_parents(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return 0;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  return rt_mkdir_p(dir);
}

int rt_fsync_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return RT_EIO;
  int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : RT_EIO;
  close(fd);
  return rc;
}

/* A regular file of ours with one link: not a fifo or device, not someone else's file, not a
 * hard link to a file elsewhere. */
static int ours(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  if (S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_nlink == 1) return 1;
  errno = EPERM;
  return 0;
}

int rt_open_write(const char *path, int how, int mode, char *tmp, size_t tmpsize) {
  if (how == RT_OPEN_RESUME) {
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
    if (fd < 0) return RT_EIO;
    if (!ours(fd) || fcntl(fd, F_SETFL, 0) != 0) { /* O_NONBLOCK: a planted fifo does not hang */
      int saved = errno;
      close(fd);
      errno = saved;
      return RT_EIO;
    }
    return fd;
  }
  for (int tries = 0; tries < 16; tries++) {
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r ^= (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
    if (snprintf(tmp, tmpsize, "%s.tmp.%08x", path, (unsigned)r) >= (int)tmpsize) {
      errno = ENAMETOOLONG;
      return RT_EIO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) return fd;
    if (errno != EEXIST) return RT_EIO;
  }
  return RT_EIO; /* errno EEXIST: someone keeps taking the names */
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return RT_EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Writes through fill(fd) into a new temporary beside path, then syncs and renames. */
static int atomic_with(const char *path, int mode, int (*fill)(int fd, const void *arg, size_t len),
                       const void *arg, size_t len) {
  char tmp[PATH_MAX];
  if (rt_mkdir_parents(path)) return RT_EIO;
  int fd = rt_open_write(path, RT_OPEN_TEMP, mode, tmp, sizeof tmp);
  if (fd < 0) return RT_EIO;
  int rc = fill(fd, arg, len);
  if (rc == 0 && fsync(fd) != 0) rc = RT_EIO;
  if (close(fd) != 0 && rc == 0) rc = RT_EIO;
  if (rc == 0 && rename(tmp, path) != 0) rc = RT_EIO;
  if (rc) {
    int saved = errno;
    unlink(tmp);
    errno = saved;
    return rc;
  }
  return rt_fsync_parent(path);
}

int rt_write_atomic(const char *path, const void *data, size_t len, int mode) {
  return atomic_with(path, mode, write_all, data, len);
}

static int copy_from(int fd, const void *src, size_t unused) {
  (void)unused;
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return RT_EIO;
  char buf[1 << 16];
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { rc = n < 0 ? RT_EIO : 0; break; }
    if ((rc = write_all(fd, buf, (size_t)n))) break;
  }
  close(in);
  return rc;
}

int rt_copy_atomic(const char *src, const char *dst) { return atomic_with(dst, 0644, copy_from, src, 0); }
