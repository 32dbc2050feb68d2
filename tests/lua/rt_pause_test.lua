-- pcaprun-test: --emulate --time-scale 0.01
-- When a 429's pause ends, the waiting requests do not all go at once: one goes first (a
-- probe), and the others follow only once it was answered without a new 429. A server that
-- keeps refusing sees one request per pause, not the whole queue each time.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local function faults() return emulator.stats().faults["429"] or 0 end

T.case("after a pause, one request probes; the queue waits for its answer", function()
  local f0 = faults()
  emulator.configure { fault_429 = 1, fault_429_max = 1, fault_ops = "list" }
  local healer = task.spawn(function() -- the server refuses 13 times, then recovers
    while faults() - f0 < 13 do task.sleep(0.05) end
    emulator.configure { fault_429 = 0 }
  end)
  local tasks = {}
  for i = 1, 10 do tasks[i] = task.spawn(function() return assert(pcap.list()) end) end
  T.eq(task.wait_all(tasks), true, "all ten lists succeed in the end")
  task.join(healer)
  emulator.configure { fault_ops = "" }
  local refused = faults() - f0
  -- the first round went out together (10 refusals); then one probe per pause until the server
  -- recovered: 13 in all, 14 with the probe in flight when it healed. Releasing the queue at
  -- each pause's end refused all ten again each time (20 or more).
  T.between(refused, 13, 15, "refusals")
end)

T.eq(emulator.stats().violations.total, 0, "no limit was broken")
T.done()
