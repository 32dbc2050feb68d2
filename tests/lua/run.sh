#!/bin/sh
# Runs one Lua test: `run.sh PCAPRUN ARGS... SCRIPT`. With PCAPRUN_VALGRIND=1 (make test-valgrind)
# it runs inside valgrind memcheck, where leaks and memory errors fail the test, and every
# --time-scale is made 10 times larger: the tests assert in API time, so they still hold.
if [ -z "$PCAPRUN_VALGRIND" ]; then exec "$@"; fi
bin=$1; shift
args=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--time-scale" ]; then
    args="$args --time-scale $(awk "BEGIN { print $2 * 10 }")"; shift 2; continue
  fi
  args="$args $1"; shift
done
# shellcheck disable=SC2086
exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect "$bin" $args
