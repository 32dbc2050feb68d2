/* pcaprun pcap: the capture-file commands. Options are parsed into one struct for every
 * subcommand; each subcommand checks what it needs. Output is built as JSON first (the same
 * document --json prints), and the text form is printed from it. */
#include "pcap_cli.h"
#include "cli.h"
#include "err.h"
#include "pcapfile.h"
#include "pcapops.h"
#include "pcapstats.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
  "Usage: pcaprun pcap COMMAND FILE... [options]\n"
  "\n"
  "Answers from capture files (classic pcap or pcapng, any timestamp precision; several files\n"
  "are read as one, in time order). Files written are classic pcap with nanosecond timestamps,\n"
  "written to a temporary name and renamed when complete.\n"
  "\n"
  "Commands:\n"
  "  stats FILE...            packets, bytes, time range, protocols, TCP flags and SYN ratio,\n"
  "                           top sources, destinations, conversations and ports, rate per\n"
  "                           interval, packet sizes, TTLs\n"
  "  top FILE...              one top-N table (--by)\n"
  "  merge FILE... -o OUT     merge by time into one file (like mergecap -F nsecpcap)\n"
  "  filter FILE... -o OUT -f EXPR    the packets that match a BPF filter (like tcpdump -w)\n"
  "  slice FILE... -o OUT [--start T] [--end T]    the packets in a time window [start, end)\n"
  "  split FILE... -o OUT (--packets N | --bytes SIZE)   parts OUT-00001.pcap, ... (--packets: like\n"
  "                           editcap -c)\n"
  "\n"
  "Options:\n"
  "  -f, --filter EXPR   read only the packets matching this BPF filter (tcpdump's syntax), with\n"
  "                      every command\n"
  "  -o, --output OUT    the file to write (merge, filter, slice, split)\n"
  "  --json              print JSON instead of text\n"
  "  -n, --top N         entries per top table (default 10)\n"
  "  --by TABLE          top: sources, destinations (default), conversations, source-ports,\n"
  "                      destination-ports or protocols\n"
  "  --interval SECS     stats: width of the rate series' intervals (default 1)\n"
  "  --capacity N        stats, top: entries each top table keeps (default 4096); counts are\n"
  "                      exact while the table holds every key, otherwise within the printed\n"
  "                      error (at most packets / N)\n"
  "  --outer             stats, top: count the outer IP header of tunnelled packets (GRE,\n"
  "                      IP-in-IP) instead of the inner one\n"
  "  --start T, --end T  slice: T is epoch seconds (1764139440.5), an RFC 3339 time\n"
  "                      (2025-11-26T06:44:00.5Z) or +SECS after the first packet\n"
  "  --packets N         split: N packets per part\n"
  "  --bytes SIZE        split: parts of at most SIZE bytes (suffixes K, M, G: powers of 1024)\n"
  "  -h, --help          show this help\n"
  "\n"
  "Exit status: 0 done, 1 a file could not be read or written, 2 usage error.\n";

typedef struct opts {
  const char *cmd, *output, *filter, *by;
  const char **files;
  size_t nfiles;
  int json, outer;
  long top;
  long capacity;
  int64_t interval_ns;
  int64_t start_ns, end_ns;
  int start_rel, end_rel, has_window;
  uint64_t packets, bytes;
} opts;

static int usage_error(const char *fmt, const char *arg) { return rt_cli_usage("pcaprun pcap", fmt, arg); }

static int parse_count(const char *s, long lo, long hi, long *out) {
  double v;
  if (rt_cli_number(s, (double)lo, (double)hi, 1, &v)) return RT_EINVAL;
  *out = (long)v;
  return 0;
}

/* A size in bytes with an optional K, M or G (powers of 1024). */
static int parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
  if (shift) end++;
  if (errno || end == s || *end || s[0] == '-' || v == 0 || v > (UINT64_MAX >> shift)) return -1;
  *out = (uint64_t)v << shift;
  return 0;
}

static int takes_value(const char *a) {
  static const char *const names[] = {"-f", "--filter", "-o", "--output", "-n", "--top", "--by", "--interval",
                                      "--capacity", "--start", "--end", "--packets", "--bytes", NULL};
  for (const char *const *n = names; *n; n++)
    if (!strcmp(a, *n)) return 1;
  return 0;
}

/* Parses argv[2..] (after "pcap COMMAND"). Returns -1 to go on, or an exit status. */
static int parse(int argc, char **argv, opts *o) {
  o->top = 10;
  o->capacity = 4096;
  o->interval_ns = 1000000000;
  o->start_ns = INT64_MIN;
  o->end_ns = INT64_MAX;
  o->files = calloc((size_t)argc, sizeof *o->files);
  if (!o->files) return 1;
  int only_files = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char name[32];
    if (only_files || a[0] != '-' || !strcmp(a, "-")) {
      o->files[o->nfiles++] = a;
      continue;
    }
    if (!strcmp(a, "--")) { only_files = 1; continue; }
    const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
    if (eq && (size_t)(eq - a) < sizeof name) { /* --name=value */
      snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
      if (!takes_value(name)) return usage_error("unknown option %s", a);
      a = name;
      v = eq + 1;
      i--;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return 0; }
    if (!strcmp(a, "--json")) { o->json = 1; continue; }
    if (!strcmp(a, "--outer")) { o->outer = 1; continue; }
    if (!takes_value(a)) return usage_error("unknown option %s", a);
    if (!v) return usage_error("option %s needs a value", a);
    i++;
    if (!strcmp(a, "-f") || !strcmp(a, "--filter")) o->filter = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) o->output = v;
    else if (!strcmp(a, "--by")) o->by = v;
    else if (!strcmp(a, "-n") || !strcmp(a, "--top")) {
      if (parse_count(v, 0, 1000000, &o->top)) return usage_error("--top: expected an integer 0..1000000, got '%s'", v);
    } else if (!strcmp(a, "--capacity")) {
      if (parse_count(v, 1, 1 << 24, &o->capacity)) return usage_error("--capacity: expected an integer 1..16777216, got '%s'", v);
    } else if (!strcmp(a, "--interval")) {
      if (rt_pcap_parse_seconds(v, &o->interval_ns) || o->interval_ns <= 0) return usage_error("--interval: expected seconds > 0, got '%s'", v);
    } else if (!strcmp(a, "--start") || !strcmp(a, "--end")) {
      int end = !strcmp(a, "--end");
      if (rt_pcap_parse_time(v, end ? &o->end_ns : &o->start_ns, end ? &o->end_rel : &o->start_rel))
        return usage_error("--start/--end: expected epoch seconds, an RFC 3339 time (...Z) or +SECONDS, got '%s'", v);
      o->has_window = 1;
    } else if (!strcmp(a, "--packets")) {
      long n;
      if (parse_count(v, 1, 1L << 50, &n)) return usage_error("--packets: expected an integer >= 1, got '%s'", v);
      o->packets = (uint64_t)n;
    } else if (!strcmp(a, "--bytes")) {
      if (parse_size(v, &o->bytes)) return usage_error("--bytes: expected a size such as 1000000, 64K, 100M or 1G, got '%s'", v);
    }
  }
  return -1;
}

static void print_json(json_t *o) {
  char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (text) puts(text);
  free(text);
}

/* ---- stats and top, as text ---- */

static long long num(const json_t *o, const char *k) { return (long long)json_integer_value(json_object_get(o, k)); }

static void iso(int64_t ns, char *buf, size_t len) {
  time_t sec = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char day[32];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%09lldZ", day, (long long)(ns % 1000000000));
}

static const char *const tables[] = {"sources", "destinations", "conversations", "source_ports",
                                     "destination_ports", "protocols", NULL};

static void print_table(const json_t *root, const char *name) {
  const json_t *rows = json_object_get(root, name), *r;
  const json_t *exact = json_object_get(json_object_get(root, "exact"), name);
  size_t i;
  printf("%s%s:\n", name, exact && !json_is_true(exact) ? " (heavy hitters: counts within +-error)" : "");
  if (json_array_size(rows) == 0) printf("  (none)\n");
  json_array_foreach(rows, i, r) {
    char key[160];
    if (json_object_get(r, "b"))
      snprintf(key, sizeof key, "%s <-> %s", json_string_value(json_object_get(r, "a")),
               json_string_value(json_object_get(r, "b")));
    else if (json_object_get(r, "port"))
      snprintf(key, sizeof key, "%s/%lld", json_string_value(json_object_get(r, "protocol")), num(r, "port"));
    else if (json_object_get(r, "address"))
      snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r, "address")));
    else
      snprintf(key, sizeof key, "%s (%lld)", json_string_value(json_object_get(r, "name")) ?
               json_string_value(json_object_get(r, "name")) : "ip proto", num(r, "protocol"));
    printf("  %3zu  %-45s %12lld packets %15lld bytes", i + 1, key, num(r, "packets"), num(r, "bytes"));
    if (num(r, "error_packets")) printf("  (+-%lld)", num(r, "error_packets"));
    if (json_object_get(r, "a_to_b"))
      printf("  a->b %lld, b->a %lld", num(json_object_get(r, "a_to_b"), "packets"),
             num(json_object_get(r, "b_to_a"), "packets"));
    printf("\n");
  }
}

static void print_stats(const json_t *s, const opts *o) {
  char b1[64], b2[64];
  for (size_t i = 0; i < o->nfiles; i++) printf("%-14s %s\n", i ? "" : "files:", o->files[i]);
  if (o->filter) printf("%-14s %s\n", "filter:", o->filter);
  printf("%-14s %lld (IPv4 %lld, IPv6 %lld, other %lld)\n", "packets:", num(s, "packets"), num(s, "ipv4"),
         num(s, "ipv6"), num(s, "other"));
  printf("%-14s %lld on the wire, %lld captured\n", "bytes:", num(s, "bytes"), num(s, "captured_bytes"));
  if (json_object_get(s, "first_ns")) {
    iso(num(s, "first_ns"), b1, sizeof b1);
    iso(num(s, "last_ns"), b2, sizeof b2);
    double d = json_real_value(json_object_get(s, "duration"));
    printf("%-14s %s .. %s (%.9f s)\n", "time:", b1, b2, d);
    if (d > 0)
      printf("%-14s %.1f packets/s, %.0f bits/s on average\n", "rate:", (double)num(s, "packets") / d,
             (double)num(s, "bytes") * 8 / d);
  }
  const json_t *l;
  size_t i;
  printf("%-14s", "link types:");
  json_array_foreach(json_object_get(s, "link_types"), i, l) printf(" %s (%lld)", json_string_value(json_object_get(l, "link_type")), num(l, "packets"));
  printf("\n%-14s truncated %lld (a header cut: %lld), malformed %lld, fragments %lld, VLAN-tagged %lld, GRE %lld,"
         " IP-in-IP %lld, out of order %lld\n", "packets:", num(s, "truncated"), num(s, "cut_headers"),
         num(s, "malformed"), num(s, "fragments"),
         num(s, "vlan"), num(s, "gre"), num(s, "ipip"), num(s, "out_of_order"));
  const json_t *t = json_object_get(s, "tcp");
  printf("%-14s %lld packets: SYN without ACK %lld (SYN ratio %.4f), SYN+ACK %lld, FIN %lld, RST %lld, ACK %lld\n",
         "TCP:", num(t, "packets"), num(t, "syn_only"), json_real_value(json_object_get(t, "syn_ratio")),
         num(t, "syn_ack"), num(t, "fin"), num(t, "rst"), num(t, "ack"));
  for (const char *const *name = tables; *name; name++) {
    printf("\n");
    print_table(s, *name);
  }
  const json_t *series = json_object_get(s, "series");
  if (series) {
    printf("\nper %g s from %s:", json_real_value(json_object_get(series, "interval")),
           (iso(num(series, "start_ns"), b1, sizeof b1), b1));
    const json_t *p = json_object_get(series, "packets"), *bits = json_object_get(series, "bits");
    long long max = 0, maxbits = 0;
    for (i = 0; i < json_array_size(p); i++) {
      if (json_integer_value(json_array_get(p, i)) > max) max = json_integer_value(json_array_get(p, i));
      if (json_integer_value(json_array_get(bits, i)) > maxbits) maxbits = json_integer_value(json_array_get(bits, i));
    }
    printf(" %zu intervals, peak %lld packets, peak %lld bits\n", json_array_size(p), max, maxbits);
  }
  printf("\nsizes:");
  json_array_foreach(json_object_get(s, "sizes"), i, l) {
    if (json_object_get(l, "max")) printf(" %lld-%lld: %lld", num(l, "min"), num(l, "max"), num(l, "packets"));
    else printf(" %lld+: %lld", num(l, "min"), num(l, "packets"));
  }
  printf("\nTTL:  ");
  json_array_foreach(json_object_get(s, "ttl"), i, l) printf(" %lld: %lld", num(l, "ttl"), num(l, "packets"));
  printf("\n");
}

static int cmd_stats(const opts *o, int top_only) {
  const char *table = o->by ? o->by : "destinations";
  char name[32];
  snprintf(name, sizeof name, "%s", table);
  for (char *c = name; *c; c++)
    if (*c == '-') *c = '_';
  if (top_only) {
    int known = 0;
    for (const char *const *t = tables; *t; t++) known |= !strcmp(*t, name);
    if (!known) return usage_error("--by: expected sources, destinations, conversations, source-ports, "
                                   "destination-ports or protocols, got '%s'", table);
  }
  rt_pcapstats_opts so;
  rt_pcapstats_opts_default(&so);
  so.capacity = (uint32_t)o->capacity;
  so.interval_ns = o->interval_ns;
  so.outer = o->outer;
  rt_pcapstats s;
  char err[512];
  int rc = rt_pcapstats_init(&s, &so);
  if (rc == 0) rc = rt_pcapstats_files(&s, o->files, o->nfiles, o->filter, NULL, err, sizeof err);
  else snprintf(err, sizeof err, "out of memory");
  json_t *j = rc ? NULL : rt_pcapstats_json(&s, (size_t)o->top);
  rt_pcapstats_free(&s);
  if (rc || !j) {
    fprintf(stderr, "pcaprun pcap: %s\n", rc ? err : "out of memory");
    return 1;
  }
  if (top_only) {
    json_t *only = json_pack("{s:O, s:O*}", name, json_object_get(j, name), "exact",
                             json_object_get(json_object_get(j, "exact"), name));
    if (o->json) print_json(only);
    else print_table(j, name);
    json_decref(only);
  } else if (o->json) {
    print_json(j);
  } else {
    print_stats(j, o);
  }
  json_decref(j);
  return 0;
}

/* ---- merge, filter, slice, split ---- */

static int cmd_copy(const opts *o) {
  rt_pcapcopy_opts c = RT_PCAPCOPY_OPTS(o->files, o->nfiles, o->output);
  c.filter = o->filter;
  c.start_ns = o->start_ns;
  c.end_ns = o->end_ns;
  c.start_relative = o->start_rel;
  c.end_relative = o->end_rel;
  c.split_packets = o->packets;
  c.split_bytes = o->bytes;
  rt_pcapcopy_result r;
  char err[512];
  int rc = rt_pcap_copy(&c, &r, err, sizeof err);
  if (rc) fprintf(stderr, "pcaprun pcap: %s\n", err);
  json_t *files = json_array();
  for (size_t i = 0; i < r.nfiles; i++)
    json_array_append_new(files, json_pack("{s:s, s:I, s:I}", "path", r.files[i].path, "packets",
                                           (json_int_t)r.files[i].packets, "bytes", (json_int_t)r.files[i].bytes));
  json_t *j = json_pack("{s:b, s:I, s:I, s:o}", "ok", rc == 0, "read", (json_int_t)r.read, "written",
                        (json_int_t)r.written, "files", files);
  if (o->json) {
    print_json(j);
  } else {
    for (size_t i = 0; i < r.nfiles; i++)
      printf("wrote %s: %" PRIu64 " packets, %" PRIu64 " bytes\n", r.files[i].path, r.files[i].packets,
             r.files[i].bytes);
    if (rc == 0) printf("%" PRIu64 " of %" PRIu64 " packets read written\n", r.written, r.read);
  }
  json_decref(j);
  rt_pcapcopy_result_free(&r);
  return rc ? 1 : 0;
}

/* A filter that does not compile is a usage error: checked on the first file's link type. */
static int check_filter(const opts *o) {
  if (!o->filter) return -1;
  rt_pcapfile f;
  char err[512];
  int rc = rt_pcapfile_open(&f, o->files[0], o->filter, err, sizeof err);
  if (rc == 0) rt_pcapfile_close(&f);
  if (rc == RT_EINVAL) return usage_error("%s", err);
  return -1;
}

int rt_pcap_main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  opts o = {0};
  o.cmd = argv[1];
  int code = parse(argc, argv, &o);
  static const char *const cmds[] = {"stats", "top", "merge", "filter", "slice", "split", NULL};
  int known = 0;
  for (const char *const *c = cmds; *c; c++) known |= !strcmp(*c, o.cmd);
  int writes = known && strcmp(o.cmd, "stats") && strcmp(o.cmd, "top");
  if (code >= 0) goto done;
  code = 2;
  if (!known) usage_error("unknown command '%s' (commands: stats, top, merge, filter, slice, split)", o.cmd);
  else if (o.nfiles == 0) usage_error("%s: no input FILE", o.cmd);
  else if (writes && !o.output) usage_error("%s: the file to write is missing (-o OUT)", o.cmd);
  else if (!writes && o.output) usage_error("%s writes no file: -o is for merge, filter, slice and split", o.cmd);
  else if (!strcmp(o.cmd, "filter") && !o.filter) usage_error("%s: the BPF filter is missing (-f EXPR)", o.cmd);
  else if (!strcmp(o.cmd, "split") && !o.packets == !o.bytes) usage_error("%s: give --packets N or --bytes SIZE", o.cmd);
  else if (strcmp(o.cmd, "split") && (o.packets || o.bytes)) usage_error("%s: --packets and --bytes are for split", o.cmd);
  else if (strcmp(o.cmd, "slice") && o.has_window) usage_error("%s: --start and --end are for slice", o.cmd);
  else if (!strcmp(o.cmd, "slice") && !o.has_window) usage_error("%s: give --start T and/or --end T", o.cmd);
  else if ((code = check_filter(&o)) < 0) code = writes ? cmd_copy(&o) : cmd_stats(&o, !strcmp(o.cmd, "top"));
done:
  free(o.files);
  return code;
}
