#!/usr/bin/env bash
# ctest-labels: objstore
# ctest-timeout: 300
# The object-store client against an S3-compatible server whose SigV4 check is the AWS SDK's own
# signer (tests/s3/s3_server.mjs, @smithy/signature-v4 pinned in tests/s3/package-lock.json):
# get, range resume after a cut, list with pagination (2500 keys), missing object, 5xx then
# success, wrong region, wrong secret, unknown key id, session token. Every request pcaprun sends
# must verify, except the ones signed with the wrong secret or an unknown key on purpose.
set -u
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
S3DIR="$PCAPRUN_SRC/tests/s3"
ensure_node_modules "$S3DIR" @smithy/signature-v4 @aws-crypto/sha256-js || { echo "npm ci failed"; exit 1; }

# start_s3 NAME [options]: runs the server, sets NAME_URL
start_s3() {
  local name=$1; shift
  node "$S3DIR/s3_server.mjs" --root "$tmp/root" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$name.out" ] && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/$name.out")
  printf -v "${name}_URL" 'http://127.0.0.1:%s' "$port"
}

mkdir -p "$tmp/root/pcaps/caps" "$tmp/root/eu-pcaps" "$tmp/out"
# a pcap of 20000 packets, and one of 3
$PCAPRUN -e '
  local function write(path, n)
    local f = assert(io.open(path, "wb"))
    f:write(string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i = 1, n do
      local data = string.rep(string.char(i % 256), 60 + i % 100)
      f:write(string.pack("<I4I4I4I4", 1700000000 + i // 1000, (i % 1000) * 1000, #data, #data), data)
    end
    f:close()
  end
  write(arg[1], 20000); write(arg[2], 3)' "$tmp/root/pcaps/caps/big.pcap" "$tmp/root/pcaps/caps/small.pcap"
cp "$tmp/root/pcaps/caps/small.pcap" "$tmp/root/eu-pcaps/small.pcap"

KEY_ID=AKIDPCAPRUN$RANDOM
SECRET="Se/cr+et=$RANDOM:with:colons"
TOKEN="FwoG+session/token=$RANDOM"
start_s3 A --key-id "$KEY_ID" --secret "$SECRET" --bucket-region eu-pcaps=eu-west-1 --many many=2500
start_s3 B --key-id "$KEY_ID" --secret "$SECRET" --token "$TOKEN"
t "the servers started" "[ '$A_URL' != 'http://127.0.0.1:' ] && [ '$B_URL' != 'http://127.0.0.1:' ]"

cat >"$tmp/credentials" <<INI
[session]
aws_access_key_id = $KEY_ID
aws_secret_access_key = $SECRET
aws_session_token = $TOKEN
INI
AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL=$A_URL S3B=$B_URL OUT="$tmp/out" \
  AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" AWS_CONFIG_FILE=/dev/null \
  BIG_BYTES=$(stat -c %s "$tmp/root/pcaps/caps/big.pcap") \
  $PCAPRUN --no-journal --log-level debug "$PCAPRUN_SRC/tests/integration/lib/objstore_sigv4.lua" >"$tmp/run.out" 2>&1
rc=$?
grep -E "^(ok|not ok) -" "$tmp/run.out"
t "the script ran every step" "[ $rc = 0 ] && grep -q '^done' $tmp/run.out"
[ $rc = 0 ] || grep -v "^ok -" "$tmp/run.out" | tail -20
t "the fetched files equal the objects" "cmp -s $tmp/out/big.pcap $tmp/root/pcaps/caps/big.pcap && cmp -s $tmp/out/resumed.pcap $tmp/root/pcaps/caps/big.pcap"
curl -s "$A_URL/__admin/stats" >"$tmp/a.json"
curl -s "$B_URL/__admin/stats" >"$tmp/b.json"
# every request verified, except the wrong-secret and unknown-key ones on A and the token-less one on B
t "server A: every request verified but the two signed wrong on purpose" \
  "node -e 'const s=require(\"$tmp/a.json\"); const bad=s.log.filter(l=>!l.verified); process.exit(s.requests>10 && bad.length===2 && s.verified===s.requests-2 ? 0 : 1)'"
t "server B: every request verified but the one without a token" \
  "node -e 'const s=require(\"$tmp/b.json\"); process.exit(s.requests===2 && s.verified===1 ? 0 : 1)'"
t "the list's continuation tokens went out strictly encoded (+ / =)" "grep -q 'continuation-token=[A-Za-z0-9_-]*.%2B%2F%3D' $tmp/a.json"
t "no secret or token in pcaprun's output" "! grep -qF -e '$SECRET' -e '$TOKEN' $tmp/run.out"
[ $fail = 0 ] || { echo "--- server A log"; head -c 3000 "$tmp/a.json"; echo; cat "$tmp/A.err"; }
exit $fail
