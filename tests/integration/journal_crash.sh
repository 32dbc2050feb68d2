#!/usr/bin/env bash
# ctest-labels: crash;journal
# ctest-timeout: 1200
# The crash test (issue 5). One emulator (with slow answers, creates that are applied and then
# fail, and paced downloads); campaigns (pcaprun.campaign: full captures across colos, simple
# captures downloaded; lib/journal_campaign.lua) run with a journal and are killed with SIGKILL after a
# seeded random delay, then started again with the same journal, until KILLS kills have been
# made and the last campaign finished on its own. Then: every capture present and valid
# (capinfos), the emulator made exactly one capture per intent (no duplicate creates) and saw no
# limit violation, no .part or .invalid file is left, no slot claim is left in the journal.
# Most kills come after a uniformly random delay; one in ten waits until the process has a create
# in flight (the journal holds its intent, not yet its capture) and kills it then. The test counts
# the kills that hit a create in flight and a download in flight (a .part file), and fails unless
# both happened.
# Env: JOURNAL_CRASH_KILLS (50), JOURNAL_CRASH_SEED (5), JOURNAL_CRASH_FULL/SIMPLE (4/6 targets).
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
KILLS=${JOURNAL_CRASH_KILLS:-50}
SEED=${JOURNAL_CRASH_SEED:-5}
NFULL=${JOURNAL_CRASH_FULL:-4}
NSIMPLE=${JOURNAL_CRASH_SIMPLE:-6}
F=0.02
work=$(mktemp -d)
trap 'stop_emulator; kill -KILL $(jobs -p) 2> /dev/null; rm -rf "$work"' EXIT # no pcaprun left behind
start_emulator "$work" --time-scale $F --bucket-dir "$work/buckets" --config "{\"auto_validate_buckets\":true,
  \"seed\":$SEED, \"simple_bytes\":2000000, \"download_rate\":5000000, \"fault_slow\":0.3, \"slow_ms\":250,
  \"fault_create_then_reset\":0.1, \"fault_create_then_500\":0.05, \"fault_5xx\":0.03, \"fault_reset\":0.02}" || exit 1
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=crash-test CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
J=$work/journal.db
campaign="$PCAPRUN_SRC/tests/integration/lib/journal_campaign.lua"
RANDOM=$SEED
run() { # run NAME: one run of campaign NAME in the background; sets pid
  "$PCAPRUN" --time-scale $F --journal "$J" --log-level warn "$campaign" "$work/out" "$1" "$work/buckets" \
    "$NFULL" "$NSIMPLE" \
    >> "$work/$1.out" 2>> "$work/runs.log" &
  pid=$!
}

# create_in_flight PID: does the journal show an intent of PID without its capture yet?
create_in_flight() {
  "$PCAPRUN" journal --json "$J" > "$work/j.json" 2> /dev/null &&
    "$PCAPRUN" -e 'local path, pid = ...
      local j = require("cjson").decode(io.open(path):read("a"))
      for _, i in ipairs(j.accounts[1] and j.accounts[1].intents or {}) do
        if not i.capture_id and i.owner and i.owner.pid == tonumber(pid) then os.exit(0) end end os.exit(1)' \
      "$work/j.json" "$1"
}

kills=0 aimed=0 mid_create=0 mid_download=0 runs=0 round=0 start=$SECONDS
names=()
while :; do
  round=$((round + 1))
  name=c$round
  names+=("$name")
  while :; do
    run "$name"
    runs=$((runs + 1))
    if ((kills < KILLS)); then
      if ((kills % 10 == 9)); then # one kill in ten aims at a create in flight (up to 2 s)
        aimed=$((aimed + 1))
        for _ in $(seq 100); do create_in_flight "$pid" && break; kill -0 "$pid" 2> /dev/null || break; done
      else
        delay=$((20 + RANDOM % 700)) # ms
        sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
      fi
      if kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null; then
        wait "$pid" 2> /dev/null
        kills=$((kills + 1))
        create_in_flight "$pid" && mid_create=$((mid_create + 1))
        [[ -n $(find "$work/out" -name '*.part' -size +0 2> /dev/null) ]] && mid_download=$((mid_download + 1))
        continue
      fi
    fi
    wait "$pid"
    code=$?
    if ((code != 0)); then
      echo "not ok - run $runs of campaign $name exited $code without being killed"
      tail -20 "$work/runs.log"
      exit 1
    fi
    grep -q "^COMPLETE" "$work/$name.out" && break
  done
  ((kills >= KILLS)) && break
done
echo "# $kills kills ($aimed aimed at a create; $mid_create mid-create, $mid_download mid-download) over $runs runs of ${#names[@]} campaigns in $((SECONDS - start)) s"

fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
admin=${EMU_URL%/client/v4}/__admin
curl -sf "$admin/stats" > "$work/stats.json"
curl -sf "$admin/captures" > "$work/captures.json"
"$PCAPRUN" journal --json "$J" > "$work/j.json"
"$PCAPRUN" -e "$(cat "$PCAPRUN_SRC/tests/integration/lib/journal_verify.lua")" "$work/j.json" "$work/stats.json" \
  "$work/captures.json" "$work/out" "$work/files" $((NFULL + NSIMPLE)) "${names[@]}" || fail=1
bad=0 nfiles=0
while read -r f; do
  nfiles=$((nfiles + 1))
  capinfos -t -M "$f" 2> /dev/null | grep -Eq 'File type:[[:space:]]+pcap$' || { echo "# not a valid pcap: $f"; bad=$((bad + 1)); }
done < "$work/files"
t "every capture file ($nfiles) is a valid pcap (capinfos -t -M)" "((bad == 0 && nfiles == ${#names[@]} * (NFULL + NSIMPLE)))"
t "no .part or .invalid file left" "[[ -z \$(find '$work/out' -name '*.part' -o -name '*.invalid') ]]"
t "$kills kills (want >= $KILLS)" "((kills >= KILLS))"
t "kills hit creates in flight ($mid_create) and downloads in flight ($mid_download)" "((mid_create > 0 && mid_download > 0))"
t "the journal and its -wal/-shm are private (0600)" \
  "[[ \$(stat -c %a '$J') == 600 ]] && for s in -wal -shm; do [[ ! -e '$J'\$s || \$(stat -c %a '$J'\$s) == 600 ]] || exit 1; done"
t "no secret in the journal (token, bucket secret)" "! grep -qE 'crash-test|jOuRnAlSeCrEt' '$J' '$J-wal' 2> /dev/null"
exit $fail
