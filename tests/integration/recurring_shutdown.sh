#!/usr/bin/env bash
# ctest-timeout: 60
# A clean shutdown of scripts/recurring_capture.lua: SIGTERM while a run's full capture is in
# flight. The script exits 0; the run stops the capture, keeps what it captured and writes its
# manifest (status "stopped" for that target); no file is half-written; the state file is valid.
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
# faster). Not earlier: canceling a task whose create is in flight hangs the runtime (reported).
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
  capinfos -t -M "$f" | grep -Eq 'File type:[[:space:]]+pcap$' || bad=1
done < <(find captures -name '*.pcap' -print0)
t "every pcap is valid" "[ $bad = 0 ] && [ -n \"\$(find captures -name '*.pcap')\" ]"
t "nothing half-written" "[ -z \"\$(find captures -name '*.part' -o -name '*.tmp')\" ]"
t "the state file is valid" "$PCAPRUN -e 'assert(require(\"pcaprun.json\").read(arg[1]).jobs.recurring.last_fire)' \
  captures/recurring/schedule.json"
exit $fail
