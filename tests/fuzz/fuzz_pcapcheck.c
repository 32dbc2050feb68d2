/* Fuzz target: the streaming pcap validator.
 * Oracles: feeding the input in two or three pieces, split where the first byte says (and byte by
 * byte when it is short), gives exactly the verdict of feeding it whole; an accepted input's
 * counters add up to its size; and libpcap reads every input the checker accepts (when the
 * snaplen is within libpcap's 262144) with the same number of packets. */
#include "err.h"
#include "fuzz.h"
#include "pcapcheck.h"

#include <pcap/pcap.h>
#include <string.h>

static void check_input(rt_pcapcheck *c, const uint8_t *data, size_t size, const size_t *cuts,
                        int ncuts) {
  size_t at = 0;
  rt_pcapcheck_init(c);
  for (int i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : size;
    rt_pcapcheck_feed(c, data + at, end - at);
    at = end;
  }
  rt_pcapcheck_finish(c);
}

static void same_verdict(const rt_pcapcheck *a, const rt_pcapcheck *b, const char *how) {
  FUZZ_CHECK(a->rc == b->rc && strcmp(a->error, b->error) == 0 && a->packets == b->packets &&
               a->data_bytes == b->data_bytes && a->offset == b->offset &&
               a->header_ok == b->header_ok && a->snaplen == b->snaplen &&
               a->linktype == b->linktype && a->nsec == b->nsec && a->big_endian == b->big_endian,
             "%s: rc %d/%d \"%s\" / \"%s\", packets %llu/%llu, offset %llu/%llu", how, a->rc,
             b->rc, a->error, b->error, (unsigned long long)a->packets,
             (unsigned long long)b->packets, (unsigned long long)a->offset,
             (unsigned long long)b->offset);
}

/* libpcap must read what the checker accepted, packet for packet. */
static void check_libpcap(const rt_pcapcheck *c, const uint8_t *data, size_t size) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
  FUZZ_CHECK(f != NULL, "fmemopen");
  pcap_t *p = pcap_fopen_offline(f, errbuf);
  FUZZ_CHECK(p != NULL, "libpcap refuses an accepted file: %s", errbuf);
  struct pcap_pkthdr *h;
  const u_char *pkt;
  uint64_t packets = 0;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &pkt)) == 1) packets++;
  FUZZ_CHECK(rc == PCAP_ERROR_BREAK, "libpcap fails on an accepted file: %s", pcap_geterr(p));
  FUZZ_CHECK(packets == c->packets, "libpcap reads %llu packets, the checker %llu",
             (unsigned long long)packets, (unsigned long long)c->packets);
  pcap_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rt_pcapcheck whole, split;
  check_input(&whole, data, size, NULL, 0);
  FUZZ_CHECK(whole.offset <= size && (whole.rc != 0) == (whole.error[0] != 0), "rc %d \"%s\"",
             whole.rc, whole.error);
  if (whole.rc == 0)
    FUZZ_CHECK(whole.offset == size && size == RT_PCAP_GLOBAL_HEADER + whole.data_bytes +
                                                 RT_PCAP_RECORD_HEADER * whole.packets,
               "accepted %zu bytes: %llu packets, %llu data bytes", size,
               (unsigned long long)whole.packets, (unsigned long long)whole.data_bytes);

  if (size > 0) {
    /* The low and high nibbles of the first byte place two cuts. */
    size_t cuts[2];
    cuts[0] = size * (data[0] & 15) / 15;
    cuts[1] = cuts[0] + (size - cuts[0]) * (data[0] >> 4) / 15;
    check_input(&split, data, size, cuts, 2);
    same_verdict(&whole, &split, "split");
  }
  if (size <= 512) {
    rt_pcapcheck_init(&split);
    for (size_t i = 0; i < size; i++) rt_pcapcheck_feed(&split, data + i, 1);
    rt_pcapcheck_finish(&split);
    same_verdict(&whole, &split, "byte by byte");
  }
  if (whole.rc == 0 && whole.snaplen <= RT_PCAP_SNAPLEN_SLACK) check_libpcap(&whole, data, size);
  return 0;
}
