-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- pcaprun.playbook: order, results, conditions, timeouts, parallel branches, failure reports,
-- notifications (a Lua callback, and real POSTs counted by the emulator), cancellation.
local emulator = require "pcaprun.emulator"
local json = require "pcaprun.json"
local perror = require "pcaprun.error"
local playbook = require "pcaprun.playbook"
local task = require "pcaprun.task"
local T = require "testlib"

local OUT = T.tmpdir()

local function statuses(report)
  local list = {}
  for _, s in ipairs(report.steps) do list[#list + 1] = s.index .. "=" .. s.status end
  return table.concat(list, " ")
end

local function sleeper(seconds, value)
  return function()
    task.sleep(seconds)
    return value
  end
end

T.case("steps run in order; results and conditions; the report", function()
  local order = {}
  local r = playbook.run {
    name = "basic", out = OUT, context = { threshold = 40 },
    steps = {
      { "measure", function() order[#order + 1] = "measure"; task.sleep(5); return 42 end },
      { "react", when = function(ctx) return ctx.results.measure > ctx.threshold end, function(ctx)
          order[#order + 1] = "react"
          return ctx.results.measure + 1
        end },
      { "never", when = function() return false end, function() order[#order + 1] = "never" end },
      { "write", function(ctx)
          order[#order + 1] = "write"
          local f = assert(io.open(ctx:path("note.txt"), "w"))
          f:write(ctx.run)
          f:close()
          return ctx.steps.never.status
        end },
    },
  }
  T.eq(table.concat(order, ","), "measure,react,write", "order; the false condition skipped its step")
  T.eq(r.status, "success", "status")
  T.eq(r.ok, true, "ok")
  T.eq(statuses(r), "1=ok 2=ok 3=skipped 4=ok", "step statuses")
  T.eq(r.steps[3].reason, "condition false", "why it was skipped")
  T.late(r.steps[1].duration, 5, "step duration (API seconds)")
  T.eq(r.failed_step, nil, "no failed step")
  T.match(r.dir, "^" .. OUT:gsub("%p", "%%%0") .. "/basic/%d+T%d+Z$", "the run's directory")
  local saved = assert(json.read(r.file))
  T.eq(saved.status, "success", "report.json status")
  T.eq(#saved.steps, 4, "report.json steps")
  T.ok(io.open(r.dir .. "/note.txt"), "ctx:path puts files in the run's directory")
  T.match(r:summary(), "^playbook basic: success in %d+ s\n", "summary headline")
  T.match(r:summary(), "3 +never +skipped", "summary row")
end)

T.case("timeout: the step is canceled and has unwound before the next step", function()
  local unwound = false
  local t0 = task.now()
  local r = playbook.run {
    name = "timeout", out = OUT,
    steps = {
      { "hang", timeout = 10, on_error = "continue", function()
          local ok, err = pcall(task.sleep, 100)
          unwound = true
          if not ok then error(err, 0) end
        end },
      { "after", function() return unwound end },
    },
  }
  T.eq(statuses(r), "1=timed_out 2=ok", "statuses")
  T.eq(r.steps[1].error.code, "TIMEOUT", "error code")
  T.match(r.steps[1].error.message, "within 10 s", "message")
  T.eq(r.steps[2].status, "ok", "the next step ran")
  T.eq(unwound, true, "the timed-out step unwound first")
  T.ok(task.now() - t0 < 50, "the timeout ended the step early")
  T.eq(r.status, "partial", "on_error = continue: the playbook goes on, and says a step failed")
  T.eq(r.ok, false, "not ok")
end)

T.case("parallel: a failed branch cancels its siblings; the report says where and why", function()
  local t0 = task.now()
  local r = playbook.run {
    name = "parallel", out = OUT,
    steps = {
      { "prepare", function() return true end },
      { "capture", parallel = {
          { "a", sleeper(30, "a") },
          { "b", function() task.sleep(10); error("b broke") end },
          { "c", sleeper(100, "c") },
        } },
      { "report", function() end },
    },
  }
  T.eq(r.status, "failed", "status")
  T.eq(statuses(r), "1=ok 2=failed 2.1=canceled 2.2=failed 2.3=canceled 3=not_run", "statuses")
  T.ok(task.now() - t0 < 25, "the failure ended the step before the other branches (30 s, 100 s) would")
  local f = r.failed_step
  T.eq(f.index, "2.2", "failed step index")
  T.eq(f.name, "b", "failed step name")
  T.eq(f.error.code, "SCRIPT_ERROR", "error code")
  T.match(f.error.message, "b broke", "error message")
  T.match(f.traceback, "playbook_test%.lua:%d+", "the traceback excerpt names the script line")
  T.match(r:summary(), "^playbook parallel: FAILED at step 2%.2 %(b%) after %d+ s\n  SCRIPT_ERROR: .*b broke",
          "summary")
end)

T.case("parallel: all branches run at once; fail_fast = false lets the others finish", function()
  local t0 = task.now()
  local r = playbook.run { name = "together", out = OUT, steps = {
    { "both", parallel = { { "x", sleeper(40, 1) }, { "y", sleeper(20, 2) } } } } }
  T.eq(r.status, "success", "status")
  T.late(task.now() - t0, 40, "elapsed: the longest branch, not the sum", 15)
  r = playbook.run { name = "no-fail-fast", out = OUT, steps = {
    { "both", fail_fast = false, parallel = {
        { "slow", sleeper(20, 1) },
        { "bad", function() return nil, perror.new { code = "CAPTURE_FAILED", message = "no packets" } end },
      } } } }
  T.eq(statuses(r), "1=failed 1.1=ok 1.2=failed", "statuses")
  T.eq(r.failed_step.index, "1.2", "failed step")
  T.eq(r.failed_step.error.code, "CAPTURE_FAILED", "a returned error value keeps its code")
  T.eq(r.failed_step.traceback, nil, "no traceback for a returned error")
end)

T.case("a condition that raises fails its step", function()
  local r = playbook.run { name = "condition", out = OUT, steps = {
    { "check", when = function(ctx) return ctx.results.missing.packets > 0 end, function() end } } }
  T.eq(statuses(r), "1=failed", "statuses")
  T.match(r.failed_step.error.message, "^condition failed: ", "message")
end)

T.case("notifications: every event, in order, to a callback and to a webhook URL", function()
  local events = {}
  local before = emulator.stats().requests.by_operation.unrouted
  local hook = emulator.url() .. "/hooks/playbook" -- the emulator answers 404 and counts it
  local r = playbook.run {
    name = "notify", out = OUT, notify = { function(ev) events[#events + 1] = ev end, hook,
                                           function() error("a broken hook") end },
    steps = {
      { "one", function() end },
      { "two", when = function() return false end, function() end },
      { "three", on_error = "continue", function() error("optional step broke") end },
      { "four", function() end },
    },
  }
  T.eq(r.status, "partial", "failing webhooks never fail the playbook (step three did, optionally)")
  local names = {}
  for i, ev in ipairs(events) do
    names[i] = ev.event .. (ev.index and (":" .. ev.index) or "")
    T.eq(ev.playbook, "notify", "event playbook")
    T.eq(ev.run, r.run, "event run id")
    T.match(ev.time, "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", "event time")
    T.eq(json.decode(json.encode(ev)).event, ev.event, "events encode as JSON")
  end
  T.eq(table.concat(names, " "), "playbook.started step.started:1 step.finished:1 step.skipped:2 "
       .. "step.started:3 step.failed:3 step.started:4 step.finished:4 playbook.finished", "events")
  T.match(events[6].error, "optional step broke", "step.failed carries the error")
  T.eq(events[9].status, "partial", "playbook.finished carries the status")
  T.eq(emulator.stats().requests.by_operation.unrouted - before, 9, "one POST per event reached the URL")
  T.eq(r.notifications.sent, 9, "sent (the callback)")
  T.eq(r.notifications.failed, 18, "failed (HTTP 404 from the emulator, and the broken callback)")
end)

T.case("a webhook failing in a way that may pass is tried again; one that refuses is not", function()
  -- a routed path of the emulator: its 5xx fault strikes before anything else is checked
  local hook = emulator.url() .. "/accounts/0123456789abcdef0123456789abcdef/pcaps"
  local f0 = emulator.stats().faults["5xx"] or 0
  emulator.configure { fault_5xx = 1 }
  local r = playbook.run { name = "retry", out = OUT, notify = hook, steps = { { "one", function() end } } }
  emulator.configure { fault_5xx = 0 }
  local tries = (emulator.stats().faults["5xx"] or 0) - f0
  T.eq(r.notifications.failed, 4, "four events failed")
  T.eq(tries, 12, "each was tried three times")
end)

T.case("canceling the playbook cancels its running step and writes the report", function()
  local unwound = false
  local runner = task.spawn(function()
    return playbook.run { name = "canceled", out = OUT, steps = {
      { "long", function()
          local ok, err = pcall(task.sleep, 100)
          unwound = true
          if not ok then error(err, 0) end
        end },
      { "later", function() end } } }
  end)
  task.sleep(5)
  task.cancel(runner)
  T.eq(task.join(runner), false, "the cancel reached the caller")
  T.eq(unwound, true, "the step unwound")
  local dirs = T.files(OUT .. "/canceled", "report%.json$")
  local saved = assert(json.read(dirs[1]))
  T.eq(saved.status, "canceled", "report status")
  T.eq(saved.steps[1].status .. " " .. saved.steps[2].status, "canceled not_run", "step statuses")
end)

T.case("declaration mistakes raise at once", function()
  local function raises(decl, pattern) T.raises(function() playbook.run(decl) end, pattern, pattern) end
  raises({ steps = { { "x", print } } }, "^[^:]*playbook_test%.lua:%d+: playbook%.run: name must be")
  raises({ name = "p", steps = {} }, "steps must be a non%-empty list")
  raises({ name = "p", steps = { { "x" } } }, "step 1 %(x%) needs a function or parallel")
  raises({ name = "p", steps = { { "x", print, parallel = { { "y", print } } } } }, "not both")
  raises({ name = "p", steps = { { "x", print, timeout = 0 } } }, "timeout must be a number")
  raises({ name = "p", steps = { { "x", print, on_error = "ignore" } } }, "on_error must be")
  raises({ name = "p", steps = { { "x", print }, { "x", print } } }, "two steps are named 'x'")
  raises({ name = "p", steps = { { "x", print, retry = 3 } } }, "unknown field 'retry'")
  raises({ name = "p", notify = "ftp://x", steps = { { "x", print } } }, "notify must be")
  raises({ name = "p", steps = { { "x", parallel = { { print } } } } }, "step 1%.1 needs a name")
end)

T.rmtree(OUT)
T.done()
