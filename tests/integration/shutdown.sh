#!/usr/bin/env bash
# ctest-timeout: 60
# Clean shutdowns. scripts/recurring_capture.lua, SIGTERM while a run's full capture is in
# flight: the script exits 0; the run stops the capture, keeps what it captured and writes its
# manifest (status "stopped" for that target); no file is half-written; the state file is valid.
# scripts/multi_colo_campaign.lua, Ctrl-C (SIGINT) with a full capture running: exit 130, the
# capture stopped and collected all the same, the queued one never created.
set -u
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$PCAPRUN" --emulate --time-scale 0.01 "$PCAPRUN_SRC/scripts/recurring_capture.lua" \
  --cron '@every 1m' --jitter 0 --runs 0 --time-limit 600 --colos ORD >out 2>err &
pid=$!
# wait until a run's manifest shows both captures made, the full one running (API time runs 100x
# faster).
running() {
  "$PCAPRUN" -e 'local m = require("pcaprun.json").read(arg[1])
                 assert(m and m.targets[1].status == "running" and m.targets[2].id)' \
    captures/recurring/*/manifest.json 2>/dev/null
}
for _ in $(seq 200); do running && break; sleep 0.05; done
t "a full capture is running" running
kill -TERM $pid
wait $pid; code=$?
t "exit 0 after SIGTERM" "[ $code = 0 ] || { echo \"# exit $code\"; cat err; false; }"
t "the schedule says why it ended" "grep -q 'ended (SIGTERM)' out"
manifest=$(ls captures/recurring/*/manifest.json | head -1)
json() { "$PCAPRUN" -e "local m = assert(require('pcaprun.json').read(arg[1])); print($1)" "$manifest"; }
t "the run's full capture was stopped" "[ \"\$(json 'm.targets[1].status')\" = stopped ]"
t "its data was kept" "[ \"\$(json '#m.targets[1].files')\" = 1 ]"
t "the sampled capture finished" "[ \"\$(json 'm.targets[2].status')\" = complete ]"
t "the campaign was recorded as canceled" "[ \"\$(json 'm.status')\" = canceled ]"
bad=0
while IFS= read -r -d '' f; do
  capinfos -t -M "$f" | grep -Eq 'File type:[[:space:]]+(nsec)?pcap$' || bad=1
done < <(find captures -name '*.pcap' -print0)
t "every pcap is valid" "[ $bad = 0 ] && [ -n \"\$(find captures -name '*.pcap')\" ]"
t "nothing half-written" "[ -z \"\$(find captures -name '*.part' -o -name '*.tmp')\" ]"
t "the state file is valid" "$PCAPRUN -e 'assert(require(\"pcaprun.json\").read(arg[1]).jobs.recurring.last_fire)' \
  captures/recurring/schedule.json"

mkdir "$tmp/campaign" && cd "$tmp/campaign"
"$PCAPRUN" --emulate --time-scale 0.01 "$PCAPRUN_SRC/scripts/multi_colo_campaign.lua" \
  --time-limit 600 --colos ORD,SJC >out 2>err &
pid=$!
manifest=captures/edge-demo/manifest.json
running() { "$PCAPRUN" -e 'assert(require("pcaprun.json").read(arg[1]).targets[1].status == "running")' $manifest 2>/dev/null; }
for _ in $(seq 200); do running && break; sleep 0.05; done
t "campaign: a full capture is running" running
kill -INT $pid
wait $pid; code=$?
t "campaign: exit 130 after SIGINT" "[ $code = 130 ] || { echo \"# exit $code\"; cat err; false; }"
t "campaign: the running full capture was stopped" "[ \"\$(json 'm.targets[1].status')\" = stopped ]"
t "campaign: and its data collected" "[ \"\$(json '#m.targets[1].files')\" = 1 ]"
t "campaign: the queued one was never created" "[ \"\$(json 'm.targets[2].status == [[canceled]] and m.targets[2].id == nil')\" = true ]"
t "campaign: nothing half-written" "[ -z \"\$(find captures -name '*.part' -o -name '*.tmp')\" ]"
exit $fail
