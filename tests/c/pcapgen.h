/* Test captures that no code of ours writes: packets are hand-assembled bytes, turned into files
 * by Wireshark's own tools (text2pcap reads a hex dump, editcap converts and truncates,
 * mergecap merges). The one format they cannot write, big-endian classic pcap, is made by
 * swapping a little-endian file's header fields (pg_to_big_endian).
 *
 *   FILE *t = pg_text_open(dir, "a");           hex dump in DIR/a.txt
 *   pg_packet(t, ts_ns, bytes, len);             one packet (ISO time, then offset + hex lines)
 *   pg_text2pcap(t, "nsecpcap", "DIR/a.pcap");   closes t, runs text2pcap -F nsecpcap
 *   pg_sh("editcap -s 160 %s %s", in, out);      any command; returns its exit status
 *   pg_rnd(n)                                    a deterministic pseudo-random number below n */
#ifndef PCAPRUN_PCAPGEN_H
#define PCAPRUN_PCAPGEN_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static char pg_text_path[4096];

/* A deterministic pseudo-random number below `below` (xorshift64), for generated traffic. */
static uint64_t pg_rng = 0x9e3779b97f4a7c15u;
__attribute__((unused))
static uint32_t pg_rnd(uint32_t below) {
  pg_rng ^= pg_rng << 13;
  pg_rng ^= pg_rng >> 7;
  pg_rng ^= pg_rng << 17;
  return (uint32_t)(pg_rng % below);
}

__attribute__((format(printf, 1, 2), unused))
static int pg_sh(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st = system(cmd);
  return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

__attribute__((unused))
static FILE *pg_text_open(const char *dir, const char *name) {
  snprintf(pg_text_path, sizeof pg_text_path, "%s/%s.txt", dir, name);
  FILE *f = fopen(pg_text_path, "w");
  if (!f) abort();
  return f;
}

/* One packet: its time as ISO 8601 UTC with nanoseconds, then the bytes as offset + hex lines. */
__attribute__((unused))
static void pg_packet(FILE *t, int64_t ts_ns, const uint8_t *b, size_t len) {
  time_t sec = (time_t)(ts_ns / 1000000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(t, "%s.%09lldZ\n", when, (long long)(ts_ns % 1000000000));
  for (size_t i = 0; i < len; i++) {
    if (i % 16 == 0) fprintf(t, "%s%06zx", i ? "\n" : "", i);
    fprintf(t, " %02x", b[i]);
  }
  fputc('\n', t);
}

/* Closes the hex dump and makes a capture of `format` (pcap, nsecpcap, pcapng) from it. */
__attribute__((unused))
static int pg_text2pcap(FILE *t, const char *format, const char *out) {
  fclose(t);
  return pg_sh("text2pcap -q -t ISO -F %s '%s' '%s' > /dev/null 2>&1", format, pg_text_path, out);
}

static void pg_swap(uint8_t *p, int n) {
  for (int i = 0; i < n / 2; i++) {
    uint8_t c = p[i];
    p[i] = p[n - 1 - i];
    p[n - 1 - i] = c;
  }
}

/* Rewrites a little-endian classic pcap file in big-endian byte order, field by field. */
__attribute__((unused))
static int pg_to_big_endian(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  static uint8_t buf[1 << 22];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  static const int header_fields[] = {4, 2, 2, 4, 4, 4, 4};
  if (len < 24 || (buf[0] != 0xd4 && buf[0] != 0x4d)) return -1;
  uint8_t *p = buf;
  for (int i = 0; i < 7; p += header_fields[i++]) pg_swap(p, header_fields[i]);
  while (p + 16 <= buf + len) {
    uint32_t incl = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    for (int i = 0; i < 4; i++) pg_swap(p + 4 * i, 4);
    p += 16 + incl;
  }
  if (p != buf + len) return -1;
  f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len) return -1;
  return fclose(f);
}

/* ---- hand-assembled headers (network byte order) ---- */

__attribute__((unused))
static size_t pg_put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return 2; }
__attribute__((unused))
static size_t pg_put32(uint8_t *p, uint32_t v) { pg_put16(p, v >> 16); pg_put16(p + 2, v & 0xffff); return 4; }

/* Ethernet II: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, then the VLAN tags (TPID, VID
 * pairs: 0x88a8 for a QinQ service tag, 0x8100 for a customer tag), then the ethertype. */
__attribute__((unused))
static size_t pg_eth(uint8_t *p, const unsigned *tags, int ntags, unsigned ethertype) {
  static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
  memcpy(p, macs, 12);
  size_t n = 12;
  for (int i = 0; i < ntags; i++) {
    n += pg_put16(p + n, tags[2 * i]);
    n += pg_put16(p + n, tags[2 * i + 1]);
  }
  return n + pg_put16(p + n, ethertype);
}

/* IPv4 header (20 bytes) with total length `total`, addresses as 32-bit numbers; frag is the
 * flags+offset field (0x2000 more fragments, offset in 8-byte units). The checksum is right. */
__attribute__((unused))
static size_t pg_ipv4(uint8_t *p, unsigned total, unsigned id, unsigned frag, unsigned ttl,
                      unsigned proto, uint32_t src, uint32_t dst) {
  memset(p, 0, 20);
  p[0] = 0x45;
  pg_put16(p + 2, total);
  pg_put16(p + 4, id);
  pg_put16(p + 6, frag);
  p[8] = (uint8_t)ttl;
  p[9] = (uint8_t)proto;
  pg_put32(p + 12, src);
  pg_put32(p + 16, dst);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  pg_put16(p + 10, ~sum & 0xffff);
  return 20;
}

/* IPv6 header (40 bytes): payload length, next header, hop limit, addresses (16 bytes each). */
__attribute__((unused))
static size_t pg_ipv6(uint8_t *p, unsigned payload, unsigned next, unsigned hops, const uint8_t *src,
                      const uint8_t *dst) {
  memset(p, 0, 40);
  p[0] = 0x60;
  pg_put16(p + 4, payload);
  p[6] = (uint8_t)next;
  p[7] = (uint8_t)hops;
  memcpy(p + 8, src, 16);
  memcpy(p + 24, dst, 16);
  return 40;
}

/* TCP header (20 bytes, no options; checksum left 0). */
__attribute__((unused))
static size_t pg_tcp(uint8_t *p, unsigned sport, unsigned dport, uint32_t seq, unsigned flags) {
  memset(p, 0, 20);
  pg_put16(p, sport);
  pg_put16(p + 2, dport);
  pg_put32(p + 4, seq);
  pg_put32(p + 8, flags & 0x10 ? seq ^ 0x5a5a5a5a : 0);
  p[12] = 0x50;
  p[13] = (uint8_t)flags;
  pg_put16(p + 14, 64240);
  return 20;
}

/* UDP header (8 bytes, checksum 0: none). */
__attribute__((unused))
static size_t pg_udp(uint8_t *p, unsigned sport, unsigned dport, unsigned len) {
  pg_put16(p, sport);
  pg_put16(p + 2, dport);
  pg_put16(p + 4, len);
  pg_put16(p + 6, 0);
  return 8;
}

#endif
