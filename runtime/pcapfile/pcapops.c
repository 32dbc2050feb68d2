/* Merge, filter, slice and split: one loop over the merged inputs, one writer at a time. */
#include "pcapops.h"
#include "apiparse.h"
#include "err.h"
#include "pcapmerge.h"
#include "pcapout.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_pcap_part_name(const char *output, unsigned long index, char *buf, size_t len) {
  const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
  if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : output)) dot = output + strlen(output);
  int n = snprintf(buf, len, "%.*s-%05lu%s", (int)(dot - output), output, index, dot);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Records a committed part in r. */
static int add_file(rt_pcapcopy_result *r, const rt_pcapout *out) {
  rt_pcapcopy_file *files = realloc(r->files, (r->nfiles + 1) * sizeof *files);
  if (!files) return RT_ENOMEM;
  r->files = files;
  rt_pcapcopy_file *f = &files[r->nfiles];
  if (!(f->path = strdup(out->path))) return RT_ENOMEM;
  f->packets = out->packets;
  f->bytes = out->bytes;
  r->nfiles++;
  return 0;
}

static int commit(rt_pcapout *out, rt_pcapcopy_result *r, char *err, size_t errlen) {
  int rc = rt_pcapout_commit(out, err, errlen);
  if (rc == 0 && (rc = add_file(r, out)) != 0) snprintf(err, errlen, "out of memory");
  return rc;
}

static int split(const rt_pcapcopy_opts *o) { return o->split_packets > 0 || o->split_bytes > 0; }

/* Does the part being written take one more record of caplen bytes? */
static int fits(const rt_pcapcopy_opts *o, const rt_pcapout *out, uint32_t caplen) {
  if (out->packets == 0) return 1;
  if (o->split_packets && out->packets >= o->split_packets) return 0;
  if (o->split_bytes && out->bytes + 16 + caplen > o->split_bytes) return 0;
  return 1;
}

int rt_pcap_copy(const rt_pcapcopy_opts *o, rt_pcapcopy_result *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  rt_pcapmerge m;
  int rc = rt_pcapmerge_open(&m, o->inputs, o->ninputs, o->filter, 0, err, errlen);
  if (rc) return rc;
  rt_pcapout out = {0};
  int open = 0;
  unsigned long part = 0;
  int64_t start = o->start_ns, end = o->end_ns;
  int first = 1;
  if (!split(o)) { /* one output, even when no packet goes into it */
    if ((rc = rt_pcapout_open(&out, o->output, m.linktype, m.snaplen, err, errlen)) != 0) goto done;
    open = 1;
  }
  struct pcap_pkthdr *h;
  const unsigned char *data;
  for (uint64_t n = 1;; n++) {
    if (o->cancel && (n & 4095) == 0 && atomic_load(o->cancel)) {
      snprintf(err, errlen, "canceled");
      rc = RT_ECANCELED;
      break;
    }
    if ((rc = rt_pcapmerge_next(&m, &h, &data, NULL, err, errlen)) <= 0) break;
    int64_t t = rt_pcap_ns(h);
    if (first) { /* relative bounds count from the first matching packet */
      first = 0;
      if (o->start_relative) start = t + o->start_ns;
      if (o->end_relative) end = t + o->end_ns;
    }
    if (t < start || t >= end) continue;
    if (open && split(o) && !fits(o, &out, h->caplen)) {
      open = 0;
      if ((rc = commit(&out, r, err, errlen)) != 0) break;
    }
    if (!open) {
      char name[PATH_MAX];
      if (rt_pcap_part_name(o->output, ++part, name, sizeof name) != 0) {
        snprintf(err, errlen, "%s: path too long", o->output);
        rc = RT_EIO;
        break;
      }
      if ((rc = rt_pcapout_open(&out, name, m.linktype, m.snaplen, err, errlen)) != 0) break;
      open = 1;
    }
    rt_pcapout_write(&out, h, data);
    r->written++;
  }
  if (rc == 0 && open) {
    open = 0;
    rc = commit(&out, r, err, errlen);
  }
done:
  if (open) rt_pcapout_abort(&out);
  r->read = rt_pcapmerge_read(&m);
  rt_pcapmerge_close(&m);
  return rc;
}

void rt_pcapcopy_result_free(rt_pcapcopy_result *r) {
  for (size_t i = 0; i < r->nfiles; i++) free(r->files[i].path);
  free(r->files);
  memset(r, 0, sizeof *r);
}

/* The digits after a decimal point as nanoseconds (past the ninth ignored); advances *p. */
static int64_t fraction(const char **p) {
  int64_t frac = 0, scale = 100000000;
  for (; **p >= '0' && **p <= '9'; (*p)++, scale /= 10) frac += (**p - '0') * scale;
  return frac;
}

int rt_pcap_parse_seconds(const char *s, int64_t *ns) {
  char *end;
  errno = 0;
  long long whole = strtoll(s, &end, 10);
  if (errno || end == s || whole < 0 || whole > INT64_MAX / 1000000000 - 1) return -1;
  const char *rest = end;
  int64_t frac = 0;
  if (*rest == '.') {
    rest++;
    frac = fraction(&rest);
  }
  if (*rest) return -1;
  *ns = whole * 1000000000 + frac;
  return 0;
}

int rt_pcap_parse_time(const char *s, int64_t *ns, int *relative) {
  *relative = s[0] == '+';
  if (*relative) return rt_pcap_parse_seconds(s + 1, ns);
  if (!strchr(s, 'T') && !strchr(s, 't')) return rt_pcap_parse_seconds(s, ns);
  double epoch;
  if (rt_time_parse(s, &epoch) != 0) return -1;
  const char *rest = s + 20;
  int64_t frac = s[19] == '.' ? fraction(&rest) : 0;
  *ns = (int64_t)llround(epoch - (double)frac / 1e9) * 1000000000 + frac;
  return 0;
}
