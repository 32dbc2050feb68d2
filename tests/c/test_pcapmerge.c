/* ctest-labels: pcap
 * rt_pcap_merge against `mergecap -F nsecpcap` on files made by Wireshark's tools (pcapfile.h's
 * formats: microsecond and nanosecond pcap, pcapng with one and with several sections,
 * big-endian, header only), with ties across files and a file whose time goes backwards:
 * the records must be the same bytes in the same order. Then the failures: link types that
 * differ, a corrupt or cut input, a missing one, no input; none leaves a file (or a temporary
 * one) behind, an existing output survives a failed merge, a symlink at the output is replaced
 * rather than written through, and an input can be the output. */
#include "check.h"
#include "err.h"
#include "pcapgen.h"
#include "pcapmerge.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/pcapmerge.XXXXXX";
static char err[512];
static const int64_t T0 = 1764139440LL * 1000000000; /* 2025-11-26T06:44:00Z */

static const char *at(const char *name) {
  static char paths[64][512];
  static int next;
  char *p = paths[next++ % 64]; /* enough for every path one check uses */
  snprintf(p, 512, "%s/%s", dir, name);
  return p;
}

/* A TCP/IPv4 frame from host `src` to 10.0.0.1 with seq `seq` (its bytes differ per packet). */
static size_t frame(uint8_t *b, unsigned src, uint32_t seq, size_t payload) {
  size_t n = pg_eth(b, NULL, 0, 0x0800);
  n += pg_ipv4(b + n, (unsigned)(40 + payload), seq & 0xffff, 0, 64, 6, 0xc0a80000u + src, 0x0a000001u);
  n += pg_tcp(b + n, 40000 + src, 443, seq, 0x18);
  for (size_t i = 0; i < payload; i++) b[n++] = (uint8_t)(seq + i);
  return n;
}

/* Writes NAME.<format> with n packets of source `src`, at T0 + times[i] ns. */
static void make(const char *name, const char *format, unsigned src, const int64_t *times, int n) {
  FILE *t = pg_text_open(dir, name);
  uint8_t b[2048];
  for (int i = 0; i < n; i++) pg_packet(t, T0 + times[i], b, frame(b, src, (uint32_t)(src << 16 | (unsigned)i), 10 + (size_t)i % 50));
  char out[512];
  snprintf(out, sizeof out, "%s/%s.%s", dir, name, format);
  if (pg_text2pcap(t, format, out) != 0) abort();
}

/* Files in dir whose name contains `part`. */
static int count_files(const char *part) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
  closedir(d);
  return n;
}

/* Our output and mergecap's hold the same records, byte for byte (the 24-byte headers may
 * differ in the snapshot length only). */
static int same_records(const char *ours, const char *theirs) {
  return pg_sh("cmp -s -i 24 '%s' '%s'", ours, theirs) == 0 && pg_sh("cmp -s -n 4 '%s' '%s'", ours, theirs) == 0;
}

static void t_like_mergecap(void) {
  int64_t a[40], b[40], c[20], d[20], e[30];
  for (int i = 0; i < 40; i++) a[i] = b[i] = i * 1000000 + 123456000; /* ties; whole µs for pcap */
  b[20] = b[19] - 500000; /* b goes back in time once */
  for (int i = 0; i < 20; i++) c[i] = i * 2000001 + 7;
  for (int i = 0; i < 20; i++) d[i] = i * 1999999 + 3;
  for (int i = 0; i < 30; i++) e[i] = i * 1333333 + 1;
  make("a", "pcap", 1, a, 40);         /* microseconds */
  make("b", "nsecpcap", 2, b, 40);
  make("c", "pcapng", 3, c, 20);
  make("d1", "pcapng", 4, d, 10);
  make("d2", "pcapng", 5, d + 10, 10);
  CHECK(pg_sh("cat %s %s > %s", at("d1.pcapng"), at("d2.pcapng"), at("d.pcapng")) == 0); /* two sections */
  make("e", "nsecpcap", 6, e, 30);
  CHECK(pg_to_big_endian(at("e.nsecpcap")) == 0);
  make("f", "nsecpcap", 7, NULL, 0);   /* header only */
  const char *in[] = {at("a.pcap"), at("b.nsecpcap"), at("c.pcapng"), at("d.pcapng"), at("e.nsecpcap"),
                      at("f.nsecpcap")};
  CHECK_INT(rt_pcap_merge(in, 6, at("out/merged.pcap"), err, sizeof err), 0);
  CHECK(pg_sh("mergecap -F nsecpcap -w %s %s %s %s %s %s %s", at("ref.pcap"), in[0], in[1], in[2], in[3], in[4],
              in[5]) == 0);
  CHECK(pg_sh("capinfos -c -M %s | grep -q 'Number of packets: *150$'", at("ref.pcap")) == 0);
  CHECK(same_records(at("out/merged.pcap"), at("ref.pcap")));
  CHECK(pg_sh("capinfos -t %s | grep -q 'nanosecond pcap'", at("out/merged.pcap")) == 0);
  /* one input: a copy; the output may be an input */
  CHECK_INT(rt_pcap_merge(in + 3, 1, at("one.pcap"), err, sizeof err), 0);
  CHECK(pg_sh("mergecap -F nsecpcap -w %s %s", at("ref1.pcap"), in[3]) == 0);
  CHECK(same_records(at("one.pcap"), at("ref1.pcap")));
  CHECK(pg_sh("cp %s %s", in[1], at("self.pcap")) == 0);
  const char *self[] = {at("self.pcap"), in[0]};
  CHECK_INT(rt_pcap_merge(self, 2, at("self.pcap"), err, sizeof err), 0);
  CHECK(pg_sh("mergecap -F nsecpcap -w %s %s %s", at("ref2.pcap"), in[1], in[0]) == 0);
  CHECK(same_records(at("self.pcap"), at("ref2.pcap")));
  CHECK_INT(count_files(".tmp"), 0);
}

static void t_refused(void) {
  int64_t times[3] = {1, 2, 3};
  make("g", "nsecpcap", 8, times, 3);
  CHECK(pg_sh("printf '000000 45 00 00 14 00 00 00 00 40 06 00 00 0a 00 00 01 0a 00 00 02\\n' > %s && "
              "text2pcap -q -l 101 -F nsecpcap %s %s > /dev/null 2>&1", at("raw.txt"), at("raw.txt"), at("raw.pcap")) == 0);
  CHECK(pg_sh("echo previous > %s", at("keep.pcap")) == 0);
  const char *mixed[] = {at("g.nsecpcap"), at("raw.pcap")};
  CHECK_INT(rt_pcap_merge(mixed, 2, at("keep.pcap"), err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, "EN10MB");
  CHECK_CONTAINS(err, "RAW");
  CHECK(pg_sh("grep -qx previous %s", at("keep.pcap")) == 0); /* untouched */

  struct stat st;
  stat(at("g.nsecpcap"), &st);
  CHECK(pg_sh("head -c %lld %s > %s", (long long)st.st_size - 5, at("g.nsecpcap"), at("cut.pcap")) == 0);
  const char *cut[] = {at("g.nsecpcap"), at("cut.pcap")};
  CHECK_INT(rt_pcap_merge(cut, 2, at("keep.pcap"), err, sizeof err), RT_EPCAP);
  CHECK_CONTAINS(err, "cut.pcap");
  CHECK(pg_sh("grep -qx previous %s", at("keep.pcap")) == 0);

  const char *text[] = {at("raw.txt")};
  CHECK_INT(rt_pcap_merge(text, 1, at("x.pcap"), err, sizeof err), RT_EPCAP);
  const char *missing[] = {at("g.nsecpcap"), at("nope.pcap")};
  CHECK_INT(rt_pcap_merge(missing, 2, at("x.pcap"), err, sizeof err), RT_ENOTFOUND);
  CHECK_CONTAINS(err, "nope.pcap");
  CHECK_INT(rt_pcap_merge(missing, 0, at("x.pcap"), err, sizeof err), RT_EINVAL);
  const char *ok[] = {at("g.nsecpcap")};
  CHECK_INT(rt_pcap_merge(ok, 1, "/proc/nope/x.pcap", err, sizeof err), RT_EIO);
  CHECK(access(at("x.pcap"), F_OK) != 0);
  CHECK_INT(count_files(".tmp"), 0);

  /* a symlink at the output is replaced, its target left alone */
  CHECK(pg_sh("echo target > %s && ln -s %s %s", at("target"), at("target"), at("link.pcap")) == 0);
  CHECK_INT(rt_pcap_merge(ok, 1, at("link.pcap"), err, sizeof err), 0);
  CHECK(lstat(at("link.pcap"), &st) == 0 && S_ISREG(st.st_mode));
  CHECK(pg_sh("grep -qx target %s", at("target")) == 0);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  RUN(t_like_mergecap);
  RUN(t_refused);
  if (check_failures == 0) pg_sh("rm -rf %s", dir);
  return check_done();
}
