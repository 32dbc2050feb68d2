#!/usr/bin/env bash
# ctest-labels: emu;nosan
# ctest-timeout: 180
# ctest-skip-code: 77
# The emulator's state stays bounded under hostile load (issue 11, item 5): 40,000 distinct
# credentials cost it a few MB, not one record of ~9 KB each kept forever; with 1,100 slow
# connections open (half a request, then nothing) it still answers ordinary requests. Rates are
# in the benchmark (tests/bench/emu_load.sh). nosan: ASan's quarantine keeps freed memory.
set -euo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}" "${PCAPRUN_BUILD:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
load=$PCAPRUN_BUILD/tests/bench/emu_load
if (( $(ulimit -Hn) < 1300 )); then echo "skip: fewer than 1,300 file descriptors allowed"; exit 77; fi
work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
fails=0
check() { # check NAME COMMAND...
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<< "$2"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$EMU_PID/status"; }

start_emulator "$work"
before=$(rss)
out=$("$load" "$EMU_URL" tokens 40000)
after=$(rss)
echo "40,000 credentials: RSS $before kB -> $after kB; $out"
check "every request answered" test "$(field ok "$out")" = 40000
check "RSS grew by less than 32 MB (one record per credential: ~350 MB)" \
  test $((after - before)) -lt 32768

out=$("$load" "$EMU_URL" slow 1100 20)
echo "slow connections: $out"
check "1,100 slow connections stayed open" test "$(field still_open "$out")" = 1100
check "all 20 ordinary requests answered meanwhile" test "$(field served "$out")" = 20
check "still serving afterwards" test "$(curl -s -o /dev/null -w '%{http_code}' "$EMU_ADMIN/stats")" = 200
[[ $fails == 0 ]]
