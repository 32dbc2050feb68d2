/* ctest-labels: pcap
 * ctest-timeout: 300
 * rt_pcapstats against Wireshark on the same files. Traffic is hand-assembled (plain TCP with
 * every flag mix, UDP, ICMP, ICMPv6, 802.1Q and QinQ tags, GRE carrying IPv4, IPv6 and Ethernet,
 * IP-in-IP and 6in4, IPv6 with extension headers, IPv4 and IPv6 fragments, Ethernet padding,
 * frames up to 1514 bytes), written by text2pcap as nanosecond pcap, then converted by editcap:
 * cut to 160 bytes a packet (as Cloudflare's sampled captures are), to microsecond pcap, to
 * pcapng in two sections, and byte-swapped to big-endian. For each file:
 *  - packets and time range equal capinfos';
 *  - conversations equal `tshark -z conv,ip` and `conv,ipv6` (frames each way, bytes as tshark
 *    rounds them), per-address counts `-z endpoints,ip/ipv6` (Tx and Rx, exact bytes), the
 *    per-second series `-z io,stat,1`, the size histogram `-z plen,tree`, and the counts of
 *    display filters: SYN without ACK, SYN+ACK, FIN, RST, TCP, VLAN, GRE. Wireshark counts every
 *    IP header of a tunnelled packet; so do our inner and outer views together;
 *  - the top 5 destinations are tshark's 5 busiest receivers, in order;
 * and the decoder agrees with tshark -T fields on every packet of every file (addresses, TTLs
 * and hop limits of each IP header, ports, TCP flags, ICMP types, VLAN ids, fragment fields).
 * Then a table far too small for the traffic (capacity 8) keeps the heavy hitters within its
 * published error bounds. */
#include "check.h"
#include "err.h"
#include "pcapgen.h"
#include "pcapfile.h"
#include "pcapstats.h"
#include "pktdecode.h"

#include <arpa/inet.h>
#include <unistd.h>

static char dir[] = "/tmp/pcapstats.XXXXXX";
static char err[512];
static const int64_t T0 = 1764139440LL * 1000000000 + 250000000;

static char *path(const char *name) {
  static char paths[16][512];
  static int next;
  char *p = paths[next++ % 16];
  snprintf(p, 512, "%s/%s", dir, name);
  return p;
}

/* ---- the traffic ---- */


static uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) { return a << 24 | b << 16 | c << 8 | d; }
static void v6(uint8_t *out, unsigned net, unsigned host) {
  static const uint8_t base[16] = {0x20, 0x01, 0x0d, 0xb8};
  memcpy(out, base, 16);
  out[4] = (uint8_t)(net >> 8);
  out[5] = (uint8_t)net;
  out[15] = (uint8_t)host;
}

static const unsigned flag_mix[] = {0x02, 0x02, 0x02, 0x12, 0x10, 0x18, 0x18, 0x11, 0x04, 0x14, 0xc2};

/* An IPv4 source of the inner traffic: a few heavy senders, many light ones. */
static uint32_t src4(void) { return pg_rnd(3) ? v4(198, 51, 100, 1 + pg_rnd(4)) : v4(198, 51, 100, 10 + pg_rnd(60)); }
static uint32_t dst4(void) { return pg_rnd(2) ? v4(203, 0, 113, 1) : v4(203, 0, 113, 2 + pg_rnd(6)); }

/* IPv4 + TCP with a payload of n bytes at b; returns the length. */
static size_t tcp4(uint8_t *b, uint32_t s, uint32_t d, unsigned flags, size_t n, unsigned ttl) {
  size_t l = pg_ipv4(b, (unsigned)(40 + n), pg_rnd(65536), 0, ttl, 6, s, d);
  l += pg_tcp(b + l, 1024 + pg_rnd(60000), pg_rnd(4) ? 443 : 80, pg_rnd(1u << 31), flags);
  memset(b + l, 0x61, n);
  return l + n;
}

static size_t udp4(uint8_t *b, uint32_t s, uint32_t d, size_t n) {
  size_t l = pg_ipv4(b, (unsigned)(28 + n), pg_rnd(65536), 0, 64, 17, s, d);
  l += pg_udp(b + l, 30000 + pg_rnd(1000), 53, (unsigned)(8 + n));
  memset(b + l, 0x62, n);
  return l + n;
}

static size_t tcp6(uint8_t *b, unsigned host, unsigned flags, size_t n, int ext) {
  uint8_t s[16], d[16];
  v6(s, 1, host);
  v6(d, 0xffff, 1 + host % 3);
  size_t e = ext ? 8 + 16 + 24 : 0; /* hop-by-hop, destination options, routing (type 0) */
  size_t l = pg_ipv6(b, (unsigned)(e + 20 + n), ext ? 0 : 6, 64 - host % 5, s, d);
  if (ext) {
    memset(b + l, 0, e);
    b[l] = 60;                   /* hop-by-hop (8 bytes: PadN) -> destination options */
    b[l + 2] = 1, b[l + 3] = 4;
    b[l + 8] = 43, b[l + 9] = 1; /* destination options (16 bytes) -> routing */
    b[l + 10] = 1, b[l + 11] = 12;
    b[l + 24] = 6, b[l + 25] = 2; /* routing (24 bytes: type 0, one address) -> TCP */
    l += e;
  }
  l += pg_tcp(b + l, 2000 + host, 443, pg_rnd(1u << 31), flags);
  memset(b + l, 0x63, n);
  return l + n;
}

/* One packet of each kind by `kind`; returns the frame length. */
static size_t packet(uint8_t *b, int kind) {
  static const unsigned vlan[] = {0x8100, 100}, qinq[] = {0x88a8, 300, 0x8100, 42};
  size_t n = 0, l;
  uint32_t gre_src = v4(192, 0, 2, 1 + pg_rnd(3)), gre_dst = v4(192, 0, 2, 100);
  switch (kind) {
  case 0: case 1: case 2: case 3: /* TCP over IPv4 */
    n = pg_eth(b, NULL, 0, 0x0800);
    return n + tcp4(b + n, src4(), dst4(), flag_mix[pg_rnd(11)], pg_rnd(5) ? pg_rnd(40) : 200 + pg_rnd(1260), 40 + pg_rnd(30));
  case 4: /* UDP */
    n = pg_eth(b, NULL, 0, 0x0800);
    return n + udp4(b + n, src4(), v4(203, 0, 113, 53), 20 + pg_rnd(480));
  case 5: /* ICMP echo */
    n = pg_eth(b, NULL, 0, 0x0800);
    n += pg_ipv4(b + n, 28 + 32, pg_rnd(65536), 0, 128, 1, src4(), dst4());
    memset(b + n, 0, 40);
    b[n] = 8;
    return n + 40;
  case 6: /* 802.1Q */
    n = pg_eth(b, vlan, 1, 0x0800);
    return n + tcp4(b + n, src4(), dst4(), 0x02, 0, 60);
  case 7: /* QinQ */
    n = pg_eth(b, qinq, 2, 0x0800);
    return n + udp4(b + n, src4(), dst4(), 64);
  case 8: { /* GRE (no options) carrying IPv4 TCP */
    n = pg_eth(b, NULL, 0, 0x0800);
    uint8_t inner[1600];
    l = tcp4(inner, src4(), dst4(), flag_mix[pg_rnd(11)], pg_rnd(300), 50);
    n += pg_ipv4(b + n, (unsigned)(20 + 4 + l), pg_rnd(65536), 0x4000, 255, 47, gre_src, gre_dst);
    n += pg_put16(b + n, 0);
    n += pg_put16(b + n, 0x0800);
    memcpy(b + n, inner, l);
    return n + l;
  }
  case 9: { /* GRE with key and sequence number carrying IPv6 TCP */
    n = pg_eth(b, NULL, 0, 0x0800);
    uint8_t inner[1600];
    l = tcp6(inner, 1 + pg_rnd(6), 0x02, 0, 0);
    n += pg_ipv4(b + n, (unsigned)(20 + 12 + l), pg_rnd(65536), 0, 250, 47, gre_src, gre_dst);
    n += pg_put16(b + n, 0x3000);
    n += pg_put16(b + n, 0x86dd);
    n += pg_put32(b + n, 77);
    n += pg_put32(b + n, pg_rnd(100000));
    memcpy(b + n, inner, l);
    return n + l;
  }
  case 10: { /* GRE carrying Ethernet (transparent bridging) with IPv4 UDP */
    n = pg_eth(b, NULL, 0, 0x0800);
    uint8_t inner[1600];
    l = pg_eth(inner, NULL, 0, 0x0800);
    l += udp4(inner + l, src4(), dst4(), 30);
    n += pg_ipv4(b + n, (unsigned)(20 + 4 + l), pg_rnd(65536), 0, 255, 47, gre_src, gre_dst);
    n += pg_put16(b + n, 0);
    n += pg_put16(b + n, 0x6558);
    memcpy(b + n, inner, l);
    return n + l;
  }
  case 11: { /* IP-in-IP */
    n = pg_eth(b, NULL, 0, 0x0800);
    uint8_t inner[1600];
    l = tcp4(inner, src4(), dst4(), 0x02, 0, 45);
    n += pg_ipv4(b + n, (unsigned)(20 + l), pg_rnd(65536), 0, 254, 4, gre_src, gre_dst);
    memcpy(b + n, inner, l);
    return n + l;
  }
  case 12: { /* 6in4 */
    n = pg_eth(b, NULL, 0, 0x0800);
    uint8_t inner[1600];
    l = tcp6(inner, 1 + pg_rnd(6), 0x18, pg_rnd(100), 0);
    n += pg_ipv4(b + n, (unsigned)(20 + l), pg_rnd(65536), 0, 253, 41, gre_src, gre_dst);
    memcpy(b + n, inner, l);
    return n + l;
  }
  case 13: /* IPv6 with extension headers */
    n = pg_eth(b, NULL, 0, 0x86dd);
    return n + tcp6(b + n, 1 + pg_rnd(8), flag_mix[pg_rnd(11)], pg_rnd(3) ? 0 : 100 + pg_rnd(1000), 1);
  case 14: { /* ICMPv6 echo */
    uint8_t s[16], d[16];
    v6(s, 1, 9);
    v6(d, 0xffff, 1);
    n = pg_eth(b, NULL, 0, 0x86dd);
    n += pg_ipv6(b + n, 16, 58, 64, s, d);
    memset(b + n, 0, 16);
    b[n] = 128;
    return n + 16;
  }
  case 15: /* a bare ACK, padded to Ethernet's 60 bytes */
    n = pg_eth(b, NULL, 0, 0x0800);
    n += tcp4(b + n, src4(), dst4(), 0x10, 0, 64);
    memset(b + n, 0, 6);
    return n + 6;
  default:
    return 0;
  }
}

/* IPv4 UDP datagram in two fragments, or IPv6 UDP in two fragments (fragment header). */
static void fragments(FILE *t, int64_t *ts, int ipv6) {
  uint8_t b[1600];
  unsigned id = pg_rnd(65536);
  uint32_t s = src4(), d = v4(203, 0, 113, 9);
  for (int part = 0; part < 2; part++) {
    size_t n;
    if (!ipv6) {
      n = pg_eth(b, NULL, 0, 0x0800);
      size_t data = part ? 100 : 8 + 800; /* 808 bytes = 101 units; the rest 100 */
      n += pg_ipv4(b + n, (unsigned)(20 + data), id, part ? 101 : 0x2000, 64, 17, s, d);
      if (!part) n += pg_udp(b + n, 5000, 6000, 908);
      memset(b + n, 0x64, part ? 100 : 800);
      n += part ? 100 : 800;
    } else {
      uint8_t a[16], c[16];
      v6(a, 1, 20);
      v6(c, 0xfffe, 2); /* a pair of its own: see skip() */
      n = pg_eth(b, NULL, 0, 0x86dd);
      size_t data = part ? 100 : 8 + 800;
      n += pg_ipv6(b + n, (unsigned)(8 + data), 44, 64, a, c);
      b[n] = 17;
      b[n + 1] = 0;
      pg_put16(b + n + 2, part ? (101 << 3) : 1);
      pg_put32(b + n + 4, id);
      n += 8;
      if (!part) n += pg_udp(b + n, 5000, 6000, 908);
      memset(b + n, 0x65, part ? 100 : 800);
      n += part ? 100 : 800;
    }
    *ts += 1000 + pg_rnd(100000);
    pg_packet(t, *ts, b, n);
  }
}

/* About 6 s of traffic into full.nsecpcap; returns the packet count. */
static int make_traffic(void) {
  FILE *t = pg_text_open(dir, "traffic");
  int64_t ts = T0;
  int count = 0;
  uint8_t b[1600];
  for (int i = 0; i < 4000; i++) {
    ts += 1 + pg_rnd(3000000);
    if (i % 97 == 0) {
      fragments(t, &ts, i % 2);
      count += 2;
      continue;
    }
    int kind = pg_rnd(16);
    size_t n = packet(b, kind);
    pg_packet(t, ts, b, n);
    count++;
  }
  return pg_text2pcap(t, "nsecpcap", path("full.pcap")) == 0 ? count : -1;
}

/* ---- Wireshark's answers ---- */

static char *run(const char *fmt, const char *file, const char *arg) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, file, arg);
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *out = malloc(cap);
  size_t n;
  while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 4096) out = realloc(out, cap *= 2);
  }
  out[len] = 0;
  pclose(p);
  return out;
}

/* The lines of a tshark section: from the line after the one containing `title` to "====". */
static const char *section(const char *out, const char *title) {
  const char *s = strstr(out, title);
  return s ? strchr(s, '\n') + 1 : NULL;
}

static int line_end(const char *l) { return !*l || !strncmp(l, "====", 4); }
static const char *next_line(const char *l) {
  const char *e = strchr(l, '\n');
  return e ? e + 1 : l + strlen(l);
}

/* Wireshark counts an IPv6 datagram once, at the fragment that completes it (or at the first
 * with reassembly off), where it counts every fragment of an IPv4 datagram; we count each
 * fragment, as each is a packet on the wire. So the addresses that IPv6 fragments (and only
 * they) use are left out of the comparisons of counts; t_fields compares their packets one by
 * one. */
static int skip(const char *addr) { return strstr(addr, "2001:db8:fffe:") != NULL || strstr(addr, "2001:db8:1::14") != NULL; }

/* Our entry for an address (JSON table "sources"/"destinations") or NULL. */
static const json_t *find_addr(const json_t *rows, const char *addr) {
  size_t i;
  const json_t *r;
  json_array_foreach(rows, i, r)
    if (!strcmp(json_string_value(json_object_get(r, "address")), addr)) return r;
  return NULL;
}

static const json_t *find_pair(const json_t *rows, const char *a, const char *b) {
  size_t i;
  const json_t *r;
  json_array_foreach(rows, i, r) {
    const char *x = json_string_value(json_object_get(r, "a")), *y = json_string_value(json_object_get(r, "b"));
    if ((!strcmp(x, a) && !strcmp(y, b)) || (!strcmp(x, b) && !strcmp(y, a))) return r;
  }
  return NULL;
}

static long long num(const json_t *o, const char *k) { return (long long)json_integer_value(json_object_get(o, k)); }

/* What Wireshark counts (every IP header of a packet) from our inner and outer views: the
 * tunnel endpoints (192.0.2.0/24) are never inner addresses, so an entry in the inner view
 * counts all its packets, and an entry only in the outer view is a tunnel endpoint. */
static json_t *views(const json_t *inner, const json_t *outer, const char *table, int pair) {
  json_t *all = json_deep_copy(json_object_get(inner, table));
  size_t i;
  const json_t *r;
  json_array_foreach(json_object_get(outer, table), i, r) {
    const json_t *same = pair ? find_pair(all, json_string_value(json_object_get(r, "a")), json_string_value(json_object_get(r, "b")))
                              : find_addr(all, json_string_value(json_object_get(r, "address")));
    if (same) CHECK(num(same, "packets") >= num(r, "packets")); /* not a tunnel endpoint */
    else json_array_append(all, (json_t *)r);
  }
  return all;
}

/* tshark's way of writing a byte count in conversations (SI prefixes past 10000, truncated). */
static void size_text(long long v, char *buf, size_t len) {
  static const char *const units[] = {"bytes", "kB", "MB", "GB"};
  int u = 0;
  long long div = 1;
  while (u < 3 && v >= div * 10000) div *= 1000, u++;
  snprintf(buf, len, "%lld %s", v / div, units[u]);
}

static void check_conversations(const char *out, const char *title, const json_t *all, int *seen) {
  const char *l = section(out, title);
  CHECK(l != NULL);
  for (l = l ? next_line(next_line(next_line(l))) : ""; !line_end(l); l = next_line(l)) {
    char a[64], b[64], u1[8], u2[8], u3[8];
    long long in_f, in_b, out_f, out_b, tot_f, tot_b;
    if (sscanf(l, "%63s <-> %63s %lld %lld %7s %lld %lld %7s %lld %lld %7s", a, b, &in_f, &in_b, u1, &out_f, &out_b,
               u2, &tot_f, &tot_b, u3) != 11) {
      CHECK_STR(l, "a conversation line");
      continue;
    }
    if (skip(a) || skip(b)) continue;
    (*seen)++;
    const json_t *r = find_pair(all, a, b);
    CHECK(r != NULL);
    if (!r) continue;
    int same = !strcmp(json_string_value(json_object_get(r, "a")), a);
    CHECK_INT(num(r, "packets"), tot_f);
    CHECK_INT(num(json_object_get(r, same ? "a_to_b" : "b_to_a"), "packets"), out_f); /* "->": A to B */
    CHECK_INT(num(json_object_get(r, same ? "b_to_a" : "a_to_b"), "packets"), in_f);
    char ours[32], theirs[32];
    size_text(num(r, "bytes"), ours, sizeof ours);
    snprintf(theirs, sizeof theirs, "%lld %s", tot_b, u3);
    CHECK_STR(ours, theirs);
  }
}

static void check_endpoints(const char *out, const char *title, const json_t *src, const json_t *dst, int *seen) {
  const char *l = section(out, title);
  CHECK(l != NULL);
  for (l = l ? next_line(next_line(l)) : ""; !line_end(l); l = next_line(l)) {
    char a[64];
    long long p, by, txp, txb, rxp, rxb;
    if (sscanf(l, "%63s %lld %lld %lld %lld %lld %lld", a, &p, &by, &txp, &txb, &rxp, &rxb) != 7) {
      CHECK_STR(l, "an endpoint line");
      continue;
    }
    if (skip(a)) continue;
    (*seen)++;
    const json_t *s = find_addr(src, a), *d = find_addr(dst, a);
    CHECK_INT(s ? num(s, "packets") : 0, txp);
    CHECK_INT(s ? num(s, "bytes") : 0, txb);
    CHECK_INT(d ? num(d, "packets") : 0, rxp);
    CHECK_INT(d ? num(d, "bytes") : 0, rxb);
  }
}

/* The numbers of an io,stat table row ("| 0.000 <> 1.000 |  12 |  3456 | ..."), after the interval. */
static int row_numbers(const char *l, long long *v, int max) {
  int n = 0;
  const char *c = strchr(l + 1, '|');
  while (c && n < max) {
    char *end;
    long long x = strtoll(c + 1, &end, 10);
    if (end == c + 1) break;
    v[n++] = x;
    c = strchr(end, '|');
    if (c && c[1] == '\n') break;
  }
  return n;
}

static void check_series(const char *out, const json_t *s) {
  const char *l = section(out, "| Interval ");
  CHECK(l != NULL);
  const json_t *series = json_object_get(s, "series");
  const json_t *pk = json_object_get(series, "packets"), *bits = json_object_get(series, "bits");
  size_t i = 0;
  for (l = l ? next_line(l) : ""; !line_end(l); l = next_line(l)) {
    long long v[2];
    if (row_numbers(l, v, 2) != 2) continue;
    CHECK_INT(json_integer_value(json_array_get(pk, i)), v[0]);
    CHECK_INT(json_integer_value(json_array_get(bits, i)), v[1] * 8);
    i++;
  }
  CHECK_INT(i, json_array_size(pk));
  CHECK(i >= 5);
}

static void check_sizes(const char *out, const json_t *s) {
  const char *l = section(out, "Packet Lengths");
  CHECK(l != NULL);
  const json_t *sizes = json_object_get(s, "sizes");
  int b = 0;
  for (l = l ? next_line(next_line(next_line(l))) : ""; !line_end(l) && strncmp(l, "----", 4); l = next_line(l)) {
    long long lo, hi = -1, count;
    char word[16];
    if (sscanf(l, " %lld-%lld %lld", &lo, &hi, &count) != 3 && sscanf(l, " %lld and %15s %lld", &lo, word, &count) != 3)
      continue;
    const json_t *bucket = json_array_get(sizes, b++);
    CHECK_INT(num(bucket, "min"), lo);
    CHECK_INT(num(bucket, "packets"), count);
  }
  CHECK_INT(b, 10);
}

/* Display-filter counts, in one io,stat over the whole capture. */
static void check_filters(const char *file, const json_t *inner) {
  /* io,stat takes its filters as one comma-separated argument */
  char *out = run("tshark -r '%s' -q -z 'io,stat,0,%s' 2>/dev/null", file,
                  "tcp.flags.syn==1 && tcp.flags.ack==0,tcp.flags.syn==1 && tcp.flags.ack==1,tcp.flags.fin==1,"
                  "tcp.flags.reset==1,tcp,vlan,gre");
  const char *l = section(out, "| Interval ");
  long long v[14] = {0};
  CHECK(l && row_numbers(next_line(l), v, 14) == 14);
  const json_t *tcp = json_object_get(inner, "tcp");
  CHECK_INT(num(tcp, "syn_only"), v[0]);
  CHECK_INT(num(tcp, "syn_ack"), v[2]);
  CHECK_INT(num(tcp, "fin"), v[4]);
  CHECK_INT(num(tcp, "rst"), v[6]);
  CHECK_INT(num(tcp, "packets"), v[8]);
  CHECK_INT(num(inner, "vlan"), v[10]);
  CHECK_INT(num(inner, "gre"), v[12]);
  CHECK(v[0] > 100 && v[2] > 10 && v[10] > 10 && v[12] > 10); /* the traffic has them all */
  free(out);
}

/* The top 5 destinations are tshark's 5 busiest receivers (packets, then bytes), in order. */
static void check_top(const char *out, const json_t *inner) {
  struct { char a[64]; long long rx, rxb; } best[5];
  for (int i = 0; i < 5; i++) best[i].rx = best[i].rxb = -1;
  for (int v = 0; v < 2; v++) {
    const char *l = section(out, v ? "IPv6 Endpoints" : "IPv4 Endpoints");
    for (l = l ? next_line(next_line(l)) : ""; !line_end(l); l = next_line(l)) {
      char a[64];
      long long p, by, txp, txb, rxp, rxb;
      if (sscanf(l, "%63s %lld %lld %lld %lld %lld %lld", a, &p, &by, &txp, &txb, &rxp, &rxb) != 7) continue;
      if (!strncmp(a, "192.0.2.", 8) || skip(a)) continue; /* tunnel endpoints: not in the inner view */
      for (int i = 0; i < 5; i++) {
        if (rxp > best[i].rx || (rxp == best[i].rx && rxb > best[i].rxb)) {
          memmove(best + i + 1, best + i, (4 - (size_t)i) * sizeof best[0]);
          snprintf(best[i].a, sizeof best[i].a, "%s", a);
          best[i].rx = rxp;
          best[i].rxb = rxb;
          break;
        }
      }
    }
  }
  const json_t *dst = json_object_get(inner, "destinations");
  for (int i = 0; i < 5; i++) CHECK_STR(json_string_value(json_object_get(json_array_get(dst, (size_t)i), "address")), best[i].a);
}

static json_t *stats(const char *file, int outer, uint32_t capacity) {
  rt_pcapstats_opts o;
  rt_pcapstats_opts_default(&o);
  o.outer = outer;
  o.capacity = capacity;
  rt_pcapstats s;
  const char *files[] = {file};
  CHECK_INT(rt_pcapstats_init(&s, &o), 0);
  CHECK_INT(rt_pcapstats_files(&s, files, 1, NULL, NULL, err, sizeof err), 0);
  json_t *j = rt_pcapstats_json(&s, 100000);
  rt_pcapstats_free(&s);
  return j;
}

static void check_file(const char *name, int packets) {
  const char *file = path(name);
  fprintf(stderr, "  %s\n", name);
  json_t *inner = stats(file, 0, 4096), *outer = stats(file, 1, 4096);
  CHECK_INT(num(inner, "packets"), packets);
  char *info = run("capinfos -M -a -e -c '%s'%s", file, "");
  char want[64];
  snprintf(want, sizeof want, "Number of packets:   %d\n", packets);
  CHECK_CONTAINS(info, want);
  free(info);
  char *out = run("tshark -r '%s' -q -z conv,ip -z conv,ipv6 -z endpoints,ip -z endpoints,ipv6 -z io,stat,1 "
                  "-z plen,tree 2>/dev/null%s", file, "");
  json_t *conv = views(inner, outer, "conversations", 1);
  json_t *src = views(inner, outer, "sources", 0), *dst = views(inner, outer, "destinations", 0);
  int convs = 0, endpoints = 0;
  check_conversations(out, "IPv4 Conversations", conv, &convs);
  check_conversations(out, "IPv6 Conversations", conv, &convs);
  size_t pairs = 0;
  for (size_t i = 0; i < json_array_size(conv); i++)
    pairs += !skip(json_string_value(json_object_get(json_array_get(conv, i), "a"))) &&
             !skip(json_string_value(json_object_get(json_array_get(conv, i), "b")));
  CHECK_INT(convs, pairs); /* none missing on either side */
  check_endpoints(out, "IPv4 Endpoints", src, dst, &endpoints);
  check_endpoints(out, "IPv6 Endpoints", src, dst, &endpoints);
  size_t addrs = 0;
  for (size_t i = 0; i < json_array_size(src); i++)
    addrs += !skip(json_string_value(json_object_get(json_array_get(src, i), "address")));
  for (size_t i = 0; i < json_array_size(dst); i++) {
    const char *a = json_string_value(json_object_get(json_array_get(dst, i), "address"));
    addrs += !skip(a) && !find_addr(src, a);
  }
  CHECK_INT(endpoints, addrs);
  check_series(out, inner);
  check_sizes(out, inner);
  check_top(out, inner);
  check_filters(file, inner);
  CHECK(json_is_true(json_object_get(json_object_get(inner, "exact"), "conversations")));
  free(out);
  json_decref(conv);
  json_decref(src);
  json_decref(dst);
  json_decref(inner);
  json_decref(outer);
}

static void t_like_wireshark(void) {
  int packets = make_traffic();
  CHECK(packets > 3000);
  CHECK(pg_sh("editcap -s 160 -F nsecpcap %s %s", path("full.pcap"), path("snap160.pcap")) == 0);
  CHECK(pg_sh("editcap -F pcap %s %s", path("full.pcap"), path("usec.pcap")) == 0);
  CHECK(pg_sh("editcap -F pcapng -r %s %s 1-2000 && editcap -F pcapng %s %s 1-2000 && cat %s %s > %s",
              path("full.pcap"), path("a.pcapng"), path("full.pcap"), path("b.pcapng"), path("a.pcapng"),
              path("b.pcapng"), path("sections.pcapng")) == 0);
  CHECK(pg_sh("cp %s %s", path("snap160.pcap"), path("big.pcap")) == 0);
  CHECK(pg_to_big_endian(path("big.pcap")) == 0);
  check_file("full.pcap", packets);
  check_file("snap160.pcap", packets);
  check_file("usec.pcap", packets);
  check_file("sections.pcapng", packets);
  check_file("big.pcap", packets);
  /* the 160-byte cut: most big frames are truncated, no header is misread (checked above) */
  json_t *s = stats(path("snap160.pcap"), 0, 4096);
  CHECK(num(s, "truncated") > 200);
  CHECK_INT(num(s, "malformed"), 0);
  json_decref(s);
}

/* ---- packet by packet ---- */

#define FIELDS "-e frame.number -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.ttl -e ipv6.hlim " \
  "-e tcp.srcport -e tcp.dstport -e tcp.flags -e udp.srcport -e udp.dstport -e icmp.type -e icmpv6.type " \
  "-e ieee8021ad.id -e vlan.id -e ip.frag_offset -e ip.flags.mf -e ipv6.fraghdr.offset -e ipv6.fraghdr.more"

typedef struct line { char *p; size_t left; } line;

static void put(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(line *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(l->p, l->left, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < l->left) l->p += n, l->left -= (size_t)n;
}

/* One field of every IP header of `version`: 0 src, 1 dst, 2 ttl, 3 fragment offset (8-byte
 * units), 4 more fragments. */
static void ip_field(line *l, const rt_pkt *p, int version, int what) {
  put(l, "\t");
  int first = 1;
  for (int i = 0; i < p->nip; i++) {
    const rt_iphdr *ip = &p->ip[i];
    if (ip->version != version) continue;
    char a[64];
    if (what < 2) rt_ip_format(version, what ? ip->dst : ip->src, a, sizeof a);
    else snprintf(a, sizeof a, "%u", what == 2 ? ip->ttl : what == 3 ? ip->frag_offset / 8u : ip->more_fragments);
    put(l, "%s%s", first ? "" : ",", a);
    first = 0;
  }
}

/* Our decode of a packet in tshark's -T fields layout (FIELDS, occurrences joined by ','). */
static void fields(const rt_pkt *p, unsigned number, char *buf, size_t len) {
  line l = {buf, len};
  put(&l, "%u", number);
  for (int what = 0; what < 2; what++) ip_field(&l, p, 4, what);
  for (int what = 0; what < 2; what++) ip_field(&l, p, 6, what);
  ip_field(&l, p, 4, 2);
  ip_field(&l, p, 6, 2);
  unsigned l4 = p->nip ? p->ip[p->nip - 1].proto : 0;
  int tcp = l4 == 6 && p->have_ports, udp = l4 == 17 && p->have_ports;
  put(&l, tcp ? "\t%u\t%u" : "\t\t", p->sport, p->dport);
  put(&l, l4 == 6 && p->have_tcp_flags ? "\t0x%04x" : "\t", p->tcp_flags);
  put(&l, udp ? "\t%u\t%u" : "\t\t", p->sport, p->dport);
  put(&l, l4 == 1 && p->have_icmp ? "\t%u" : "\t", p->icmp_type);
  put(&l, l4 == 58 && p->have_icmp ? "\t%u" : "\t", p->icmp_type);
  for (int ad = 1; ad >= 0; ad--) { /* 802.1ad service tags, then 802.1Q tags */
    put(&l, "\t");
    int first = 1;
    for (int i = 0; i < p->nvlan; i++) {
      if ((p->vlan_tpid[i] == 0x88a8) != ad) continue;
      put(&l, "%s%u", first ? "" : ",", p->vlan[i]);
      first = 0;
    }
  }
  ip_field(&l, p, 4, 3);
  ip_field(&l, p, 4, 4);
  /* IPv6 fragment headers: the first IPv6 header carrying one */
  const rt_iphdr *frag = NULL;
  for (int i = 0; i < p->nip && !frag; i++)
    if (p->ip[i].version == 6 && p->ip[i].fragment) frag = &p->ip[i];
  put(&l, frag ? "\t%u\t%u" : "\t\t", frag ? frag->frag_offset / 8u : 0, frag ? frag->more_fragments : 0);
}

static void check_fields(const char *name) {
  const char *file = path(name);
  char *out = run("tshark -o ip.defragment:FALSE -o ipv6.defragment:FALSE -r '%s' -T fields -E occurrence=a "
                  "-E aggregator=, " FIELDS " 2>/dev/null%s", file, "");
  rt_pcapfile f;
  CHECK_INT(rt_pcapfile_open(&f, file, NULL, err, sizeof err), 0);
  struct pcap_pkthdr *h;
  const unsigned char *data;
  const char *l = out;
  unsigned n = 0, bad = 0;
  while (rt_pcapfile_next(&f, &h, &data, err, sizeof err) == 1) {
    rt_pkt p;
    rt_pkt_decode(&p, f.linktype, data, h->caplen, h->len);
    char ours[1024], theirs[1024];
    fields(&p, ++n, ours, sizeof ours);
    size_t len = strcspn(l, "\n");
    snprintf(theirs, sizeof theirs, "%.*s", (int)len, l);
    l += len + (l[len] != 0);
    if (strcmp(ours, theirs) != 0 && bad++ < 5) CHECK_STR(ours, theirs);
    CHECK_INT(p.malformed, RT_L_NONE);
  }
  CHECK_INT(bad, 0);
  CHECK(n > 3000 && *l == 0);
  rt_pcapfile_close(&f);
  free(out);
}

static void t_fields(void) {
  static const char *const files[] = {"full.pcap", "snap160.pcap", "sections.pcapng", "big.pcap"};
  for (int i = 0; i < 4; i++) check_fields(files[i]);
}

/* Capacity 8 for some 80 sources: every count within its bounds, the heavy hitters present. */
static void t_bounded(void) {
  json_t *exact = stats(path("full.pcap"), 0, 4096), *small = stats(path("full.pcap"), 0, 8);
  CHECK(!json_is_true(json_object_get(json_object_get(small, "exact"), "sources")));
  long long n = num(exact, "packets");
  for (int t = 0; t < 3; t++) {
    const char *table = t == 0 ? "sources" : t == 1 ? "destinations" : "conversations";
    const json_t *rows = json_object_get(small, table), *truth = json_object_get(exact, table), *r;
    size_t i;
    CHECK(json_array_size(rows) == 8);
    json_array_foreach(rows, i, r) {
      const json_t *x = t == 2 ? find_pair(truth, json_string_value(json_object_get(r, "a")), json_string_value(json_object_get(r, "b")))
                               : find_addr(truth, json_string_value(json_object_get(r, "address")));
      long long real = x ? num(x, "packets") : 0, real_bytes = x ? num(x, "bytes") : 0;
      CHECK(num(r, "packets") - num(r, "error_packets") <= real && real <= num(r, "packets"));
      CHECK(num(r, "bytes") - num(r, "error_bytes") <= real_bytes && real_bytes <= num(r, "bytes"));
      CHECK(num(r, "error_packets") <= n / 8);
    }
    json_array_foreach(truth, i, r) { /* every key above N / capacity is in the table */
      if (num(r, "packets") <= n / 8) continue;
      CHECK(t == 2 ? find_pair(rows, json_string_value(json_object_get(r, "a")), json_string_value(json_object_get(r, "b"))) != NULL
                   : find_addr(rows, json_string_value(json_object_get(r, "address"))) != NULL);
    }
  }
  json_decref(exact);
  json_decref(small);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  RUN(t_like_wireshark);
  RUN(t_fields);
  RUN(t_bounded);
  if (check_failures == 0 && !getenv("KEEP")) pg_sh("rm -rf %s", dir);
  return check_done();
}
