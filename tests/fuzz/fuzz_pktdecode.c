/* Fuzz target: the packet decoder (pktdecode.c) and the aggregator (pcapstats.c, topk.c).
 * The input is a sequence of records: 1 byte link-type selector, 2 bytes time step (ms), 2 bytes
 * length (how many of the following bytes are the packet; the rest of the input when short),
 * 1 byte of extra original length (the capture cut that much), then the bytes.
 * Oracles: each packet is decoded from a buffer of exactly its captured length (ASan catches a
 * read past it); a layer is marked truncated only when the capture cut the packet; every cut of
 * a packet decodes to a prefix of the whole decode (the same IP headers as far as they go, and
 * their protocols once past their extension headers; the same ports and flags when present).
 * Every packet also goes into one statistics object that lives for the whole run, with a tiny
 * top-K table and series (so evictions, time going backwards and interval doubling all happen
 * early): after each input its counters still add up (per IP version and protocol, the series,
 * the size histogram, the TCP flags) and each table keeps its bounds; now and then its JSON is
 * made too. (One object for the run, because making one costs its 4 MiB of port counters.) */
#include "fuzz.h"
#include "pcapstats.h"
#include "pktdecode.h"

#include <pcap/dlt.h>
#include <string.h>

static const int dlts[] = {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_IPV4,
                           DLT_IPV6};

static void decode_exact(rt_pkt *p, int dlt, const uint8_t *data, uint32_t caplen, uint32_t len) {
  uint8_t *copy = malloc(caplen ? caplen : 1);
  FUZZ_CHECK(copy != NULL, "malloc");
  memcpy(copy, data, caplen);
  rt_pkt_decode(p, dlt, copy, caplen, len);
  free(copy);
}

static void check_packet(const rt_pkt *p) {
  FUZZ_CHECK(p->nip <= RT_PKT_MAX_IP, "nip %d", p->nip);
  FUZZ_CHECK(p->truncated == RT_L_NONE || p->caplen < p->len, "truncated %d without a cut", p->truncated);
  FUZZ_CHECK(!p->have_tcp_flags || p->have_ports, "flags without ports");
  for (int i = 0; i < p->nip; i++)
    FUZZ_CHECK(p->ip[i].version == 4 || p->ip[i].version == 6, "IP version %d", p->ip[i].version);
}

/* The decode of a cut is a prefix of the whole decode. */
static void check_prefix(const rt_pkt *cut, const rt_pkt *whole) {
  FUZZ_CHECK(cut->nip <= whole->nip, "a cut has more IP headers (%d > %d)", cut->nip, whole->nip);
  for (int i = 0; i < cut->nip; i++) {
    const rt_iphdr *a = &cut->ip[i], *b = &whole->ip[i];
    /* the upper-layer protocol is known once the header's options and extension headers were
     * all passed (inside a fragment, running out of them is not marked) */
    int in_ip = cut->truncated == RT_L_IPV4 || cut->truncated == RT_L_IPV6 || cut->truncated == RT_L_IPV6_EXT;
    int passed = i < cut->nip - 1 || (!in_ip && !a->fragment);
    FUZZ_CHECK(a->version == b->version && (!passed || a->proto == b->proto) && a->ttl == b->ttl &&
                 memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0,
               "IP header %d differs in a cut", i);
  }
  if (cut->have_ports && cut->nip == whole->nip)
    FUZZ_CHECK(whole->have_ports && cut->sport == whole->sport && cut->dport == whole->dport, "ports differ");
  if (cut->have_tcp_flags && cut->nip == whole->nip)
    FUZZ_CHECK(whole->have_tcp_flags && cut->tcp_flags == whole->tcp_flags, "TCP flags differ");
}

static void check_table(const rt_topk *t, uint64_t n) {
  const rt_topk_entry *e[4];
  size_t got = rt_topk_top(t, e, 4);
  FUZZ_CHECK(rt_topk_total(t) == n, "table total %llu, packets %llu", (unsigned long long)rt_topk_total(t),
             (unsigned long long)n);
  for (size_t i = 0; i < got; i++) {
    FUZZ_CHECK(e[i]->err_packets < e[i]->packets && e[i]->err_packets <= n / 4, "error bound");
    FUZZ_CHECK(e[i]->rev_packets <= e[i]->packets - e[i]->err_packets, "directions");
    if (i) FUZZ_CHECK(e[i - 1]->packets >= e[i]->packets, "order");
  }
}

static void check_stats(const rt_pcapstats *s, int with_json) {
  uint64_t ip = 0, proto = 0, bins = 0, sizes = 0;
  ip = s->ipv4 + s->ipv6;
  for (int i = 0; i < 256; i++) proto += s->proto[i].packets;
  for (uint32_t i = 0; i < s->nbins; i++) bins += s->bins[i].packets;
  for (int i = 0; i < RT_STATS_SIZE_BUCKETS; i++) sizes += s->sizes[i];
  FUZZ_CHECK(ip + s->other == s->packets && proto == ip, "IP %llu + other %llu, protocols %llu, packets %llu",
             (unsigned long long)ip, (unsigned long long)s->other, (unsigned long long)proto,
             (unsigned long long)s->packets);
  FUZZ_CHECK(bins == s->packets && sizes == s->packets && s->nbins <= s->opts.max_bins, "series %llu, sizes %llu",
             (unsigned long long)bins, (unsigned long long)sizes);
  FUZZ_CHECK(s->syn_only + s->syn_ack == s->flag[1] && s->tcp_flagged <= s->proto[6].packets + s->ipip + s->gre,
             "TCP counts");
  check_table(s->src, ip);
  check_table(s->dst, ip);
  check_table(s->pair, ip);
  if (with_json) {
    json_t *j = rt_pcapstats_json(s, 4);
    FUZZ_CHECK(j && json_integer_value(json_object_get(j, "packets")) == (json_int_t)s->packets, "JSON");
    json_decref(j);
  }
}

static rt_pcapstats stats;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  rt_pcapstats_opts o;
  rt_pcapstats_opts_default(&o);
  o.capacity = 4;
  o.max_bins = 8;
  o.interval_ns = 1000000;
  FUZZ_CHECK(rt_pcapstats_init(&stats, &o) == 0, "init");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  stats.opts.outer = size > 0 && data[0] & 0x80;
  int64_t ts = 1764139440LL * 1000000000;
  size_t at = 0;
  while (at + 6 <= size) {
    int dlt = dlts[data[at] % (sizeof dlts / sizeof dlts[0])];
    ts += ((int64_t)data[at + 1] << 8 | data[at + 2]) * 1000000 - (data[at + 1] & 0x80 ? 40000000000LL : 0);
    uint32_t len = (uint32_t)(data[at + 3] << 8 | data[at + 4]), extra = data[at + 5];
    at += 6;
    uint32_t caplen = len < size - at ? len : (uint32_t)(size - at);
    rt_pkt whole, cut;
    decode_exact(&whole, dlt, data + at, caplen, caplen + extra);
    check_packet(&whole);
    for (uint32_t k = caplen > 64 ? caplen - 64 : 0; k < caplen; k += 1 + (caplen > 200)) {
      decode_exact(&cut, dlt, data + at, k, caplen + extra);
      check_packet(&cut);
      check_prefix(&cut, &whole);
    }
    rt_pcapstats_add(&stats, ts, &whole);
    at += caplen;
  }
  check_stats(&stats, (fuzz_hash(data, size) & 63) == 0);
  return 0;
}
