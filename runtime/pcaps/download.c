/* Downloads of simple captures, on a received file (runtime/partfile.h: PATH.part, checked as a
 * pcap as it arrives, resumed from where it ends, fsynced and renamed when whole). What a
 * download adds: the .part is locked (flock) while a download runs, so two processes never write
 * one file (the second waits, then finds the file done: the journal says whose it is); the
 * journal records its progress; it is bounded — at most the records its capture's packet_limit
 * allows, of at most the header's snaplen, and a deadline; bodies are asked for unencoded (a
 * server that compresses anyway is read from the start again, since its Range offsets are not
 * the file's). */
#include "err.h"
#include "journal.h"
#include "pcaps.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_RATE (16.0 * 1024) /* bytes/s: the slowest download the deadline allows for */
#define MAX_SNAPLEN 262144     /* libpcap's largest */

/* The most a pcap of max_packets records can hold: its header and records of at most the
 * header's snaplen. */
static uint64_t bound_of(const rt_download *d) {
  uint64_t snap = d->file.check.snaplen ? d->file.check.snaplen : MAX_SNAPLEN;
  if (snap > MAX_SNAPLEN) snap = MAX_SNAPLEN;
  return 24 + (uint64_t)d->max_packets * (16 + snap);
}

static int dl_sink(rt_http_req *r, const void *data, size_t len) {
  rt_download *d = r->sink_data;
  rt_partfile *f = &d->file;
  if (r->sunk == 0 && r->range_from > 0) {
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (r->content_encoding[0] && strcmp(r->content_encoding, "identity") != 0) {
      /* decoded bytes from an offset in encoded ones: useless; from the start, unencoded */
      d->no_range = 1;
      if (rt_partfile_restart(f)) return RT_EIO;
      snprintf(f->message, sizeof f->message, "the server compressed a resumed download: restarting it");
      return RT_EAGAIN;
    }
    if (code == 200 && rt_partfile_restart(f)) return RT_EIO; /* the server ignored our Range */
  }
  int rc = rt_partfile_write(f, data, len);
  if (rc == 0 && ((int64_t)f->check.packets > d->max_packets || f->offset > bound_of(d))) {
    snprintf(f->message, sizeof f->message, "the download holds more than its capture can (%lld packets, "
             "%llu bytes at most)", (long long)d->max_packets, (unsigned long long)bound_of(d));
    rc = RT_ETOOBIG;
  }
  return rc;
}

/* The record of the download in the journal. */
static void journal(rt_account *a, rt_download *d, const char *cap_id, int state) {
  if (a->journal)
    rt_journal_download(a->journal, a->journal_id, d->file.path, cap_id, state, d->file.offset,
                        state == RT_JOURNAL_DL_DONE ? (int64_t)d->file.check.packets : -1);
}

/* Does PATH hold the capture's download already (another process's, or an earlier run's)? */
static int done_before(rt_account *a, rt_download *d, const char *path, const char *cap_id) {
  if (!a->journal || rt_journal_download_other(a->journal, path, cap_id)) return 0;
  json_t *info = rt_journal_download_info(a->journal, path);
  const char *state = json_string_value(json_object_get(info, "state"));
  int done = state && !strcmp(state, "done") && rt_pcapcheck_file(path, &d->file.check) == 0 &&
             rt_pcapcheck_finish(&d->file.check) == 0;
  json_decref(info);
  return done;
}

int rt_download_open(rt_account *a, const char *path, const char *cap_id, double packet_limit, double seconds,
                     rt_download **out) {
  rt_download *d = *out = calloc(1, sizeof *d);
  if (!d) return RT_ENOMEM;
  rt_partfile_init(&d->file);
  d->max_packets = packet_limit >= 1 && packet_limit <= RT_PACKET_LIMIT_MAX ? (int64_t)packet_limit
                                                                           : RT_PACKET_LIMIT_MAX;
  int rc = rt_partfile_create(&d->file, path, 1);
  if (rc) return rc;
  struct stat st, now;
  if (flock(d->file.fd, LOCK_EX | LOCK_NB) != 0 || /* another process downloads here: wait for it */
      fstat(d->file.fd, &st) != 0 || stat(d->file.part, &now) != 0 || st.st_ino != now.st_ino) {
    /* (or it finished, renamed, between our open and our lock: look again). Its file is left as
     * it is, even empty: the other process is writing it */
    close(d->file.fd);
    d->file.fd = -1;
    rt_download_close(a, d, cap_id, 0);
    *out = NULL;
    return RT_EAGAIN;
  }
  /* locked: what is there resumes, if it is a valid start of a pcap of this capture */
  if ((rc = rt_partfile_resume(&d->file, !a->journal || !rt_journal_download_other(a->journal, path, cap_id))))
    return rc;
  if (d->file.offset == 0 && done_before(a, d, path, cap_id)) {
    unlink(d->file.part); /* ours, empty, and locked: nobody else uses it */
    d->done = 1;
    d->file.offset = d->file.check.offset;
    return 0;
  }
  d->deadline = rt_wall() + fmax(seconds, (double)bound_of(d) / MIN_RATE);
  journal(a, d, cap_id, RT_JOURNAL_DL_PARTIAL);
  return 0;
}

int rt_download_prepare(rt_download *d, rt_http_req *r) {
  double left = d->deadline - rt_wall();
  if (left <= 0) {
    snprintf(d->file.message, sizeof d->file.message, "the download did not finish within its deadline");
    return RT_ETIMEDOUT;
  }
  if (d->no_range && rt_partfile_restart(&d->file)) return RT_EIO;
  r->range_from = d->file.offset;
  r->sink = dl_sink;
  r->sink_data = d;
  r->identity = 1;
  r->stall_timeout = r->timeout;
  r->timeout = left;
  return 0;
}

int rt_download_finish(rt_account *a, rt_download *d, const char *cap_id) {
  if (d->done) return 0;
  int rc = rt_partfile_commit(&d->file);
  if (rc == 0) {
    d->done = 1;
    journal(a, d, cap_id, RT_JOURNAL_DL_DONE);
  }
  return rc;
}

int rt_download_whole(rt_account *a, rt_download *d, const char *cap_id) {
  int rc = rt_download_finish(a, d, cap_id);
  if (rc != RT_EAGAIN && rc != RT_EPCAP) return rc;
  snprintf(d->file.message, sizeof d->file.message, "%s is longer than the capture and not a whole pcap",
           d->file.part);
  return rt_partfile_restart(&d->file) ? RT_EIO : RT_EAGAIN;
}

void rt_download_close(rt_account *a, rt_download *d, const char *cap_id, int rc) {
  if (!d) return;
  if (d->file.fd >= 0 && !d->done && rc && rc != RT_EAGAIN)
    journal(a, d, cap_id, rc == RT_EPCAP ? RT_JOURNAL_DL_INVALID : RT_JOURNAL_DL_PARTIAL);
  rt_partfile_close(&d->file, rc == RT_EPCAP); /* and its lock */
  rt_partfile_free(&d->file);
  free(d);
}
