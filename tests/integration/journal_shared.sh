#!/usr/bin/env bash
# ctest-labels: journal
# ctest-timeout: 300
# Two pcaprun processes, one account, one journal (a cron job and an incident playbook): each
# runs its own campaign of full and simple captures, at the same time. Through the journal they
# never hold two full captures nor send two simple creates within the sample interval: the
# emulator sees no violation. Then the one holding the full slot is killed (SIGKILL) while its
# capture runs: the other adopts that capture, waits for it to leave running, then goes on; the
# killed one, restarted, finishes. And the control: the same two campaigns without a journal
# do break the limits (each process alone keeps them; together they cannot).
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
F=0.01
work=$(mktemp -d)
trap 'stop_emulator; kill -KILL $(jobs -p) 2> /dev/null; rm -rf "$work"' EXIT # no pcaprun left behind
start_emulator "$work" --time-scale $F --bucket-dir "$work/buckets" \
  --config '{"auto_validate_buckets":true,"seed":3,"fault_create_then_reset":0.1,"fault_5xx":0.05}' || exit 1
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=shared-test CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
admin=${EMU_URL%/client/v4}/__admin
campaign="$PCAPRUN_SRC/tests/integration/lib/journal_campaign.lua"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
stat() { curl -sf "$admin/stats" | "$PCAPRUN" -e "print(('%d'):format(require('cjson').decode(io.read('a'))$1))"; }
start() { # start NAME FULL_SECONDS JOURNAL-OPTION...: a campaign in the background; sets pid
  local name=$1 seconds=$2; shift 2
  "$PCAPRUN" --time-scale $F "$@" --log-level info "$campaign" "$work/out" "$name" "$work/buckets" 3 3 "$seconds" \
    > "$work/$name.out" 2>> "$work/$name.log" &
  pid=$!
}
wait_full_running() { # wait until a full capture of intent prefix $1 is running
  for _ in $(seq 400); do
    curl -sf "$admin/captures" | "$PCAPRUN" -e 'for _, c in ipairs(require("cjson").decode(io.read("a")).captures) do
      if c.status == "running" and c.intent:find(..., 1, true) == 1 then os.exit(0) end end os.exit(1)' "$1." && return 0
    sleep 0.01
  done
  return 1
}

# 1. together, sharing a journal
start cron 10 --journal "$work/j.db"; a=$pid
start playbook 10 --journal "$work/j.db"; b=$pid
wait $a; ra=$?
wait $b; rb=$?
t "two processes sharing a journal both complete their campaigns" "((ra == 0 && rb == 0))"
t "12 captures, none twice" "[[ \$(stat .captures.created) == 12 ]]"
t "no limit violated (sample rate, full concurrency, duplicates)" "[[ \$(stat .violations.total) == 0 ]]"

# 2. the holder of the full slot dies; the other adopts its capture
curl -sf -X POST "$admin/reset" > /dev/null
rm -rf "$work/out" "$work/j.db"*
start cron2 100 --journal "$work/j.db"; a=$pid # full captures run 1 s: killed while one does
wait_full_running cron2 || echo "# cron2 never ran a full capture"
start playbook2 10 --journal "$work/j.db"; b=$pid
sleep 0.05
kill -KILL $a; wait $a 2> /dev/null
wait $b; rb=$?
t "the survivor completes its campaign" "((rb == 0))"
t "and said it followed the dead process's capture" "grep -q 'pcaprun process now gone' '$work/playbook2.log'"
start cron2 100 --journal "$work/j.db"; wait $pid; ra=$?
t "the killed one, restarted, completes" "((ra == 0))"
t "12 captures, none twice" "[[ \$(stat .captures.created) == 12 ]]"
t "no limit violated" "[[ \$(stat .violations.total) == 0 ]]"

# 3. control: without a journal the two break the limits
curl -sf -X POST "$admin/reset" > /dev/null
rm -rf "$work/out"
start cron3 10 --no-journal; a=$pid
start playbook3 10 --no-journal; b=$pid
wait $a; wait $b
t "without a journal, the same two processes break the limits ($(stat .violations.total) violations)" \
  "(( \$(stat .violations.total) > 0 ))"
if ((fail)); then # what the processes said
  for f in "$work"/*.log; do echo "# --- $(basename "$f")"; grep -v '^  ' "$f" | tail -15 | sed 's/^/# /'; done
fi
exit $fail
