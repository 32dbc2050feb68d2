/* Decoding one captured packet's headers, as far as the captured bytes go.
 *
 * Layers: the link layer (Ethernet II with any number of 802.1Q / 802.1ad (QinQ) tags, Linux
 * cooked v1 and v2, BSD loopback, raw IPv4/IPv6), IPv4 (options skipped) and IPv6 with its
 * extension headers (hop-by-hop, routing, destination options, fragment, AH, mobility, HIP,
 * shim6, experimental), fragments of both, tunnels as Magic Transit delivers traffic (GRE
 * carrying IPv4, IPv6 or Ethernet, and IP-in-IP: IPv4 or IPv6 inside IPv4 or IPv6), up to
 * RT_PKT_MAX_IP IP headers deep, then TCP (ports, sequence and acknowledgement numbers, flags,
 * window), UDP (ports, length), ICMP and ICMPv6 (type, code).
 *
 * Rules: a byte past the captured length (caplen) is never read, and neither is a byte past
 * what a header says its packet holds (an IPv4 total length, an IPv6 payload length: Ethernet
 * padding is not a TCP header). When the bytes run out inside a header, everything before it
 * stays decoded and `truncated` names that layer if the capture cut the packet (caplen < len,
 * e.g. Cloudflare's sampled captures keep 160 bytes), `malformed` if the packet itself is short
 * or a header is impossible (an IPv4 header length under 20, a GRE routing field, tunnels
 * nested deeper than RT_PKT_MAX_IP). Fields of a layer that was not reached stay zero and its
 * have_* flag unset. The decoder keeps no state and allocates nothing. */
#ifndef PCAPRUN_PKTDECODE_H
#define PCAPRUN_PKTDECODE_H
#include <stddef.h>
#include <stdint.h>

#define RT_PKT_MAX_VLAN 4 /* tags kept; deeper stacks are still skipped */
#define RT_PKT_MAX_IP 4   /* IP headers: the outer one and up to 3 tunnelled inside it */

/* Layers, for `truncated` and `malformed`. */
enum rt_layer {
  RT_L_NONE = 0, RT_L_LINK, RT_L_VLAN, RT_L_IPV4, RT_L_IPV6, RT_L_IPV6_EXT, RT_L_GRE, RT_L_TCP,
  RT_L_UDP, RT_L_ICMP, RT_L_ICMPV6
};

/* How an IP header was reached. */
enum rt_tunnel { RT_TUN_NONE = 0, RT_TUN_GRE, RT_TUN_IPIP };

/* TCP flags, as in the header's 13th byte. */
enum {
  RT_TCP_FIN = 0x01, RT_TCP_SYN = 0x02, RT_TCP_RST = 0x04, RT_TCP_PSH = 0x08, RT_TCP_ACK = 0x10,
  RT_TCP_URG = 0x20, RT_TCP_ECE = 0x40, RT_TCP_CWR = 0x80
};

typedef struct rt_iphdr {
  uint8_t version;        /* 4 or 6 */
  uint8_t ttl;            /* TTL or hop limit */
  uint8_t proto;          /* the upper-layer protocol, after any extension headers (6 TCP,
                           * 17 UDP, 47 GRE, ...); 59 when there is none */
  uint8_t tunnel;         /* rt_tunnel: how this header was reached (NONE for the outer one) */
  uint8_t src[16], dst[16]; /* IPv4 addresses in the first 4 bytes */
  uint32_t len;           /* the packet's length by its header (IPv4 total length, 40 + IPv6
                           * payload length) */
  uint8_t fragment;       /* this is a fragment (offset > 0 or more fragments follow) */
  uint8_t more_fragments;
  uint16_t frag_offset;   /* in bytes */
  uint32_t frag_id;       /* IPv4 identification or IPv6 fragment identification */
  uint8_t ext_headers;    /* IPv6 extension headers (and AH) passed */
} rt_iphdr;

typedef struct rt_pkt {
  uint32_t caplen, len;   /* captured and original length, from the record */
  int linktype;           /* DLT_ value of the file */
  uint8_t truncated;      /* rt_layer cut by the capture's snapshot length, or RT_L_NONE */
  uint8_t malformed;      /* rt_layer found short or invalid in a complete packet, or RT_L_NONE */
  /* link layer */
  uint8_t have_mac;
  uint8_t src_mac[6], dst_mac[6]; /* of the outer Ethernet header */
  uint16_t ethertype;     /* the outer link layer's protocol after its VLAN tags; 0 when none
                           * (raw IP) or not Ethernet II (802.3 length field) */
  uint8_t nvlan;          /* VLAN tags on the outer Ethernet header (more than kept is fine) */
  uint16_t vlan[RT_PKT_MAX_VLAN]; /* their VLAN ids (12 bits), outer tag first */
  uint16_t vlan_tpid[RT_PKT_MAX_VLAN]; /* and their tag types: 0x8100 (802.1Q), 0x88a8 (802.1ad
                                        * service tag, QinQ's outer), 0x9100 */
  /* IP: ip[0] is the outermost header, ip[nip - 1] the innermost */
  uint8_t nip;
  rt_iphdr ip[RT_PKT_MAX_IP];
  /* transport, of the innermost IP header (when it is not a non-first fragment) */
  uint8_t have_ports;     /* TCP or UDP ports (4 bytes of their header) */
  uint8_t have_tcp_flags; /* TCP flags (14 bytes of the header) */
  uint8_t have_icmp;      /* ICMP or ICMPv6 type and code */
  uint16_t sport, dport;
  uint8_t tcp_flags;
  uint32_t tcp_seq, tcp_ack;
  uint16_t tcp_window;
  uint16_t udp_len;
  uint8_t icmp_type, icmp_code;
} rt_pkt;

/* Decodes the record's data (caplen bytes captured of a len-byte packet) of link type dlt into
 * *p (which is cleared first). Never fails: what cannot be decoded is marked. */
void rt_pkt_decode(rt_pkt *p, int dlt, const uint8_t *data, uint32_t caplen, uint32_t len);

/* Names, for output. */
const char *rt_layer_name(int layer);      /* "tcp", "ipv6-ext", ... ("" for RT_L_NONE) */
const char *rt_tunnel_name(int tunnel);    /* "gre", "ipip" ("" for none) */
const char *rt_ipproto_name(int proto);    /* "tcp", "udp", "icmp", ... or NULL when unnamed */
/* The address of an IP header as text ("192.0.2.1", "2001:db8::1"). */
void rt_ip_format(int version, const uint8_t *addr, char *buf, size_t len);
/* TCP flags as letters, tcpdump's way ("S", "S.", "FP.", ... "." is ACK); "none" when zero. */
void rt_tcp_flags_format(uint8_t flags, char *buf, size_t len);

#endif
