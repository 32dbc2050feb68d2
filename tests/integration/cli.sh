#!/usr/bin/env bash
# The command line: help, version, usage errors (exit 2), script failures (exit 1), arguments,
# -e chunks, and signals (a task waiting in task.signal() shuts down cleanly; otherwise every
# task is canceled).
set -u
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
P=$PCAPRUN
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$($P --help); t "--help exits 0" "[ $? = 0 ]"
t "--help documents the options" "grep -q -- '--time-scale' <<<\"\$out\" && grep -q CLOUDFLARE_API_TOKEN <<<\"\$out\" && grep -q 'Exit status' <<<\"\$out\""
t "--version" "$P --version | grep -q '^pcaprun [0-9]'"
$P >/dev/null 2>"$tmp/err"; t "no script: exit 2" "[ $? = 2 ] && grep -q 'missing SCRIPT' $tmp/err"
$P --bogus x.lua 2>"$tmp/err"; t "unknown option: exit 2" "[ $? = 2 ] && grep -q 'unknown option --bogus' $tmp/err"
$P --bogus 2>"$tmp/err"; t "unknown option last: named unknown" "[ $? = 2 ] && grep -q 'unknown option --bogus' $tmp/err"
$P --journal 2>"$tmp/err"; t "option without its value: exit 2" "[ $? = 2 ] && grep -q 'option --journal needs a value' $tmp/err"
t "--option=value" "[ \"\$($P --log-level=warn --time-scale=2 -e 'print(require(\"pcaprun.task\").now() > 0)')\" = true ]"
$P --time-scale=zero x.lua 2>"$tmp/err"; t "--option=bad value: exit 2, names the option" "[ $? = 2 ] && grep -q -- '--time-scale' $tmp/err"
$P emulator --bogus 2>"$tmp/err"; t "emulator: unknown option" "[ $? = 2 ] && grep -q 'unknown option --bogus' $tmp/err"
$P --time-scale zero x.lua 2>"$tmp/err"; t "bad value: exit 2, names the option" "[ $? = 2 ] && grep -q -- '--time-scale' $tmp/err"
$P "$tmp/nope.lua" 2>"$tmp/err"; t "missing script file: exit 2" "[ $? = 2 ] && grep -q 'nope.lua' $tmp/err"
printf 'local x = \n' >"$tmp/syntax.lua"
$P "$tmp/syntax.lua" 2>"$tmp/err"; t "syntax error: exit 1 with the line" "[ $? = 1 ] && grep -q 'syntax.lua:' $tmp/err"
printf 'error("bad thing")\n' >"$tmp/fail.lua"
$P "$tmp/fail.lua" 2>"$tmp/err"; t "a failing script: exit 1 with a traceback" "[ $? = 1 ] && grep -q 'bad thing' $tmp/err && grep -q 'stack traceback' $tmp/err"
$P -e 'error(setmetatable({}, { __tostring = function() error("x") end }))' 2>"$tmp/err"
t "an error value whose __tostring raises: exit 1, reported" "[ $? = 1 ] && grep -q 'error object is a table value' $tmp/err"
printf 'local task = require "pcaprun.task"\ntask.spawn(function() error("lost") end)\n' >"$tmp/unjoined.lua"
$P "$tmp/unjoined.lua" 2>"$tmp/err"; t "a task failing unjoined: exit 1 and reported" "[ $? = 1 ] && grep -q 'never joined' $tmp/err && grep -q lost $tmp/err"
printf 'local task = require "pcaprun.task"\nlocal t = task.spawn(function() error("handled") end)\nassert(not task.join(t))\n' >"$tmp/joined.lua"
$P -q "$tmp/joined.lua" 2>"$tmp/err"; t "a failed task that was joined: exit 0" "[ $? = 0 ]"
printf 'require("pcaprun.args").parse(arg, { n = { type = "number" } })\n' >"$tmp/opts.lua"
$P "$tmp/opts.lua" --n many 2>"$tmp/err"
t "a script's bad option (pcaprun.args): exit 2, the message, no traceback" "[ $? = 2 ] && grep -q 'option --n: expected a number' $tmp/err && ! grep -q traceback $tmp/err"
for s in multi_colo_campaign incident_playbook register_bucket; do
  env -u PCAPRUN_BUCKET $P "$PCAPRUN_SRC/scripts/$s.lua" 2>"$tmp/err"
  t "$s outside --emulate without a bucket: exit 2, asks for one" \
    "[ $? = 2 ] && grep -q 'option --bucket is required outside --emulate (or \$PCAPRUN_BUCKET)' $tmp/err"
done
printf 'print(select("#", ...), ..., arg[0], arg[2])\n' >"$tmp/args.lua"
t "script arguments in ... and arg" "[ \"\$($P $tmp/args.lua a b)\" = \"2	a	$tmp/args.lua	b\" ]"
t "-e runs a chunk with arguments" "[ \"\$($P -e 'print(...)' x y)\" = 'x	y' ]"
$P -e 'local t = require("pcaprun.task"); local a = t.spawn(function() t.join(t.current()) end); assert(t.join(a))' 2>"$tmp/err"
t "misuse inside a task raises an error that reaches the joiner" "[ $? = 1 ] && grep -q 'cannot wait for itself' $tmp/err"
$P -e 'local t = require("pcaprun.task"); local a, b; a = t.spawn(function() t.join(b) end); b = t.spawn(function() t.join(a) end); t.join(a)' 2>"$tmp/err"
t "a join cycle is a reported deadlock, not a hang" "[ $? = 1 ] && grep -q deadlock $tmp/err"

$P -e 'local t = require("pcaprun.task"); t.spawn(function() t.sleep(100) end); t.sleep(0.01); os.exit(3)' 2>"$tmp/err"
t "os.exit(3) ends the run cleanly with status 3" "[ $? = 3 ] && ! grep -q failed $tmp/err"

$P --max-memory 8 -e 'local t = {} for i = 1, 1e7 do t[i] = ("x"):rep(100) .. i end' 2>"$tmp/err"
t "--max-memory caps the Lua heap with a clear error" "[ $? = 1 ] && grep -q 'not enough memory' $tmp/err"

# JSON logs are one object per line
$P --log-format json -e 'require("pcaprun.log").info("hello", {n = 1})' 2>"$tmp/log"
t "--log-format json" "grep -q '\"msg\":\"hello\"' $tmp/log && grep -q '\"n\":\"1\"' $tmp/log"

# signals
printf 'local task = require "pcaprun.task"\nprint("ready"); io.stdout:flush()\nprint(task.signal())\nprint("clean")\n' >"$tmp/sig.lua"
$P "$tmp/sig.lua" >"$tmp/sig.out" 2>&1 & pid=$!
for _ in $(seq 50); do grep -q ready "$tmp/sig.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid; wait $pid; code=$?
t "task.signal() receives SIGTERM and the script ends cleanly" "[ $code = 0 ] && grep -q SIGTERM $tmp/sig.out && grep -q clean $tmp/sig.out"
printf 'local task = require "pcaprun.task"\nprint("ready"); io.stdout:flush()\ntask.sleep(60)\n' >"$tmp/nosig.lua"
$P "$tmp/nosig.lua" >"$tmp/nosig.out" 2>&1 & pid=$!
for _ in $(seq 50); do grep -q ready "$tmp/nosig.out" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid; wait $pid; code=$?
t "SIGINT with no handler cancels every task and exits 130" "[ $code = 130 ]"
$P -e 'print("spinning"); io.stdout:flush(); while true do end' >"$tmp/spin.out" 2>&1 & pid=$!
for _ in $(seq 50); do grep -q spinning "$tmp/spin.out" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid; wait $pid; code=$?
t "Ctrl-C interrupts Lua code that never waits" "[ $code = 130 ] && grep -q 'interrupted by SIGINT' $tmp/spin.out"
exit $fail
