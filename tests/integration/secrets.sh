#!/usr/bin/env bash
# Secrets never leak: run a script that does everything (including failing calls, errors, debug
# and JSON logs) with a token, then with an email + key, against a strict emulator; a campaign
# whose bucket URI carries a session token and a secret; a base URL with a password in it; and
# look for the secrets in everything pcaprun printed or wrote (journals included).
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

# A campaign's bucket URI with credentials in its query (issue 11, item 4): the manifest, the logs
# (text and JSON, debug) and the journal show it redacted.
SESS="sess-$RANDOM-S3ssionT0ken"
PLAIN="sec-$RANDOM-Pl4inS3cret"
cat >"$tmp/campaign.lua" <<LUA
local campaign = require "pcaprun.campaign"
local r = campaign.run{ name = "leak", out = "$tmp/out",
  bucket = "s3://bkt/p?region=us-east-1&session_token=$SESS&secret=$PLAIN",
  full = { colos = { "ORD" }, time_limit = 2 }, sample = { time_limit = 2, packet_limit = 10 } }
print(r.status)
LUA
for fmt in text json; do
  $PCAPRUN --emulate --journal "$tmp/campaign-$fmt.db" --time-scale 0.01 --log-level debug --log-format $fmt \
    "$tmp/campaign.lua" >"$tmp/campaign.$fmt" 2>&1
  t "the campaign completed ($fmt logs)" "grep -q '^complete' $tmp/campaign.$fmt"
  $PCAPRUN journal "$tmp/campaign-$fmt.db" >"$tmp/campaign-journal.$fmt" 2>&1
done
t "the manifest shows the bucket redacted" "grep -q 'session_token=<redacted>&secret=<redacted>' $tmp/out/leak/manifest.json"

# A user name and password in the base URL (issue 11, items 1 and 7): refused, shown nowhere
PASSWD="pw-$RANDOM-Us3rinf0"
CLOUDFLARE_BASE_URL="http://ops:$PASSWD@127.0.0.1:9/client/v4" CLOUDFLARE_API_TOKEN=$TOKEN \
  $PCAPRUN --journal "$tmp/userinfo.db" --log-level debug -e 'print(require("pcaprun.pcap").list())' \
  >"$tmp/out.userinfo" 2>&1
t "a base URL with a password is refused" "grep -q 'user name or password' $tmp/out.userinfo"
$PCAPRUN journal "$tmp/userinfo.db" >"$tmp/journal.userinfo" 2>&1
$PCAPRUN journal --json "$tmp/userinfo.db" >>"$tmp/journal.userinfo" 2>&1

for s in "$TOKEN" "$KEY" "$R2SECRET" "$SESS" "$PLAIN" "$PASSWD"; do
  t "no output or file holds the secret ${s%%-*}" "! grep -rqF --exclude=all.lua --exclude=campaign.lua -- '$s' $tmp"
done
exit $fail
