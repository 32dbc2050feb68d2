#!/usr/bin/env bash
# ctest-labels: pcap
# ctest-timeout: 120
# pcaprun pcap from the shell, against Wireshark's and tcpdump's own tools on files text2pcap
# writes (its Ethernet/IPv4/TCP and UDP headers, our payload bytes and nanosecond times):
# merge = mergecap -F nsecpcap, filter = tcpdump -w, slice = editcap -A/-B, split = editcap -c,
# record for record; stats agree with capinfos and tshark; --json parses; usage errors exit 2,
# file errors 1, and neither leaves a file behind.
set -u
: "${PCAPRUN:?}"
P=$PCAPRUN
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
cd "$w" || exit 1

# FILE SRC DST PROTO N START_S STEP_NS: N packets (payloads of 8..71 bytes) from SRC to DST.
make() {
  local file=$1 src=$2 dst=$3 proto=$4 n=$5 start=$6 step=$7
  awk -v n="$n" -v start="$start" -v step="$step" 'BEGIN {
    for (i = 0; i < n; i++) {
      ns = i * step; s = start + int(ns / 1e9); frac = ns % 1e9
      printf "2025-11-26T06:%02d:%02d.%09dZ\n000000", 44 + int(s / 60), s % 60, frac
      for (b = 0; b < 8 + (i * 7) % 64; b++) printf " %02x", (i + b) % 256
      printf "\n"
    }
  }' > "$file.txt"
  local hdr=(-T 40000,443)
  [ "$proto" = udp ] && hdr=(-u 5353,53)
  text2pcap -q -t ISO -F nsecpcap "${hdr[@]}" -4 "$src,$dst" "$file.txt" "$file" > /dev/null 2>&1
}
make a.pcap 10.0.0.1 192.0.2.10 tcp 400 0 12345678
make b.pcap 10.0.0.2 192.0.2.10 tcp 300 1 16666667
make c.pcap 10.0.0.3 192.0.2.53 udp 250 0 20000000
editcap -F pcapng c.pcap c.pcapng
t "inputs made" "[ -s a.pcap ] && [ -s b.pcap ] && [ -s c.pcapng ]"

# the records after the 24-byte file header are the same bytes
same() { cmp -s -i 24 "$1" "$2" && [ "$(capinfos -c -M "$1" | tail -1)" = "$(capinfos -c -M "$2" | tail -1 | sed "s|$2|$1|")" ]; }

$P pcap merge a.pcap b.pcap c.pcapng -o out/merged.pcap > merge.txt
t "merge: exit 0, says what it wrote" "[ \$? = 0 ] && grep -q 'wrote out/merged.pcap: 950 packets' merge.txt"
mergecap -F nsecpcap -w ref.pcap a.pcap b.pcap c.pcapng
t "merge = mergecap -F nsecpcap, record for record" "same out/merged.pcap ref.pcap"

$P pcap filter out/merged.pcap -o f.pcap -f 'udp or src host 10.0.0.2' > /dev/null
tcpdump --time-stamp-precision=nano -r out/merged.pcap -w ref-f.pcap 'udp or src host 10.0.0.2' 2> /dev/null
t "filter = tcpdump -w, record for record" "same f.pcap ref-f.pcap && [ \$(capinfos -c -M f.pcap | tail -1 | tr -dc 0-9) = 550 ]"

$P pcap slice out/merged.pcap -o s.pcap --start 1764139441.5 --end 2025-11-26T06:44:04Z > /dev/null
editcap -F nsecpcap -A 1764139441.5 -B 1764139444 out/merged.pcap ref-s.pcap
t "slice = editcap -A -B" "same s.pcap ref-s.pcap"
$P pcap slice out/merged.pcap -o r.pcap --start +1.5 --end +4 > /dev/null
t "relative bounds count from the first packet (the same window here)" "same r.pcap ref-s.pcap"

$P pcap split out/merged.pcap -o parts/p.pcap --packets 300 --json > split.json
editcap -F nsecpcap -c 300 out/merged.pcap ref-p.pcap
refs=(ref-p_*.pcap)
ok=1
for i in 1 2 3 4; do same "parts/p-0000$i.pcap" "${refs[$((i - 1))]}" || ok=0; done
t "split --packets = editcap -c, part for part" "[ $ok = 1 ] && [ \${#refs[@]} = 4 ] && [ ! -e parts/p-00005.pcap ]"
t "split --json lists the parts" "$P -e 'local j = require(\"pcaprun.json\").decode(io.read(\"a\")); assert(#j.files == 4 and j.written == 950)' < split.json"
$P pcap split out/merged.pcap -o bytes/p.pcap --bytes 10K > /dev/null
big=$(find bytes -name '*.pcap' -size +10240c | wc -l)
t "split --bytes: no part over the size" "[ \$(ls bytes | wc -l) -gt 3 ] && [ $big = 0 ]"

$P pcap stats out/merged.pcap --json > stats.json
t "stats --json: packets as capinfos counts them" \
  "$P -e 'assert(require(\"pcaprun.json\").decode(io.read(\"a\")).packets == 950)' < stats.json"
top=$(tshark -r out/merged.pcap -q -z endpoints,ip 2> /dev/null | awk '$1 ~ /^[0-9]/ { print $6, $1 }' | sort -rn | head -1 | cut -d' ' -f2)
t "top destination = tshark's busiest receiver ($top)" \
  "$P pcap top out/merged.pcap --by destinations -n 1 | grep -q ' 1  $top '"
t "stats text" "$P pcap stats a.pcap b.pcap | grep -q '^packets: *700 (IPv4 700'"
t "top --json is the table and whether it is exact" \
  "$P pcap top c.pcap --by source-ports --json | $P -e 'local j = require(\"pcaprun.json\").decode(io.read(\"a\")); assert(j.source_ports[1].port == 5353 and j.exact == nil)'"

# usage errors: 2, and a message; file errors: 1; nothing written either way
$P pcap > /dev/null 2>&1; t "no command: exit 2" "[ \$? = 2 ]"
$P pcap --help | grep -q '^Usage: pcaprun pcap'; t "--help: exit 0" "[ \$? = 0 ]"
$P --help | grep -q 'pcaprun pcap stats'; t "pcaprun --help mentions pcap" "[ \$? = 0 ]"
usage() { $P pcap "$@" > /dev/null 2> err.txt; [ $? = 2 ] && grep -q "Try 'pcaprun pcap --help'" err.txt; }
t "unknown command" "usage frobnicate a.pcap"
t "unknown option" "usage stats a.pcap --frobnicate"
t "merge without -o" "usage merge a.pcap b.pcap"
t "filter without -f" "usage filter a.pcap -o x.pcap"
t "a filter that does not compile" "usage filter a.pcap -o x.pcap -f 'port port' && grep -q 'port port' err.txt"
t "split without a size" "usage split a.pcap -o x.pcap"
t "slice with a bad time" "usage slice a.pcap -o x.pcap --start yesterday"
t "no file" "usage stats"
$P pcap stats nope.pcap 2> err.txt; t "a missing file: exit 1, named" "[ \$? = 1 ] && grep -q 'nope.pcap' err.txt"
head -c 1000 a.pcap > cut.pcap
$P pcap merge a.pcap cut.pcap -o x.pcap 2> err.txt; t "a cut input: exit 1" "[ \$? = 1 ] && grep -q 'cut.pcap' err.txt"
t "nothing written by the failures" "[ ! -e x.pcap ] && [ -z \"\$(find . -name '*.tmp')\" ]"
exit $fail
