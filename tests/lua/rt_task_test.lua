-- pcaprun-test: --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- The scheduler as scripts see it: spawn, join, results, errors, cancel, waits, timeouts, order.
local task = require "pcaprun.task"
local T = require "testlib"

-- spawn runs the function with its arguments; join returns its results
local t = task.spawn("adder", function(a, b) task.sleep(1) return a + b, "sum" end, 2, 3)
T.eq(task.status(t), "ready", "a new task has not run yet")
local ok, v, w = task.join(t)
T.ok(ok and v == 5 and w == "sum", "join returns true and every result")
T.eq(task.status(t), "done", "status after it returned")
T.match(tostring(t), "adder", "tostring names the task")

-- a child starts only after the parent waits or yields (documented order)
local order = {}
task.spawn(function() order[#order + 1] = "child" end)
order[#order + 1] = "parent"
task.yield()
T.eq(table.concat(order, ","), "parent,child", "children run after the parent yields")

-- a failing task reports to its joiner: false, error, traceback; siblings live on
local sibling = task.spawn(function() task.sleep(2) return "alive" end)
local bad = task.spawn(function() task.sleep(1) error("boom") end)
local ok2, err, tb = task.join(bad)
T.eq(ok2, false, "join of a failed task returns false")
T.match(err, "boom", "the error value is returned")
T.match(tb, "stack traceback", "with a traceback")
T.eq(task.status(bad), "failed", "status failed")
T.ok(select(2, task.join(sibling)) == "alive", "a sibling of a failed task is unaffected")

-- error values other than strings come back unchanged
local e = task.spawn(function() error({ code = "X" }) end)
local _, errv = task.join(e)
T.eq(type(errv) == "table" and errv.code, "X", "table errors are passed through")

-- cancel: the waiting task's sleep raises CANCELED; the task counts as canceled
local sleeper = task.spawn(function() task.sleep(1000) end)
task.sleep(0.5)
task.cancel(sleeper)
local ok3, cerr = task.join(sleeper)
T.ok(not ok3 and cerr.code == "CANCELED", "a canceled task's join gives a CANCELED error")
T.eq(task.status(sleeper), "canceled", "status canceled")

-- cancel of a task that has not started yet: its first wait raises
local fresh = task.spawn(function() task.sleep(1) return "ran" end)
task.cancel(fresh)
T.eq(select(2, task.join(fresh)).code, "CANCELED", "cancel before it ever ran")

-- a canceled task may clean up (pcall) and still wait afterwards
local cleaned = false
local tidy = task.spawn(function()
  local okp = pcall(task.sleep, 1000)
  task.sleep(0.1)          -- the cancel was delivered once; later waits work
  cleaned = not okp
  return "tidied"
end)
task.sleep(0.2)
task.cancel(tidy)
local okt, rt = task.join(tidy)
T.ok(okt and rt == "tidied" and cleaned, "cleanup after a cancel can still wait")

-- a second cancel (a shutdown's, then its group's) does not cut that cleanup short
local twice = task.spawn(function()
  pcall(task.sleep, 1000)
  task.sleep(0.1)
  return "tidied"
end)
task.sleep(0.2)
task.cancel(twice)
task.cancel(twice)
local ok2c, r2c = task.join(twice)
T.ok(ok2c and r2c == "tidied", "canceled twice, the cleanup still waits and finishes")

-- many arguments reach the task (its stack grows to hold them)
for _, n in ipairs { 300, 100000 } do
  local many = task.spawn(function(...) return select("#", ...) end, table.unpack({}, 1, n))
  local okm, nm = task.join(many)
  T.ok(okm and nm == n, n .. " arguments")
end

-- task.sleep(math.huge) and huge numbers sleep until canceled
for _, secs in ipairs { math.huge, 1e300 } do
  local long = task.spawn(task.sleep, secs)
  task.sleep(0.1)
  T.eq(task.status(long), "waiting", ("task.sleep(%g) still sleeps"):format(secs))
  task.cancel(long)
  T.eq(select(2, task.join(long)).code, "CANCELED", "until canceled")
end

-- join with a timeout leaves the task running
local slow = task.spawn(function() task.sleep(5) return 1 end)
local none, terr = task.join(slow, 1)
T.ok(none == nil and terr.code == "TIMEOUT", "join times out with TIMEOUT")
T.eq(select(2, task.join(slow)), 1, "the task itself went on")

-- wait_any returns the first to finish; wait_all waits for every one
local a = task.spawn(function() task.sleep(3) end)
local b = task.spawn(function() task.sleep(1) end)
local idx, which = task.wait_any({ a, b })
T.ok(idx == 2 and which == b, "wait_any: the first finished")
T.eq(task.status(a), "waiting", "wait_any leaves the others running")
T.eq(task.wait_all({ a, b }), true, "wait_all")
local v1, e1 = task.wait_all({ task.spawn(function() task.sleep(10) end) }, 0.5)
T.fails("TIMEOUT", v1, e1, "wait_all times out with TIMEOUT")

-- sleeping for API time: 10 s at scale 0.01 is about 0.1 s of task.now() progress x 100
local t0 = task.now()
task.sleep(10)
T.near(task.now() - t0, 10, 1.5, "task.now advances in API time")

-- waiting from a coroutine the script made raises a clear error
local okc, msg = pcall(function() coroutine.wrap(function() task.sleep(1) end)() end)
T.ok(not okc and msg:find("must be called from a task"), "API calls refuse script coroutines")

-- misuse raises
T.ok(not pcall(task.join, "nope"), "join of a non-task raises")
T.ok(not pcall(task.sleep, -1), "negative sleep raises")
T.ok(not pcall(task.join, task.current()), "a task cannot join itself")

-- wait_any returns when the first ends: the others' links to that wait are gone with it, so they
-- can end after the wait's memory was collected (it was a use after free)
for _ = 1, 20 do
  local sleepers = {}
  for i = 1, 8 do sleepers[i] = task.spawn(function() task.sleep(i) end) end
  T.eq(task.wait_any(sleepers), 1, "wait_any: the first to end")
  collectgarbage()
  collectgarbage()
  T.eq(task.wait_all(sleepers), true, "the others end after the wait is gone")
end

-- many tasks
local many = {}
for i = 1, 2000 do many[i] = task.spawn(function() task.sleep(1) return i end) end
T.eq(task.wait_all(many), true, "2000 concurrent sleeping tasks finish")
T.eq(select(2, task.join(many[1234])), 1234, "and keep their own results")

T.done()
