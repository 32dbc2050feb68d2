/* Streaming pcap validator: files written by libpcap (microseconds and nanoseconds), the same
 * files byte-swapped to big-endian by hand, fed whole, byte by byte and in random chunks; every
 * truncation point of a small file; foreign formats; each corrupt field; resuming from a file. */
#include "check.h"
#include "err.h"
#include "pcapcheck.h"

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct blob { uint8_t *data; size_t len; } blob;

/* A capture written by libpcap: n Ethernet packets of sizes[i] captured bytes each. */
static blob libpcap_file(int nsec, int snaplen, const unsigned *sizes, int n) {
  blob b = {NULL, 0};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  pcap_t *p = pcap_open_dead_with_tstamp_precision(
    DLT_EN10MB, snaplen, nsec ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  pcap_dumper_t *d = f && p ? pcap_dump_fopen(p, f) : NULL;
  if (!d) abort();
  static uint8_t pkt[2048];
  for (int i = 0; i < n; i++) {
    struct pcap_pkthdr h = {{1764139440 + i, 999999}, sizes[i], sizes[i] + 40};
    memset(pkt, 0xA0 + i, sizes[i]);
    pcap_dump((u_char *)d, &h, pkt);
  }
  pcap_dump_close(d); /* closes f, which finalises buf and len */
  pcap_close(p);
  b.data = (uint8_t *)buf;
  b.len = len;
  return b;
}

static void swap_bytes(uint8_t *p, int n) {
  for (int i = 0; i < n / 2; i++) {
    uint8_t t = p[i];
    p[i] = p[n - 1 - i];
    p[n - 1 - i] = t;
  }
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}

/* Rewrites a complete little-endian capture in big-endian byte order, field by field. */
static void to_big_endian(blob *b) {
  static const int header_fields[] = {4, 2, 2, 4, 4, 4, 4};
  uint8_t *p = b->data;
  for (int i = 0; i < 7; p += header_fields[i++]) swap_bytes(p, header_fields[i]);
  while (p < b->data + b->len) {
    uint32_t incl = le32(p + 8);
    for (int i = 0; i < 4; i++) swap_bytes(p + 4 * i, 4);
    p += 16 + incl;
  }
}

static void check_whole(rt_pcapcheck *c, const blob *b) {
  rt_pcapcheck_init(c);
  rt_pcapcheck_feed(c, b->data, b->len);
  rt_pcapcheck_finish(c);
}

static int same_verdict(const rt_pcapcheck *a, const rt_pcapcheck *b) {
  return a->rc == b->rc && strcmp(a->error, b->error) == 0 && a->header_ok == b->header_ok &&
         a->big_endian == b->big_endian && a->nsec == b->nsec && a->snaplen == b->snaplen &&
         a->linktype == b->linktype && a->packets == b->packets &&
         a->data_bytes == b->data_bytes && a->offset == b->offset;
}

static uint32_t rng_state = 0x9E3779B9u;
static uint32_t rng(void) { /* xorshift32: reproducible chunk sizes */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Feeds b in chunks of at most max_chunk bytes (1: byte by byte; 0: random sizes, empty chunks
 * included) and checks the verdict equals the whole-buffer verdict. */
static void check_chunked(const blob *b, size_t max_chunk) {
  rt_pcapcheck whole, split;
  check_whole(&whole, b);
  rt_pcapcheck_init(&split);
  for (size_t at = 0; at < b->len;) {
    size_t n = max_chunk ? max_chunk : rng() % 40;
    if (n > b->len - at) n = b->len - at;
    rt_pcapcheck_feed(&split, b->data + at, n);
    at += n;
  }
  rt_pcapcheck_finish(&split);
  CHECK(same_verdict(&whole, &split));
}

static void check_all_splits(const blob *b) {
  check_chunked(b, 1);
  check_chunked(b, 7);
  for (int i = 0; i < 50; i++) check_chunked(b, 0);
}

static const unsigned sizes[] = {60, 160, 0, 1514, 42};
#define NSIZES 5
#define SIZES_TOTAL (60 + 160 + 0 + 1514 + 42)

static void t_libpcap_files(void) {
  for (int nsec = 0; nsec <= 1; nsec++) {
    blob b = libpcap_file(nsec, 65535, sizes, NSIZES);
    CHECK_INT(b.len, 24 + 16 * NSIZES + SIZES_TOTAL);
    rt_pcapcheck c;
    check_whole(&c, &b);
    CHECK_INT(c.rc, 0);
    CHECK_STR(c.error, "");
    CHECK_INT(c.header_ok, 1);
    CHECK_INT(c.big_endian, 0);
    CHECK_INT(c.nsec, nsec);
    CHECK_INT(c.version_major, 2);
    CHECK_INT(c.version_minor, 4);
    CHECK_INT(c.snaplen, 65535);
    CHECK_INT(c.linktype, 1);
    CHECK_INT(c.packets, NSIZES);
    CHECK_INT(c.data_bytes, SIZES_TOTAL);
    CHECK_INT(c.offset, b.len);
    check_all_splits(&b);

    to_big_endian(&b);
    CHECK_INT(b.data[0], 0xa1);
    rt_pcapcheck be;
    check_whole(&be, &b);
    CHECK_INT(be.rc, 0);
    CHECK_INT(be.big_endian, 1);
    CHECK_INT(be.nsec, nsec);
    CHECK_INT(be.snaplen, 65535);
    CHECK_INT(be.linktype, 1);
    CHECK_INT(be.packets, NSIZES);
    CHECK_INT(be.data_bytes, SIZES_TOTAL);
    check_all_splits(&b);
    free(b.data);
  }
}

static void t_header_only(void) {
  blob b = libpcap_file(0, 160, NULL, 0);
  rt_pcapcheck c;
  CHECK_INT(b.len, 24);
  check_whole(&c, &b);
  CHECK_INT(c.rc, 0);
  CHECK_INT(c.packets, 0);
  CHECK_INT(c.snaplen, 160);
  CHECK_INT(rt_pcapcheck_finish(&c), 0); /* idempotent */
  free(b.data);
}

/* Every prefix of a small file: only the header-only prefix and record boundaries are valid. */
static void t_truncation(void) {
  static const unsigned small[] = {5, 0, 17};
  blob b = libpcap_file(0, 65535, small, 3);
  const size_t good[] = {24, 24 + 16 + 5, 24 + 32 + 5, 24 + 48 + 22};
  CHECK_INT(b.len, good[3]);
  for (size_t len = 0; len <= b.len; len++) {
    blob prefix = {b.data, len};
    rt_pcapcheck c;
    check_whole(&c, &prefix);
    int want_ok = len == good[0] || len == good[1] || len == good[2] || len == good[3];
    CHECK_INT(c.rc, want_ok ? 0 : RT_EPCAP);
    CHECK_INT(c.offset, len);
    check_chunked(&prefix, 1);
  }
  static const struct { size_t len; const char *error; } cases[] = {
    {0, "empty file, expected a pcap"},
    {3, "file ends inside the global header (3 of 24 bytes)"},
    {23, "file ends inside the global header (23 of 24 bytes)"},
    {30, "file ends inside the header of record 1 at offset 24 (6 of 16 bytes)"},
    {42, "file ends inside record 1 at offset 24 (2 of 5 data bytes)"},
    {46, "file ends inside the header of record 2 at offset 45 (1 of 16 bytes)"},
    {24 + 48 + 21, "file ends inside record 3 at offset 61 (16 of 17 data bytes)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    blob prefix = {b.data, cases[i].len};
    rt_pcapcheck c;
    check_whole(&c, &prefix);
    CHECK_STR(c.error, cases[i].error);
  }
  free(b.data);
}

static void t_foreign_formats(void) {
  static const struct { const char *bytes; size_t len; const char *error; } cases[] = {
#define S(lit) lit, sizeof lit - 1
    {S("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00"
       "\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00"),
     "pcapng, expected classic pcap"},
    {S("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed\xc1\x01\x0d\x00\x00"),
     "gzip data, expected classic pcap (Content-Encoding not decoded?)"},
    {S("\x1f\x8b"), "gzip data, expected classic pcap (Content-Encoding not decoded?)"},
    {S("{\"success\":false,\"errors\":[{\"code\":10000,\"message\":\"Authentication error\"}]}"),
     "JSON, not a pcap: the server sent an error body?"},
    {S("{}"), "JSON, not a pcap: the server sent an error body?"},
    {S(" \r\n\t{\"errors\":[]}"), "JSON, not a pcap: the server sent an error body?"},
    {S("\n\n\n\n\n\n   {\"errors\":[]}"), "JSON, not a pcap: the server sent an error body?"},
    {S("[1,2]"), "JSON, not a pcap: the server sent an error body?"},
    {S("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"),
     "HTML, not a pcap: the server sent an error page?"},
    {S("\r\n        <html>"), "HTML, not a pcap: the server sent an error page?"},
    {S("hello world, this is not a capture"), "bad magic 0x68656c6c at offset 0, not a pcap"},
    {S("      \n\n  x"), "bad magic 0x20202020 at offset 0, not a pcap"},
    {S("    \n"), "bad magic 0x20202020 at offset 0, not a pcap (whitespace only)"},
    {S("\xd4\xc3\xb2\xa2\x02\x00\x04\x00"), "bad magic 0xd4c3b2a2 at offset 0, not a pcap"},
    {S("x"), "file ends inside the global header (1 of 24 bytes)"},
#undef S
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    blob b = {(uint8_t *)cases[i].bytes, cases[i].len};
    rt_pcapcheck c;
    check_whole(&c, &b);
    CHECK_INT(c.rc, RT_EPCAP);
    CHECK_STR(c.error, cases[i].error);
    CHECK_INT(c.header_ok, 0);
    check_all_splits(&b);
  }
  /* A long error body is rejected by feed itself, without waiting for finish. */
  rt_pcapcheck c;
  rt_pcapcheck_init(&c);
  CHECK_INT(rt_pcapcheck_feed(&c, "{\"errors\"", 9), RT_EPCAP);
  CHECK_INT(rt_pcapcheck_feed(&c, "\xd4\xc3\xb2\xa1", 4), RT_EPCAP); /* sticky */
  CHECK_INT(c.offset, 4);
  CHECK_INT(rt_pcapcheck_finish(&c), RT_EPCAP);
  CHECK_STR(c.error, "JSON, not a pcap: the server sent an error body?");
}

/* Patches one field of a valid file and checks the message and that splits agree. */
static void check_patched(const blob *orig, size_t at, uint32_t value, int width,
                          const char *error) {
  blob b = {malloc(orig->len), orig->len};
  if (!b.data) abort();
  memcpy(b.data, orig->data, b.len);
  if (width == 2) {
    b.data[at] = (uint8_t)value;
    b.data[at + 1] = (uint8_t)(value >> 8);
  } else {
    put_le32(b.data + at, value);
  }
  rt_pcapcheck c;
  check_whole(&c, &b);
  CHECK_INT(c.rc, error ? RT_EPCAP : 0);
  CHECK_STR(c.error, error ? error : "");
  check_all_splits(&b);
  free(b.data);
}

static void t_corrupt_fields(void) {
  blob b = libpcap_file(0, 65535, sizes, NSIZES);
  const size_t rec2 = 24 + 16 + 60; /* offset of record 2 (160 bytes) */
  check_patched(&b, 4, 3, 2, "unsupported pcap version 3.4 at offset 4, expected 2.4");
  check_patched(&b, 4, 1, 2, "unsupported pcap version 1.4 at offset 4, expected 2.4");
  check_patched(&b, 6, 3, 2, "unsupported pcap version 2.3 at offset 4, expected 2.4");
  /* Version 2.2 records hold orig_len first: this 2.4 layout then reads as orig_len < incl_len. */
  check_patched(&b, 6, 2, 2, "record 1 at offset 24: orig_len 60 is less than incl_len 100");
  check_patched(&b, rec2 + 8, 262145, 4,
                "record 2 at offset 100: incl_len 262145 exceeds snaplen 65535");
  check_patched(&b, rec2 + 12, 159, 4,
                "record 2 at offset 100: orig_len 159 is less than incl_len 160");
  check_patched(&b, rec2 + 12, 160, 4, NULL); /* orig_len == incl_len is fine */
  free(b.data);

  /* With a huge snaplen, the sanity cap still applies. */
  blob big = libpcap_file(0, 65535, sizes, 1);
  put_le32(big.data + 16, 0x7FFFFFFF);
  check_patched(
    &big, 24 + 8, RT_PCAP_MAX_RECORD + 1, 4,
    "record 1 at offset 24: incl_len 16777217 exceeds the sanity cap of 16777216 bytes");
  free(big.data);
}

/* A real 2.2 file, with each record's lengths in the old order, reads like the 2.4 original. */
static void t_version_2_2(void) {
  blob b = libpcap_file(0, 65535, sizes, NSIZES);
  b.data[6] = 2;
  for (uint8_t *p = b.data + 24; p < b.data + b.len;) {
    uint32_t incl = le32(p + 8);
    put_le32(p + 8, le32(p + 12));
    put_le32(p + 12, incl);
    p += 16 + incl;
  }
  rt_pcapcheck c;
  check_whole(&c, &b);
  CHECK_INT(c.rc, 0);
  CHECK_INT(c.version_minor, 2);
  CHECK_INT(c.packets, NSIZES);
  CHECK_INT(c.data_bytes, SIZES_TOTAL);
  check_all_splits(&b);
  free(b.data);
}

/* incl_len may pass the snaplen up to 262144, or up to a larger snaplen. */
static void t_snaplen_slack(void) {
  static const struct { uint32_t snaplen, incl; const char *error; } cases[] = {
    {65535, 70000, "file ends inside record 2 at offset 100 (1764 of 70000 data bytes)"},
    {65535, 300000, "record 2 at offset 100: incl_len 300000 exceeds snaplen 65535"},
    {400000, 300000, "file ends inside record 2 at offset 100 (1764 of 300000 data bytes)"},
    {400000, 400001, "record 2 at offset 100: incl_len 400001 exceeds snaplen 400000"},
    {0, 262144, "file ends inside record 2 at offset 100 (1764 of 262144 data bytes)"},
  };
  blob b = libpcap_file(0, 65535, sizes, NSIZES);
  uint8_t *rec2 = b.data + 24 + 16 + 60;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rt_pcapcheck c;
    put_le32(b.data + 16, cases[i].snaplen);
    put_le32(rec2 + 8, cases[i].incl);
    put_le32(rec2 + 12, cases[i].incl);
    check_whole(&c, &b);
    CHECK_STR(c.error, cases[i].error);
    CHECK_INT(c.packets, 1);
    CHECK_INT(c.data_bytes, 60);
  }
  free(b.data);
}

/* The linktype field's high bits (FCS length) are not part of the link type. */
static void t_linktype_bits(void) {
  blob b = libpcap_file(0, 65535, sizes, NSIZES);
  rt_pcapcheck c;
  put_le32(b.data + 20, 0x10000071); /* LINKTYPE_LINUX_SLL (113), FCS length 1 */
  check_whole(&c, &b);
  CHECK_INT(c.rc, 0);
  CHECK_INT(c.linktype, 113);
  free(b.data);
}

static void t_resume_from_file(void) {
  char path[] = "/tmp/test_pcapcheck_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  blob b = libpcap_file(1, 65535, sizes, NSIZES);
  const size_t part = 24 + 16 + 60 + 7; /* a .part that stops inside record 2 */
  CHECK_INT(write(fd, b.data, part), part);
  close(fd);

  rt_pcapcheck c;
  CHECK_INT(rt_pcapcheck_file(path, &c), 0);
  CHECK_INT(c.offset, part);
  CHECK_INT(c.packets, 1);
  CHECK_INT(c.nsec, 1);
  CHECK_INT(rt_pcapcheck_feed(&c, b.data + part, b.len - part), 0);
  CHECK_INT(rt_pcapcheck_finish(&c), 0);
  CHECK_INT(c.packets, NSIZES);
  CHECK_INT(c.data_bytes, SIZES_TOTAL);
  unlink(path);

  CHECK_INT(rt_pcapcheck_file(path, &c), RT_EIO);
  CHECK_CONTAINS(c.error, path);
  CHECK_CONTAINS(c.error, "No such file");
  CHECK_INT(rt_pcapcheck_feed(&c, b.data, b.len), RT_EIO); /* sticky */
  CHECK_INT(rt_pcapcheck_file("/tmp", &c), RT_EIO);         /* read fails: a directory */
  CHECK_CONTAINS(c.error, "Is a directory");
  free(b.data);
}

int main(void) {
  RUN(t_libpcap_files);
  RUN(t_header_only);
  RUN(t_truncation);
  RUN(t_foreign_formats);
  RUN(t_corrupt_fields);
  RUN(t_version_2_2);
  RUN(t_snaplen_slack);
  RUN(t_linktype_bits);
  RUN(t_resume_from_file);
  return check_done();
}
