/* Capture files for the benchmarks (tests/bench/pcap.sh), written at bench time:
 *   bench_pcapgen OUT BYTES SEED
 * a nanosecond pcap of about BYTES bytes written by libpcap: Ethernet, IPv4 (5 % in VLAN tags),
 * TCP (some UDP and ICMP) between 2000 sources and 50 destinations, frames of 60 to 1514 bytes
 * captured whole (40 % small), a third of the packets a SYN flood on one address; 20,000
 * packets per second from a start that depends on SEED (so files of different seeds overlap in
 * time and a merge interleaves them). Checksums are not computed: nothing here checks them. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;
static uint32_t rnd(uint32_t below) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)((rng >> 11) % below);
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_pcapgen OUT BYTES SEED\n");
    return 2;
  }
  long long want = atoll(argv[2]);
  rng = 0x9e3779b97f4a7c15u ^ (uint64_t)atoll(argv[3]) * 0x2545f4914f6cdd1du;
  pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t *d = dead ? pcap_dump_open(dead, argv[1]) : NULL;
  if (!d) {
    fprintf(stderr, "bench_pcapgen: cannot write %s\n", argv[1]);
    return 1;
  }
  static uint8_t frame[1514];
  memset(frame, 0x5a, sizeof frame);
  static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
  uint64_t ts = (1764139440ULL + (uint64_t)atoll(argv[3]) % 7) * 1000000000ULL;
  long long bytes = 24;
  while (bytes < want) {
    size_t n = 0;
    memcpy(frame, macs, 12);
    n = 12;
    if (rnd(20) == 0) { /* 802.1Q */
      put16(frame + n, 0x8100);
      put16(frame + n + 2, 100 + rnd(4));
      n += 4;
    }
    put16(frame + n, 0x0800);
    n += 2;
    int flood = rnd(3) == 0;
    unsigned roll = rnd(10);
    unsigned proto = flood || roll < 7 ? 6 : roll < 9 ? 17 : 1;
    size_t len = flood ? n + 40 : roll < 4 ? n + 40 + rnd(20) : n + 40 + rnd((unsigned)(1514 - n - 40));
    if (len < 60) len = 60;
    uint8_t *ip = frame + n;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (unsigned)(len - n));
    put16(ip + 4, rnd(65536));
    ip[8] = (uint8_t)(40 + rnd(24));
    ip[9] = (uint8_t)proto;
    put32(ip + 12, 0xc6336400u + rnd(2000));                     /* 198.51.100.0 + i */
    put32(ip + 16, flood ? 0xcb007101u : 0xcb007100u + rnd(50)); /* 203.0.113.x */
    uint8_t *l4 = ip + 20;
    put16(l4, 1024 + rnd(60000));
    put16(l4 + 2, flood ? 443 : rnd(4) ? 443 : 80 + rnd(2000));
    if (proto == 6) {
      put32(l4 + 4, (uint32_t)rng);
      put32(l4 + 8, flood ? 0 : (uint32_t)(rng >> 32));
      l4[12] = 0x50;
      l4[13] = flood ? 0x02 : (uint8_t)(len - n > 40 ? 0x18 : 0x10);
    } else if (proto == 17) {
      put16(l4 + 4, (unsigned)(len - n - 20));
    } else {
      l4[0] = 8;
    }
    ts += 30000 + rnd(40000); /* 20,000 packets per second on average */
    struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
    h.ts.tv_sec = (time_t)(ts / 1000000000);
    h.ts.tv_usec = (suseconds_t)(ts % 1000000000); /* nanoseconds on a nanosecond handle */
    pcap_dump((u_char *)d, &h, frame);
    bytes += 16 + (long long)len;
  }
  int bad = pcap_dump_flush(d) != 0;
  pcap_dump_close(d);
  pcap_close(dead);
  return bad;
}
