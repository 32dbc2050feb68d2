#!/usr/bin/env bash
# ctest-labels: journal
# ctest-timeout: 300
# The request budget is the user's, not the account's: Cloudflare counts 1200 requests per 5
# minutes per user, across every account and tool. One token over three accounts, in one process
# and in two processes sharing a journal, keeps one budget: the emulator (which counts per
# credential) sees no request over it. pcap.limits() names the budget by the credential's
# fingerprint, never by the token. And the control: two processes without a shared journal each
# keep their own budget, so together they break it.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
F=0.01
work=$(mktemp -d)
trap 'stop_emulator; kill -KILL $(jobs -p) 2> /dev/null; rm -rf "$work"' EXIT
start_emulator "$work" --time-scale $F --config '{"rate_limit_quota":30,"rate_limit_window":30,"rate_limit_block":30,
  "ratelimit_headers":false}' || exit 1
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=budget-secret-token
admin=$EMU_ADMIN
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
stat() { curl -sf "$admin/stats" | "$PCAPRUN" -e "print(('%d'):format(require('cjson').decode(io.read('a'))$1))"; }
cat > "$work/three.lua" << 'EOF'
-- 20 lists on each of three accounts, at once, with one token
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local tasks = {}
for a = 1, 3 do
  local client = pcap.client { account_id = ("%032x"):format(a) }
  for _ = 1, 20 do tasks[#tasks + 1] = task.spawn(function() return assert(client:list()) end) end
end
assert(task.wait_all(tasks))
local limits = pcap.client { account_id = ("%032x"):format(1) }:limits()
print(limits.api.principal, limits.api.requests)
EOF
run() { "$PCAPRUN" --time-scale $F --api-budget 30/30 "$@" "$work/three.lua"; }

run --no-journal > "$work/one.out" 2> "$work/one.err"; code=$?
t "one process, three accounts: every list succeeds" "[[ $code == 0 ]]"
t "one budget for the three: the API saw no request over it" "[[ \$(stat .violations.api_budget) == 0 ]]"
t "pcap.limits() names it by the token's fingerprint" "grep -Eq '^token:[0-9a-f]{16}	60$' '$work/one.out'"
t "never by the token" "! grep -q budget-secret-token '$work/one.out' '$work/one.err'"

curl -sf -X POST "$admin/reset" > /dev/null
run --journal "$work/j.db" > "$work/a.out" 2> "$work/a.err" & a=$!
run --journal "$work/j.db" > "$work/b.out" 2> "$work/b.err" & b=$!
wait $a; ra=$?
wait $b; rb=$?
t "two processes sharing a journal: both succeed" "[[ $ra == 0 && $rb == 0 ]]"
t "and keep one budget between them: no request over it" "[[ \$(stat .violations.api_budget) == 0 ]]"
t "with the same fingerprint" "[[ \$(cut -f1 '$work/a.out') == \$(cut -f1 '$work/b.out') ]]"
t "the journal keeps no token" "! grep -q budget-secret-token '$work/j.db' '$work/j.db-wal' 2> /dev/null"

# control: without a shared journal each process keeps the budget alone, and together they break it
curl -sf -X POST "$admin/reset" > /dev/null
run --no-journal > /dev/null 2>&1 & a=$!
run --no-journal > /dev/null 2>&1 & b=$!
wait $a; wait $b
t "control: two processes without a shared journal break it ($(stat .violations.api_budget) over)" \
  "(( \$(stat .violations.api_budget) > 0 ))"
exit $fail
