#!/usr/bin/env bash
# ctest-timeout: 200
# The example scripts, exactly as a user runs them (pcaprun --emulate --time-scale 0.01
# scripts/X.lua, no arguments, from an empty working directory): each exits 0 in under 30 s,
# the emulator saw no limit violation, every pcap left is one (capinfos -t -M says pcap), no
# temporary file is left, and every manifest and report is valid JSON. A second run of the
# campaign resumes: nothing is captured again.
set -u
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run_example() { # run_example NAME [ARGS...]: runs in $tmp/NAME, output in $tmp/NAME.out
  local name=$1; shift
  mkdir -p "$tmp/$name"
  local start end
  start=$(date +%s.%N)
  (cd "$tmp/$name" && "$PCAPRUN" --emulate --time-scale 0.01 "$PCAPRUN_SRC/scripts/$name.lua" "$@") \
    >"$tmp/$name.out" 2>"$tmp/$name.err"
  code=$?
  end=$(date +%s.%N)
  secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
  echo "# $name: exit $code in $secs s; $(grep '^emulator:' "$tmp/$name.out")"
}

check_outputs() { # check_outputs NAME
  local dir=$tmp/$1 bad=0 n=0 f
  while IFS= read -r -d '' f; do
    n=$((n + 1))
    capinfos -t -M "$f" | grep -Eq 'File type:[[:space:]]+pcap$' || { echo "# not a pcap: $f"; bad=1; }
  done < <(find "$dir" -name '*.pcap' -print0)
  t "$1: pcaps left ($n), each a valid pcap" "[ $n -gt 0 ] && [ $bad = 0 ]"
  t "$1: no temporary or invalid files" "[ -z \"\$(find '$dir' -name '*.part' -o -name '*.tmp' -o -name '*.invalid')\" ]"
  while IFS= read -r -d '' f; do
    "$PCAPRUN" -e 'assert(require("pcaprun.json").read(arg[1]))' "$f" 2>/dev/null || { echo "# bad JSON: $f"; bad=1; }
  done < <(find "$dir" -name '*.json' -print0)
  t "$1: manifests, reports and state are valid JSON" "[ $bad = 0 ]"
}

for name in multi_colo_campaign recurring_capture incident_playbook; do
  run_example "$name"
  t "$name: exits 0" "[ $code = 0 ] || { cat '$tmp/$name.err'; false; }"
  t "$name: under 30 s" "awk 'BEGIN { exit !($secs < 30) }'"
  t "$name: the emulator saw no violation" "grep -q '^emulator: .* 0 limit violations$' '$tmp/$name.out'"
  check_outputs "$name"
done

t "the campaign's summary lists every target" \
  "grep -q 'campaign edge-demo: complete, 7/7 targets complete' '$tmp/multi_colo_campaign.out'"
t "the playbook's summary shows success" "grep -q '^playbook syn-flood-response: success' '$tmp/incident_playbook.out'"
t "the playbook printed its events" "grep -q '\[step.finished\] 3.1 full captures' '$tmp/incident_playbook.out'"
t "the recurring capture ran 3 times" "[ \$(grep -c '^run [0-9]* at .*: complete' '$tmp/recurring_capture.out') = 3 ]"

# Again, in the same directory: every target is complete already, so nothing is created.
run_example multi_colo_campaign
t "a second campaign run exits 0" "[ $code = 0 ]"
t "and creates no capture" "grep -q 'targets complete' '$tmp/multi_colo_campaign.out' && \
  ! grep -q 'capture created' '$tmp/multi_colo_campaign.err'"
exit $fail
