#!/usr/bin/env bash
# The emulator under hostile load (issue 11, item 5), with tests/bench/emu_load.c: its memory and
# requests per second before and after 40,000 distinct credentials, and how many ordinary
# requests it answers while 1,100 slow connections (half a request, then nothing) stay open.
#   tests/bench/emu_load.sh [BUILD_DIR]     prints one JSON object
#   EMU_LOAD_OUT=DIR                        also writes it to DIR/emu_load.json (make bench)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
load=$build/tests/bench/emu_load
work=$(mktemp -d)
PCAPRUN=$build/pcaprun
source "$src/tests/integration/lib/emulator.sh"
trap 'stop_emulator; rm -rf "$work"' EXIT
start_emulator "$work"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$EMU_PID/status"; }
rss_start=$(rss)
rate_before=$("$load" "$EMU_URL" rate 3000)
tokens=$("$load" "$EMU_URL" tokens 40000)
rss_tokens=$(rss)
rate_after=$("$load" "$EMU_URL" rate 3000)
slow=$("$load" "$EMU_URL" slow 1100 20)
json="{\"rss_start_kb\":$rss_start,\"rss_after_tokens_kb\":$rss_tokens,\"rate_before\":$rate_before,"
json+="\"tokens\":$tokens,\"rate_after\":$rate_after,\"slow\":$slow}"
echo "$json"
if [[ -n "${EMU_LOAD_OUT:-}" ]]; then echo "$json" > "$EMU_LOAD_OUT/emu_load.json"; fi
