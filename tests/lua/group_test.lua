-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- pcaprun.group: wait all / any, cancel siblings on failure, structured cancellation, timeouts.
-- Durations are API seconds (x0.01 real); tolerances allow for timer lateness.
local group = require "pcaprun.group"
local perror = require "pcaprun.error"
local task = require "pcaprun.task"
local T = require "testlib"

local function sleeper(seconds, value)
  return function()
    task.sleep(seconds)
    return value
  end
end

T.case("wait: every member succeeds; they run at once, outcomes in spawn order", function()
  local g = group.new()
  local t0 = task.now()
  g:spawn("a", sleeper(100, "A"))
  g:spawn("b", sleeper(50, "B"))
  g:spawn(function(x, y) return x + y end, 2, 3)
  local ok, outcomes = g:wait()
  T.eq(ok, true, "wait result")
  T.late(task.now() - t0, 100, "elapsed (the longest member, not the sum)", 25)
  T.eq(#outcomes, 3, "outcomes")
  T.eq(outcomes[1].name, "a", "first outcome's name")
  T.eq(outcomes[1].values[1], "A", "first value")
  T.eq(outcomes[2].values[1], "B", "second value")
  T.eq(outcomes[3].name, "#3", "unnamed member's name")
  T.eq(outcomes[3].values[1], 5, "arguments reach the member")
end)

T.case("wait: the first failure cancels the siblings and names the member", function()
  local g = group.new()
  local t0 = task.now()
  g:spawn("slow", sleeper(100, "never"))
  g:spawn("broken", function()
    task.sleep(5)
    error("boom")
  end)
  local ok, err, outcomes = g:wait()
  T.eq(ok, nil, "wait result")
  T.ok(task.now() - t0 < 50, "the failure ends the wait early")
  T.eq(err.code, "SCRIPT_ERROR", "a raised string becomes SCRIPT_ERROR")
  T.eq(err.member, "broken", "err.member")
  T.match(err.message, "^broken: .*boom", "message names the member")
  T.match(err.traceback, "group_test%.lua", "traceback points at the test")
  T.eq(outcomes[1].canceled, true, "the sibling was canceled")
  T.eq(outcomes[2].ok, false, "the failed member's outcome")
end)

T.case("wait: cancel_on_failure = false lets the siblings finish", function()
  local g = group.new { cancel_on_failure = false }
  local t0 = task.now()
  g:spawn("slow", sleeper(40, "done"))
  g:spawn("broken", function() return nil, perror.new { code = "IO", message = "disk full" } end)
  local ok, err, outcomes = g:wait()
  T.eq(ok, nil, "wait result")
  T.eq(err.code, "IO", "a returned error value keeps its code")
  T.match(tostring(err), "broken: disk full", "tostring(err)")
  T.late(task.now() - t0, 40, "elapsed: the sibling was waited for", 30)
  T.eq(outcomes[1].values[1], "done", "the sibling finished")
end)

T.case("wait_any: the first success wins and the rest are canceled", function()
  local g = group.new { cancel_on_failure = false }
  local t0 = task.now()
  g:spawn("slow", sleeper(60, "slow"))
  g:spawn("broken", function() task.sleep(5); error("no") end)
  g:spawn("fast", sleeper(20, "fast"))
  local out = g:wait_any()
  T.eq(out.name, "fast", "winner")
  T.eq(out.values[1], "fast", "winner's value")
  T.late(task.now() - t0, 20, "elapsed: the fast one, not the slow one", 20)
  T.eq(task.status(g.members[1].task), "done", "the loser has unwound before wait_any returns")
  T.eq(g.members[1].outcome.canceled, true, "the loser was canceled")
end)

T.case("group.any: every member fails", function()
  local out, err = group.any {
    function() task.sleep(2); return nil, "first" end,
    function() task.sleep(4); error("second") end,
  }
  T.eq(out, nil, "no winner")
  T.match(err.message, "#1: first", "the first failure is reported")
end)

T.case("group.all: shorthand", function()
  local ok, outcomes = group.all { sleeper(1, 1), sleeper(2, 2) }
  T.eq(ok, true, "all succeed")
  T.eq(outcomes[2].values[1], 2, "values")
end)

T.case("structured: canceling the waiter cancels the members, which unwind first", function()
  local unwound = false
  local parent = task.spawn("parent", function()
    local g = group.new()
    g:spawn("child", function()
      local ok, err = pcall(task.sleep, 100)
      unwound = true
      if not ok then error(err, 0) end
    end)
    return g:wait()
  end)
  local t0 = task.now()
  task.sleep(5)
  task.cancel(parent)
  local ok = task.join(parent)
  T.eq(ok, false, "the parent did not finish normally")
  T.eq(task.status(parent), "canceled", "parent status")
  T.eq(unwound, true, "the child unwound before the parent ended")
  T.ok(task.now() - t0 < 50, "canceling did not wait for the child's sleep")
end)

T.case("wait(timeout): TIMEOUT, members keep running until canceled", function()
  local g = group.new()
  g:spawn("long", sleeper(100, "x"))
  local ok, err = g:wait(10)
  T.eq(ok, nil, "timed out")
  T.eq(err.code, "TIMEOUT", "code")
  T.eq(task.status(g.members[1].task), "waiting", "the member still runs")
  g:cancel()
  local ok2, err2 = g:wait()
  T.eq(ok2, nil, "after cancel")
  T.eq(err2.code, "CANCELED", "a member canceled from outside makes wait fail with CANCELED")
end)

T.case("try: outcomes of values, returned errors and raised errors", function()
  T.eq(group.try(function() return 1, nil, 3 end).values.n, 3, "values are packed")
  T.eq(group.try(function() return nil end).ok, true, "a lone nil is a success")
  local out = group.try(function() return false, "why" end)
  T.eq(out.ok, false, "false, err is a failure")
  T.eq(out.error.message, "why", "message")
  out = group.try(function() assert(false, "bad input") end)
  T.match(out.traceback, "stack traceback", "traceback")
end)

T.case("misuse raises at once", function()
  T.raises(function() group.new():spawn("x") end, "expected a function", "spawn without a function")
  T.raises(function() group.new():wait_any() end, "no members", "wait_any on an empty group")
end)

T.done()
