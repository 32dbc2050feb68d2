/* Streaming classic-pcap validator: a byte-driven state machine. Headers are collected into a
 * 24-byte buffer (they may arrive split across calls); record data is skipped by count, so the
 * cost per call is O(records + headers) and independent of packet sizes. */
#include "pcapcheck.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum {
  ST_HEADER,        /* collecting the global header; the magic is checked at 4 bytes */
  ST_SPACE,         /* the file began with whitespace: JSON or HTML may follow */
  ST_RECORD_HEADER, /* collecting a record header (have bytes so far) */
  ST_DATA,          /* skipping `left` bytes of record data */
};

static const struct { uint8_t magic[4]; int big_endian, nsec; } magics[] = {
  {{0xd4, 0xc3, 0xb2, 0xa1}, 0, 0},
  {{0xa1, 0xb2, 0xc3, 0xd4}, 1, 0},
  {{0x4d, 0x3c, 0xb2, 0xa1}, 0, 1},
  {{0xa1, 0xb2, 0x3c, 0x4d}, 1, 1},
};

#define JSON_TEXT "JSON, not a pcap: the server sent an error body?"
#define HTML_TEXT "HTML, not a pcap: the server sent an error page?"

__attribute__((format(printf, 2, 3)))
static int fail(rt_pcapcheck *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof c->error, fmt, ap);
  va_end(ap);
  return c->rc = RT_EPCAP;
}

static uint32_t rd32(const rt_pcapcheck *c, unsigned at) {
  const uint8_t *b = c->buf + at;
  return c->big_endian ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                       : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static unsigned rd16(const rt_pcapcheck *c, unsigned at) {
  const uint8_t *b = c->buf + at;
  return c->big_endian ? (unsigned)b[0] << 8 | b[1] : (unsigned)b[1] << 8 | b[0];
}

static int is_space(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

/* Names what a file that does not start with a pcap magic is, from its first n bytes: a message,
 * "" when unknown, or NULL while everything so far is whitespace (JSON or HTML may follow). */
static const char *foreign(const uint8_t *b, unsigned n) {
  if (n >= 4 && memcmp(b, "\x0a\x0d\x0d\x0a", 4) == 0) return "pcapng, expected classic pcap";
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
    return "gzip data, expected classic pcap (Content-Encoding not decoded?)";
  for (unsigned i = 0; i < n; i++) {
    if (is_space(b[i])) continue;
    if (b[i] == '{' || b[i] == '[') return JSON_TEXT;
    if (b[i] == '<') return HTML_TEXT;
    return "";
  }
  return NULL;
}

static int bad_magic(rt_pcapcheck *c, const char *what) {
  if (what && *what) return fail(c, "%s", what);
  return fail(c, "bad magic 0x%02x%02x%02x%02x at offset 0, not a pcap%s", c->buf[0], c->buf[1],
              c->buf[2], c->buf[3], what ? "" : " (whitespace only)");
}

static void check_magic(rt_pcapcheck *c) {
  for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
    if (memcmp(c->buf, magics[i].magic, 4) == 0) {
      c->big_endian = magics[i].big_endian;
      c->nsec = magics[i].nsec;
      return;
    }
  const char *what = foreign(c->buf, 4);
  if (what)
    bad_magic(c, what);
  else
    c->state = ST_SPACE;
}

static void check_global_header(rt_pcapcheck *c) {
  c->version_major = rd16(c, 4);
  c->version_minor = rd16(c, 6);
  if (c->version_major != 2 || (c->version_minor != 4 && c->version_minor != 2)) {
    fail(c, "unsupported pcap version %u.%u at offset 4, expected 2.4", c->version_major,
         c->version_minor);
    return;
  }
  c->snaplen = rd32(c, 16);
  c->linktype = rd32(c, 20) & 0x03FFFFFF; /* the high bits carry FCS information */
  c->header_ok = 1;
  c->state = ST_RECORD_HEADER;
  c->have = 0;
  c->record_offset = RT_PCAP_GLOBAL_HEADER;
}

static void complete_record(rt_pcapcheck *c) {
  c->packets++;
  c->data_bytes += c->offset - c->record_offset - RT_PCAP_RECORD_HEADER;
  c->record_offset = c->offset;
  c->state = ST_RECORD_HEADER;
  c->have = 0;
}

static void check_record_header(rt_pcapcheck *c) {
  /* Version 2.2 and older files store orig_len before incl_len; libpcap and Wireshark read them
   * that way, and so must we to stay aligned with them. */
  int old = c->version_minor < 3;
  uint32_t incl = rd32(c, old ? 12 : 8), orig = rd32(c, old ? 8 : 12);
  uint32_t limit = c->snaplen > RT_PCAP_SNAPLEN_SLACK ? c->snaplen : RT_PCAP_SNAPLEN_SLACK;
  unsigned long long n = (unsigned long long)c->packets + 1, at = c->record_offset;
  if (incl > RT_PCAP_MAX_RECORD)
    fail(c, "record %llu at offset %llu: incl_len %u exceeds the sanity cap of %u bytes", n, at,
         incl, RT_PCAP_MAX_RECORD);
  else if (incl > limit)
    fail(c, "record %llu at offset %llu: incl_len %u exceeds snaplen %u", n, at, incl,
         c->snaplen);
  else if (orig < incl)
    fail(c, "record %llu at offset %llu: orig_len %u is less than incl_len %u", n, at, orig, incl);
  else if ((c->left = incl) == 0)
    complete_record(c);
  else
    c->state = ST_DATA;
}

void rt_pcapcheck_init(rt_pcapcheck *c) {
  memset(c, 0, sizeof *c);
  c->state = ST_HEADER;
}

/* Acts on the step just taken: a header is complete, a record's data is done, or the whitespace
 * at the start of the file ended at `next` (NULL when the input ran out first). */
static void after_step(rt_pcapcheck *c, const uint8_t *next) {
  switch (c->state) {
    case ST_HEADER:
      if (c->have == 4)
        check_magic(c);
      else if (c->have == RT_PCAP_GLOBAL_HEADER)
        check_global_header(c);
      break;
    case ST_SPACE:
      if (next) bad_magic(c, foreign(next, 1));
      break;
    case ST_RECORD_HEADER:
      if (c->have == RT_PCAP_RECORD_HEADER) check_record_header(c);
      break;
    default:
      if (!c->left) complete_record(c);
      break;
  }
}

int rt_pcapcheck_feed(rt_pcapcheck *c, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len && !c->rc) {
    size_t n = len;
    if (c->state == ST_DATA) {
      if (n > c->left) n = c->left;
      c->left -= (uint32_t)n;
    } else if (c->state == ST_SPACE) {
      for (n = 0; n < len && is_space(p[n]); n++) continue;
    } else {
      /* The global header stops at 4 bytes once, so the magic is checked before the rest. */
      unsigned want = c->state == ST_RECORD_HEADER ? RT_PCAP_RECORD_HEADER
                      : c->have < 4                ? 4
                                                   : RT_PCAP_GLOBAL_HEADER;
      if (n > want - c->have) n = want - c->have;
      memcpy(c->buf + c->have, p, n);
      c->have += (unsigned)n;
    }
    p += n;
    len -= n;
    c->offset += n;
    after_step(c, len ? p : NULL);
  }
  return c->rc;
}

int rt_pcapcheck_finish(rt_pcapcheck *c) {
  if (c->rc) return c->rc;
  unsigned long long n = (unsigned long long)c->packets + 1, at = c->record_offset;
  switch (c->state) {
    case ST_HEADER: {
      const char *what = c->have < 4 ? foreign(c->buf, c->have) : NULL;
      if (what && *what) return fail(c, "%s", what);
      if (!c->have) return fail(c, "empty file, expected a pcap");
      return fail(c, "file ends inside the global header (%u of %d bytes)", c->have,
                  RT_PCAP_GLOBAL_HEADER);
    }
    case ST_SPACE:
      return bad_magic(c, NULL);
    case ST_RECORD_HEADER:
      if (!c->have) return 0;
      return fail(c, "file ends inside the header of record %llu at offset %llu (%u of %d bytes)",
                  n, at, c->have, RT_PCAP_RECORD_HEADER);
    default: {
      unsigned long long got = c->offset - at - RT_PCAP_RECORD_HEADER;
      return fail(c, "file ends inside record %llu at offset %llu (%llu of %llu data bytes)", n,
                  at, got, got + c->left);
    }
  }
}

int rt_pcapcheck_file(const char *path, rt_pcapcheck *c) {
  rt_pcapcheck_init(c);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(c->error, sizeof c->error, "%s: %s", path, strerror(errno));
    return c->rc = RT_EIO;
  }
  uint8_t buf[16384];
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      snprintf(c->error, sizeof c->error, "%s: %s", path, strerror(errno));
      c->rc = RT_EIO;
    }
    if (got <= 0 || rt_pcapcheck_feed(c, buf, (size_t)got) != 0) break;
  }
  close(fd);
  return c->rc;
}
