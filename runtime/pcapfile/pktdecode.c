/* The packet decoder: each layer reads from a cursor that knows how many bytes it may read and
 * why it ends there (the capture's cut, or the length a header gave), so that running short
 * is told apart as truncated, malformed or (inside a fragment) expected. */
#include "pktdecode.h"
#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

typedef struct cursor {
  const uint8_t *b;
  uint32_t n;       /* bytes this layer may read */
  uint8_t cut;      /* n ends where the capture ended (not where a header said the packet ends) */
  uint8_t frag;     /* inside an IP fragment: running short is expected, nothing to mark */
} cursor;

static unsigned rd16(const uint8_t *b) { return (unsigned)b[0] << 8 | b[1]; }
static uint32_t rd32(const uint8_t *b) { return (uint32_t)rd16(b) << 16 | rd16(b + 2); }

/* Does the cursor hold `need` bytes? If not, marks the layer and says no. */
static int have(rt_pkt *p, const cursor *c, uint32_t need, int layer) {
  if (c->n >= need) return 1;
  if (c->frag) return 0;
  if (c->cut && p->caplen < p->len) {
    if (!p->truncated) p->truncated = (uint8_t)layer;
  } else if (!p->malformed) {
    p->malformed = (uint8_t)layer;
  }
  return 0;
}

static void bad(rt_pkt *p, int layer) {
  if (!p->malformed) p->malformed = (uint8_t)layer;
}

static cursor skip(cursor c, uint32_t n) {
  c.b += n;
  c.n -= n;
  return c;
}

static void decode_ip(rt_pkt *p, cursor c, int version, int tunnel);
static void decode_ethernet(rt_pkt *p, cursor c, int outer, int tunnel);

/* A link-layer protocol number (an ethertype) and what follows it. */
static void decode_ethertype(rt_pkt *p, unsigned type, cursor c, int tunnel) {
  if (type == 0x0800) decode_ip(p, c, 4, tunnel);
  else if (type == 0x86dd) decode_ip(p, c, 6, tunnel);
}

/* Ethernet II with its VLAN tags. Only the outer header's addresses and tags are kept. */
static void decode_ethernet(rt_pkt *p, cursor c, int outer, int tunnel) {
  if (!have(p, &c, 14, RT_L_LINK)) return;
  if (outer) {
    p->have_mac = 1;
    memcpy(p->dst_mac, c.b, 6);
    memcpy(p->src_mac, c.b + 6, 6);
  }
  unsigned type = rd16(c.b + 12);
  c = skip(c, 14);
  while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
    if (!have(p, &c, 4, RT_L_VLAN)) return;
    if (outer && p->nvlan < RT_PKT_MAX_VLAN) {
      p->vlan[p->nvlan] = (uint16_t)(rd16(c.b) & 0x0fff);
      p->vlan_tpid[p->nvlan] = (uint16_t)type;
    }
    if (outer && p->nvlan < 255) p->nvlan++;
    type = rd16(c.b + 2);
    c = skip(c, 4);
  }
  if (type < 0x0600) return; /* an 802.3 length: LLC follows, not an ethertype */
  if (outer) p->ethertype = (uint16_t)type;
  decode_ethertype(p, type, c, tunnel);
}

static void decode_tcp(rt_pkt *p, cursor c) {
  if (c.n >= 4) {
    p->have_ports = 1;
    p->sport = (uint16_t)rd16(c.b);
    p->dport = (uint16_t)rd16(c.b + 2);
  }
  if (c.n >= 8) p->tcp_seq = rd32(c.b + 4);
  if (c.n >= 12) p->tcp_ack = rd32(c.b + 8);
  if (c.n >= 14) {
    p->have_tcp_flags = 1;
    p->tcp_flags = c.b[13];
  }
  if (c.n >= 16) p->tcp_window = (uint16_t)rd16(c.b + 14);
  if (have(p, &c, 20, RT_L_TCP) && c.b[12] >> 4 < 5) bad(p, RT_L_TCP); /* data offset under 5 words */
}

static void decode_udp(rt_pkt *p, cursor c) {
  if (c.n >= 4) {
    p->have_ports = 1;
    p->sport = (uint16_t)rd16(c.b);
    p->dport = (uint16_t)rd16(c.b + 2);
  }
  if (!have(p, &c, 8, RT_L_UDP)) return;
  p->udp_len = (uint16_t)rd16(c.b + 4);
}

static void decode_icmp(rt_pkt *p, cursor c, int layer) {
  if (c.n >= 2) {
    p->have_icmp = 1;
    p->icmp_type = c.b[0];
    p->icmp_code = c.b[1];
  }
  have(p, &c, 4, layer);
}

/* GRE (RFC 2784/2890): version 0 carrying IPv4, IPv6 or Ethernet (transparent bridging).
 * Other versions (PPTP's enhanced GRE) and payloads are left undecoded; the RFC 1701 routing
 * field is not followed. */
static void decode_gre(rt_pkt *p, cursor c) {
  if (!have(p, &c, 4, RT_L_GRE)) return;
  unsigned flags = rd16(c.b), type = rd16(c.b + 2);
  if ((flags & 7) != 0) return;
  if (flags & 0x4000) { /* routing present: not in RFC 2784 */
    bad(p, RT_L_GRE);
    return;
  }
  uint32_t len = 4 + (flags & 0x8000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0) + (flags & 0x1000 ? 4 : 0);
  if (!have(p, &c, len, RT_L_GRE)) return;
  c = skip(c, len);
  if (type == 0x6558) decode_ethernet(p, c, 0, RT_TUN_GRE);
  else decode_ethertype(p, type, c, RT_TUN_GRE);
}

/* What an IP header (after its extension headers) carries. */
static void decode_upper(rt_pkt *p, const rt_iphdr *ip, cursor c) {
  if (ip->frag_offset > 0) return; /* a later fragment: no transport header here */
  switch (ip->proto) {
  case 6: decode_tcp(p, c); break;
  case 17: decode_udp(p, c); break;
  case 1: if (ip->version == 4) decode_icmp(p, c, RT_L_ICMP); break;
  case 58: if (ip->version == 6) decode_icmp(p, c, RT_L_ICMPV6); break;
  case 47: if (!c.frag) decode_gre(p, c); break;
  case 4: if (!c.frag) decode_ip(p, c, 4, RT_TUN_IPIP); break;
  case 41: if (!c.frag) decode_ip(p, c, 6, RT_TUN_IPIP); break;
  default: break;
  }
}

/* IPv6 extension headers (and AH, in IPv4 too) from *proto on: advances c past them and sets
 * *proto to the upper-layer protocol. Returns 0 when the bytes ran out. */
static int skip_extensions(rt_pkt *p, rt_iphdr *ip, cursor *c) {
  for (int i = 0; i < 32; i++) {
    uint32_t len;
    switch (ip->proto) {
    case 0: case 43: case 60: case 135: case 139: case 140: case 253: case 254:
      if (ip->version != 6) return 1;
      if (!have(p, c, 2, RT_L_IPV6_EXT)) return 0;
      len = ((uint32_t)c->b[1] + 1) * 8;
      break;
    case 44: /* fragment */
      if (ip->version != 6) return 1;
      if (!have(p, c, 8, RT_L_IPV6_EXT)) return 0;
      len = 8;
      ip->frag_offset = (uint16_t)(rd16(c->b + 2) & 0xfff8);
      ip->more_fragments = c->b[3] & 1;
      ip->frag_id = rd32(c->b + 4);
      ip->fragment = ip->frag_offset > 0 || ip->more_fragments;
      break;
    case 51: /* authentication header */
      if (!have(p, c, 2, RT_L_IPV6_EXT)) return 0;
      len = ((uint32_t)c->b[1] + 2) * 4;
      break;
    default:
      return 1;
    }
    if (!have(p, c, len, RT_L_IPV6_EXT)) return 0;
    ip->proto = c->b[0];
    ip->ext_headers++;
    *c = skip(*c, len);
    if (ip->fragment) c->frag = 1;
    if (ip->frag_offset > 0) return 1; /* what follows is a later fragment's data */
  }
  bad(p, RT_L_IPV6_EXT);
  return 0;
}

/* An IP header of `version` (from the link layer or the tunnel) and what it carries. */
static void decode_ip(rt_pkt *p, cursor c, int version, int tunnel) {
  int layer = version == 4 ? RT_L_IPV4 : RT_L_IPV6;
  if (p->nip == RT_PKT_MAX_IP) { /* nested deeper than we keep */
    bad(p, layer);
    return;
  }
  if (!have(p, &c, version == 4 ? 20 : 40, layer)) return;
  if (c.b[0] >> 4 != version) {
    bad(p, layer);
    return;
  }
  rt_iphdr *ip = &p->ip[p->nip++];
  ip->version = (uint8_t)version;
  ip->tunnel = (uint8_t)tunnel;
  uint32_t hlen, total;
  if (version == 4) {
    hlen = (uint32_t)(c.b[0] & 15) * 4;
    total = rd16(c.b + 2);
    ip->ttl = c.b[8];
    ip->proto = c.b[9];
    memcpy(ip->src, c.b + 12, 4);
    memcpy(ip->dst, c.b + 16, 4);
    unsigned frag = rd16(c.b + 6);
    ip->frag_offset = (uint16_t)((frag & 0x1fff) * 8);
    ip->more_fragments = (frag & 0x2000) != 0;
    ip->frag_id = rd16(c.b + 4);
    ip->fragment = ip->frag_offset > 0 || ip->more_fragments;
    if (hlen < 20) {
      bad(p, layer);
      return;
    }
    if (!have(p, &c, hlen, layer)) return;
  } else {
    hlen = 40;
    total = 40 + rd16(c.b + 4);
    ip->proto = c.b[6];
    ip->ttl = c.b[7];
    memcpy(ip->src, c.b + 8, 16);
    memcpy(ip->dst, c.b + 24, 16);
  }
  /* no length in the header (TSO's 0, a jumbogram's hop-by-hop option): the capture's end */
  int unknown = total == 0 || (version == 6 && total == 40 && ip->proto == 0);
  if (unknown) total = c.n;
  ip->len = total;
  if (total < hlen) {
    bad(p, layer);
    return;
  }
  if (!unknown && total <= c.n) { /* the packet ends where its header says: padding is not payload */
    c.n = total;
    c.cut = 0;
  }
  c = skip(c, hlen);
  if (ip->fragment) c.frag = 1;
  if (!skip_extensions(p, ip, &c)) return;
  decode_upper(p, ip, c);
}

void rt_pkt_decode(rt_pkt *p, int dlt, const uint8_t *data, uint32_t caplen, uint32_t len) {
  memset(p, 0, sizeof *p);
  p->caplen = caplen;
  p->len = len;
  p->linktype = dlt;
  cursor c = {data, caplen, 1, 0};
  switch (dlt) {
  case DLT_EN10MB:
    decode_ethernet(p, c, 1, RT_TUN_NONE);
    break;
  case DLT_RAW:
  case DLT_IPV4:
  case DLT_IPV6:
    if (have(p, &c, 1, RT_L_LINK)) {
      int v = c.b[0] >> 4;
      if (v == 4 || v == 6) decode_ip(p, c, v, RT_TUN_NONE);
      else bad(p, RT_L_LINK);
    }
    break;
  case DLT_LINUX_SLL:
  case DLT_LINUX_SLL2: {
    uint32_t hlen = dlt == DLT_LINUX_SLL ? 16 : 20;
    if (!have(p, &c, hlen, RT_L_LINK)) break;
    p->ethertype = (uint16_t)rd16(c.b + (dlt == DLT_LINUX_SLL ? 14 : 0));
    decode_ethertype(p, p->ethertype, skip(c, hlen), RT_TUN_NONE);
    break;
  }
  case DLT_NULL:
  case DLT_LOOP: { /* a 4-byte address family, in either byte order */
    if (!have(p, &c, 4, RT_L_LINK)) break;
    uint32_t af = rd32(c.b);
    if (af > 0xffff) af = (uint32_t)c.b[3] << 24 | (uint32_t)c.b[2] << 16 | (uint32_t)c.b[1] << 8 | c.b[0];
    if (af == 2) decode_ip(p, skip(c, 4), 4, RT_TUN_NONE);
    else if (af == 10 || af == 24 || af == 28 || af == 30) decode_ip(p, skip(c, 4), 6, RT_TUN_NONE);
    break;
  }
  default:
    break;
  }
}

const char *rt_layer_name(int layer) {
  static const char *const names[] = {"", "link", "vlan", "ipv4", "ipv6", "ipv6-ext", "gre", "tcp",
                                      "udp", "icmp", "icmpv6"};
  return layer >= 0 && layer < (int)(sizeof names / sizeof names[0]) ? names[layer] : "";
}

const char *rt_tunnel_name(int tunnel) {
  return tunnel == RT_TUN_GRE ? "gre" : tunnel == RT_TUN_IPIP ? "ipip" : "";
}

const char *rt_ipproto_name(int proto) {
  switch (proto) {
  case 1: return "icmp";
  case 2: return "igmp";
  case 4: return "ipip";
  case 6: return "tcp";
  case 17: return "udp";
  case 41: return "ipv6";
  case 47: return "gre";
  case 50: return "esp";
  case 51: return "ah";
  case 58: return "icmpv6";
  case 59: return "none";
  case 89: return "ospf";
  case 132: return "sctp";
  default: return NULL;
  }
}

void rt_ip_format(int version, const uint8_t *addr, char *buf, size_t len) {
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(version == 4 ? AF_INET : AF_INET6, addr, text, sizeof text)) text[0] = 0;
  snprintf(buf, len, "%s", text);
}

void rt_tcp_flags_format(uint8_t flags, char *buf, size_t len) {
  static const char letters[] = "FSRP.UEW";
  char out[9];
  int n = 0;
  for (int i = 0; i < 8; i++)
    if (flags & (1 << i)) out[n++] = letters[i];
  out[n] = 0;
  snprintf(buf, len, "%s", n ? out : "none");
}
