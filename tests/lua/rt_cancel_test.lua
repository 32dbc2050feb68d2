-- pcaprun-test: --emulate --time-scale 0.01 --http-timeout 1
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- A create interrupted after it was sent is never abandoned. Its task (canceled, or past its
-- timeout) is told once the outcome is known: err.capture is the capture the create made, and a
-- full one is stopped at once, so the account's one full slot is not held for a task that is
-- gone. When the outcome stays unknown longer than --http-timeout, the task is told so
-- (err.outcome "unknown") and the runtime keeps following the create: the capture it made is
-- still found and stopped. Nothing breaks a limit; nothing is made twice.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local emulator = require "pcaprun.emulator"
local http = require "pcaprun.http"
local T = require "testlib"

local bucket = "s3://rt-cancel/x?region=us-east-1"
local function full(colo, opts)
  return pcap.create({ type = "full", colo_name = colo, time_limit = 600, destination_conf = bucket }, opts)
end

-- The emulator's record of a capture: its timeline says whether a stop reached it.
local function server(id)
  for _, c in ipairs(emulator.captures()) do
    if c.id == id then return c end
  end
end

-- Starts fn in a task while every answer is slow (slow_ms), interrupts it (cancel) once its
-- create is on the wire (after `answered` answers to its call: the run's first full create lists
-- first), and returns the task.
local function cancel_mid_create(fn, slow_ms, answered)
  while http.stats().active > 0 do task.sleep(0.05) end
  emulator.configure { fault_slow = 1, slow_ms = slow_ms }
  local before = pcap.limits().requests
  local t = task.spawn(fn)
  repeat task.sleep(0.02)
  until pcap.limits().requests - before == (answered or 0) and http.stats().active == 1
  task.cancel(t)
  return t
end

-- 1. a simple create: the task ends CANCELED, with the capture it made
local t = cancel_mid_create(function()
  return pcap.create { type = "simple", time_limit = 10, packet_limit = 10 }
end, 300)
local ok, err = task.join(t)
emulator.configure { fault_slow = 0 }
T.ok(not ok and err.code == "CANCELED", "a canceled simple create's task ends CANCELED")
T.eq(err.outcome, "created", "after the create's answer came")
T.ok(err.capture and #err.capture.id == 32, "err.capture is the capture it made")
T.ok(err.intent and #err.intent > 0, "err.intent names the create")

-- 2. a full create (the run's first lists once: it is answered slowly too)
t = cancel_mid_create(function() return full("ORD") end, 300, 1)
ok, err = task.join(t)
emulator.configure { fault_slow = 0 }
T.ok(not ok and err.code == "CANCELED", "a canceled full create's task ends CANCELED")
T.ok(err.capture ~= nil, "with the full capture it made")
local first = err.capture.id
assert(err.capture:wait())
T.ok((server(first).stop_requested or "") ~= "", "which pcaprun stopped: nobody waits for it")

-- 3. a create's timeout while it is on the wire: nil, TIMEOUT, the capture, stopped
emulator.configure { fault_slow = 1, slow_ms = 300 }
local cap, terr = full("SJC", { timeout = 0.5 }) -- 5 ms: long before the answer
emulator.configure { fault_slow = 0 }
T.ok(cap == nil and terr.code == "TIMEOUT", "a create past its timeout: nil, TIMEOUT")
T.ok(terr.capture ~= nil and terr.outcome == "created", "with the capture it made")
assert(terr.capture:wait())
T.ok((server(terr.capture.id).stop_requested or "") ~= "", "stopped too")

-- 4. the outcome stays unknown past --http-timeout (every answer takes 2 s): the task is told so,
-- and the runtime keeps following the create, then stops what it made
t = cancel_mid_create(function() return full("AMS") end, 2000)
ok, err = task.join(t)
T.ok(not ok and err.code == "CANCELED" and err.outcome == "unknown",
  ("the task learns the outcome is unknown (%s)"):format(tostring(err and err.outcome)))
T.ok(err.capture == nil and err.intent ~= nil, "it has the intent, no capture")
emulator.configure { fault_slow = 0 }
local made
for _ = 1, 400 do
  for _, c in ipairs(emulator.captures()) do
    if c.intent == err.intent then made = c end
  end
  if made and (made.stop_requested or "") ~= "" then break end
  task.sleep(0.5)
end
T.ok(made ~= nil, "the create had made a capture")
T.ok(made and (made.stop_requested or "") ~= "", "the runtime found it and stopped it")

-- what exists: every create that reached the API made exactly one capture, none held the slot
-- for nothing, and no limit was broken
local t0 = task.now()
local g = assert(full("FRA"))
T.ok(task.now() - t0 < 100,
  ("the next full create did not wait a capture's time_limit (%.0f s)"):format(task.now() - t0))
assert(g:stop())
assert(g:wait())
T.eq(#assert(pcap.list()), 5, "five creates, five captures")
T.eq(emulator.stats().violations.total, 0, "and no limit was broken")
T.done()
