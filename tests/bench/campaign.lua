-- A capture campaign the way a user writes it for pcaprun: every capture is its own task, all
-- started at once; the runtime keeps the limits. Run against an external emulator:
--   pcaprun --time-scale F campaign.lua NFULL NSIMPLE FULL_TL SIMPLE_TL DIR LOG
-- Full captures go to N colos; simple ones are downloaded into DIR. LOG gets when each download
-- started and each capture was in hand (emulator seconds), for campaign_report.lua.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local bench = require "benchlib"

local nfull, nsimple = tonumber(arg[1]), tonumber(arg[2])
local full_tl, simple_tl, dir, logpath = tonumber(arg[3]), tonumber(arg[4]), arg[5], arg[6]
local COLOS = { "ORD", "SJC", "AMS", "FRA", "LHR", "NRT", "SIN", "SYD", "GRU", "JNB", "CDG", "IAD" }
local BUCKET = "s3://bench/full?region=us-east-1"

local to_emu = bench.clock()
local events = { "clock 0" }
local function event(what, cap) events[#events + 1] = ("%s %s %.6f"):format(what, cap.id, to_emu()) end

local tasks = {}
for i = 1, nfull do
  tasks[#tasks + 1] = task.spawn(function()
    local cap = assert(pcap.create{ type = "full", colo_name = COLOS[(i - 1) % #COLOS + 1],
                                    time_limit = full_tl, destination_conf = BUCKET })
    assert(cap:wait())
    event("done", cap)
  end)
end
for i = 1, nsimple do
  tasks[#tasks + 1] = task.spawn(function()
    local cap = assert(pcap.create{ type = "simple", time_limit = simple_tl, packet_limit = 1000 })
    assert(cap:wait())
    event("download", cap)
    assert(cap:download(("%s/simple_%d.pcap"):format(dir, i)))
    event("done", cap)
  end)
end
assert(task.wait_all(tasks))
local f = assert(io.open(logpath, "w"))
f:write(table.concat(events, "\n"), "\n")
f:close()
