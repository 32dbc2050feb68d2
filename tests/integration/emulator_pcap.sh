#!/usr/bin/env bash
# ctest-labels: emu
# Every pcap the emulator serves or delivers is read by tshark without error and capinfos -t -M
# says "pcap": simple downloads over a range of filters and link types, full-capture bucket files.
set -euo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
start_emulator "$work" --time-scale 0.0001 --bucket-dir "$work/buckets" \
  --config '{"sample_limit":false,"full_limit":false,"auto_validate_buckets":true}'
acct=0123456789abcdef0123456789abcdef
auth="Authorization: Bearer pcap-test"
fails=0 passes=0 files=()

create() { # create BODY -> id
  curl -sf -H "$auth" -H 'Content-Type: application/json' -d "$1" "$EMU_URL/accounts/$acct/pcaps" |
    sed -n 's/.*"result":{"id":"\([0-9a-f]\{32\}\)".*/\1/p'
}
status() { curl -sf -H "$auth" "$EMU_URL/accounts/$acct/pcaps/$1" | sed -n 's/.*"status":"\([a-z_]*\)".*/\1/p'; }
wait_success() {
  for _ in $(seq 1 500); do [[ $(status "$1") == success ]] && return 0; sleep 0.01; done
  echo "capture $1 never finished" >&2; return 1
}
check_pcap() { # check_pcap FILE
  local f=$1 out
  if ! out=$(tshark -r "$f" 2>&1 > /dev/null) || [[ -n $out && $out != *"Running as user"* ]]; then
    echo "FAIL: tshark -r $f: $out" >&2; fails=$((fails + 1)); return
  fi
  if ! capinfos -t -M "$f" | grep -Eq 'File type:[[:space:]]+pcap$'; then
    echo "FAIL: capinfos -t -M $f does not say pcap" >&2; fails=$((fails + 1)); return
  fi
  passes=$((passes + 1))
}

simple='"system":"magic-transit","type":"simple","time_limit":30,"packet_limit":300'
filters=('{}' '{"protocol":6,"destination_port":443}' '{"protocol":17,"source_port":53}'
         '{"protocol":1}' '{"protocol":47}' '{"destination_address":"2001:db8::7","protocol":58}'
         '{"source_address":"10.1.0.0/16","destination_address":"192.0.2.9"}'
         '{"source_address":"2001:db8::1","destination_port":8080}' '{"protocol":1,"source_port":1}')
for f in "${filters[@]}"; do
  id=$(create "{$simple,\"filter_v1\":$f}")
  wait_success "$id"
  curl -sf -H "$auth" -o "$work/$id.pcap" "$EMU_URL/accounts/$acct/pcaps/$id/download"
  check_pcap "$work/$id.pcap"
done
# raw IP link type, and the bench knob
curl -sf -X POST -d '{"link_type":101,"simple_bytes":2000000}' "$EMU_ADMIN/config" > /dev/null
id=$(create "{$simple}")
wait_success "$id"
curl -sf -H "$auth" -o "$work/raw.pcap" "$EMU_URL/accounts/$acct/pcaps/$id/download"
check_pcap "$work/raw.pcap"
capinfos -E "$work/raw.pcap" | grep -q 'Raw IP' || { echo "FAIL: raw link type" >&2; fails=$((fails + 1)); }
curl -sf -X POST -d '{"link_type":1,"simple_bytes":0}' "$EMU_ADMIN/config" > /dev/null

# full captures delivered to the bucket directory
for dest in s3://demo/pcaps?region=us-east-1 gs://other/a/b r2://r2b?account-id=x; do
  id=$(create "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":20,\"packet_limit\":200,\"colo_name\":\"ORD\",\"destination_conf\":\"$dest\",\"filter_v1\":{\"protocol\":6}}")
  wait_success "$id"
  files+=("$(find "$work/buckets" -name "pcap_$id.pcap")")
done
for f in "${files[@]}"; do check_pcap "$f"; done
[[ -f "$work/buckets/demo/pcaps/${files[0]##*/}" ]] || { echo "FAIL: s3 path mapping" >&2; fails=$((fails + 1)); }

echo "emulator_pcap: $passes passed, $fails failed"
[[ $fails == 0 ]]
