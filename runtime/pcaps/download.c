/* Downloads: the body streams into PATH.part and through the pcap checker as it arrives (memory
 * stays flat whatever the size); an interrupted transfer resumes with a Range request from where
 * the .part file ends; a finished one is checked, fsynced and renamed to PATH. The .part is
 * locked (flock) while a download runs, so two processes never write one file; the second waits
 * and finds the file done (the journal says whose it is). A download is bounded: it may hold at
 * most the records its capture's packet_limit allows (of at most the header's snaplen), and must
 * end by a deadline; bodies are asked for unencoded (a server that compresses anyway is read
 * from the start again, since its Range offsets are not the file's). */
#include "err.h"
#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "pcaps.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_RATE (16.0 * 1024) /* bytes/s: the slowest download the deadline allows for */

/* The most a pcap of n records can hold: its header and n records of at most snaplen bytes. */
static uint64_t bound_of(const rt_download *d) {
  uint64_t snap = d->check.snaplen ? d->check.snaplen : 262144;
  if (snap > 262144) snap = 262144;
  return 24 + (uint64_t)d->max_packets * (16 + snap);
}

static int restart(rt_download *d) {
  if (ftruncate(d->fd, 0) != 0) return RT_EIO;
  d->offset = 0;
  rt_pcapcheck_init(&d->check);
  return 0;
}

static int dl_sink(rt_http_req *r, const void *data, size_t len) {
  rt_download *d = r->sink_data;
  if (r->sunk == 0 && r->range_from > 0) {
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (r->content_encoding[0] && strcmp(r->content_encoding, "identity") != 0) {
      /* decoded bytes from an offset in encoded ones: useless; from the start, unencoded */
      d->no_range = 1;
      if (restart(d)) goto io;
      snprintf(d->message, sizeof d->message, "the server compressed a resumed download: restarting it");
      return RT_EAGAIN;
    }
    if (code == 200 && restart(d)) goto io; /* the server ignored our Range: start the file again */
  }
  int bad = rt_pcapcheck_feed(&d->check, data, len); /* written all the same: PATH.invalid shows it */
  for (const char *p = data; len > 0;) {
    ssize_t n = pwrite(d->fd, p, len, (off_t)d->offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto io;
    p += n;
    len -= (size_t)n;
    d->offset += (uint64_t)n;
  }
  if (bad) {
    snprintf(d->message, sizeof d->message, "the download is not a valid pcap: %s", d->check.error);
    return RT_EPCAP;
  }
  if ((int64_t)d->check.packets > d->max_packets || d->offset > bound_of(d)) {
    snprintf(d->message, sizeof d->message, "the download holds more than its capture can (%lld packets, "
             "%llu bytes at most)", (long long)d->max_packets, (unsigned long long)bound_of(d));
    return RT_ETOOBIG;
  }
  return 0;
io:
  snprintf(d->message, sizeof d->message, "cannot write %s: %s", d->part, strerror(errno));
  return RT_EIO;
}

int rt_download_open(rt_account *a, const char *path, const char *cap_id, double packet_limit, double seconds,
                     rt_download **out) {
  rt_download *d = *out = calloc(1, sizeof *d);
  if (!d) return RT_ENOMEM;
  size_t n = strlen(path) + 6;
  d->fd = -1;
  d->max_packets = packet_limit >= 1 && packet_limit <= RT_PACKET_LIMIT_MAX ? (int64_t)packet_limit
                                                                           : RT_PACKET_LIMIT_MAX;
  rt_pcapcheck_init(&d->check);
  if (!(d->path = strdup(path)) || !(d->part = malloc(n))) return RT_ENOMEM;
  snprintf(d->part, n, "%s.part", path);
  if (rt_mkdir_parents(path) || (d->fd = rt_open_write(d->part, RT_OPEN_RESUME, 0644, NULL, 0)) < 0) {
    snprintf(d->message, sizeof d->message, "cannot create %s: %s", d->part, strerror(errno));
    return RT_EIO;
  }
  struct stat st, now;
  if (flock(d->fd, LOCK_EX | LOCK_NB) != 0 || /* another process downloads here: wait for it */
      fstat(d->fd, &st) != 0 || stat(d->part, &now) != 0 || st.st_ino != now.st_ino) {
    /* (or it finished, renamed, between our open and our lock: look again) */
    rt_download_close(a, d, cap_id, 0);
    *out = NULL;
    return RT_EAGAIN;
  }
  rt_journal *j = a->journal;
  if (j && !rt_journal_download_other(j, path, cap_id)) {
    json_t *info = rt_journal_download_info(j, path);
    int done = info && !strcmp(json_string_value(json_object_get(info, "state")) ?: "", "done");
    json_decref(info);
    if (done && st.st_size == 0 && rt_pcapcheck_file(path, &d->check) == 0 && rt_pcapcheck_finish(&d->check) == 0) {
      unlink(d->part); /* ours, empty, and locked: nobody else uses it */
      d->done = 1;
      d->offset = d->check.offset;
      return 0;
    }
  }
  d->offset = (uint64_t)st.st_size;
  d->deadline = rt_wall() + fmax(seconds, (double)bound_of(d) / MIN_RATE);
  /* Resume what an earlier attempt (or run) left, if it is a valid start of a pcap of this
   * capture (the journal knows whose it is). */
  if (d->offset == 0 || (j && rt_journal_download_other(j, path, cap_id)) || rt_pcapcheck_file(d->part, &d->check) != 0) {
    if (d->offset && restart(d)) return RT_EIO;
    rt_pcapcheck_init(&d->check);
  }
  if (j) rt_journal_download(j, a->journal_id, path, cap_id, RT_JOURNAL_DL_PARTIAL, d->offset, -1);
  return 0;
}

int rt_download_prepare(rt_download *d, rt_http_req *r) {
  double left = d->deadline - rt_wall();
  if (left <= 0) {
    snprintf(d->message, sizeof d->message, "the download did not finish within its deadline");
    return RT_ETIMEDOUT;
  }
  r->range_from = d->no_range ? 0 : d->offset;
  if (d->no_range && d->offset && restart(d)) return RT_EIO;
  r->sink = dl_sink;
  r->sink_data = d;
  r->identity = 1;
  r->stall_timeout = r->timeout;
  r->timeout = left;
  return 0;
}

/* Checks, syncs and renames the .part to PATH. */
static int complete(rt_account *a, rt_download *d, const char *cap_id) {
  if (rt_pcapcheck_finish(&d->check)) {
    snprintf(d->message, sizeof d->message, "the download is not a valid pcap: %s", d->check.error);
    return RT_EPCAP;
  }
  if (fsync(d->fd) != 0 || rename(d->part, d->path) != 0 || rt_fsync_parent(d->path) != 0) {
    snprintf(d->message, sizeof d->message, "cannot write %s: %s", d->path, strerror(errno));
    return RT_EIO;
  }
  if (a->journal)
    rt_journal_download(a->journal, a->journal_id, d->path, cap_id, RT_JOURNAL_DL_DONE, d->offset,
                        (int64_t)d->check.packets);
  return 0;
}

int rt_download_finish(rt_account *a, rt_download *d, const char *cap_id) {
  return d->done ? 0 : complete(a, d, cap_id);
}

int rt_download_whole(rt_account *a, rt_download *d, const char *cap_id) {
  if (rt_pcapcheck_finish(&d->check) == 0) {
    int rc = complete(a, d, cap_id);
    d->done = rc == 0;
    return rc;
  }
  snprintf(d->message, sizeof d->message, "%s is longer than the capture and not a whole pcap", d->part);
  return restart(d) ? RT_EIO : RT_EAGAIN;
}

void rt_download_close(rt_account *a, rt_download *d, const char *cap_id, int rc) {
  if (!d) return;
  if (d->fd >= 0 && !d->done && rc) {
    if (rc == RT_EPCAP) { /* kept for inspection */
      char bad[4096];
      snprintf(bad, sizeof bad, "%s.invalid", d->path);
      rename(d->part, bad);
    } else if (d->offset == 0) { /* nothing to resume */
      unlink(d->part);
    }
    if (a->journal)
      rt_journal_download(a->journal, a->journal_id, d->path, cap_id,
                          rc == RT_EPCAP ? RT_JOURNAL_DL_INVALID : RT_JOURNAL_DL_PARTIAL, d->offset, -1);
  }
  if (d->fd >= 0) close(d->fd); /* and its lock */
  free(d->path);
  free(d->part);
  free(d);
}
