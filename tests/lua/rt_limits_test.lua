-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- ctest-timeout: 120
-- The account limits as the runtime enforces them: simple creates FIFO and a sample interval
-- apart; full captures one at a time, each started as soon as the slot frees; waits that time
-- out leave the queue; a 429's retry-after is honoured.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local http = require "pcaprun.http"
local cjson = require "cjson"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local bucket = "s3://rt-limits/x?region=us-east-1"
local admin = emulator.url():gsub("/client/v4$", "") .. "/__admin/captures"
local function timeline()
  local r = assert(http.request{ url = admin })
  local byid = {}
  for _, c in ipairs(cjson.decode(r.body).captures) do byid[c.id] = c end
  return byid
end

-- 1. simple creates: FIFO, at least 60 s (API) apart as the API receives them (its timeline),
-- none rejected by the API
local order, ids, tasks = {}, {}, {}
for i = 1, 4 do
  tasks[i] = task.spawn(function()
    local cap = assert(pcap.create{ type = "simple", time_limit = 5, packet_limit = 10 })
    order[#order + 1] = i
    ids[i] = cap.id
    return cap
  end)
end
task.wait_all(tasks)
T.eq(table.concat(order, ","), "1,2,3,4", "simple creates are served in FIFO order")
local seen = timeline()
for i = 2, 4 do
  local gap = (seen[ids[i]].submitted_s - seen[ids[i - 1]].submitted_s) / task.time_scale()
  T.ok(gap >= 60 and gap < 75, ("create %d came %.1f s (API) after the previous one"):format(i, gap))
end
T.eq(emulator.stats().violations.sample_rate, 0, "the API never saw two creates within a minute")

-- 2. a create waiting for the sample slot times out and leaves the queue
local t0 = task.now()
local slow, serr = pcap.create({ type = "simple", time_limit = 5, packet_limit = 10 }, { timeout = 10 })
T.fails("TIMEOUT", slow, serr, "a create that cannot get the sample slot in time")
T.near(task.now() - t0, 10, 3, "after its timeout")
T.eq(pcap.limits().sample.waiting, 0, "and no longer waits in the queue")

-- 3. full captures: one at a time, back to back, even when the script never polls
local caps = {}
for i, colo in ipairs { "ORD", "SJC", "AMS", "FRA" } do
  tasks[i] = task.spawn(function()
    caps[i] = assert(pcap.create{ type = "full", colo_name = colo, time_limit = 20,
                                  destination_conf = bucket })
  end)
end
task.wait_all(tasks)
T.eq(emulator.stats().violations.full_concurrency, 0, "never two full captures pending or running")
local tl = timeline()
local F = task.time_scale()
local fulls = {}
for i = 1, 4 do fulls[i] = tl[caps[i].id] end
table.sort(fulls, function(x, y) return x.submitted_s < y.submitted_s end)
T.eq(fulls[1].id, caps[1].id, "the first full create got the slot first")
for i = 2, 4 do
  local prev, cur = fulls[i - 1], fulls[i]
  local lag = cur.submitted_s - prev.ended_s -- real seconds since the emulator started
  T.ok(lag >= 0, ("full capture %d was created after the previous one left running (%.2f s API later)")
                 :format(i, lag / F))
end
-- how soon after is a timing claim, measured in the benchmark (tests/bench: the campaign's
-- makespan against the full chain's lower bound), not here where a loaded machine adds delays
T.eq(pcap.limits().full.granted, 4, "four grants of the full slot")
for i = 1, 4 do T.eq(caps[i]:wait(), caps[i], "full capture " .. i .. " succeeds") end

-- 4. the API's Ratelimit header (r=0; t=N) pauses the account before it is over the limit
emulator.configure{ rate_limit_quota = 3, rate_limit_window = 10, rate_limit_block = 30 }
task.sleep(11)
local before = emulator.stats().violations.api_budget
t0 = task.now()
for i = 1, 6 do T.ok(pcap.list() ~= nil, "paced list " .. i .. " succeeds") end
T.ok(task.now() - t0 >= 10, ("the runtime paused on Ratelimit r=0 (%.1f s API)"):format(task.now() - t0))
T.eq(emulator.stats().violations.api_budget - before, 0, "and never went over the budget")

-- 5. without that header, a 429's retry-after pauses the account for as long as it says
emulator.configure{ ratelimit_headers = false }
task.sleep(11)
before = emulator.stats().violations.api_budget
t0 = task.now()
for i = 1, 6 do T.ok(pcap.list() ~= nil, "list " .. i .. " succeeds after a 429") end
T.ok(task.now() - t0 >= 30, ("the runtime waited out retry-after (%.1f s API)"):format(task.now() - t0))
T.eq(emulator.stats().violations.api_budget - before, 1, "exactly one request hit the block")
emulator.configure{ rate_limit_quota = 1200, rate_limit_window = 300, rate_limit_block = 300,
                    ratelimit_headers = true }

T.done()
