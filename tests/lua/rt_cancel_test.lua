-- pcaprun-test: --emulate --time-scale 0.01
-- Canceling a task whose create is on the wire: the task ends CANCELED at once, but the runtime
-- still learns the capture it made, so a full capture keeps the slot and nothing breaks a limit.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local emulator = require "pcaprun.emulator"
local check = require "rtcheck"

local bucket = "s3://rt-cancel/x?region=us-east-1"
local t = task.spawn(function() return pcap.create{ type = "simple", time_limit = 10, packet_limit = 10 } end)
task.yield()
task.cancel(t)
local ok, err = task.join(t)
check.ok(not ok and err.code == "CANCELED", "a canceled create's task ends CANCELED")

local f = task.spawn(function()
  return pcap.create{ type = "full", colo_name = "ORD", time_limit = 30, destination_conf = bucket }
end)
task.sleep(0.01) -- long enough for the create to be sent (the first full create lists first)
for _ = 1, 20 do if pcap.limits().full.in_use > 0 then break end task.sleep(0.01) end
task.cancel(f)
check.eq(select(2, task.join(f)).code, "CANCELED", "a canceled full create's task ends CANCELED")
local t0 = task.now()
local g = assert(pcap.create{ type = "full", colo_name = "SJC", time_limit = 5, destination_conf = bucket })
check.ok(task.now() - t0 >= 25, ("the next full create waited for the canceled one's capture (%.1f s)"):format(task.now() - t0))
assert(g:wait())
task.sleep(60)
local list = assert(pcap.list())
check.eq(#list, 3, "every create that reached the API made exactly one capture")
check.eq(emulator.stats().violations.total, 0, "and no limit was broken")
check.done()
