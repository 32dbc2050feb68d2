#!/usr/bin/env bash
# What the journal costs: API calls per second with and without it.
#
#   tests/bench/journal_overhead.sh [BUILD_DIR] [ROUNDS]
#
# One emulator with every limit and wait switched off (creates answer at once, captures finish at
# once) and a client whose limits are off too, so pcaprun itself is the bottleneck. Two workloads:
#   campaign  pcaprun.campaign with CAMPAIGN_SIMPLE simple captures (created, polled, downloaded)
#             and CAMPAIGN_FULL full ones (created, polled); it also rewrites its manifest
#             (fsynced) at every change of a target, as it does in real use;
#   raw       the same calls without the campaign: RAW_SIMPLE + RAW_FULL tasks doing
#             pcap.create / cap:wait / cap:download, so the journal's own cost shows.
# Each round runs each workload three ways — no journal; a journal on the disk of $TMPDIR; a
# journal on /dev/shm (the same writes, no disk syncs) — and divides the emulator's requests by
# the run's wall time. Prints the median calls/s of each and the ratios with/without.
# Env: CAMPAIGN_SIMPLE (100), CAMPAIGN_FULL (10), RAW_SIMPLE (300), RAW_FULL (30), TMPDIR;
# JOURNAL_OUT=DIR keeps each round's calls/s in DIR/journal_WORKLOAD_MODE.txt (make bench's table).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
rounds=${2:-5}
P=$build/pcaprun
F=0.001
work=$(mktemp -d)
shm=$(mktemp -d -p /dev/shm 2> /dev/null || mktemp -d)
PCAPRUN=$P
source "$src/tests/integration/lib/emulator.sh"
trap 'stop_emulator; rm -rf "$work" "$shm"' EXIT
start_emulator "$work" --time-scale $F --bucket-dir "$work/buckets" --config '{"auto_validate_buckets":true,
  "sample_limit":false, "full_limit":false, "rate_limit":false, "simple_duration":0, "full_pending":0,
  "conversion_pending":0, "conversion_running":0}'
export XDG_STATE_HOME=$work/state # the helper runs below make no journal of the user's
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=bench CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
admin=${EMU_URL%/client/v4}/__admin
requests() { curl -sf "$admin/stats" | "$P" -e 'print(("%d"):format(require("cjson").decode(io.read("a")).requests.total))'; }

cat > "$work/campaign.lua" << 'EOF'
local campaign = require "pcaprun.campaign"
local nsimple, nfull, name, out = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
local filters, colos = {}, {}
for i = 1, nsimple do filters[i] = { destination_port = i } end
for i = 1, nfull do colos[i] = ("C%02d"):format(i) end
local r = campaign.run { name = name, out = out, bucket = "s3://bench/" .. name .. "?region=x",
  full = nfull > 0 and { colos = colos, time_limit = 1 } or nil,
  sample = { time_limit = 1, packet_limit = 10, filters = filters } }
assert(r.ok, r.status)
EOF
cat > "$work/raw.lua" << 'EOF'
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local nsimple, nfull, name, out = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
local tasks = {}
for i = 1, nsimple do
  tasks[#tasks + 1] = task.spawn(function()
    local cap = assert(pcap.create({ type = "simple", time_limit = 1, packet_limit = 10,
                                     filter_v1 = { destination_port = i } }, { intent = ("%s.s%d"):format(name, i) }))
    assert(cap:wait())
    assert(cap:download(("%s/%s-%d.pcap"):format(out, name, i)))
  end)
end
for i = 1, nfull do
  tasks[#tasks + 1] = task.spawn(function()
    local cap = assert(pcap.create({ type = "full", time_limit = 1, colo_name = ("C%02d"):format(i),
                                     destination_conf = "s3://bench/raw?region=x" }, { intent = ("%s.f%d"):format(name, i) }))
    assert(cap:wait())
  end)
end
for _, t in ipairs(tasks) do assert(task.join(t)) end
EOF

run() { # run WORKLOAD MODE NAME -> "calls/s requests seconds"
  local script=$1 mode=$2 name=$3 opt=(--no-journal) nsimple nfull
  [[ $mode == disk ]] && opt=(--journal "$work/$name.db")
  [[ $mode == shm ]] && opt=(--journal "$shm/$name.db")
  if [[ $script == campaign ]]; then nsimple=${CAMPAIGN_SIMPLE:-100} nfull=${CAMPAIGN_FULL:-10}
  else nsimple=${RAW_SIMPLE:-300} nfull=${RAW_FULL:-30}; fi
  mkdir -p "$work/out"
  local before after t0 t1
  before=$(requests)
  t0=$(date +%s.%N)
  "$P" --time-scale $F --sample-interval 0 --full-slots 1000 --api-budget 1000000/300 --log-level warn \
    "${opt[@]}" "$work/$script.lua" "$nsimple" "$nfull" "$name" "$work/out" > /dev/null || return 1
  t1=$(date +%s.%N)
  after=$(requests)
  rm -rf "$work/out"
  awk -v n=$((after - before)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f %d %.3f\n", n / (b - a), n, b - a }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# $rounds rounds; each line: calls/s, requests, seconds"
for w in campaign raw; do for m in none disk shm; do : > "$work/$w.$m"; done; done
for r in $(seq "$rounds"); do
  for w in campaign raw; do
    for m in none disk shm; do
      line=$(run $w $m "r$r$w$m") || { echo "round $r $w $m: the run failed" >&2; exit 1; }
      echo "round $r $w, journal $m: $line"
      echo "${line%% *}" >> "$work/$w.$m"
    done
  done
done
if [[ -n ${JOURNAL_OUT:-} ]]; then
  for w in campaign raw; do for m in none disk shm; do cp "$work/$w.$m" "$JOURNAL_OUT/journal_${w}_$m.txt"; done; done
fi
for w in campaign raw; do
  none=$(median < "$work/$w.none") disk=$(median < "$work/$w.disk") shm=$(median < "$work/$w.shm")
  awk -v w=$w -v n="$none" -v d="$disk" -v s="$shm" 'BEGIN {
    printf "%-8s median calls/s: no journal %.1f, journal on disk %.1f (ratio %.3f), on /dev/shm %.1f (ratio %.3f)\n",
      w, n, d, d / n, s, s / n }'
done
