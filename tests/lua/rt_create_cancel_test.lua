-- pcaprun-test: --emulate --time-scale 0.01
-- A task canceled while its create is on the wire: the task ends (CANCELED) at once, and the
-- create goes on, detached, until the runtime knows what it made (the capture is not abandoned).
local emulator = require "pcaprun.emulator"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local check = require "rtcheck"

local function real(seconds) return seconds / task.time_scale() end -- as API seconds

emulator.configure { fault_slow = 1, slow_ms = 2000 } -- every answer takes 2 s
local t = task.spawn("creator", function()
  return pcap.create({ type = "simple", time_limit = 5, packet_limit = 10 }, { intent = "cancel-me" })
end)
task.sleep(real(0.5)) -- the request is out, its answer is not
task.cancel(t)
local ok, err = task.join(t, real(0.5))
check.ok(ok == false and err and err.code == "CANCELED", "the canceled creator ends with CANCELED, not a hang")
emulator.configure { fault_slow = 0 }
task.sleep(real(2.5)) -- the detached create has its answer by now
check.eq(emulator.stats().captures.created, 1, "the create that was on the wire still made its capture")
check.done()
