#!/usr/bin/env bash
# ctest-timeout: 150
# The fault soak, short: 100 captures against an emulator faulting a quarter of its answers
# (lib/soak.sh, tests/lua/soak.lua). The 1,000-capture run is soak_full.sh (make soak).
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/soak.sh"
run_soak 100 120
