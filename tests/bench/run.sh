#!/usr/bin/env bash
# Runs every benchmark (tests/bench/README.md) side by side with its baseline, against one
# `pcaprun emulator` on loopback, then prints one table and writes BUILD_DIR/bench.json.
#   tests/bench/run.sh [BUILD_DIR]            (make bench)
#   BENCH_SCALE=0.05   time scale of the campaigns (real seconds per API second)
#   BENCH_REPS=5       repetitions of each timed measurement (the median is reported)
#   BENCH_ONLY=pcap    only the capture-file rows (tests/bench/pcap.sh, which also runs alone)
#   BENCH_ONLY=objstore  only the object-store rows (tests/bench/objstore.sh, which also runs alone)
#   BENCH_ONLY=serve   only pcaprun serve's rows (tests/bench/serve.sh, which also runs alone)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=$(cd "${1:-build}" && pwd)
SCALE=${BENCH_SCALE:-0.05}
REPS=${BENCH_REPS:-5}
B=tests/bench
export PCAPRUN=$BUILD/pcaprun PCAPRUN_SRC=$PWD
export CLOUDFLARE_API_TOKEN=bench CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
for tool in curl lua5.4 /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "run.sh: $tool is missing (make deps)" >&2; exit 2; }
done
cmake --build "$BUILD" --target pcaprun bench_http_rps emu_load > /dev/null
if [[ ${BENCH_ONLY:-} == pcap ]]; then exec $B/pcap.sh "$BUILD"; fi
if [[ ${BENCH_ONLY:-} == objstore ]]; then exec $B/objstore.sh "$BUILD" "$REPS"; fi
if [[ ${BENCH_ONLY:-} == serve ]]; then exec $B/serve.sh "$BUILD"; fi

work=$(mktemp -d -p "$BUILD")
out=$BUILD/bench
# Downloads land in memory (tmpfs) when there is one, so both clients are measured, not the disk.
files=$(mktemp -d -p /dev/shm 2> /dev/null || mktemp -d)
source tests/integration/lib/emulator.sh
trap 'stop_emulator; rm -rf "$work" "$files"' EXIT
rm -rf "$out" && mkdir -p "$out"
start_emulator "$work" --config '{"auto_validate_buckets":true}'
export CLOUDFLARE_BASE_URL=$EMU_URL
pcaps=$EMU_URL/accounts/$CLOUDFLARE_ACCOUNT_ID/pcaps
auth=(-H "Authorization: Bearer $CLOUDFLARE_API_TOKEN")

# fresh CONFIG_JSON: forget every capture and counter, then apply the settings.
fresh() {
  curl -sS -o /dev/null -X POST "$EMU_ADMIN/reset"
  curl -sS -o /dev/null -d "$1" "$EMU_ADMIN/config"
}
source $B/benchlib.sh # timed, note, in_turn

# 1, 2. Campaigns: NAME NFULL NSIMPLE, full captures 60 s and simple ones 30 s (API), run by
# pcaprun and by the curl + sleep script, each on a fresh emulator timeline.
campaign() {
  local name=$1 nfull=$2 nsimple=$3 who
  note "campaign $name: $nfull full + $nsimple simple at time scale $SCALE"
  for who in pcaprun curl; do
    fresh "{\"time_scale\":$SCALE,\"simple_bytes\":0}"
    if [[ $who == pcaprun ]]; then
      "$PCAPRUN" -q --time-scale "$SCALE" $B/campaign.lua "$nfull" "$nsimple" 60 30 "$files/$who" "$work/log"
    else
      sh $B/campaign_curl.sh "$nfull" "$nsimple" 60 30 "$files/$who" "$SCALE" "$work/log"
    fi
    "$PCAPRUN" -q $B/campaign_report.lua "$work/log" "$nfull" "$nsimple" 60 30 > "$out/${name}_$who.json"
    rm -rf "${files:?}/$who"
  done
}
campaign mixed 5 5
campaign simple 0 5

# 3. Downloads: NAME BYTES. One finished simple capture padded to BYTES, fetched by pcaprun and
# by curl -o, taking turns at going first, each file removed as soon as it is written. First an
# unmeasured fetch by each (the emulator generates the file on the first): the two must match.
download() {
  local name=$1 bytes=$2 id url rep
  note "download $name: pcaprun and curl -o, $REPS times each"
  fresh "{\"time_scale\":1,\"simple_bytes\":$bytes}"
  id=$(curl -sS "${auth[@]}" "$pcaps" \
    -d '{"system":"magic-transit","type":"simple","time_limit":1,"packet_limit":10000}' |
    sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
  sleep 1.2
  url=$pcaps/$id/download
  "$PCAPRUN" -q $B/download.lua "$id" "$files/p.pcap" > /dev/null
  curl -sS "${auth[@]}" -o "$files/c.pcap" "$url"
  cmp -s "$files/p.pcap" "$files/c.pcap" || { echo "run.sh: the two downloads differ" >&2; exit 1; }
  rm -f "$files/p.pcap" "$files/c.pcap"
  fetch_pcaprun() {
    timed "$out/${name}_pcaprun.txt" "$PCAPRUN" -q $B/download.lua "$id" "$files/p.pcap"
    rm -f "$files/p.pcap"
  }
  fetch_curl() {
    timed "$out/${name}_curl.txt" curl -sS "${auth[@]}" -o "$files/c.pcap" "$url"
    rm -f "$files/c.pcap"
  }
  for rep in $(seq "$REPS"); do in_turn "$rep" fetch_pcaprun fetch_curl; done
  echo "$bytes" > "$out/${name}_bytes.txt"
}
download download_64m $((64 << 20))
download download_1g $((1 << 30))
fresh '{"time_scale":1,"simple_bytes":0}'

# 4. The task layer, and HTTP requests per second (N GETs of a small admin document, K at once).
note "tasks: 100,000 sleeping, spawn + join; HTTP requests per second"
"$PCAPRUN" -q $B/tasks.lua 100000 > "$out/tasks_pcaprun.json"
lua5.4 $B/tasks_lua.lua 100000 > "$out/tasks_lua.json"
rps_pcaprun() { "$PCAPRUN" -q $B/http_rps.lua "$EMU_ADMIN/stats" 20000 8 >> "$out/rps_pcaprun.jsonl"; }
rps_c() { "$BUILD/tests/bench/bench_http_rps" "$EMU_ADMIN/stats" 20000 8 >> "$out/rps_c.jsonl"; }
for rep in $(seq "$REPS"); do in_turn "$rep" rps_pcaprun rps_c; done

# 5. Start-up: runs of `-e ''`, in rounds of 50, each going first every other time.
note "start-up: pcaprun -e '' and lua5.4 -e ''"
startup() { # FILE COMMAND...: appends the mean wall seconds of 50 runs
  local file=$1 t0 t1
  shift
  t0=$(date +%s%N)
  for _ in $(seq 50); do "$@"; done
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 50000 ))e-6" >> "$file"
}
startup_pcaprun() { startup "$out/startup_pcaprun.txt" "$PCAPRUN" -e ''; }
startup_lua() { startup "$out/startup_lua.txt" lua5.4 -e ''; }
for rep in $(seq "$REPS"); do in_turn "$rep" startup_pcaprun startup_lua; done

# 6. The journal's cost: API calls per second with and without --journal (journal_overhead.sh).
note "journal: API calls per second with and without it"
JOURNAL_OUT=$out $B/journal_overhead.sh "$BUILD" "$REPS" >&2

# 7. Capture files: pcaprun pcap against tshark, capinfos, mergecap and tcpdump (pcap.sh).
$B/pcap.sh "$BUILD" "$out" >&2

# 8. The emulator under hostile load (emu_load.sh): many credentials, many slow connections.
note "emulator: 40,000 credentials, 1,100 slow connections"
EMU_LOAD_OUT=$out $B/emu_load.sh "$BUILD" > /dev/null

# 9. Object stores: a 1 GiB fetch over the S3 API vs curl --aws-sigv4 (objstore.sh).
$B/objstore.sh "$BUILD" "$REPS" "$out"

# 10. pcaprun serve: alert -> 202 -> the playbook's create, alerts per second (serve.sh).
note "serve: 1,000 alerts one at a time, then 16 at a time"
$B/serve.sh "$BUILD" "$out" > /dev/null

lua5.4 $B/report.lua "$out" "$BUILD/bench.json"
