/* The aggregator: counters, top-K tables and the series, filled one decoded packet at a time;
 * the pass over files; the JSON form of the result. */
#include "pcapstats.h"
#include "err.h"
#include "pcapmerge.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Port counters: sources (TCP then UDP), then destinations (TCP then UDP), 65536 each. */
enum { PORT_TCP_SRC, PORT_UDP_SRC, PORT_TCP_DST, PORT_UDP_DST, PORT_TABLES };
static const uint32_t size_edges[RT_STATS_SIZE_BUCKETS] = {0, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120};

void rt_pcapstats_opts_default(rt_pcapstats_opts *o) {
  memset(o, 0, sizeof *o);
  o->capacity = 4096;
  o->interval_ns = 1000000000;
  o->max_bins = 100000;
}

int rt_pcapstats_init(rt_pcapstats *s, const rt_pcapstats_opts *o) {
  memset(s, 0, sizeof *s);
  rt_pcapstats_opts_default(&s->opts);
  if (o) s->opts = *o;
  if (s->opts.interval_ns <= 0) s->opts.interval_ns = 1000000000;
  if (s->opts.max_bins < 2) s->opts.max_bins = 2;
  s->interval = s->opts.interval_ns;
  s->ports = calloc((size_t)PORT_TABLES * 65536, sizeof *s->ports);
  s->src = rt_topk_new(s->opts.capacity);
  s->dst = rt_topk_new(s->opts.capacity);
  s->pair = rt_topk_new(s->opts.capacity);
  return s->ports && s->src && s->dst && s->pair ? 0 : RT_ENOMEM;
}

void rt_pcapstats_free(rt_pcapstats *s) {
  free(s->ports);
  free(s->bins);
  rt_topk_free(s->src);
  rt_topk_free(s->dst);
  rt_topk_free(s->pair);
  memset(s, 0, sizeof *s);
}

/* ---- the series ---- */

/* Doubles the interval: bin j becomes old bins 2j and 2j+1. */
static void coarsen(rt_pcapstats *s) {
  for (uint32_t j = 0; 2 * j < s->nbins; j++) {
    rt_counter c = s->bins[2 * j];
    if (2 * j + 1 < s->nbins) {
      c.packets += s->bins[2 * j + 1].packets;
      c.bytes += s->bins[2 * j + 1].bytes;
    }
    s->bins[j] = c;
  }
  uint32_t n = (s->nbins + 1) / 2;
  memset(s->bins + n, 0, (s->nbins - n) * sizeof *s->bins);
  s->nbins = n;
  s->interval *= 2;
}

static int reserve(rt_pcapstats *s, uint32_t need) {
  if (need <= s->bins_cap) return 0;
  uint32_t cap = s->bins_cap ? s->bins_cap : 64;
  while (cap < need) cap = cap > s->opts.max_bins / 2 ? s->opts.max_bins : cap * 2;
  rt_counter *b = realloc(s->bins, cap * sizeof *b);
  if (!b) return -1;
  memset(b + s->bins_cap, 0, (cap - s->bins_cap) * sizeof *b);
  s->bins = b;
  s->bins_cap = cap;
  return 0;
}

static void series_add(rt_pcapstats *s, int64_t ts, uint32_t bytes) {
  if (s->failed) return;
  if (s->nbins == 0) s->series_start = ts;
  while (ts < s->series_start) { /* earlier than bin 0: add bins in front */
    uint64_t k = (uint64_t)(s->series_start - ts + s->interval - 1) / (uint64_t)s->interval;
    if (k + s->nbins > s->opts.max_bins) {
      coarsen(s);
      continue;
    }
    if (reserve(s, s->nbins + (uint32_t)k)) goto oom;
    memmove(s->bins + k, s->bins, s->nbins * sizeof *s->bins);
    memset(s->bins, 0, k * sizeof *s->bins);
    s->nbins += (uint32_t)k;
    s->series_start -= (int64_t)k * s->interval;
  }
  uint64_t i;
  while ((i = (uint64_t)(ts - s->series_start) / (uint64_t)s->interval) >= s->opts.max_bins) coarsen(s);
  if (i >= s->nbins) {
    if (reserve(s, (uint32_t)i + 1)) goto oom;
    s->nbins = (uint32_t)i + 1;
  }
  s->bins[i].packets++;
  s->bins[i].bytes += bytes;
  return;
oom:
  s->failed = 1;
}

/* ---- counting ---- */

static void add_link(rt_pcapstats *s, int dlt) {
  for (int i = 0; i < RT_STATS_LINKTYPES; i++) {
    if (s->links[i].packets == 0) s->links[i].dlt = dlt;
    if (s->links[i].dlt == dlt) {
      s->links[i].packets++;
      return;
    }
  }
}

/* The keys of an IP header in the three tables: source, destination (version byte, address) and
 * the pair (version byte, the smaller address, the other); dir is 0 when the source is the
 * smaller. Returns the address length. */
static unsigned ip_keys(const rt_iphdr *ip, uint8_t *src, uint8_t *dst, uint8_t *pair, int *dir) {
  unsigned alen = ip->version == 4 ? 4 : 16;
  src[0] = dst[0] = pair[0] = ip->version;
  memcpy(src + 1, ip->src, alen);
  memcpy(dst + 1, ip->dst, alen);
  *dir = memcmp(ip->src, ip->dst, alen) > 0;
  memcpy(pair + 1, *dir ? ip->dst : ip->src, alen);
  memcpy(pair + 1 + alen, *dir ? ip->src : ip->dst, alen);
  return alen;
}

static void add_ip(rt_pcapstats *s, const rt_iphdr *ip, uint32_t bytes) {
  uint8_t src[RT_TOPK_KEYMAX], dst[RT_TOPK_KEYMAX], pair[RT_TOPK_KEYMAX];
  int dir;
  unsigned alen = ip_keys(ip, src, dst, pair, &dir);
  rt_topk_prefetch(s->src, src, 1 + alen);
  rt_topk_prefetch(s->dst, dst, 1 + alen);
  rt_topk_prefetch(s->pair, pair, 1 + 2 * alen);
  if (ip->version == 4) s->ipv4++;
  else s->ipv6++;
  s->proto[ip->proto].packets++;
  s->proto[ip->proto].bytes += bytes;
  s->ttl[ip->ttl]++;
  if (ip->fragment) s->fragments++;
  rt_topk_add(s->src, src, 1 + alen, bytes, 0);
  rt_topk_add(s->dst, dst, 1 + alen, bytes, 0);
  rt_topk_add(s->pair, pair, 1 + 2 * alen, bytes, dir);
}

void rt_pcapstats_add(rt_pcapstats *s, int64_t ts, const rt_pkt *p) {
  uint32_t bytes = p->len;
  unsigned l4 = p->nip ? p->ip[p->nip - 1].proto : 0;
  int ports = p->have_ports && (l4 == 6 || l4 == 17);
  rt_counter *sport = NULL, *dport = NULL;
  if (ports) { /* source ports are spread over 1 MiB: start fetching before the tables' work */
    sport = &s->ports[(size_t)(l4 == 6 ? PORT_TCP_SRC : PORT_UDP_SRC) * 65536 + p->sport];
    dport = &s->ports[(size_t)(l4 == 6 ? PORT_TCP_DST : PORT_UDP_DST) * 65536 + p->dport];
    __builtin_prefetch(sport, 1);
    __builtin_prefetch(dport, 1);
  }
  if (s->packets++ == 0) s->first_ns = s->last_ns = s->prev_ns = ts;
  if (ts < s->first_ns) s->first_ns = ts;
  if (ts > s->last_ns) s->last_ns = ts;
  if (ts < s->prev_ns) s->out_of_order++;
  s->prev_ns = ts;
  s->bytes += bytes;
  s->captured += p->caplen;
  add_link(s, p->linktype);
  s->truncated += p->caplen < p->len;
  s->cut_headers += p->truncated != RT_L_NONE;
  s->malformed += p->malformed != RT_L_NONE;
  s->vlan += p->nvlan > 0;
  if (p->nip > 1) {
    if (p->ip[1].tunnel == RT_TUN_GRE) s->gre++;
    else s->ipip++;
  }
  if (p->nip) add_ip(s, &p->ip[s->opts.outer ? 0 : p->nip - 1], bytes);
  else s->other++;
  if (l4 == 6 && p->have_tcp_flags) {
    s->tcp_flagged++;
    for (int b = 0; b < 8; b++) s->flag[b] += (p->tcp_flags >> b) & 1;
    int syn = p->tcp_flags & RT_TCP_SYN, ack = p->tcp_flags & RT_TCP_ACK;
    s->syn_only += syn && !ack;
    s->syn_ack += syn && ack;
  }
  if (ports) {
    sport->packets++;
    sport->bytes += bytes;
    dport->packets++;
    dport->bytes += bytes;
  }
  int b = RT_STATS_SIZE_BUCKETS - 1;
  while (b > 0 && bytes < size_edges[b]) b--;
  s->sizes[b]++;
  series_add(s, ts, bytes);
}

int rt_pcapstats_files(rt_pcapstats *s, const char *const *paths, size_t n, const char *filter,
                       const atomic_int *cancel, char *err, size_t errlen) {
  rt_pcapmerge m;
  int rc = rt_pcapmerge_open(&m, paths, n, filter, 1, err, errlen);
  if (rc) return rc;
  struct pcap_pkthdr *h;
  const unsigned char *data;
  size_t which;
  rt_pkt p;
  for (uint64_t k = 1;; k++) {
    if (cancel && (k & 4095) == 0 && atomic_load(cancel)) {
      snprintf(err, errlen, "canceled");
      rc = RT_ECANCELED;
      break;
    }
    if ((rc = rt_pcapmerge_next(&m, &h, &data, &which, err, errlen)) <= 0) break;
    rt_pkt_decode(&p, m.in[which].linktype, data, h->caplen, h->len);
    rt_pcapstats_add(s, rt_pcap_ns(h), &p);
  }
  rt_pcapmerge_close(&m);
  if (rc == 0 && s->failed) {
    snprintf(err, errlen, "out of memory");
    rc = RT_ENOMEM;
  }
  return rc;
}

/* ---- JSON ---- */

static double seconds(int64_t ns) { return (double)ns / 1e9; }

static json_t *counter(const char *kname, json_t *kval, uint64_t packets, uint64_t bytes) {
  return json_pack("{s:o, s:I, s:I}", kname, kval, "packets", (json_int_t)packets, "bytes", (json_int_t)bytes);
}

/* The address in a key (version byte, then the address). */
static json_t *address(const uint8_t *key, unsigned at) {
  char text[64];
  rt_ip_format(key[0], key + at, text, sizeof text);
  return json_string(text);
}

static json_t *table(const rt_topk *t, size_t top, int pair) {
  json_t *out = json_array();
  const rt_topk_entry **e = calloc(top ? top : 1, sizeof *e);
  if (!out || !e) {
    free(e);
    json_decref(out);
    return NULL;
  }
  size_t n = rt_topk_top(t, e, top);
  for (size_t i = 0; i < n; i++) {
    unsigned alen = e[i]->key[0] == 4 ? 4 : 16;
    json_t *o = counter(pair ? "a" : "address", address(e[i]->key, 1), e[i]->packets, e[i]->bytes);
    json_object_set_new(o, "error_packets", json_integer((json_int_t)e[i]->err_packets));
    json_object_set_new(o, "error_bytes", json_integer((json_int_t)e[i]->err_bytes));
    if (pair) {
      json_object_set_new(o, "b", address(e[i]->key, 1 + alen));
      const rt_topk_entry *x = e[i];
      json_object_set_new(o, "a_to_b", json_pack("{s:I, s:I}", "packets",
                                                 (json_int_t)(x->packets - x->err_packets - x->rev_packets),
                                                 "bytes", (json_int_t)(x->bytes - x->err_bytes - x->rev_bytes)));
      json_object_set_new(o, "b_to_a", json_pack("{s:I, s:I}", "packets", (json_int_t)x->rev_packets, "bytes",
                                                 (json_int_t)x->rev_bytes));
    }
    json_array_append_new(out, o);
  }
  free(e);
  return out;
}

/* The `top` heaviest of n counters (by packets, then bytes, then position), as positions. */
static size_t top_counters(const rt_counter *c, size_t n, size_t *out, size_t top) {
  size_t have = 0;
  for (size_t i = 0; i < n; i++) {
    if (c[i].packets == 0) continue;
#define HEAVIER(x, y) (c[x].packets > c[y].packets || (c[x].packets == c[y].packets && c[x].bytes > c[y].bytes))
    if (have == top && (top == 0 || !HEAVIER(i, out[top - 1]))) continue;
    size_t j = have < top ? have++ : top - 1;
    while (j > 0 && HEAVIER(i, out[j - 1])) {
      out[j] = out[j - 1];
      j--;
    }
#undef HEAVIER
    out[j] = i;
  }
  return have;
}

/* TCP and UDP ports of one direction (dst 0: sources, 1: destinations), heaviest first. */
static json_t *ports(const rt_pcapstats *s, int dst, size_t top) {
  const rt_counter *both = s->ports + (size_t)(dst ? PORT_TCP_DST : PORT_TCP_SRC) * 65536; /* TCP, UDP */
  json_t *out = json_array();
  size_t *idx = calloc(top ? top : 1, sizeof *idx);
  if (!idx) {
    json_decref(out);
    return NULL;
  }
  size_t n = top_counters(both, 2 * 65536, idx, top);
  for (size_t i = 0; i < n; i++) {
    json_t *o = counter("port", json_integer((json_int_t)(idx[i] & 0xffff)), both[idx[i]].packets,
                        both[idx[i]].bytes);
    json_object_set_new(o, "protocol", json_string(idx[i] < 65536 ? "tcp" : "udp"));
    json_array_append_new(out, o);
  }
  free(idx);
  return out;
}

static json_t *protocols(const rt_pcapstats *s, size_t top) {
  json_t *out = json_array();
  size_t idx[256];
  size_t n = top_counters(s->proto, 256, idx, top < 256 ? top : 256);
  for (size_t i = 0; i < n; i++) {
    json_t *o = counter("protocol", json_integer((json_int_t)idx[i]), s->proto[idx[i]].packets, s->proto[idx[i]].bytes);
    const char *name = rt_ipproto_name((int)idx[i]);
    if (name) json_object_set_new(o, "name", json_string(name));
    json_array_append_new(out, o);
  }
  return out;
}

static json_t *tcp(const rt_pcapstats *s) {
  static const char *const names[8] = {"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"};
  json_t *o = json_pack("{s:I, s:I, s:I, s:f}", "packets", (json_int_t)s->tcp_flagged, "syn_only",
                        (json_int_t)s->syn_only, "syn_ack", (json_int_t)s->syn_ack, "syn_ratio",
                        s->tcp_flagged ? (double)s->syn_only / (double)s->tcp_flagged : 0.0);
  for (int b = 0; b < 8; b++) json_object_set_new(o, names[b], json_integer((json_int_t)s->flag[b]));
  return o;
}

static json_t *series(const rt_pcapstats *s) {
  json_t *packets = json_array(), *bits = json_array();
  for (uint32_t i = 0; i < s->nbins; i++) {
    json_array_append_new(packets, json_integer((json_int_t)s->bins[i].packets));
    json_array_append_new(bits, json_integer((json_int_t)(s->bins[i].bytes * 8)));
  }
  return json_pack("{s:f, s:I, s:f, s:o, s:o}", "start", seconds(s->series_start), "start_ns",
                   (json_int_t)s->series_start, "interval", seconds(s->interval), "packets", packets, "bits", bits);
}

static json_t *histograms(const rt_pcapstats *s, json_t **ttl) {
  json_t *sizes = json_array();
  for (int b = 0; b < RT_STATS_SIZE_BUCKETS; b++) {
    json_t *o = json_pack("{s:I, s:I}", "min", (json_int_t)size_edges[b], "packets", (json_int_t)s->sizes[b]);
    if (b + 1 < RT_STATS_SIZE_BUCKETS) json_object_set_new(o, "max", json_integer(size_edges[b + 1] - 1));
    json_array_append_new(sizes, o);
  }
  *ttl = json_array();
  for (int t = 0; t < 256; t++)
    if (s->ttl[t]) json_array_append_new(*ttl, json_pack("{s:i, s:I}", "ttl", t, "packets", (json_int_t)s->ttl[t]));
  return sizes;
}

json_t *rt_pcapstats_json(const rt_pcapstats *s, size_t top) {
  json_t *links = json_array(), *ttl = NULL;
  for (int i = 0; i < RT_STATS_LINKTYPES && s->links[i].packets; i++) {
    char buf[32];
    json_array_append_new(links, json_pack("{s:s, s:i, s:I}", "link_type",
                                           rt_pcap_linktype_name(s->links[i].dlt, buf, sizeof buf), "dlt",
                                           s->links[i].dlt, "packets", (json_int_t)s->links[i].packets));
  }
  json_t *o = json_pack(
    "{s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o,"
    " s:o, s:o, s:o, s:o, s:o, s:{s:b, s:b, s:b}, s:i, s:b, s:o}",
    "packets", (json_int_t)s->packets, "bytes", (json_int_t)s->bytes, "captured_bytes", (json_int_t)s->captured,
    "out_of_order", (json_int_t)s->out_of_order, "link_types", links, "ipv4", (json_int_t)s->ipv4, "ipv6",
    (json_int_t)s->ipv6, "other", (json_int_t)s->other, "truncated", (json_int_t)s->truncated, "cut_headers", (json_int_t)s->cut_headers, "malformed",
    (json_int_t)s->malformed, "fragments", (json_int_t)s->fragments, "vlan", (json_int_t)s->vlan, "gre",
    (json_int_t)s->gre, "ipip", (json_int_t)s->ipip, "protocols", protocols(s, top), "tcp", tcp(s),
    "sources", table(s->src, top, 0), "destinations", table(s->dst, top, 0), "conversations",
    table(s->pair, top, 1), "source_ports", ports(s, 0, top), "destination_ports", ports(s, 1, top),
    "exact", "sources", rt_topk_exact(s->src), "destinations", rt_topk_exact(s->dst), "conversations",
    rt_topk_exact(s->pair), "capacity", (int)s->opts.capacity, "outer", s->opts.outer, "sizes", histograms(s, &ttl));
  if (!o) {
    json_decref(ttl);
    return NULL;
  }
  json_object_set_new(o, "ttl", ttl);
  if (s->packets) {
    json_object_set_new(o, "first", json_real(seconds(s->first_ns)));
    json_object_set_new(o, "last", json_real(seconds(s->last_ns)));
    json_object_set_new(o, "first_ns", json_integer(s->first_ns));
    json_object_set_new(o, "last_ns", json_integer(s->last_ns));
    json_object_set_new(o, "duration", json_real(seconds(s->last_ns - s->first_ns)));
    json_object_set_new(o, "series", series(s));
  }
  return o;
}
