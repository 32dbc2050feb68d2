/* Durable file operations: a file appears under its final name only when complete and synced. */
#ifndef PCAPRUN_FSUTIL_H
#define PCAPRUN_FSUTIL_H
#include <stddef.h>

/* mkdir -p DIR (mode 0755). Returns 0 or RT_EIO (errno kept). */
int rt_mkdir_p(const char *dir);
/* Creates the directories above a file path. */
int rt_mkdir_parents(const char *path);
/* fsyncs the directory that holds path, so a rename in it survives a crash. */
int rt_fsync_parent(const char *path);
/* Writes data to PATH.tmp, fsyncs, renames to PATH, fsyncs the directory. */
int rt_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Copies SRC to DST the same way (DST.tmp, fsync, rename). */
int rt_copy_atomic(const char *src, const char *dst);

#endif
