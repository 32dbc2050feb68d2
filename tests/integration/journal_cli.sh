#!/usr/bin/env bash
# ctest-labels: journal
# ctest-timeout: 180
# The journal from the command line and from scripts: --journal / --no-journal / the default
# path (none under --emulate), modes 0600, bad journals refused, pcaprun journal
# (text, --json), a rerun adopting the capture its intent made instead of creating it again, an
# intent reused for a different spec refused, no secret written, the pcaprun.journal module, and
# schedule state kept in the journal across runs.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
P=$PCAPRUN
export XDG_STATE_HOME=$work/state
start_emulator "$work" --time-scale 0.01 --config '{"auto_validate_buckets":true}' || exit 1
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=cli-secret-token CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
created() { curl -sf "${EMU_URL%/client/v4}/__admin/stats" | "$P" -e 'print(("%d"):format(require("cjson").decode(io.read("a")).captures.created))'; }

# where the journal is, and who may read it
$P --emulate -e 'assert(require("pcaprun.journal").path() == nil)'
t "--emulate: no journal unless asked" "[[ \$? == 0 && ! -e $XDG_STATE_HOME/pcaprun/journal.db ]]"
$P --no-journal -e 'assert(require("pcaprun.journal").path() == nil)'
t "--no-journal: none" "[[ \$? == 0 && ! -e $XDG_STATE_HOME/pcaprun/journal.db ]]"
$P -e 'print(1)' > /dev/null
t "a script that needs no journal makes none" "[[ ! -e $XDG_STATE_HOME/pcaprun/journal.db ]]"
out=$($P -e 'print(require("pcaprun.journal").path())')
t "default: \$XDG_STATE_HOME/pcaprun/journal.db" "[[ '$out' == '$XDG_STATE_HOME/pcaprun/journal.db' && -f '$out' ]]"
t "created owner-only (0600)" "[[ \$(stat -c %a '$out') == 600 ]]"
chmod 644 "$out"
$P -e 'require("pcaprun.journal").set("k", 1)'
t "a journal readable by others is made owner-only again" "[[ \$(stat -c %a '$out') == 600 ]]"
$P --journal /proc/nope/j.db -e 'print(1)' 2> "$work/err"
t "--journal where it cannot be made: exit 2, says why" "[[ \$? == 2 ]] && grep -q 'cannot create the journal' '$work/err'"
echo 'not a database, not at all' > "$work/junk.db"
$P --journal "$work/junk.db" -e 'print(1)' 2> "$work/err"
t "--journal on a file that is not one: exit 2" "[[ \$? == 2 ]] && grep -q 'journal' '$work/err'"

# several processes making the same new journal at once (WAL switch refused without waiting)
bad=0
for r in 1 2 3 4 5; do
  for k in 1 2 3 4 5 6; do $P --journal "$work/race$r.db" -e 'assert(require("pcaprun.journal").set("k", 1))' & done
  for k in 1 2 3 4 5 6; do wait -n || bad=$((bad + 1)); done
done
t "six processes making one new journal at once all use it (5 rounds)" "((bad == 0))"

# resume: the same intent, run again, adopts; a different spec under it is refused
J=$work/j.db
cat > "$work/one.lua" << 'EOF'
local pcap = require "pcaprun.pcap"
local spec = { type = "simple", time_limit = 5, packet_limit = tonumber(arg[2] or 100) }
local cap = assert(pcap.create(spec, { intent = "cli.one" }))
assert(cap:wait())
print(cap.id, assert(cap:download(arg[1])).packets)
EOF
$P --time-scale 0.01 --journal "$J" "$work/one.lua" "$work/one.pcap" > "$work/run1" 2> "$work/log1"
$P --time-scale 0.01 --journal "$J" "$work/one.lua" "$work/one.pcap" > "$work/run2" 2> "$work/log2"
t "a rerun gets the same capture" "[[ -s '$work/run1' && \$(cut -f1 '$work/run1') == \$(cut -f1 '$work/run2') ]]"
t "from the journal, not by creating it again" "grep -q 'resumed from the journal' '$work/log2' && [[ \$(created) == 1 ]]"
$P --time-scale 0.01 --journal "$J" "$work/one.lua" "$work/two.pcap" 50 2> "$work/err"
t "the intent with another spec: refused, nothing sent" \
  "[[ \$? == 1 ]] && grep -q 'journaled for a different capture request' '$work/err' && [[ \$(created) == 1 ]]"
t "no secret in the journal" "! grep -q cli-secret-token '$J' '$J-wal' 2> /dev/null"

# pcaprun journal PATH
id=$(cut -f1 "$work/run1")
$P journal "$J" > "$work/show"
t "pcaprun journal: the account, the intent, its capture and status, the file" \
  "grep -q 0123456789abcdef0123456789abcdef '$work/show' && grep -q 'cli.one .*$id .*success' '$work/show' && grep -q 'done .*$work/one.pcap' '$work/show'"
$P journal --json "$J" > "$work/show.json"
t "pcaprun journal --json" "$P -e 'local j = require(\"pcaprun.json\").read(...)
  local a = j.accounts[1]
  assert(j.format == 3 and a.intents[1].capture_id == \"$id\" and a.downloads[1].state == \"done\")' '$work/show.json'"
$P journal "$work/none.db" 2> "$work/err"
t "pcaprun journal on a missing file: exit 1" "[[ \$? == 1 ]] && grep -q 'none.db' '$work/err' && [[ ! -e '$work/none.db' ]]"

# a journal this user may only read (issue 11, item 6): pcaprun journal shows it; it said "is not
# a pcaprun journal" (SQLite cannot make the -shm file a WAL journal wants beside it)
ro=$work/ro
mkdir -p "$ro"
$P --journal "$ro/j.db" -e 'require("pcaprun.journal").set("kept", 42)'
if [[ $(id -u) == 0 ]]; then # root reads anything: read as nobody
  chmod 711 "$work"; chmod 755 "$ro"; chmod 644 "$ro/j.db"
  reader=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  chmod 555 "$ro"; chmod 444 "$ro/j.db"
  reader=()
fi
"${reader[@]}" $P journal "$ro/j.db" > "$work/ro.out" 2> "$work/err"
t "pcaprun journal on a read-only journal shows it" "[[ \$? == 0 ]] && grep -q 'kept = 42' '$work/ro.out'"
t "  and changes nothing beside it" "[[ ! -e '$ro/j.db-shm' && ! -e '$ro/j.db-wal' ]]"
chmod 700 "$work" "$ro"

# the module
$P --time-scale 0.01 --journal "$J" -e '
  local journal = require "pcaprun.journal"
  assert(journal.path() == arg[1])
  local i = assert(journal.intent("cli.one"))
  assert(i.type == "simple" and i.status == "success" and #i.capture_id == 32 and i.first_sent > 0)
  assert(i.downloads[1].path == arg[2] and i.downloads[1].state == "done" and i.downloads[1].packets == 100)
  local d = assert(journal.download(arg[2]))
  assert(d.capture_id == i.capture_id and d.bytes > 0)
  assert(journal.intent("cli.never") == nil and journal.download(arg[2] .. ".x") == nil)
  assert(journal.set("app/state", { n = 1, list = { "a", "b" } }))
  assert(journal.get("missing") == nil)' "$J" "$work/one.pcap"
t "journal.path, intent, download, set" "[[ \$? == 0 ]]"
$P --journal "$J" -e 'local v = require("pcaprun.journal").get("app/state")
  assert(v.n == 1 and v.list[2] == "b")
  assert(require("pcaprun.journal").set("app/state", nil))'
t "journal.get across runs; set(key, nil) removes" "[[ \$? == 0 ]] && ! $P journal '$J' | grep -q app/state"
$P --emulate -e 'local j = require "pcaprun.journal"
  local ok, err = j.set("k", 1)
  assert(j.get("k") == nil and not ok and err.code == "BAD_STATE")'
t "without a journal: get finds nothing, set fails BAD_STATE" "[[ \$? == 0 ]]"

# schedules keep their last run in the journal (no state file), and catch up from it
cat > "$work/sched.lua" << 'EOF'
local schedule = require "pcaprun.schedule"
schedule.cron("@every 1s", { name = "cli-job", catch_up = "all" }, function() end)
local s = schedule.run { runs = tonumber(arg[1]) }
print(s.jobs["cli-job"].missed, s.jobs["cli-job"].caught_up)
EOF
$P --journal "$J" "$work/sched.lua" 1 > /dev/null 2>&1
t "a schedule without a state file keeps its last run in the journal" \
  "$P journal '$J' | grep -q 'schedule/cli-job = {\"last_fire\"'"
sleep 2.2
$P --journal "$J" "$work/sched.lua" 2 > "$work/sched" 2>&1
t "the next run catches up the runs missed meanwhile, from the journal" "grep -Eq '^[23]	[23]$' '$work/sched'"

# no simple-capture limit (--sample-interval 0): nothing to share, creates go straight out
timeout 30 $P --time-scale 0.01 --sample-interval 0 --journal "$work/zero.db" "$work/one.lua" "$work/zero.pcap" > /dev/null 2>&1
t "--sample-interval 0 with a journal: the create goes out (it looped on its claim)" "[[ \$? == 0 ]]"
exit $fail
