#!/usr/bin/env bash
# ctest-labels: emu
# `pcaprun emulator` as a process: --help, usage errors (exit 2), the URL as the first stdout
# line, credentials from the environment (never echoed), SIGTERM -> exit 0, temp dirs removed;
# off loopback only with --allow-remote, and then its admin endpoints need the admin token.
set -euo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
fails=0 passes=0
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name" >&2; fails=$((fails + 1)); fi
}

help=$("$PCAPRUN" emulator --help)
for word in --listen --time-scale --seed --bucket-dir --token --email --key --fail-rate --config \
            --help --allow-remote PCAPRUN_EMULATOR_TOKEN PCAPRUN_EMULATOR_EMAIL PCAPRUN_EMULATOR_KEY \
            PCAPRUN_EMULATOR_ADMIN_TOKEN X-Pcaprun-Admin-Token; do
  check "help mentions $word" grep -q -- "$word" <<< "$help"
done

usage_exit() { # usage_exit ARGS...: exits 2 with a message on stderr
  local rc=0 err
  err=$("$PCAPRUN" emulator "$@" 2>&1 > /dev/null) || rc=$?
  [[ $rc == 2 && $err == *"pcaprun emulator:"* ]] || { echo "  '$*' -> $rc: $err" >&2; return 1; }
}
check "unknown option" usage_exit --bogus
check "missing value" usage_exit --seed
check "bad number" usage_exit --time-scale fast
check "bad config JSON" usage_exit --config '[1]'
check "unknown config key" usage_exit --config '{"nope":1}'
check "bad listen" usage_exit --listen nowhere
check "bad fail rate" usage_exit --fail-rate 3

work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
export PCAPRUN_EMULATOR_TOKEN="cli-secret-$$"
start_emulator "$work" --seed 5
check "URL on the first line" grep -Eq '^http://127\.0\.0\.1:[0-9]+/client/v4$' <<< "$EMU_URL"
acct=0123456789abcdef0123456789abcdef
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "token from the environment" \
  test "$(code -H "Authorization: Bearer $PCAPRUN_EMULATOR_TOKEN" "$EMU_URL/accounts/$acct/pcaps")" = 200
check "other tokens refused" \
  test "$(code -H "Authorization: Bearer nope" "$EMU_URL/accounts/$acct/pcaps")" = 403
check "admin needs no auth" test "$(code "$EMU_ADMIN/stats")" = 200
bucket_dir=$(sed -n 's/^pcaprun emulator: bucket dir //p' "$work/emu.err")
check "bucket dir reported on stderr" test -d "$bucket_dir"
check "stats report the bucket dir" grep -q "\"bucket_dir\": \"$bucket_dir\"" <(curl -s "$EMU_ADMIN/stats")
check "secret not in stderr" bash -c "! grep -q 'cli-secret' '$work/emu.err'"
check "secret not in admin config" bash -c "! curl -s '$EMU_ADMIN/config' | grep -q cli-secret"
kill -TERM "$EMU_PID"
rc=0; wait "$EMU_PID" || rc=$?
EMU_PID=""
check "SIGTERM exits 0" test "$rc" = 0
check "temporary bucket dir removed" test ! -e "$bucket_dir"

# SIGINT too, with an explicit listen address and a kept bucket dir
rm -f "$work/emu.out"
start_emulator "$work" --listen 127.0.0.1:0 --bucket-dir "$work/b" --token x
kill -INT "$EMU_PID"
rc=0; wait "$EMU_PID" || rc=$?
EMU_PID=""
check "SIGINT exits 0" test "$rc" = 0
check "given bucket dir kept" test -d "$work/b"

# Off loopback: refused unless asked for (issue 11, item 2), by the command and by --emulate.
refused() { # refused ARGS...: exits 2 naming the address, serves nothing
  local rc=0 out err
  out=$(timeout 10 "$@" 2> "$work/refused.err") || rc=$?
  err=$(cat "$work/refused.err")
  [[ $rc == 2 && -z $out && $err == *"not a loopback address"* && $err == *"allow"* ]] ||
    { echo "  '$*' -> $rc: $out $err" >&2; return 1; }
}
check "0.0.0.0 refused" refused "$PCAPRUN" emulator --listen 0.0.0.0:0
check "[::] refused" refused "$PCAPRUN" emulator --listen '[::]:0'
check "a LAN address refused" refused "$PCAPRUN" emulator --config '{"listen":"192.0.2.1:0"}'
check "--emulate off loopback refused" \
  refused "$PCAPRUN" --emulate --emulator-config '{"listen":"0.0.0.0:0"}' -e 'print(1)'

# --allow-remote: the real address, and an admin token made up, printed on stderr, required
rm -f "$work/emu.out"
start_emulator "$work" --listen 0.0.0.0:0 --allow-remote
check "prints the address it listens on" grep -Eq '^http://0\.0\.0\.0:[0-9]+/client/v4$' <<< "$EMU_URL"
check "warns that it is reachable" grep -q 'listening off loopback' "$work/emu.err"
admin_token=$(sed -n 's/^pcaprun emulator: admin token \([0-9a-f]*\) .*/\1/p' "$work/emu.err")
check "admin token printed" test "${#admin_token}" = 32
local_admin="http://127.0.0.1:${EMU_URL##*:}"
local_admin="${local_admin%/client/v4}/__admin"
api_url="http://127.0.0.1:${EMU_URL##*:}/accounts/$acct/pcaps"
bearer=(-H "Authorization: Bearer $PCAPRUN_EMULATOR_TOKEN")
check "admin without the token: 401" test "$(code "$local_admin/stats")" = 401
check "admin with a wrong token: 401" \
  test "$(code -H "X-Pcaprun-Admin-Token: ${admin_token/?/x}" "$local_admin/stats")" = 401
check "config cannot be replaced without it" \
  test "$(code -d '{"token":"attacker"}' "$local_admin/config")" = 401
check "the API token still works" test "$(code "${bearer[@]}" "$api_url")" = 200
check "the attacker's token does not" test "$(code -H "Authorization: Bearer attacker" "$api_url")" = 403
check "admin with the token: 200" test "$(code -H "X-Pcaprun-Admin-Token: $admin_token" "$local_admin/stats")" = 200
check "admin token not in the config" \
  bash -c "! curl -s -H 'X-Pcaprun-Admin-Token: $admin_token' '$local_admin/config' | grep -q '$admin_token'"
stop_emulator

# an admin token from the environment, also on loopback; never printed
rm -f "$work/emu.out"
PCAPRUN_EMULATOR_ADMIN_TOKEN="admin-$$" start_emulator "$work"
check "environment admin token required" test "$(code "$EMU_ADMIN/stats")" = 401
check "environment admin token accepted" test "$(code -H "X-Pcaprun-Admin-Token: admin-$$" "$EMU_ADMIN/stats")" = 200
check "environment admin token not printed" bash -c "! grep -q 'admin-$$' '$work/emu.err'"
stop_emulator

echo "emulator_cli: $passes passed, $fails failed"
[[ $fails == 0 ]]
