/* The k-way merge by timestamp (a binary min-heap of input positions) and rt_pcap_merge. */
#include "pcapmerge.h"
#include "err.h"
#include "pcapops.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does input a's waiting packet go before input b's? The earlier timestamp; on a tie the input
 * given later, as mergecap does (it scans the inputs in order and keeps the last of the
 * earliest). */
static int before(const rt_pcapmerge *m, size_t a, size_t b) {
  int64_t ta = rt_pcap_ns(m->hdr[a]), tb = rt_pcap_ns(m->hdr[b]);
  return ta < tb || (ta == tb && a > b);
}

static void sift_down(rt_pcapmerge *m, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, best = i;
    if (l < m->heapn && before(m, m->heap[l], m->heap[best])) best = l;
    if (r < m->heapn && before(m, m->heap[r], m->heap[best])) best = r;
    if (best == i) return;
    size_t t = m->heap[i];
    m->heap[i] = m->heap[best];
    m->heap[best] = t;
    i = best;
  }
}

static void sift_up(rt_pcapmerge *m, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(m, m->heap[i], m->heap[parent])) return;
    size_t t = m->heap[i];
    m->heap[i] = m->heap[parent];
    m->heap[parent] = t;
    i = parent;
  }
}

int rt_pcapmerge_open(rt_pcapmerge *m, const char *const *paths, size_t n, const char *filter,
                      int mixed_links, char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  m->advance = SIZE_MAX;
  if (n == 0) {
    snprintf(err, errlen, "no input files");
    return RT_EINVAL;
  }
  m->in = calloc(n, sizeof *m->in);
  m->hdr = calloc(n, sizeof *m->hdr);
  m->data = calloc(n, sizeof *m->data);
  m->heap = calloc(n, sizeof *m->heap);
  if (!m->in || !m->hdr || !m->data || !m->heap) {
    rt_pcapmerge_close(m);
    snprintf(err, errlen, "out of memory");
    return RT_ENOMEM;
  }
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if ((rc = rt_pcapfile_open(&m->in[i], paths[i], filter, err, errlen)) != 0) break;
    m->n = i + 1;
    rt_pcapfile *f = &m->in[i];
    if (i == 0) m->linktype = f->linktype;
    if (f->snaplen > m->snaplen) m->snaplen = f->snaplen;
    if (!mixed_links && f->linktype != m->linktype) {
      char b1[32], b2[32];
      snprintf(err, errlen, "%s has link type %s, %s has %s: files of different link types cannot go "
               "into one pcap", paths[0], rt_pcap_linktype_name(m->linktype, b1, sizeof b1), paths[i],
               rt_pcap_linktype_name(f->linktype, b2, sizeof b2));
      rc = RT_EINVAL;
      break;
    }
    rc = rt_pcapfile_next(f, &m->hdr[i], &m->data[i], err, errlen);
    if (rc == 1) {
      m->heap[m->heapn++] = i;
      sift_up(m, m->heapn - 1);
      rc = 0;
    }
  }
  if (rc) rt_pcapmerge_close(m);
  return rc;
}

int rt_pcapmerge_next(rt_pcapmerge *m, struct pcap_pkthdr **h, const unsigned char **data,
                      size_t *which, char *err, size_t errlen) {
  if (m->advance != SIZE_MAX) { /* the packet returned last: replace it with its input's next */
    size_t i = m->advance;
    m->advance = SIZE_MAX;
    int rc = rt_pcapfile_next(&m->in[i], &m->hdr[i], &m->data[i], err, errlen);
    if (rc < 0) return rc;
    if (rc == 0) m->heap[0] = m->heap[--m->heapn]; /* input i is done: it was on top */
    if (m->heapn) sift_down(m, 0);
  }
  if (m->heapn == 0) return 0;
  size_t i = m->heap[0];
  *h = m->hdr[i];
  *data = m->data[i];
  if (which) *which = i;
  m->advance = i;
  return 1;
}

uint64_t rt_pcapmerge_read(const rt_pcapmerge *m) {
  uint64_t total = 0;
  for (size_t i = 0; i < m->n; i++) total += m->in[i].read;
  return total;
}

void rt_pcapmerge_close(rt_pcapmerge *m) {
  for (size_t i = 0; i < m->n; i++) rt_pcapfile_close(&m->in[i]);
  free(m->in);
  free(m->hdr);
  free(m->data);
  free(m->heap);
  memset(m, 0, sizeof *m);
  m->advance = SIZE_MAX;
}

int rt_pcap_merge(const char *const *inputs, size_t n, const char *output, char *err, size_t errlen) {
  rt_pcapcopy_opts o = RT_PCAPCOPY_OPTS(inputs, n, output);
  rt_pcapcopy_result r;
  int rc = rt_pcap_copy(&o, &r, err, errlen);
  rt_pcapcopy_result_free(&r);
  return rc;
}
