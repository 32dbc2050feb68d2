#!/usr/bin/env bash
# ctest-labels: emu;sdk
# ctest-timeout: 300
# ctest-skip-code: 77
# Every JSON body of every operation (success and error paths) validated against the OpenAPI
# document with ajv. Skipped (exit 77, shown as skipped by ctest) when the document is missing.
set -euo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
here="$PCAPRUN_SRC/tests/sdk"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"

spec="${PCAPRUN_OPENAPI:-$PCAPRUN_SRC/../shared/api/cloudflare-pcaps-openapi.current-reconstructed.json}"
if [[ ! -f "$spec" ]]; then
  echo "SKIPPED: OpenAPI document not found at $spec (set PCAPRUN_OPENAPI)"
  exit 77
fi
ensure_node_modules "$here"
work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
export PCAPRUN_EMULATOR_TOKEN="openapi-token-$$" # from the environment, not argv
start_emulator "$work" --time-scale 0.001
PCAPRUN_EMULATOR_URL="$EMU_URL" PCAPRUN_OPENAPI="$spec" node "$here/openapi_check.mjs"
