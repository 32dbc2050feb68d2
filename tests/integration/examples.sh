#!/usr/bin/env bash
# ctest-timeout: 200
# The example scripts, exactly as a user runs them (pcaprun --emulate --time-scale 0.01
# scripts/X.lua, no arguments, from an empty working directory): each exits 0 in under 30 s,
# the emulator saw no limit violation, every pcap left is one (capinfos -t -M says pcap, or
# nsecpcap for merged full captures), no temporary file is left, and every manifest and report is
# valid JSON. A second run of the
# campaign resumes: nothing is captured again. Then the same scripts, unchanged, against an
# endpoint the CLOUDFLARE_* variables name (a `pcaprun emulator` server on loopback).
set -u
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
tmp=$(mktemp -d); trap 'stop_emulator; rm -rf "$tmp"' EXIT

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
    capinfos -t -M "$f" | grep -Eq 'File type:[[:space:]]+(nsec)?pcap$' || { echo "# not a pcap: $f"; bad=1; }
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
target=$(sed -n 's/^target: //p' "$tmp"/incident_playbook/captures/syn-flood-response/*/summary.txt)
t "the playbook found the SYN flood's target ($target) and aimed its full captures at it" \
  "[ -n '$target' ] && grep -q '\"destination_address\": \"$target\"' \"$tmp\"/incident_playbook/captures/syn-flood-response/*/full/manifest.json"
t "the campaign's manifest summarizes each file" \
  "[ \$(grep -c '\"syn_ratio\"' \"$tmp\"/incident_playbook/captures/syn-flood-response/*/full/manifest.json) = 2 ]"
t "the recurring capture ran 3 times" "[ \$(grep -c '^run [0-9]* at .*: complete' '$tmp/recurring_capture.out') = 3 ]"

# Again, in the same directory: every target is complete already, so nothing is created.
run_example multi_colo_campaign
t "a second campaign run exits 0" "[ $code = 0 ]"
t "and creates no capture" "grep -q 'targets complete' '$tmp/multi_colo_campaign.out' && \
  ! grep -q 'capture created' '$tmp/multi_colo_campaign.err'"
t "its summary still counts packets in integers" "grep -Eq 'complete +1200 ' '$tmp/multi_colo_campaign.out'"

run_example register_bucket
t "register_bucket: exits 0" "[ $code = 0 ] && grep -q 'is validated for full captures' '$tmp/register_bucket.out'"

# An endpoint named by CLOUDFLARE_*: options from the environment, the bucket's mirror too. It
# keeps bucket ownership strict, as Cloudflare does: the campaigns register the bucket and
# answer the challenge from the mirror before their first full capture.
mkdir -p "$tmp/endpoint"
start_emulator "$tmp" --time-scale 0.01 --bucket-dir "$tmp/endpoint/buckets" --token secret-token
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=secret-token \
  CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef \
  PCAPRUN_BUCKET='s3://my-bucket/pcaps?region=us-east-1' PCAPRUN_BUCKET_DIR=$tmp/endpoint/buckets \
  PCAPRUN_COLOS=ORD,SJC PCAPRUN_OUT=$tmp/endpoint/out
for script in multi_colo_campaign incident_playbook recurring_capture; do
  extra=""; [ $script = recurring_capture ] && extra="--runs 1"
  (cd "$tmp/endpoint" && "$PCAPRUN" --time-scale 0.01 "$PCAPRUN_SRC/scripts/$script.lua" $extra) \
    >"$tmp/endpoint/$script.out" 2>&1
  t "$script against CLOUDFLARE_BASE_URL: exit 0" "[ $? = 0 ] || { cat '$tmp/endpoint/$script.out'; false; }"
done
t "the outputs went to PCAPRUN_OUT" "[ -f '$tmp/endpoint/out/edge-demo/manifest.json' ] && \
  [ -f '$tmp/endpoint/out/edge-demo/SJC/'*.pcap ] && [ -d '$tmp/endpoint/out/recurring' ]"
t "the endpoint saw no violation" \
  "curl -sf '$EMU_ADMIN/stats' | tr -d ' \n' | grep -q '\"violations\":{[^}]*\"total\":0}'"

# A bucket without a local copy: register_bucket says which challenge file to read, then takes
# its contents.
other='s3://other-bucket/p?region=us-east-1'
(cd "$tmp/endpoint" && PCAPRUN_BUCKET_DIR= "$PCAPRUN" "$PCAPRUN_SRC/scripts/register_bucket.lua" --bucket "$other") \
  >"$tmp/endpoint/register.out" 2>&1
code=$?
file=$(grep -o 'ownership-challenge-[0-9a-f]*\.txt' "$tmp/endpoint/register.out" | head -1)
t "register_bucket without the challenge: exit 1, names the challenge file" "[ $code = 1 ] && [ -n '$file' ]"
(cd "$tmp/endpoint" && "$PCAPRUN" "$PCAPRUN_SRC/scripts/register_bucket.lua" --bucket "$other" \
  --challenge "$(cat "$tmp/endpoint/buckets/other-bucket/p/$file" 2>/dev/null)") >>"$tmp/endpoint/register.out" 2>&1
t "register_bucket with the file's contents: validated" "[ $? = 0 ] || { cat '$tmp/endpoint/register.out'; false; }"
t "the token never appears in outputs" "! grep -rq secret-token '$tmp/endpoint/out' '$tmp/endpoint'/*.out"
exit $fail
