/* Durable file operations: a file appears under its final name only when complete and synced,
 * and nothing pcaprun writes is opened through a symlink or into a file someone else planted. */
#ifndef PCAPRUN_FSUTIL_H
#define PCAPRUN_FSUTIL_H
#include <stddef.h>

/* mkdir -p DIR (mode 0755). Returns 0 or RT_EIO (errno kept). */
int rt_mkdir_p(const char *dir);
/* Creates the directories above a file path. */
int rt_mkdir_parents(const char *path);
/* fsyncs the directory that holds path, so a rename in it survives a crash. */
int rt_fsync_parent(const char *path);

/* How rt_open_write opens. */
enum {
  RT_OPEN_RESUME, /* PATH itself, read-write, created if absent, kept if present (a .part) */
  RT_OPEN_TEMP    /* a new file beside PATH, PATH.tmp.XXXXXXXX (O_EXCL: never one that exists),
                     to be renamed to PATH when complete; its name goes to tmp */
};
/* Opens a file pcaprun writes, safely: never through a symlink (O_NOFOLLOW) and, for
 * RT_OPEN_RESUME, only a regular file of ours (our uid) with a single link, so a symlink, fifo,
 * device or hard link planted at the name is refused instead of written through. O_CLOEXEC.
 * mode applies when the file is created (less the umask). Returns the descriptor, or RT_EIO with
 * errno set (ELOOP: a symlink; EPERM: not a regular file of ours; others from open). */
int rt_open_write(const char *path, int how, int mode, char *tmp, size_t tmpsize);
/* Writes data to a new PATH.tmp.XXXXXXXX, fsyncs, renames it to PATH (which replaces whatever
 * PATH was, a symlink included, without following it), fsyncs the directory. */
int rt_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Copies SRC to DST the same way. */
int rt_copy_atomic(const char *src, const char *dst);

#endif
