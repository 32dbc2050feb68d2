#!/bin/sh
# The campaign of campaign.lua as a careful person writes it from the API docs, with curl and
# sleep: one capture at a time. Each full capture is polled (every POLL API seconds) until it
# leaves pending/running, the API's one-at-a-time rule, before the next is created; each simple
# capture is created at least a minute after the previous one (sleeping what is left of the
# minute), polled until success and downloaded with curl -o; at the end the full captures are
# polled until success. Sleeps are API seconds times the time scale F.
#   campaign_curl.sh NFULL NSIMPLE FULL_TL SIMPLE_TL DIR F LOG
# Needs CLOUDFLARE_BASE_URL, CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID. Writes LOG for
# campaign_report.lua: "clock OFFSET" (wall epoch minus emulator seconds), then "download ID T"
# and "done ID T" lines (wall epoch seconds).
set -eu
nfull=$1 nsimple=$2 full_tl=$3 simple_tl=$4 dir=$5 F=$6 log=$7
POLL=5
pcaps=$CLOUDFLARE_BASE_URL/accounts/$CLOUDFLARE_ACCOUNT_ID/pcaps
admin=${CLOUDFLARE_BASE_URL%/client/v4}/__admin
colos="ORD SJC AMS FRA LHR NRT SIN SYD GRU JNB CDG IAD"
bucket="s3://bench/full?region=us-east-1"

api() { curl -sS -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" "$@"; }
now() { date +%s.%N; }
nap() { sleep "$(awk -v s="$1" -v f="$F" 'BEGIN { print (s > 0 ? s * f : 0) }')"; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
create() {
  id=$(api -H 'Content-Type: application/json' -d "$1" "$pcaps" | json_field id)
  [ -n "$id" ] || { echo "campaign_curl.sh: create failed: $1" >&2; exit 1; }
}
# poll_while ID STATUS...: polls every POLL seconds while the capture's status is one of those.
poll_while() {
  cap=$1
  shift
  while :; do
    status=$(api "$pcaps/$cap" | json_field status)
    case $status in failed|"") echo "campaign_curl.sh: capture $cap is '$status'" >&2; exit 1 ;; esac
    waiting=no
    for s in "$@"; do if [ "$status" = "$s" ]; then waiting=yes; fi; done
    if [ $waiting = no ]; then return; fi
    nap $POLL
  done
}

mkdir -p "$dir"
emulator_now=$(curl -sS "$admin/captures" | sed -n 's/.*"now_s": *\([0-9.]*\).*/\1/p')
echo "clock $(now | awk -v e="$emulator_now" '{ printf "%.6f", $1 - e }')" > "$log"

fulls=""
i=0
while [ $i -lt "$nfull" ]; do
  i=$((i + 1))
  colo=$(echo "$colos" | cut -d' ' -f$(( (i - 1) % 12 + 1 )))
  create "{\"system\":\"magic-transit\",\"type\":\"full\",\"time_limit\":$full_tl,
           \"colo_name\":\"$colo\",\"destination_conf\":\"$bucket\"}"
  fulls="$fulls $id"
  poll_while "$id" pending running
done

i=0
while [ $i -lt "$nsimple" ]; do
  i=$((i + 1))
  if [ $i -gt 1 ]; then # what is left of the minute since the previous create was accepted
    nap "$(awk -v c="$created" -v n="$(now)" -v f="$F" 'BEGIN { print 60 - (n - c) / f }')"
  fi
  create "{\"system\":\"magic-transit\",\"type\":\"simple\",\"time_limit\":$simple_tl,\"packet_limit\":1000}"
  created=$(now)
  poll_while "$id" pending
  echo "download $id $(now)" >> "$log"
  api -o "$dir/simple_$i.pcap" "$pcaps/$id/download"
  echo "done $id $(now)" >> "$log"
done

for id in $fulls; do
  poll_while "$id" pending running conversion_pending conversion_running
  echo "done $id $(now)" >> "$log"
done
