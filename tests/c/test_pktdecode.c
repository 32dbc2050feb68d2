/* ctest-labels: pcap
 * The decoder on hand-assembled packets, where the bytes end or lie: every cut of a tunnelled
 * IPv6 packet (each from its own exact-size buffer, so that reading one byte too far is caught
 * under ASan and valgrind) decodes its prefix and names the layer cut; a complete packet that
 * is too short, or a header that lies, is malformed instead; Ethernet padding is never read as
 * a header; fragments; tunnels nested too deep; GRE versions and routing; extension header
 * chains; every link type. (Agreement with Wireshark on whole traffic: test_pcapstats.) */
#include "check.h"
#include "pcapgen.h"
#include "pktdecode.h"

#include <pcap/dlt.h>
#include <stdlib.h>

static rt_pkt p;

/* Decodes the first caplen bytes of b (of a len-byte packet) from a buffer of exactly caplen. */
static const rt_pkt *decode(int dlt, const uint8_t *b, uint32_t caplen, uint32_t len) {
  uint8_t *copy = malloc(caplen ? caplen : 1);
  memcpy(copy, b, caplen);
  rt_pkt_decode(&p, dlt, copy, caplen, len);
  free(copy);
  return &p;
}

static const uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1};
static const uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 2};

/* Ethernet / 802.1ad 7 / 802.1Q 9 / IPv4 / GRE (key) / IPv6 / hop-by-hop / fragment (first,
 * more) / TCP SYN from port 1234 to 443. */
static size_t tunnelled(uint8_t *b) {
  static const unsigned tags[] = {0x88a8, 7, 0x8100, 9};
  size_t n = pg_eth(b, tags, 2, 0x0800);
  size_t inner = 40 + 8 + 8 + 20;
  n += pg_ipv4(b + n, (unsigned)(20 + 8 + inner), 1, 0, 200, 47, 0xc0000201, 0xc0000264);
  n += pg_put16(b + n, 0x2000); /* key present */
  n += pg_put16(b + n, 0x86dd);
  n += pg_put32(b + n, 42);
  n += pg_ipv6(b + n, 8 + 8 + 20, 0, 61, s6, d6);
  b[n] = 44, b[n + 1] = 0, memset(b + n + 2, 1, 6), n += 8; /* hop-by-hop: PadN */
  b[n] = 6, b[n + 1] = 0, pg_put16(b + n + 2, 1), pg_put32(b + n + 4, 0xabcd), n += 8;
  return n + pg_tcp(b + n, 1234, 443, 7, 0x02);
}

static void t_every_cut(void) {
  uint8_t b[256];
  size_t len = tunnelled(b);
  const rt_pkt *q = decode(DLT_EN10MB, b, (uint32_t)len, (uint32_t)len);
  CHECK_INT(q->truncated, RT_L_NONE);
  CHECK_INT(q->malformed, RT_L_NONE);
  CHECK_INT(q->nvlan, 2);
  CHECK_INT(q->vlan[0], 7);
  CHECK_INT(q->vlan_tpid[0], 0x88a8);
  CHECK_INT(q->vlan[1], 9);
  CHECK_INT(q->ethertype, 0x0800);
  CHECK_INT(q->nip, 2);
  CHECK_INT(q->ip[0].proto, 47);
  CHECK_INT(q->ip[0].ttl, 200);
  CHECK_INT(q->ip[1].tunnel, RT_TUN_GRE);
  CHECK_INT(q->ip[1].version, 6);
  CHECK_INT(q->ip[1].ttl, 61);
  CHECK_INT(q->ip[1].proto, 6);
  CHECK_INT(q->ip[1].ext_headers, 2);
  CHECK(q->ip[1].fragment && q->ip[1].more_fragments && q->ip[1].frag_offset == 0);
  CHECK_INT(q->ip[1].frag_id, 0xabcd);
  CHECK(q->have_ports && q->sport == 1234 && q->dport == 443 && q->have_tcp_flags && q->tcp_flags == 0x02);
  CHECK(memcmp(q->ip[1].src, s6, 16) == 0);
  /* every cut: what precedes it is decoded, the layer cut is named, nothing is malformed */
  static const struct { size_t upto; int layer; } layers[] = {
    {14, RT_L_LINK}, {22, RT_L_VLAN}, {42, RT_L_IPV4}, {50, RT_L_GRE}, {90, RT_L_IPV6}, {106, RT_L_IPV6_EXT}};
  for (size_t cut = 0; cut < len; cut++) {
    q = decode(DLT_EN10MB, b, (uint32_t)cut, (uint32_t)len);
    int want = RT_L_NONE;
    for (int i = 0; i < 6 && !want; i++)
      if (cut < layers[i].upto) want = layers[i].layer;
    /* inside a fragment, a short transport header is expected: no mark */
    CHECK_INT(q->truncated, want);
    CHECK_INT(q->malformed, RT_L_NONE);
    CHECK_INT(q->nvlan, cut >= 18 ? (cut >= 22 ? 2 : 1) : 0);
    CHECK_INT(q->nip, cut >= 90 ? 2 : cut >= 34 + 8 ? 1 : 0);
    CHECK_INT(q->have_ports, cut >= 110);
    CHECK_INT(q->have_tcp_flags, cut >= 120);
  }
}

/* The same TCP/IPv4 packet, cut by the capture or complete but short. */
static void t_truncated_or_malformed(void) {
  uint8_t b[128];
  size_t n = pg_eth(b, NULL, 0, 0x0800);
  n += pg_ipv4(b + n, 40, 1, 0, 64, 6, 0x0a000001, 0x0a000002);
  n += pg_tcp(b + n, 1, 2, 3, 0x12);
  const rt_pkt *q = decode(DLT_EN10MB, b, 50, 60); /* the capture kept 50 of 60 bytes */
  CHECK_INT(q->truncated, RT_L_TCP);
  CHECK_INT(q->malformed, RT_L_NONE);
  CHECK(q->have_tcp_flags && q->tcp_flags == 0x12); /* 16 of 20 bytes: flags are there */
  q = decode(DLT_EN10MB, b, 50, 50); /* all of the packet: it is short */
  CHECK_INT(q->truncated, RT_L_NONE);
  CHECK_INT(q->malformed, RT_L_TCP);
  b[14] = 0x44; /* IHL 4: impossible */
  q = decode(DLT_EN10MB, b, 54, 54);
  CHECK_INT(q->malformed, RT_L_IPV4);
  CHECK_INT(q->have_ports, 0);
  b[14] = 0x45;
  b[14 + 20 + 12] = 0x40; /* TCP data offset 4 words */
  q = decode(DLT_EN10MB, b, 54, 54);
  CHECK_INT(q->malformed, RT_L_TCP);
  b[14 + 20 + 12] = 0x50;
  b[14] = 0x65; /* version 6 in an IPv4 ethertype */
  q = decode(DLT_EN10MB, b, 54, 54);
  CHECK_INT(q->malformed, RT_L_IPV4);
  CHECK_INT(q->nip, 0);
}

/* An IP header without a length (TSO writes 0; an IPv6 jumbogram has its length in a hop-by-hop
 * option): the packet ends where the capture does, so a cut there is truncation. (Found by
 * fuzz_pktdecode: it was called malformed.) */
static void t_no_length(void) {
  uint8_t b[128];
  size_t n = pg_eth(b, NULL, 0, 0x0800);
  n += pg_ipv4(b + n, 0, 1, 0, 64, 6, 0x0a000001, 0x0a000002);
  n += pg_tcp(b + n, 1, 2, 3, 0x02);
  const rt_pkt *q = decode(DLT_EN10MB, b, 44, 1500);
  CHECK_INT(q->truncated, RT_L_TCP);
  CHECK_INT(q->malformed, RT_L_NONE);
  CHECK_INT(q->ip[0].len, 30);
  q = decode(DLT_EN10MB, b, (uint32_t)n, (uint32_t)n);
  CHECK(q->have_tcp_flags && q->truncated == RT_L_NONE && q->malformed == RT_L_NONE);
  uint8_t v6[128];
  n = pg_ipv6(v6, 0, 0, 64, s6, d6); /* payload length 0, hop-by-hop first */
  memset(v6 + n, 0, 8);
  v6[n] = 6;
  n += 8;
  n += pg_tcp(v6 + n, 1, 2, 3, 0x02);
  q = decode(DLT_RAW, v6, 52, 9000);
  CHECK_INT(q->truncated, RT_L_TCP);
  CHECK_INT(q->malformed, RT_L_NONE);
  CHECK_INT(q->ip[0].proto, 6);
}

/* Padding after the IP packet is not read as its transport header. */
static void t_padding(void) {
  uint8_t b[64];
  memset(b, 0xee, sizeof b);
  size_t n = pg_eth(b, NULL, 0, 0x0800);
  pg_ipv4(b + n, 24, 1, 0, 64, 17, 0x0a000001, 0x0a000002); /* 4 bytes of UDP, then padding */
  pg_udp(b + n + 20, 53, 54, 8);
  const rt_pkt *q = decode(DLT_EN10MB, b, 60, 60);
  CHECK(q->have_ports && q->sport == 53 && q->dport == 54);
  CHECK_INT(q->udp_len, 0);                /* past the IP packet: not read */
  CHECK_INT(q->malformed, RT_L_UDP);       /* the IP packet is too short for UDP */
  CHECK_INT(q->truncated, RT_L_NONE);
  CHECK_INT(q->ip[0].len, 24);
}

static void t_fragments(void) {
  uint8_t b[128];
  size_t n = pg_eth(b, NULL, 0, 0x0800);
  n += pg_ipv4(b + n, 20 + 16, 9, 0x2000 | 0, 64, 6, 0x0a000001, 0x0a000002); /* first, 16 bytes */
  n += pg_tcp(b + n, 80, 81, 1, 0x02);
  const rt_pkt *q = decode(DLT_EN10MB, b, 50, 50); /* TCP header cut by the fragment's end */
  CHECK(q->ip[0].fragment && q->ip[0].more_fragments);
  CHECK(q->have_ports && q->have_tcp_flags && q->tcp_flags == 0x02);
  CHECK_INT(q->truncated, RT_L_NONE);
  CHECK_INT(q->malformed, RT_L_NONE);
  pg_ipv4(b + 14, 20 + 16, 9, 3, 64, 6, 0x0a000001, 0x0a000002); /* offset 24: no TCP header */
  q = decode(DLT_EN10MB, b, 50, 50);
  CHECK(q->ip[0].fragment && !q->ip[0].more_fragments && q->ip[0].frag_offset == 24);
  CHECK_INT(q->have_ports, 0);
  CHECK_INT(q->have_tcp_flags, 0);
  pg_ipv4(b + 14, 20 + 16, 9, 3, 64, 47, 0x0a000001, 0x0a000002); /* GRE in a later fragment */
  q = decode(DLT_EN10MB, b, 50, 50);
  CHECK_INT(q->nip, 1);
  CHECK_INT(q->malformed, RT_L_NONE);
}

/* IP-in-IP nested past RT_PKT_MAX_IP headers. */
static void t_too_deep(void) {
  uint8_t b[256];
  size_t n = 0;
  for (int i = 0; i < RT_PKT_MAX_IP + 1; i++)
    n += pg_ipv4(b + n, (unsigned)(20 * (RT_PKT_MAX_IP + 1 - i) + 8), 1, 0, 64, i < RT_PKT_MAX_IP ? 4 : 17, 1, 2);
  n += pg_udp(b + n, 1, 2, 8);
  const rt_pkt *q = decode(DLT_RAW, b, (uint32_t)n, (uint32_t)n);
  CHECK_INT(q->nip, RT_PKT_MAX_IP);
  CHECK_INT(q->malformed, RT_L_IPV4);
  CHECK_INT(q->ip[RT_PKT_MAX_IP - 1].tunnel, RT_TUN_IPIP);
  CHECK_INT(q->have_ports, 0);
}

static void t_gre_variants(void) {
  uint8_t b[128];
  size_t n = pg_ipv4(b, 20 + 8 + 28, 1, 0, 64, 47, 1, 2);
  size_t gre = n;
  n += pg_put16(b + n, 0x0001); /* version 1 (PPTP) */
  n += pg_put16(b + n, 0x880b);
  n += pg_put32(b + n, 0);
  n += pg_ipv4(b + n, 28, 1, 0, 64, 17, 3, 4);
  n += pg_udp(b + n, 5, 6, 8);
  const rt_pkt *q = decode(DLT_RAW, b, (uint32_t)n, (uint32_t)n);
  CHECK_INT(q->nip, 1);
  CHECK_INT(q->malformed, RT_L_NONE);
  pg_put16(b + gre, 0x4000); /* routing present */
  q = decode(DLT_RAW, b, (uint32_t)n, (uint32_t)n);
  CHECK_INT(q->malformed, RT_L_GRE);
  pg_put16(b + gre, 0x8000); /* checksum present: 4 more bytes, then IPv4 */
  pg_put16(b + gre + 2, 0x0800);
  q = decode(DLT_RAW, b, (uint32_t)n, (uint32_t)n);
  CHECK_INT(q->nip, 2);
  CHECK(q->have_ports && q->sport == 5 && q->dport == 6);
}

/* An endless chain of destination-options headers. */
static void t_extension_chain(void) {
  uint8_t b[40 + 8 * 40];
  pg_ipv6(b, 8 * 40, 60, 64, s6, d6);
  for (int i = 0; i < 40; i++) memset(b + 40 + 8 * i, 0, 8), b[40 + 8 * i] = 60;
  const rt_pkt *q = decode(DLT_RAW, b, sizeof b, sizeof b);
  CHECK_INT(q->malformed, RT_L_IPV6_EXT);
  CHECK_INT(q->nip, 1);
}

static void t_link_types(void) {
  uint8_t ip[40];
  size_t n = pg_ipv4(ip, 40, 1, 0, 33, 6, 0x0a000001, 0x0a000002);
  pg_tcp(ip + n, 7, 8, 1, 0x10);
  uint8_t b[64];
  /* Linux cooked v1: 16 bytes, protocol at 14 */
  memset(b, 0, 16);
  pg_put16(b + 14, 0x0800);
  memcpy(b + 16, ip, 40);
  CHECK(decode(DLT_LINUX_SLL, b, 56, 56)->ip[0].ttl == 33 && p.dport == 8 && p.ethertype == 0x0800);
  /* v2: 20 bytes, protocol first */
  memset(b, 0, 20);
  pg_put16(b, 0x0800);
  memcpy(b + 20, ip, 40);
  CHECK(decode(DLT_LINUX_SLL2, b, 60, 60)->ip[0].ttl == 33 && p.dport == 8);
  /* BSD loopback: AF_INET in host order (either), or network order for DLT_LOOP */
  static const uint8_t le[4] = {2, 0, 0, 0}, be[4] = {0, 0, 0, 2};
  memcpy(b, le, 4);
  memcpy(b + 4, ip, 40);
  CHECK(decode(DLT_NULL, b, 44, 44)->nip == 1 && p.dport == 8);
  memcpy(b, be, 4);
  CHECK(decode(DLT_LOOP, b, 44, 44)->nip == 1 && p.dport == 8);
  /* raw IP */
  CHECK(decode(DLT_RAW, ip, 40, 40)->nip == 1 && p.sport == 7);
  CHECK(decode(DLT_IPV4, ip, 40, 40)->nip == 1);
  /* a link type we do not know: nothing decoded, nothing marked */
  CHECK(decode(DLT_IEEE802_11, ip, 40, 40)->nip == 0 && p.malformed == RT_L_NONE);
  /* an empty record */
  CHECK(decode(DLT_EN10MB, ip, 0, 60)->truncated == RT_L_LINK);
}

static void t_names(void) {
  char buf[16];
  rt_tcp_flags_format(0x12, buf, sizeof buf);
  CHECK_STR(buf, "S.");
  rt_tcp_flags_format(0x19, buf, sizeof buf);
  CHECK_STR(buf, "FP.");
  rt_tcp_flags_format(0, buf, sizeof buf);
  CHECK_STR(buf, "none");
  rt_tcp_flags_format(0xc2, buf, sizeof buf);
  CHECK_STR(buf, "SEW");
  CHECK_STR(rt_layer_name(RT_L_IPV6_EXT), "ipv6-ext");
  CHECK_STR(rt_layer_name(99), "");
  CHECK_STR(rt_ipproto_name(58), "icmpv6");
  CHECK(rt_ipproto_name(250) == NULL);
  char a[64];
  rt_ip_format(6, d6, a, sizeof a);
  CHECK_STR(a, "2001:db8:2::2");
}

int main(void) {
  RUN(t_every_cut);
  RUN(t_truncated_or_malformed);
  RUN(t_no_length);
  RUN(t_padding);
  RUN(t_fragments);
  RUN(t_too_deep);
  RUN(t_gre_variants);
  RUN(t_extension_chain);
  RUN(t_link_types);
  RUN(t_names);
  return check_done();
}
