-- pcaprun-test: --emulate --time-scale 0.01 --max-waiters 2
-- Bounded queues: past --max-waiters, a create fails at once with QUEUE_FULL instead of piling up.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local tasks, codes = {}, {}
for i = 1, 5 do
  tasks[i] = task.spawn(function()
    local cap, err = pcap.create{ type = "full", colo_name = "C" .. i, time_limit = 5,
                                  destination_conf = "s3://q/x?region=us-east-1" }
    codes[#codes + 1] = cap and "ok" or err.code
    if cap then assert(cap:wait()) end
  end)
end
task.wait_all(tasks)
table.sort(codes)
T.eq(table.concat(codes, ","), "QUEUE_FULL,QUEUE_FULL,ok,ok,ok",
  "one holds the slot, two wait, two are refused at once")
T.eq(pcap.limits().full.rejected, 2, "the limiter counts the refusals")
T.eq(emulator.stats().violations.total, 0, "no violations")
T.done()
