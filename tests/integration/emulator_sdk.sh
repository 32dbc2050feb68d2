#!/usr/bin/env bash
# Cloudflare's official TypeScript SDK (npm "cloudflare", pinned in tests/sdk/package-lock.json)
# against `pcaprun emulator`, unchanged, through baseURL.
# ctest-labels: emu;sdk
# ctest-timeout: 300
set -euo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
here="$PCAPRUN_SRC/tests/sdk"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"

ensure_node_modules "$here"
work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
start_emulator "$work" --time-scale 0.01 --bucket-dir "$work/buckets" --seed 3

PCAPRUN_EMULATOR_URL="$EMU_URL" PCAPRUN_EMULATOR_BUCKETS="$work/buckets" \
  PCAPRUN_PCAP_OUT="$work/sdk.pcap" node "$here/sdk_flow.mjs"
tshark -r "$work/sdk.pcap" > /dev/null
echo "emulator_sdk: ok"
