#!/usr/bin/env bash
# Capture-file benchmarks (tests/bench/README.md §7): pcaprun pcap against Wireshark's tools and
# tcpdump, on captures written now (bench_pcapgen) on the disk of $TMPDIR and removed at the end.
#   tests/bench/pcap.sh [BUILD_DIR] [OUT_DIR]
# run.sh (make bench) runs it into its OUT_DIR; alone (or BENCH_ONLY=pcap make bench) it writes
# BUILD_DIR/bench-pcap/ and prints its rows of the table (BUILD_DIR/bench-pcap.json).
#   BENCH_REPS=5                 repetitions (medians); tshark, at ~2 min a run, runs at most 3
#   PCAP_BENCH_BYTES=1073741824  the big capture (also: 8 parts of 1/8 for the merge); the
#                                memory rows repeat each command at a quarter of it
#   TMPDIR                       where the captures go (about 3 times PCAP_BENCH_BYTES)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(cd "${1:-build}" && pwd)
REPS=${BENCH_REPS:-5}
BYTES=${PCAP_BENCH_BYTES:-$((1 << 30))}
SMALL=$((BYTES / 4))
B=tests/bench
alone=0
out=${2:-}
if [[ -z $out ]]; then
  alone=1
  out=$BUILD/bench-pcap
  rm -rf "$out" && mkdir -p "$out"
fi
for tool in tshark capinfos mergecap tcpdump lua5.4 /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "pcap.sh: $tool is missing (make deps)" >&2; exit 2; }
done
cmake --build "$BUILD" --target pcaprun bench_pcapgen > /dev/null
work=$(mktemp -d -p "${TMPDIR:-/tmp}" pcaprun-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
source $B/benchlib.sh # timed, note, in_turn
P=$BUILD/pcaprun
G=$BUILD/tests/bench/bench_pcapgen
FILTER='tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' # a third of the packets

note "pcap: writing captures of $BYTES and $SMALL bytes, and 8 parts of each, into $work"
$G "$work/big.pcap" "$BYTES" 1
$G "$work/small.pcap" "$SMALL" 2
big_parts=() small_parts=()
for i in 1 2 3 4 5 6 7 8; do
  $G "$work/big-$i.pcap" $((BYTES / 8)) $((10 + i))
  $G "$work/small-$i.pcap" $((SMALL / 8)) $((20 + i))
  big_parts+=("$work/big-$i.pcap")
  small_parts+=("$work/small-$i.pcap")
done
cat "$work/big.pcap" "${big_parts[@]}" > /dev/null # in the page cache for everyone

# Before timing anything: the outputs agree with the baselines' (records, byte for byte).
$P pcap merge "${small_parts[@]}" -o "$work/m1.pcap" > /dev/null
mergecap -F nsecpcap -w "$work/m2.pcap" "${small_parts[@]}"
cmp -s -i 24 "$work/m1.pcap" "$work/m2.pcap" || { echo "pcap.sh: merge differs from mergecap's" >&2; exit 1; }
$P pcap filter "$work/small.pcap" -o "$work/f1.pcap" -f "$FILTER" > /dev/null
tcpdump --time-stamp-precision=nano -r "$work/small.pcap" -w "$work/f2.pcap" "$FILTER" 2> /dev/null
cmp -s -i 24 "$work/f1.pcap" "$work/f2.pcap" || { echo "pcap.sh: filter differs from tcpdump's" >&2; exit 1; }
rm -f "$work"/[mf][12].pcap

stats_p() { timed "$out/pcap_stats_pcaprun.txt" "$P" pcap stats "$work/big.pcap" --json; }
stats_tshark() { timed "$out/pcap_stats_tshark.txt" tshark -q -z conv,ip -r "$work/big.pcap" 2> /dev/null; }
stats_capinfos() { timed "$out/pcap_stats_capinfos.txt" capinfos "$work/big.pcap"; }
# the same figures as capinfos without its hashes (SHA256, RIPEMD160, SHA1)
stats_capinfos_nohash() {
  timed "$out/pcap_stats_capinfos_nohash.txt" capinfos -c -s -d -u -a -e -y -i -z -x -M "$work/big.pcap"
}
merge_p() {
  timed "$out/pcap_merge_pcaprun.txt" "$P" pcap merge "${big_parts[@]}" -o "$work/m1.pcap"
  rm -f "$work/m1.pcap"
}
merge_m() {
  timed "$out/pcap_merge_mergecap.txt" mergecap -F nsecpcap -w "$work/m2.pcap" "${big_parts[@]}"
  rm -f "$work/m2.pcap"
}
filter_p() {
  timed "$out/pcap_filter_pcaprun.txt" "$P" pcap filter "$work/big.pcap" -o "$work/f1.pcap" -f "$FILTER"
  rm -f "$work/f1.pcap"
}
filter_t() {
  timed "$out/pcap_filter_tcpdump.txt" tcpdump -r "$work/big.pcap" -w "$work/f2.pcap" "$FILTER" 2> /dev/null
  rm -f "$work/f2.pcap"
}
skip() { :; }

note "pcap: stats, merge, filter against tshark, capinfos, mergecap, tcpdump; $REPS times each"
for rep in $(seq "$REPS"); do
  in_turn "$rep" stats_p "$( ((rep <= 3)) && echo stats_tshark || echo skip)"
  in_turn "$rep" stats_p stats_capinfos
  in_turn "$rep" stats_p stats_capinfos_nohash
  in_turn "$rep" merge_p merge_m
  in_turn "$rep" filter_p filter_t
done
# Memory at a quarter of the size: peak RSS should not follow the size.
timed "$out/pcap_small_stats.txt" "$P" pcap stats "$work/small.pcap" --json
timed "$out/pcap_small_merge.txt" "$P" pcap merge "${small_parts[@]}" -o "$work/m1.pcap"
timed "$out/pcap_small_filter.txt" "$P" pcap filter "$work/small.pcap" -o "$work/f1.pcap" -f "$FILTER"
echo "$BYTES $SMALL $(stat -c %s "$work/big.pcap") $(cat "${big_parts[@]}" | wc -c)" > "$out/pcap_bytes.txt"

if ((alone)); then lua5.4 $B/report.lua "$out" "$BUILD/bench-pcap.json" pcap; fi
