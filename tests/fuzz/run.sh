#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_<name>.c) with clang in build-fuzz and runs each
# for FUZZ_SECONDS on a scratch copy of its seed corpus tests/fuzz/corpus/<name>/, so the
# repository stays clean; new inputs stay in build-fuzz/corpus/<name>/, crash inputs go to
# build-fuzz/artifacts/<name>/, full logs to build-fuzz/logs/<name>.log.
#
#   tests/fuzz/run.sh [name...]      default: every target
#   FUZZ_SECONDS=60   time per target
#   FUZZ_JOBS=N       targets run at once (default: the number of CPUs)
#   FUZZ_BUILD=dir    build directory (default build-fuzz)
#   FUZZ_CC=clang     the compiler (a generic CC from the environment is not used: it must be clang)
#
# Prints one line per target (executions, coverage: libFuzzer's "cov:" edges, corpus size, result)
# and exits non-zero if any target
# crashed, took over 10 s on one input, or failed to build.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=tests/fuzz
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-$(nproc)}

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in "$SRC"/fuzz_*.c; do
    n=${f##*/fuzz_}
    names+=("${n%.c}")
  done
fi

CC=${FUZZ_CC:-clang}
case "$("$CC" --version 2>/dev/null | head -n1)" in
  *clang*) ;;
  *) echo "run.sh: fuzzing needs clang, FUZZ_CC=$CC is not" >&2; exit 2 ;;
esac
CC=$CC cmake -S . -B "$BUILD" -DPCAPRUN_FUZZ=ON -DPCAPRUN_WERROR=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target "${names[@]/#/fuzz_}" >"$BUILD/build.log" 2>&1 || {
  tail -n 30 "$BUILD/build.log" >&2
  echo "run.sh: build failed (full log: $BUILD/build.log)" >&2
  exit 1
}

run_one() {
  local name=$1 corpus=$BUILD/corpus/$1 artifacts=$BUILD/artifacts/$1/ log=$BUILD/logs/$1.log
  local args=()
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts" "$BUILD/logs"
  if [ -d "$SRC/corpus/$name" ]; then cp -R "$SRC/corpus/$name/." "$corpus/"; fi
  if [ -f "$SRC/$name.dict" ]; then args+=("-dict=$SRC/$name.dict"); fi
  local rc=0
  "$BUILD/tests/fuzz/fuzz_$name" "${args[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1 || rc=$?
  local execs rate result files cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  files=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc): $(find "$artifacts" -type f | head -n1), see $log"
  fi
  printf '%-12s %ss  execs %-10s (%s/s)  cov %-6s corpus %-5s files  %s\n' \
    "$name" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$files" "$result" >"$BUILD/logs/$name.summary"
}

# Up to JOBS targets at once; the summaries print in order once all have finished.
for name in "${names[@]}"; do rm -f "$BUILD/logs/$name.summary"; done
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_one "$name" &
done
wait
failed=0
for name in "${names[@]}"; do
  summary=$BUILD/logs/$name.summary
  if [ -f "$summary" ]; then cat "$summary"; else echo "$name: did not run, see $BUILD/logs/$name.log"; fi
  grep -qs ' ok$' "$summary" || failed=1
done
exit "$failed"
