#!/usr/bin/env bash
# The pcaprun serve benchmark (in make bench; alone: make bench-serve). A `pcaprun serve` whose
# playbook sends one simple create per alert, its journal on the disk of $TMPDIR (each alert is
# synced to it before the 202), against a `pcaprun emulator` with every limit and wait off (and
# the daemon's limits off), so that the daemon itself is measured; serve_post (C, libcurl) sends:
#   SERVE_BENCH_ALERTS (1000) GET /healthz one at a time (the baseline: the daemon's HTTP with
#   nothing to record), then as many alerts one at a time (POST -> 202, POST -> its create at
#   the emulator), then as many alerts and health checks SERVE_BENCH_CONCURRENCY (16) at a time.
# serve_report.lua writes the figures to OUT_DIR/serve.json (run.sh's); alone (make bench-serve),
# its rows are printed and written to BUILD_DIR/bench_serve.json.
#   tests/bench/serve.sh [BUILD_DIR [OUT_DIR]]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
n=${SERVE_BENCH_ALERTS:-1000}
k=${SERVE_BENCH_CONCURRENCY:-16}
cmake --build "$build" --target pcaprun serve_post > /dev/null
P=$build/pcaprun
POST=$build/tests/bench/serve_post
PCAPRUN=$P
work=$(mktemp -d)
source "$src/tests/integration/lib/emulator.sh"
source "$src/tests/integration/lib/serve.sh"
trap 'stop_serve KILL || true; stop_emulator; rm -rf "$work"' EXIT
out=${2:-$work/rows}
mkdir -p "$out"
start_emulator "$work" --config '{"sample_limit":false, "full_limit":false, "rate_limit":false, "simple_duration":0}'
export XDG_STATE_HOME=$work/state CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=bench
export CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef PCAPRUN_CF_WEBHOOK_SECRET=bench-secret
start_serve "$work" "$work/serve.log" --journal "$work/journal.db" --listen 127.0.0.1:0 --queue 100000 \
  --max-running 64 --cooldown 0 --sample-interval 0 --api-budget 1000000/300 --log-level warn \
  "$src/tests/bench/serve_routes.lua"
echo "serve: $n health checks, then $n alerts one at a time, then $n of each $k at a time" >&2
"$POST" "$SERVE_URL/healthz" "$n" 1 > "$work/healthz_seq.txt"
"$POST" "$SERVE_URL/hooks/cloudflare" "$n" 1 "$PCAPRUN_CF_WEBHOOK_SECRET" 1 > "$work/alerts_seq.txt"
"$POST" "$SERVE_URL/hooks/cloudflare" "$n" "$k" "$PCAPRUN_CF_WEBHOOK_SECRET" $((n + 1)) > "$work/alerts_par.txt"
"$POST" "$SERVE_URL/healthz" "$n" "$k" > "$work/healthz_par.txt"
sleep 1 # the last creates
curl -sf "$EMU_ADMIN/captures" > "$work/captures.json"
"$P" -q "$src/tests/bench/serve_report.lua" "$work" "$work/captures.json" > "$out/serve.json"
stop_serve TERM
if [[ -z ${2:-} ]]; then lua5.4 "$src/tests/bench/report.lua" "$out" "$build/bench_serve.json" serve; fi
