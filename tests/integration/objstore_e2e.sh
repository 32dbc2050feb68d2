#!/usr/bin/env bash
# ctest-labels: objstore
# ctest-timeout: 300
# Full captures end to end, through the S3 API as a real run: the emulator (`pcaprun emulator`,
# strict ownership) writes the challenge and several files per full capture into its bucket
# directory and serves it over the S3 API; a campaign validates the bucket unattended (reads the
# challenge itself), runs full captures in 3 colos, fetches and merges them. The merged files
# equal `mergecap -F nsecpcap` of the objects packet for packet. Then a second campaign is killed
# with SIGKILL while it fetches (slow S3 answers) and run again with the same journal: no object
# fetched whole twice (every repeated GET is a Range resume), no partial file under a final name,
# no capture made twice.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
work=$(mktemp -d)
trap 'stop_emulator; kill -KILL $(jobs -p) 2> /dev/null; rm -rf "$work"' EXIT
F=0.01
start_emulator "$work" --time-scale $F --bucket-dir "$work/buckets" \
  --config '{"full_files": 3, "s3_access_key_id": "AKIDE2E", "s3_secret_access_key": "e2e/secret+key"}' || exit 1
stats() { curl -s "$EMU_ADMIN/stats"; }
S3=$EMU_S3
t "the emulator reports its S3 URL (stderr and stats)" "[ -n '$S3' ] && stats | grep -qF '\"url\": \"$S3\"'"
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=e2e CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
export AWS_ACCESS_KEY_ID=AKIDE2E AWS_SECRET_ACCESS_KEY=e2e/secret+key AWS_ENDPOINT_URL=$S3
BUCKET="s3://e2e-bucket/captures?region=us-east-1"
CAMPAIGN="$PCAPRUN_SRC/tests/integration/lib/objstore_campaign.lua"
J=$work/journal.db

# 1. a whole campaign
$PCAPRUN --time-scale $F --journal "$J" "$CAMPAIGN" "$work/out" "$BUCKET" >"$work/run1.out" 2>&1
t "the campaign completed" "[ $? = 0 ]" || cat "$work/run1.out"
t "the bucket was validated unattended, with the challenge read from the bucket" \
  "grep -q 'ownership challenge read from the bucket' $work/run1.out && stats | grep -q '\"registered\": 1'"
merged=$(ls "$work"/out/e2e/{ORD,SJC,AMS}/*.pcap 2>/dev/null | wc -l)
t "one merged pcap per colo" "[ $merged = 3 ]"
same=0
for f in "$work"/out/e2e/*/*.pcap; do
  id=$(basename "$f" .pcap)
  parts=("$work"/buckets/e2e-bucket/captures/pcap_"$id"*.pcap)
  [ ${#parts[@]} = 3 ] || { echo "# $id has ${#parts[@]} objects"; continue; }
  mergecap -F nsecpcap -w "$work/ref.pcap" "${parts[@]}"
  # the records, byte for byte (the 24-byte headers may differ in snaplen)
  cmp -s <(tail -c +25 "$f") <(tail -c +25 "$work/ref.pcap") &&
    [ "$(capinfos -M -T -c -r "$f" | cut -f2)" = "$(capinfos -M -T -c -r "$work/ref.pcap" | cut -f2)" ] &&
    same=$((same + 1))
done
t "each merged file equals mergecap -F nsecpcap of its 3 objects, packet for packet" "[ $same = 3 ]"
t "nanosecond pcaps" "[ \$(od -An -tx4 -N4 $(ls $work/out/e2e/ORD/*.pcap) | tr -d ' ') = a1b23c4d ]"
t "the parts were removed after the merge" "[ -z \"\$(find $work/out -path '*parts*' -name '*.pcap')\" ]"

# 2. killed while it fetches, then run again
curl -s -X POST -d '{"s3_rate": 60000}' "$EMU_ADMIN/config" >/dev/null
$PCAPRUN --time-scale $F --journal "$J" "$CAMPAIGN" "$work/out" "$BUCKET" killed >"$work/run2.out" 2>&1 &
pid=$!
in_flight() { [ -n "$(find "$work/out/killed" -name '*.part' -size +0 2>/dev/null)" ]; }
fetched() { [ -n "$(find "$work/out/killed" -path '*parts*' -name '*.pcap' 2>/dev/null)" ]; }
for _ in $(seq 300); do in_flight && fetched && break; sleep 0.1; done
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
t "killed during a fetch (a .part on disk), after an object was fetched whole" "in_flight && fetched"
bad=0
for f in $(find "$work/out/killed" -name '*.pcap'); do capinfos "$f" >/dev/null 2>&1 || bad=$((bad + 1)); done
t "no partial file under a final name" "[ $bad = 0 ]"
curl -s -X POST -d '{"s3_rate": 0}' "$EMU_ADMIN/config" >/dev/null
$PCAPRUN --time-scale $F --journal "$J" "$CAMPAIGN" "$work/out" "$BUCKET" killed >"$work/run3.out" 2>&1
t "the rerun completed" "[ $? = 0 ]" || cat "$work/run3.out"
stats >"$work/stats.json"
t "no completed object fetched twice: every repeated GET resumed with Range" "$PCAPRUN -e '
  local s = require(\"cjson\").decode(io.open(arg[1]):read(\"a\"))
  local keys, gets = 0, 0
  for k, n in pairs(s.s3.gets) do if k:match(\"pcap_\") then keys, gets = keys + 1, gets + n end end
  os.exit(keys == 18 and gets - keys == s.s3.ranged_gets and s.s3.ranged_gets >= 1 and 0 or 1)' $work/stats.json"
t "no capture made twice" "stats | grep -q '\"duplicate_creates\": 0' && stats | grep -q '\"full\": 6'"
t "every file of the killed campaign is there and valid" \
  "[ \$(ls $work/out/killed/{ORD,SJC,AMS}/*.pcap | wc -l) = 3 ] && [ -z \"\$(find $work/out -name '*.part' -o -name '*.invalid')\" ]"
exit $fail
