/* Synthetic captures written with libpcap: plausible Ethernet (or raw IP) IPv4/IPv6 traffic,
 * TCP, UDP, ICMP or any other protocol number, that matches the capture's filter_v1
 * (addresses or CIDR prefixes, ports, protocol), deterministic for a seed. A filter that no
 * packet can match (ICMP with ports, an IPv4 source with an IPv6 destination) gives a valid
 * capture with no packets, as the real service would. */
#include "emu_internal.h"
#include "fsutil.h"
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { FLOWS = 16, MAX_FRAME = 1514, ETH_LEN = 14, MAX_RECORD = 262144 /* libpcap's largest snaplen */ };

typedef struct addr_rule {
  int family;          /* 0 unconstrained, 4 or 6 */
  int prefix;          /* bits fixed by the filter */
  uint8_t bytes[16];
} addr_rule;

typedef struct flow {
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint8_t proto;
  uint8_t tcp_flags;   /* 0: ACK, or PSH+ACK with data */
  uint32_t seq;
} flow;

typedef struct gen {
  emu_rng rng;
  int family, impossible;
  flow flows[FLOWS];
  uint8_t mac_a[6], mac_b[6];
  /* the SYN flood (syn_flood > 0): from sources the filter allows to flows[0]'s destination */
  addr_rule src;
  int syn_ok;          /* the filter lets TCP through */
  int sport;           /* the filter's source port, or -1 */
  uint16_t victim_port;
} gen;

/* ---- the filter ---- */

/* "1.2.3.4", "2001:db8::1" or a CIDR "10.0.0.0/8"; anything else leaves the address free. */
static void parse_addr(const char *text, addr_rule *a) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", text);
  char *slash = strchr(buf, '/');
  int prefix = -1;
  if (slash) {
    *slash = 0;
    char *end;
    long v = strtol(slash + 1, &end, 10);
    if (*end || slash[1] == 0 || v < 0) return;
    prefix = (int)v;
  }
  if (inet_pton(AF_INET, buf, a->bytes) == 1) a->family = 4;
  else if (inet_pton(AF_INET6, buf, a->bytes) == 1) a->family = 6;
  else return;
  int max = a->family == 4 ? 32 : 128;
  if (prefix > max) a->family = 0;
  a->prefix = prefix < 0 ? max : prefix;
}

/* A random address of `family` inside rule a (when a constrains it). */
static void pick_addr(gen *g, const addr_rule *a, int family, uint8_t out[16]) {
  int len = family == 4 ? 4 : 16;
  for (int i = 0; i < len; i++) out[i] = (uint8_t)emu_rng_next(&g->rng);
  if (!a->family) { /* documentation ranges: 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32 */
    if (family == 4) {
      static const uint8_t nets[2][3] = {{198, 51, 100}, {203, 0, 113}};
      memcpy(out, nets[emu_rng_below(&g->rng, 2)], 3);
      if (out[3] == 0 || out[3] == 255) out[3] = 7;
    } else {
      static const uint8_t net[4] = {0x20, 0x01, 0x0d, 0xb8};
      memcpy(out, net, 4);
    }
    return;
  }
  for (int bit = 0; bit < a->prefix; bit++) {
    uint8_t m = (uint8_t)(0x80 >> (bit % 8));
    out[bit / 8] = (uint8_t)((out[bit / 8] & ~m) | (a->bytes[bit / 8] & m));
  }
}

static int whole_in(double v, double lo, double hi) { return v == (long)v && v >= lo && v <= hi; }

static void gen_init(gen *g, const emu_pcap_params *p) {
  const rt_filter *f = &p->filter;
  addr_rule src = {0}, dst = {0};
  memset(g, 0, sizeof *g);
  emu_rng_seed(&g->rng, p->seed, 7);
  if (f->present & RT_F_SOURCE_ADDRESS) parse_addr(f->source_address, &src);
  g->src = src;
  if (f->present & RT_F_DESTINATION_ADDRESS) parse_addr(f->destination_address, &dst);
  if (src.family && dst.family && src.family != dst.family) g->impossible = 1;
  g->family = src.family == 6 || dst.family == 6 ? 6 : 4;
  int has_ports = f->present & (RT_F_SOURCE_PORT | RT_F_DESTINATION_PORT);
  int proto = -1;
  if (f->present & RT_F_PROTOCOL) {
    if (!whole_in(f->protocol, 0, 255)) g->impossible = 1;
    proto = (int)f->protocol;
    if ((proto == 1 && g->family == 6) || (proto == 58 && g->family == 4)) g->impossible = 1;
    if (has_ports && proto != 6 && proto != 17) g->impossible = 1;
  }
  if ((f->present & RT_F_SOURCE_PORT && !whole_in(f->source_port, 0, 65535)) ||
      (f->present & RT_F_DESTINATION_PORT && !whole_in(f->destination_port, 0, 65535)))
    g->impossible = 1;
  for (int i = 0; i < 6; i++) {
    g->mac_a[i] = (uint8_t)emu_rng_next(&g->rng);
    g->mac_b[i] = (uint8_t)emu_rng_next(&g->rng);
  }
  g->mac_a[0] = (uint8_t)((g->mac_a[0] & 0xfe) | 0x02); /* unicast, locally administered */
  g->mac_b[0] = (uint8_t)((g->mac_b[0] & 0xfe) | 0x02);
  for (int i = 0; i < FLOWS; i++) {
    flow *fl = &g->flows[i];
    pick_addr(g, &src, g->family, fl->src);
    pick_addr(g, &dst, g->family, fl->dst);
    if (proto >= 0) {
      fl->proto = (uint8_t)proto;
    } else { /* mostly TCP, some UDP, a little ICMP unless ports are filtered */
      uint32_t roll = emu_rng_below(&g->rng, 10);
      fl->proto = roll < 7 || (has_ports && roll >= 9) ? 6 : roll < 9 ? 17
                  : g->family == 4 ? 1 : 58;
    }
    static const uint16_t services[] = {443, 80, 53, 22, 8080, 123};
    fl->sport = f->present & RT_F_SOURCE_PORT ? (uint16_t)f->source_port
                : (uint16_t)(32768 + emu_rng_below(&g->rng, 28000));
    fl->dport = f->present & RT_F_DESTINATION_PORT ? (uint16_t)f->destination_port
                : services[emu_rng_below(&g->rng, 6)];
    fl->seq = (uint32_t)emu_rng_next(&g->rng);
  }
  g->syn_ok = proto < 0 || proto == 6;
  g->sport = f->present & RT_F_SOURCE_PORT ? (int)f->source_port : -1;
  g->victim_port = f->present & RT_F_DESTINATION_PORT ? (uint16_t)f->destination_port : 443;
}

/* A flow of one SYN from a random allowed source to the flood's victim. */
static flow *syn_flow(gen *g, flow *fl) {
  memset(fl, 0, sizeof *fl);
  pick_addr(g, &g->src, g->family, fl->src);
  memcpy(fl->dst, g->flows[0].dst, sizeof fl->dst);
  fl->sport = g->sport >= 0 ? (uint16_t)g->sport : (uint16_t)(1024 + emu_rng_below(&g->rng, 64000));
  fl->dport = g->victim_port;
  fl->proto = 6;
  fl->tcp_flags = 0x02;
  fl->seq = (uint32_t)emu_rng_next(&g->rng);
  return fl;
}

/* ---- packets ---- */

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Frame size: mostly small (ACKs, DNS), some medium, some full-size. */
static size_t pick_frame_len(gen *g, const flow *fl) {
  uint32_t roll = emu_rng_below(&g->rng, 10);
  size_t len = roll < 4 ? 60 + emu_rng_below(&g->rng, 40)
               : roll < 7 ? 100 + emu_rng_below(&g->rng, 500)
                          : 1000 + emu_rng_below(&g->rng, MAX_FRAME - 1000 + 1);
  if (fl->proto == 1 || fl->proto == 58) len = 74 + emu_rng_below(&g->rng, 60);
  size_t min = ETH_LEN + (g->family == 4 ? 20 : 40) + 20;
  return len < min ? min : len;
}

/* Builds one frame of `len` bytes into buf (Ethernet + IP + L4 + payload). Payload bytes past
 * `random_end` stay zero, which lets checksums skip them (zeros add nothing). */
static void build_frame(gen *g, flow *fl, uint8_t *buf, size_t len, size_t random_end) {
  int v4 = g->family == 4;
  size_t ip = ETH_LEN, l4 = ip + (v4 ? 20 : 40), l4len = len - l4;
  memset(buf, 0, len);
  memcpy(buf, g->mac_b, 6);
  memcpy(buf + 6, g->mac_a, 6);
  put16(buf + 12, v4 ? 0x0800 : 0x86dd);
  if (v4) {
    buf[ip] = 0x45;
    put16(buf + ip + 2, (unsigned)(len - ip));
    put16(buf + ip + 4, (unsigned)emu_rng_below(&g->rng, 65536));
    put16(buf + ip + 6, 0x4000); /* don't fragment */
    buf[ip + 8] = (uint8_t)(52 + emu_rng_below(&g->rng, 13));
    buf[ip + 9] = fl->proto;
    memcpy(buf + ip + 12, fl->src, 4);
    memcpy(buf + ip + 16, fl->dst, 4);
    put16(buf + ip + 10, fold(sum16(buf + ip, 20, 0)));
  } else {
    put32(buf + ip, 0x60000000u | (uint32_t)emu_rng_below(&g->rng, 1 << 20));
    put16(buf + ip + 4, (unsigned)l4len);
    buf[ip + 6] = fl->proto;
    buf[ip + 7] = 64;
    memcpy(buf + ip + 8, fl->src, 16);
    memcpy(buf + ip + 24, fl->dst, 16);
  }
  size_t hdr = 0, csum_at = 0;
  switch (fl->proto) {
  case 6:
    put16(buf + l4, fl->sport);
    put16(buf + l4 + 2, fl->dport);
    put32(buf + l4 + 4, fl->seq);
    put32(buf + l4 + 8, fl->tcp_flags == 0x02 ? 0 : (uint32_t)emu_rng_next(&g->rng));
    buf[l4 + 12] = 0x50;
    buf[l4 + 13] = fl->tcp_flags ? fl->tcp_flags : l4len > 20 ? 0x18 : 0x10; /* PSH+ACK with data, else ACK */
    put16(buf + l4 + 14, 64240);
    fl->seq += (uint32_t)(l4len - 20);
    hdr = 20, csum_at = 16;
    break;
  case 17:
    put16(buf + l4, fl->sport);
    put16(buf + l4 + 2, fl->dport);
    put16(buf + l4 + 4, (unsigned)l4len);
    hdr = 8, csum_at = 6;
    break;
  case 1:
  case 58:
    buf[l4] = fl->proto == 1 ? 8 : 128; /* echo request */
    put16(buf + l4 + 4, fl->sport);
    put16(buf + l4 + 6, (unsigned)(fl->seq++ & 0xffff));
    hdr = 8, csum_at = 2;
    break;
  default:
    break; /* another protocol: opaque payload, no checksum we know of */
  }
  for (size_t i = l4 + hdr; i < len && i < random_end; i++) buf[i] = (uint8_t)emu_rng_next(&g->rng);
  if (!csum_at) return;
  size_t data = random_end < len ? random_end - l4 : l4len;
  uint32_t sum = sum16(buf + l4, data, 0);
  if (fl->proto != 1) { /* pseudo-header for TCP, UDP and ICMPv6 */
    size_t alen = v4 ? 4 : 16;
    sum = sum16(fl->src, alen, sum);
    sum = sum16(fl->dst, alen, sum);
    sum += fl->proto + (uint32_t)l4len;
  }
  uint16_t c = fold(sum);
  put16(buf + l4 + csum_at, fl->proto == 17 && c == 0 ? 0xffff : c);
}

/* ---- gzip (stored blocks): Content-Encoding without a compression library ---- */

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

/* Writes src gzipped (stored blocks) as dst, through a new temporary renamed when complete. */
static int write_gzip(const char *src, const char *dst) {
  static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  uint8_t buf[65535], le[8];
  char tmp[PATH_MAX + 32];
  int fd = rt_open_write(dst, RT_OPEN_TEMP, 0644, tmp, sizeof tmp);
  FILE *in = fopen(src, "rb"), *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (fd >= 0 && !out) close(fd);
  uint32_t crc = 0, total = 0;
  int bad = !in || !out || fwrite(header, 1, 10, out) != 10;
  size_t n;
  do {
    n = bad ? 0 : fread(buf, 1, sizeof buf, in);
    int last = n < sizeof buf;
    uint8_t blk[5] = {(uint8_t)last, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n,
                      (uint8_t)(~n >> 8)};
    bad |= fwrite(blk, 1, 5, out) != 5 || fwrite(buf, 1, n, out) != n;
    crc = crc32_update(crc, buf, n);
    total += (uint32_t)n;
    if (last) break;
  } while (!bad);
  for (int i = 0; i < 4; i++) le[i] = (uint8_t)(crc >> (8 * i)), le[4 + i] = (uint8_t)(total >> (8 * i));
  if (out) bad |= fwrite(le, 1, 8, out) != 8;
  if (in) fclose(in);
  if (out) bad |= fclose(out) != 0;
  if (fd >= 0 && (bad || rename(tmp, dst) != 0)) {
    unlink(tmp);
    bad = 1;
  }
  return bad ? RT_EIO : 0;
}

/* ---- files ---- */

/* Padding: records of ~140 bytes, or larger ones (frames followed by zeros) when the capture's
 * packet_limit would otherwise be exceeded. Returns the record size, 0 when not padding. */
static size_t pad_record(const emu_pcap_params *p, long long *n) {
  if (p->pad_bytes <= 0) return 0;
  long long limit = p->max_packets > 0 ? p->max_packets : 1;
  *n = p->pad_bytes / 140 + 1;
  if (*n <= limit) return 0; /* small records, as many as it takes */
  *n = limit;
  long long rec = (p->pad_bytes - 24 + limit - 1) / limit - 16; /* rounded up: at least pad_bytes */
  return (size_t)(rec < 160 ? 160 : rec > MAX_RECORD ? MAX_RECORD : rec);
}

static int write_packets(const emu_pcap_params *p, pcap_dumper_t *d, size_t big) {
  gen g;
  gen_init(&g, p);
  uint8_t *frame = calloc(1, big > MAX_FRAME ? big + ETH_LEN : MAX_FRAME);
  if (!frame) return RT_ENOMEM;
  int pad = p->pad_bytes > 0 && !g.impossible;
  long long n = g.impossible ? 0 : pad ? p->pad_bytes / 140 + 1 : p->packets; /* ~140 B/record */
  if (big) pad_record(p, &n);
  size_t skip = p->link_type == 101 ? ETH_LEN : 0; /* raw IP: no Ethernet header */
  long long bytes = 24;
  flow syn;
  for (long long i = 0; pad && !big ? bytes < p->pad_bytes : i < n; i++) {
    flow *fl = &g.flows[emu_rng_below(&g.rng, FLOWS)];
    int flood = p->syn_flood > 0 && g.syn_ok && emu_rng_unit(&g.rng) < p->syn_flood;
    if (flood) fl = syn_flow(&g, &syn);
    size_t len = flood ? ETH_LEN + (g.family == 4 ? 20 : 40) + 20 : pick_frame_len(&g, fl), wire = len - skip;
    size_t cap = (size_t)p->snaplen < wire ? (size_t)p->snaplen : wire;
    build_frame(&g, fl, frame, len, skip + cap);
    if (big) { /* the frame, then zeros: a big packet */
      memset(frame + skip + cap, 0, big - cap);
      cap = wire = big;
    }
    double t = p->t_start + p->t_span * ((double)i + emu_rng_unit(&g.rng)) / (double)n;
    if (t > p->t_start + p->t_span) t = p->t_start + p->t_span;
    struct pcap_pkthdr h = {.caplen = (bpf_u_int32)cap, .len = (bpf_u_int32)wire};
    h.ts.tv_sec = (time_t)t;
    h.ts.tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6);
    pcap_dump((u_char *)d, &h, frame + skip);
    bytes += 16 + (long long)cap;
  }
  free(frame);
  return pcap_dump_flush(d) == 0 ? 0 : RT_EIO;
}

int emu_pcap_write(const emu_pcap_params *p) {
  char tmp[PATH_MAX + 32], gz[PATH_MAX + 16];
  long long n;
  size_t big = pad_record(p, &n);
  pcap_t *dead = pcap_open_dead(p->link_type == 101 ? DLT_RAW : DLT_EN10MB, big ? (int)big : p->snaplen);
  if (!dead) return RT_ENOMEM;
  /* a new temporary (never through a symlink planted in a bucket), renamed when complete */
  int fd = rt_open_write(p->path, RT_OPEN_TEMP, 0644, tmp, sizeof tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (fd >= 0 && !f) close(fd);
  pcap_dumper_t *d = f ? pcap_dump_fopen(dead, f) : NULL;
  if (f && !d) fclose(f);
  int rc = d ? write_packets(p, d, big) : RT_EIO;
  if (d) pcap_dump_close(d);
  pcap_close(dead);
  if (rc == 0 && p->gzip) {
    snprintf(gz, sizeof gz, "%s.gz", p->path);
    rc = write_gzip(tmp, gz);
  }
  if (rc == 0 && rename(tmp, p->path) != 0) rc = RT_EIO;
  if (rc && fd >= 0) unlink(tmp);
  return rc;
}

int emu_pcap_ensure(emu_server *s, const emu_pcap_params *p) {
  char gz[PATH_MAX + 16];
  snprintf(gz, sizeof gz, "%s.gz", p->path);
  pthread_mutex_lock(&s->gen_mu);
  int rc = 0;
  if (access(p->path, R_OK) != 0 || (p->gzip && access(gz, R_OK) != 0)) rc = emu_pcap_write(p);
  pthread_mutex_unlock(&s->gen_mu);
  return rc;
}
