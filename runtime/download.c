/* Downloads: the body streams into PATH.part and through the pcap checker as it arrives (memory
 * stays flat whatever the size); an interrupted transfer resumes with a Range request from where
 * the .part file ends; a finished one is checked, fsynced and renamed to PATH. */
#include "err.h"
#include "fsutil.h"
#include "journal.h"
#include "pcaps.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dl_sink(rt_http_req *r, const void *data, size_t len) {
  rt_call *c = r->user;
  if (r->sunk == 0 && r->range_from > 0) {
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code == 200) { /* the server ignored our Range: start the file again */
      if (ftruncate(c->fd, 0) != 0) goto io;
      c->offset = 0;
      rt_pcapcheck_init(&c->check);
    }
  }
  int bad = rt_pcapcheck_feed(&c->check, data, len); /* written all the same: PATH.invalid shows it */
  for (const char *p = data; len > 0;) {
    ssize_t n = pwrite(c->fd, p, len, (off_t)c->offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto io;
    p += n;
    len -= (size_t)n;
    c->offset += (uint64_t)n;
  }
  if (bad) {
    snprintf(c->message, sizeof c->message, "the download is not a valid pcap: %s", c->check.error);
    return RT_EPCAP;
  }
  return 0;
io:
  snprintf(c->message, sizeof c->message, "cannot write %s: %s", c->part, strerror(errno));
  return RT_EIO;
}

int rt_download_open(rt_call *c) {
  if (c->fd < 0) {
    size_t n = strlen(c->path) + 6;
    c->part = malloc(n);
    if (!c->part) return RT_ENOMEM;
    snprintf(c->part, n, "%s.part", c->path);
    if (rt_mkdir_parents(c->path) || (c->fd = rt_open_write(c->part, RT_OPEN_RESUME, 0644, NULL, 0)) < 0) {
      snprintf(c->message, sizeof c->message, "cannot create %s: %s", c->part, strerror(errno));
      return RT_EIO;
    }
    struct stat st;
    c->offset = fstat(c->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    /* Resume what an earlier attempt (or run) left, if it is a valid start of a pcap of this
     * capture (the journal knows whose it is). */
    if (c->offset == 0 || rt_journal_foreign_part(c) || rt_pcapcheck_file(c->part, &c->check) != 0) {
      if (c->offset && ftruncate(c->fd, 0) != 0) return RT_EIO;
      c->offset = 0;
      rt_pcapcheck_init(&c->check);
    }
    rt_journal_download(c, RT_JOURNAL_DL_PARTIAL);
  }
  c->req.range_from = c->offset;
  c->req.sink = dl_sink;
  return 0;
}

int rt_download_finish(rt_call *c) {
  if (rt_pcapcheck_finish(&c->check)) {
    snprintf(c->message, sizeof c->message, "the download is not a valid pcap: %s", c->check.error);
    return RT_EPCAP;
  }
  if (fsync(c->fd) != 0 || close(c->fd) != 0) {
    c->fd = -1;
    snprintf(c->message, sizeof c->message, "cannot write %s: %s", c->part, strerror(errno));
    return RT_EIO;
  }
  c->fd = -1;
  if (rename(c->part, c->path) != 0 || rt_fsync_parent(c->path) != 0) {
    snprintf(c->message, sizeof c->message, "cannot rename %s: %s", c->part, strerror(errno));
    return RT_EIO;
  }
  if (c->cap) c->cap->packets = (int64_t)c->check.packets;
  rt_journal_download(c, RT_JOURNAL_DL_DONE);
  c->result = json_pack("{s:s, s:I, s:I, s:i}", "path", c->path, "bytes", (json_int_t)c->offset,
                        "packets", (json_int_t)c->check.packets, "linktype", (int)c->check.linktype);
  return c->result ? 0 : RT_ENOMEM;
}

int rt_download_whole(rt_call *c) {
  if (rt_pcapcheck_finish(&c->check) == 0) return rt_download_finish(c);
  snprintf(c->message, sizeof c->message, "%s.part is longer than the capture and not a whole pcap", c->path);
  if (ftruncate(c->fd, 0) != 0) return RT_EIO;
  c->offset = 0;
  rt_pcapcheck_init(&c->check);
  return RT_EAGAIN;
}

/* Closes the file. A download that failed on its content keeps its bytes as PATH.invalid (for
 * inspection); any other failure leaves PATH.part, which the next attempt resumes. */
void rt_download_close(rt_call *c) {
  if (c->fd < 0) return;
  close(c->fd);
  c->fd = -1;
  if (c->rc == RT_EPCAP && c->part) {
    char bad[4096];
    snprintf(bad, sizeof bad, "%s.invalid", c->path);
    rename(c->part, bad);
  }
  rt_journal_download(c, c->rc == RT_EPCAP ? RT_JOURNAL_DL_INVALID : RT_JOURNAL_DL_PARTIAL);
}
