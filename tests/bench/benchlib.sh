# Shell helpers of the benchmarks (run.sh, pcap.sh); they need $work, a scratch directory.

# timed FILE COMMAND...: appends "wall_seconds peak_rss_kb" of one run of COMMAND to FILE.
timed() {
  local file=$1 t0 t1
  shift
  t0=$(date +%s%N)
  /usr/bin/time -f %M -o "$work/rss" "$@" > /dev/null
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 ))e-6 $(cat "$work/rss")" >> "$file"
}
note() { printf '%s\n' "$*" >&2; }
# in_turn REP A B: runs the commands A and B (functions), A first when REP is odd, B first when
# it is even, so that neither always goes first.
in_turn() { if (($1 % 2)); then $2; $3; else $3; $2; fi; }
