#!/usr/bin/env bash
# Secrets never leak: run a script that does everything (including failing calls, errors, debug
# and JSON logs) with a token, then with an email + key, against a strict emulator, and look for
# the secrets in everything pcaprun printed or wrote.
set -u
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
tmp=$(mktemp -d)
cleanup() { kill "$emu" 2>/dev/null; wait "$emu" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

TOKEN="tok-$RANDOM-Sup3rS3cret-$RANDOM"
KEY="key-$RANDOM-Gl0balK3y-$RANDOM"
R2SECRET="r2-$RANDOM-BucketS3cret"
PCAPRUN_EMULATOR_TOKEN=$TOKEN $PCAPRUN emulator --time-scale 0.01 --config '{"auto_validate_buckets":true}' \
  >"$tmp/emu.out" 2>"$tmp/emu.err" &
emu=$!
for _ in $(seq 50); do [ -s "$tmp/emu.out" ] && break; sleep 0.1; done
URL=$(head -1 "$tmp/emu.out")
t "the emulator started" "[ -n \"$URL\" ]"

cat >"$tmp/all.lua" <<LUA
local pcap = require "pcaprun.pcap"
local log = require "pcaprun.log"
local c = pcap.default()
print(c, c.token, c.key)
local cap = assert(pcap.create{ type = "simple", time_limit = 2, packet_limit = 10 })
assert(cap:wait())
assert(cap:download("$tmp/x.pcap"))
print(pcap.list()[1])
local bad = pcap.client{ token = "wrong-token" }
print(bad:list())
print(pcap.create{ type = "full", time_limit = 0, colo_name = "ORD",
                   destination_conf = "r2://b?account-id=1&access-key-id=K&secret-access-key=$R2SECRET" })
print(pcap.get(("0"):rep(32)))
for k, v in pairs(pcap) do print(k, v) end
log.info("done", { client = tostring(c) })
error("deliberate failure at the end")
LUA
export CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef CLOUDFLARE_BASE_URL=$URL
for fmt in text json; do
  CLOUDFLARE_API_TOKEN=$TOKEN $PCAPRUN --log-level debug --log-format $fmt --time-scale 0.01 "$tmp/all.lua" \
    >"$tmp/out.$fmt" 2>&1
  t "the token run reached its end ($fmt logs)" "grep -q 'deliberate failure' $tmp/out.$fmt && grep -q 'capture ' $tmp/out.$fmt"
  t "a wrong token's error is shown ($fmt)" "grep -q 10000 $tmp/out.$fmt"
done
kill "$emu"; wait "$emu" 2>/dev/null
PCAPRUN_EMULATOR_EMAIL=ops@example.com PCAPRUN_EMULATOR_KEY=$KEY $PCAPRUN emulator --time-scale 0.01 \
  --config '{"auto_validate_buckets":true}' >"$tmp/emu2.out" 2>>"$tmp/emu.err" &
emu=$!
for _ in $(seq 50); do [ -s "$tmp/emu2.out" ] && break; sleep 0.1; done
export CLOUDFLARE_BASE_URL=$(head -1 "$tmp/emu2.out")
CLOUDFLARE_EMAIL=ops@example.com CLOUDFLARE_API_KEY=$KEY $PCAPRUN --log-level debug --time-scale 0.01 \
  "$tmp/all.lua" >"$tmp/out.key" 2>&1
t "the email + key run reached its end" "grep -q 'deliberate failure' $tmp/out.key && grep -q 'capture ' $tmp/out.key"
K=$KEY CLOUDFLARE_API_TOKEN=$TOKEN $PCAPRUN -e \
  "assert(require('pcaprun.pcap').client{ email = 'ops@example.com', key = os.getenv('K') }:list())" >"$tmp/out.explicit" 2>&1
t "explicit email + key win over the environment's token" "[ $? = 0 ]"
for s in "$TOKEN" "$KEY" "$R2SECRET"; do
  t "no output or file holds the secret ${s%%-*}" "! grep -rqF --exclude=all.lua -- '$s' $tmp"
done
exit $fail
