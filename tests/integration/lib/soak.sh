# The fault soak's command line, shared by soak.sh and soak_full.sh: source it, then
# `run_soak CAPTURES SECONDS`. Runs tests/lua/soak.lua against the in-process emulator with
# about a quarter of its answers faulted, at time scale 0.01 with a 2 s sample window on both
# sides. Gives up after SECONDS (a hang is a failure, reported as one) and keeps at most 200 kB
# of output (a runaway log must not flood ctest).
FAULTS='"fault_5xx":0.07,"fault_429":0.04,"fault_reset":0.04,"fault_slow":0.04,"slow_ms":30,'
FAULTS+='"fault_malformed":0.05,"fault_truncate":0.3,'
FAULTS+='"fault_create_then_500":0.04,"fault_create_then_reset":0.04'

run_soak() {
  local captures=$1 seconds=$2 rc
  timeout -k 5 "$seconds" "$PCAPRUN" --emulate --time-scale 0.01 --sample-interval 2 \
    --log-level error \
    --emulator-config "{\"sample_window\":2,\"full_pending\":0.5,\"seed\":${SOAK_SEED:-6},$FAULTS}" \
    "$PCAPRUN_SRC/tests/lua/soak.lua" "$captures" 2>&1 | head -c 200000
  rc=${PIPESTATUS[0]}
  if [[ $rc == 124 || $rc == 137 ]]; then echo "soak: no result after $seconds s (a hang)" >&2; fi
  return "$rc"
}
