/* A file that is being received: bytes go to PATH.part (and, for a capture, through the pcap
 * checker as they arrive, so memory stays flat whatever the size); an interrupted transfer
 * resumes from where PATH.part ends; a finished one is checked, fsynced and renamed to PATH, so a
 * partial file never sits under its final name. Content that is not a pcap is kept as
 * PATH.invalid for inspection. Plain values only: no HTTP, no journal. */
#ifndef PCAPRUN_PARTFILE_H
#define PCAPRUN_PARTFILE_H
#include <stdint.h>
#include "pcapcheck.h"

typedef struct rt_partfile {
  char *path, *part;
  int fd;                /* -1 when closed */
  int pcap;              /* check the bytes as a classic pcap */
  uint64_t offset;       /* bytes in PATH.part */
  rt_pcapcheck check;
  char message[400];     /* why the last call failed */
} rt_partfile;

/* Zeroes f (fd -1). */
void rt_partfile_init(rt_partfile *f);
/* Opens PATH.part (creating the directories above PATH). With resume, what is there stays when
 * it is a valid start of a pcap (or any bytes, without the check); otherwise it is emptied.
 * Returns 0, RT_ENOMEM or RT_EIO (message set). It is rt_partfile_create, then
 * rt_partfile_resume: a caller that must first lock the file calls them itself. */
int rt_partfile_open(rt_partfile *f, const char *path, int pcap, int resume);
/* Opens (creating) PATH.part without looking at what it holds. */
int rt_partfile_create(rt_partfile *f, const char *path, int pcap);
/* Keeps what PATH.part holds when resume and it is a valid start, else empties it. */
int rt_partfile_resume(rt_partfile *f, int resume);
/* Empties PATH.part: the transfer starts again from byte 0. */
int rt_partfile_restart(rt_partfile *f);
/* Appends bytes. Returns 0, RT_EIO, or RT_EPCAP as soon as they cannot be a pcap (written all
 * the same, so PATH.invalid shows what arrived). */
int rt_partfile_write(rt_partfile *f, const void *data, size_t len);
/* Ends the check (a pcap must end on a record boundary: RT_EAGAIN when it does not, so the
 * caller resumes), fsyncs, closes and renames PATH.part to PATH, fsyncing the directory.
 * Returns 0, RT_EAGAIN, RT_EPCAP or RT_EIO. */
int rt_partfile_commit(rt_partfile *f);
/* Closes the file if open: when invalid (after RT_EPCAP) the bytes move to PATH.invalid,
 * otherwise PATH.part stays for the next attempt to resume (an empty one is removed). */
void rt_partfile_close(rt_partfile *f, int invalid);
/* Closes and frees the names. */
void rt_partfile_free(rt_partfile *f);

#endif
