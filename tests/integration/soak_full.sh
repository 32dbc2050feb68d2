#!/usr/bin/env bash
# ctest-labels: soak
# ctest-timeout: 660
# The fault soak, full: 1,000 captures (lib/soak.sh, tests/lua/soak.lua). Not in `make test`;
# `make soak` and CI run it.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/soak.sh"
run_soak 1000 600
