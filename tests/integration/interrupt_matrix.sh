#!/usr/bin/env bash
# ctest-labels: journal;matrix
# ctest-timeout: 900
# The interruption matrix: at each point where a create, a stop or a download waits (queued for
# the slot, sent, applied with its answer lost, a capture running, a download streaming, a stop
# on the wire), each interruption — the task canceled, a call's timeout, SIGINT, SIGTERM, a
# second SIGINT, kill -9 then a restart, a second process with the same journal and intents —
# leaves the promises whole: no full capture left pending or running without an owner, no intent
# created twice, no file under its final name unless complete, and the manifest names every
# capture that exists (tests/integration/lib/matrix_verify.lua). Each point is reached on
# purpose, with the emulator's slow-answer and lost-answer faults (lib/matrix.lua), not by luck.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
F=0.01
work=$(mktemp -d)
trap 'stop_emulator; kill -KILL $(jobs -p) 2> /dev/null; rm -rf "$work"' EXIT
start_emulator "$work" --time-scale $F --bucket-dir "$work/buckets" --config '{"auto_validate_buckets":true,"seed":11}' ||
  exit 1
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=matrix-test CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
lib=$PCAPRUN_SRC/tests/integration/lib
fail=0 cells=0
PA=(--time-scale $F --journal "$work/j.db" --log-level warn)
P() { "$PCAPRUN" "${PA[@]}" "$@"; }
bg() { # bg OUTPUT ARGS...: pcaprun in the background (not in a subshell: signals must reach it); sets pid
  local o=$1; shift
  "$PCAPRUN" "${PA[@]}" "$lib/matrix.lua" "$work/out" "$@" > "$o" 2>> "$work/log" &
  pid=$!
}
cfg() { curl -sf -X POST -d "$1" "$EMU_ADMIN/config" > /dev/null; }
# quiet: no fault; a capture's bytes stay what they were (a resumed download continues the same file)
quiet='{"fault_slow":0,"fault_ops":"","fault_create_then_reset":0,"download_rate":0}'
calm='{"fault_slow":0,"fault_ops":"","fault_create_then_reset":0,"download_rate":0,"simple_bytes":0}'
faults_for() { # the emulator's faults that hold a run at point $1
  case $1 in
    sent) echo '{"fault_ops":"create","fault_slow":1,"slow_ms":1500}' ;;
    answered) echo '{"fault_create_then_reset":1,"fault_ops":"list","fault_slow":1,"slow_ms":1500}' ;;
    download) echo '{"simple_bytes":3000000,"download_rate":1000000}' ;;
    stop) echo '{"fault_ops":"stop","fault_slow":1,"slow_ms":1500}' ;;
    *) echo "$calm" ;;
  esac
}
fresh() { curl -sf -X POST "$EMU_ADMIN/reset" > /dev/null; cfg "$calm"; rm -rf "$work/out" "$work"/j.db*; }
wait_point() { # wait_point POINT PID: until the run reaches POINT (or dies)
  "$PCAPRUN" --time-scale $F --no-journal --log-level error "$lib/matrix.lua" "$work/out" wait "$1" "$2"
}
settle() { # until no full capture is pending or running on the emulator (a stop it was sleeping on
  # is applied), or a while has passed
  for _ in $(seq 200); do
    curl -sf "$EMU_ADMIN/captures" | "$PCAPRUN" -e 'for _, c in ipairs(require("cjson").decode(io.read("a")).captures) do
      if c.type == "full" and (c.status == "pending" or c.status == "running") then os.exit(1) end end' && return
    sleep 0.05
  done
}
verify() { # verify CELL WHEN
  curl -sf "$EMU_ADMIN/stats" > "$work/stats.json"
  curl -sf "$EMU_ADMIN/captures" > "$work/captures.json"
  if ! "$PCAPRUN" "$lib/matrix_verify.lua" "$work/stats.json" "$work/captures.json" "$work/out" "$2" > "$work/verify"; then
    echo "not ok - $1"
    sed 's/^/#   /' "$work/verify"
    tail -5 "$work/log" | sed 's/^/#   /'
    fail=1
    return 1
  fi
}
finish() { # finish CELL: the faults off (a capture's bytes stay what they were), a run to the end,
  # the final invariants
  cfg "$quiet"
  if ! P "$lib/matrix.lua" "$work/out" run > "$work/final" 2>> "$work/log"; then
    echo "not ok - $1: the run after the interruption did not complete"; tail -5 "$work/log" | sed 's/^/#   /'
    fail=1
    return
  fi
  verify "$1" final && echo "ok - $1"
}
intent_capture() { # the emulator's capture of intent $1, as "id status stop_requested", or nothing
  "$PCAPRUN" -e 'for _, c in ipairs(require("pcaprun.json").read(arg[1]).captures) do
    if c.intent == arg[2] then print(c.id, c.status, c.stop_requested ~= "" and "stopped" or "-") end end' \
    "$work/captures.json" "$1"
}

points="queued sent answered running download"

# the task canceled at each point (lib/matrix.lua cancels the campaign's task there)
for p in $points; do
  fresh; cells=$((cells + 1))
  cfg "$(faults_for "$p")"
  P "$lib/matrix.lua" "$work/out" cancel "$p" > "$work/run" 2> "$work/log"
  cfg "$quiet"
  grep -q "CANCELED CANCELED" "$work/run" || { echo "not ok - cancel at $p: $(cat "$work/run")"; fail=1; }
  verify "cancel at $p" interrupted && finish "cancel at $p, then a rerun"
done

# SIGINT and SIGTERM at each point: the run winds down, exits 128+N, records what exists
for sig in INT TERM; do
  for p in $points; do
    fresh; cells=$((cells + 1))
    cfg "$(faults_for "$p")"
    : > "$work/log"; bg "$work/run" run
    if ! wait_point "$p" $pid; then echo "not ok - SIG$sig at $p: never reached"; fail=1; continue; fi
    kill -$sig $pid
    wait $pid; code=$?
    cfg "$quiet"
    want=$((128 + $(kill -l $sig)))
    [[ $code == "$want" ]] || { echo "not ok - SIG$sig at $p: exit $code, want $want"; tail -5 "$work/log"; fail=1; }
    verify "SIG$sig at $p" interrupted && finish "SIG$sig at $p, then a rerun"
  done
done

# the first SIGINT says what the run waits for and how long at most
fresh; cells=$((cells + 1))
cfg "$(faults_for download)"
: > "$work/log"; bg "$work/run" run
wait_point download $pid && kill -INT $pid
wait $pid
if grep -q 'waiting_for=' "$work/log" && grep -q 'at_most=' "$work/log"; then
  echo "ok - a first SIGINT says what the run waits for, and how long at most"
else
  echo "not ok - a first SIGINT says what the run waits for"; sed 's/^/#   /' "$work/log"; fail=1
fi

# a second SIGINT while the wind-down's stop is on the wire: the process ends at once, the
# manifest says canceled; the stop that reached the emulator still stops the capture
fresh; cells=$((cells + 1))
cfg "$(faults_for stop)"
: > "$work/log"; bg "$work/run" run
wait_point running $pid && kill -INT $pid
if wait_point stop $pid; then
  kill -INT $pid
  wait $pid; code=$?
  settle
  [[ $code == 130 ]] || { echo "not ok - a second SIGINT: exit $code"; fail=1; }
  verify "a second SIGINT during the stop" interrupted && finish "a second SIGINT during the stop, then a rerun"
else
  echo "not ok - the wind-down's stop was never on the wire"; fail=1
fi

# kill -9 at each point (the stop too, after a first SIGINT), then a restart
for p in $points stop; do
  fresh; cells=$((cells + 1))
  cfg "$(faults_for "$p")"
  : > "$work/log"; bg "$work/run" run
  [[ $p == stop ]] && wait_point running $pid && kill -INT $pid
  if ! wait_point "$p" $pid; then echo "not ok - kill -9 at $p: never reached"; fail=1; continue; fi
  kill -KILL $pid
  wait $pid 2> /dev/null
  finish "kill -9 at $p, then a restart"
done

# a second process with the same journal and intents, started at each point: each capture
# once, the downloads serialised, both runs complete
for p in $points; do
  fresh; cells=$((cells + 1))
  cfg "$(faults_for "$p")"
  : > "$work/log"; bg "$work/run" run; a=$pid
  if ! wait_point "$p" $a; then echo "not ok - a second process at $p: never reached"; fail=1; continue; fi
  bg "$work/run2" run; b=$pid
  sleep 0.3
  cfg "$quiet"
  wait $a; ra=$?
  wait $b; rb=$?
  if ((ra != 0 || rb != 0)); then
    echo "not ok - a second process at $p: exits $ra and $rb"; tail -8 "$work/log" | sed 's/^/#   /'; fail=1
  elif verify "a second process at $p" final; then
    echo "ok - a second process at $p: both complete"
  fi
done

# a call's own timeout at each point where a script's call waits
for p in queued sent download stop; do
  fresh; cells=$((cells + 1))
  cfg "$(faults_for "$p")"
  P "$lib/matrix.lua" "$work/out" timeout "$p" > "$work/run" 2> "$work/log"; code=$?
  cfg "$quiet"
  settle
  verify "timeout at $p" interrupted || continue
  got=$(intent_capture m.timeout.1)
  case $p in
    queued) ok=$([[ -z $got ]] && grep -q "TIMEOUT TIMEOUT" "$work/run" && echo 1) ;;
    sent) ok=$([[ $got == *stopped* ]] && grep -q "TIMEOUT TIMEOUT created" "$work/run" && echo 1) ;;
    download) ok=$([[ $code == 0 ]] && grep -q "TIMEOUT TIMEOUT" "$work/run" && echo 1) ;;
    stop) ok=$([[ $got == *stopped* ]] && grep -q "TIMEOUT TIMEOUT" "$work/run" && echo 1) ;;
  esac
  if [[ -n $ok ]]; then echo "ok - timeout at $p"; else
    echo "not ok - timeout at $p: exit $code, $(cat "$work/run"), capture: $got"; tail -5 "$work/log" | sed 's/^/#   /'; fail=1
  fi
done

echo "# $cells cells"
exit $fail
