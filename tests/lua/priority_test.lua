-- pcaprun-test: --emulate --time-scale 0.01
-- Campaign priorities: a higher-priority campaign gets the full-capture slot before the queued
-- full captures of lower-priority ones (pcap.create's priority option; no preemption here).
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"
local task = require "pcaprun.task"
local T = require "testlib"

local OUT = T.tmpdir()
local BUCKET = "s3://pcaprun-test/priorities?region=us-east-1"

local function full(name, colos, time_limit, extra)
  local d = { name = name, out = OUT, bucket = BUCKET, full = { colos = colos, time_limit = time_limit } }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local function start(decl)
  return task.spawn(decl.name, function() return campaign.run(decl) end)
end

local function result(t)
  local ok, r = task.join(t)
  T.eq(ok, true, "campaign task")
  return r
end

T.case("priority: a later, higher-priority campaign takes the slot before queued lower ones", function()
  local low = start(full("low", { "ORD", "SJC", "AMS" }, 60))
  task.sleep(5) -- low's first capture holds the slot; the other two wait for it
  local high = start(full("high", { "FRA" }, 60, { priority = 5 }))
  local l, h = result(low), result(high)
  T.eq(l.status, "complete", "low status")
  T.eq(h.status, "complete", "high status")
  local times = {}
  for _, t in ipairs(l.targets) do times[#times + 1] = t.created_at end
  table.sort(times)
  local fra = h.targets[1].created_at
  T.ok(fra > times[1] and fra < times[2],
       ("FRA (priority 5) should be created second; it was at %.0f s, low's at %.0f, %.0f, %.0f s"):format(
         fra - times[1], 0, times[2] - times[1], times[3] - times[1]))
  T.eq(emulator.stats().requests.by_operation.stop, 0, "no preemption without preempt = true")
  T.no_violations()
end)

T.rmtree(OUT)
T.done()
