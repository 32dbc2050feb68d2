#!/usr/bin/env bash
# The object-store rows (tests/bench/README.md §9), run by run.sh or on their own:
#   tests/bench/objstore.sh BUILD_DIR [REPS] [OUT_DIR]
# 1. A 1 GiB object fetched over the S3 API from the emulator's S3 server (loopback), REPS times
#    each, taking turns: pcaprun (store:fetch: streamed to .part, checked as a pcap, fsynced,
#    renamed) and `curl --aws-sigv4 -o` (the same object, the same server, signed the same way).
#    Files in tmpfs (/dev/shm) so both clients are measured, not the disk.
# (Merging a full capture's files is pcapfile.merge, whose row against mergecap is pcap.sh's.)
# Writes OUT_DIR/objstore_*.txt ("wall_seconds peak_rss_kb" per run); without OUT_DIR it prints
# the rows itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(cd "${1:-build}" && pwd)
REPS=${2:-${BENCH_REPS:-5}}
OUT=${3:-}
B=tests/bench
PCAPRUN=$BUILD/pcaprun
for tool in curl lua5.4 /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "objstore.sh: $tool is missing (make deps)" >&2; exit 2; }
done
work=$(mktemp -d -p /dev/shm 2> /dev/null || mktemp -d)
out=${OUT:-$work/rows}
mkdir -p "$out" "$work/buckets/bench"
export PCAPRUN PCAPRUN_SRC=$PWD
source tests/integration/lib/emulator.sh
trap 'stop_emulator; rm -rf "$work"' EXIT
KEY=AKIDBENCH SECRET=bench-secret
start_emulator "$work" --bucket-dir "$work/buckets" \
  --config "{\"s3_access_key_id\":\"$KEY\",\"s3_secret_access_key\":\"$SECRET\"}"
S3=$EMU_S3
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET
source $B/benchlib.sh # timed, note, in_turn

note "objstore: 1 GiB over the S3 API, pcaprun and curl --aws-sigv4, $REPS times each"
lua5.4 $B/objstore_make.lua "$work/buckets/bench/big.pcap" $((1 << 30))
stat -c %s "$work/buckets/bench/big.pcap" > "$out/objstore_fetch_bytes.txt"
url=$S3/bench/big.pcap
curl_get=(curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET"
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$url" -o)
"$PCAPRUN" -q --no-journal $B/objstore_fetch.lua s3://bench big.pcap "$work/p.pcap" > /dev/null
"${curl_get[@]}" "$work/c.pcap"
cmp -s "$work/p.pcap" "$work/c.pcap" || { echo "objstore.sh: the two fetches differ" >&2; exit 1; }
rm -f "$work/p.pcap" "$work/c.pcap"
fetch_pcaprun() {
  timed "$out/objstore_fetch_pcaprun.txt" "$PCAPRUN" -q --no-journal $B/objstore_fetch.lua s3://bench big.pcap \
    "$work/p.pcap"
  rm -f "$work/p.pcap"
}
fetch_curl() {
  timed "$out/objstore_fetch_curl.txt" "${curl_get[@]}" "$work/c.pcap"
  rm -f "$work/c.pcap"
}
for rep in $(seq "$REPS"); do in_turn "$rep" fetch_pcaprun fetch_curl; done
rm -f "$work/buckets/bench/big.pcap"

if [[ -z $OUT ]]; then lua5.4 $B/report.lua "$out" "$BUILD/bench_objstore.json" objstore; fi
