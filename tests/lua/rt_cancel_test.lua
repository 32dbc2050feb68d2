-- pcaprun-test: --emulate --time-scale 0.01
-- Canceling a task whose create is on the wire: the task ends CANCELED at once, but the runtime
-- still learns the capture it made, so a full capture keeps the slot and nothing breaks a limit.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local emulator = require "pcaprun.emulator"
local check = require "rtcheck"

local bucket = "s3://rt-cancel/x?region=us-east-1"
local http = require "pcaprun.http"

-- Starts fn in a task, cancels it while its create is on the wire (the emulator answers slowly:
-- after `answered` requests of this call have come back, one more is in flight), and returns how
-- the task ended.
local function cancel_mid_create(fn, answered)
  while http.stats().active > 0 do task.sleep(0.05) end -- a canceled create before goes on, detached
  emulator.configure{ fault_slow = 1, slow_ms = 300 }
  local before = pcap.limits().requests
  local t = task.spawn(fn)
  repeat task.sleep(0.05) until pcap.limits().requests - before == answered and http.stats().active == 1
  task.cancel(t)
  emulator.configure{ fault_slow = 0 }
  return task.join(t)
end

local ok, err = cancel_mid_create(function()
  return pcap.create{ type = "simple", time_limit = 10, packet_limit = 10 }
end, 0)
check.ok(not ok and err.code == "CANCELED", "a canceled simple create's task ends CANCELED")
ok, err = cancel_mid_create(function()
  return pcap.create{ type = "full", colo_name = "ORD", time_limit = 30, destination_conf = bucket }
end, 1) -- the run's first full create lists first
check.ok(not ok and err.code == "CANCELED", "a canceled full create's task ends CANCELED")

local t0 = task.now()
local g = assert(pcap.create{ type = "full", colo_name = "SJC", time_limit = 5, destination_conf = bucket })
check.ok(task.now() - t0 >= 25,
  ("the next full create waited for the canceled one's capture (%.1f s)"):format(task.now() - t0))
assert(g:wait())
local list = assert(pcap.list())
check.eq(#list, 3, "every create that reached the API made exactly one capture")
check.eq(emulator.stats().violations.total, 0, "and no limit was broken")
check.done()
