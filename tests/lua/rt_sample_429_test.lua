-- pcaprun-test: --emulate --time-scale 0.005 --sample-interval 30
-- A 429 to a simple create pauses the account's simple creates for retry-after before the create
-- gives its place back, so no other create waiting for the place is sent into the same refusal.
-- Here the client paces at 30 s and the API at 60 s: of three creates queued at once, A is
-- accepted, B refused at 30 s (the API says: 30 s more), C goes at 60 s, B is refused again at
-- 90 s and goes at 120 s. Two refusals; letting C through at 30 s as well would make three.
local emulator = require "pcaprun.emulator"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local T = require "testlib"

local tasks = {}
for i = 1, 3 do
  tasks[i] = task.spawn(function()
    return assert(pcap.create { type = "simple", time_limit = 5, packet_limit = 10,
                                filter_v1 = { destination_port = i } })
  end)
end
for i = 1, 3 do T.ok(task.join(tasks[i]), ("create %d made its capture"):format(i)) end
local st = emulator.stats()
T.eq(st.captures.created, 3, "three captures")
T.eq(st.violations.sample_rate, 2, "two refusals, none sent while the API had said to wait")
T.done()
