-- pcaprun-test: --emulate --time-scale 0.01
-- Campaign priorities: a higher-priority campaign gets the full-capture slot before the queued
-- full captures of lower-priority ones (pcap.create's priority option), and with preempt = true
-- stops a lower-priority full capture that holds the slot (which keeps what it captured).
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local T = require "testlib"

local BUCKET = "s3://pcaprun-test/priorities?region=us-east-1"

local function full(out, name, colos, time_limit, extra)
  local d = { name = name, out = out, bucket = BUCKET, full = { colos = colos, time_limit = time_limit } }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

local function start(decl)
  return task.spawn(decl.name, function() return campaign.run(decl) end)
end

local function stops()
  return emulator.stats().requests.by_operation.stop or 0
end

-- Waits for a state of the account's full slot (events, not time: a loaded machine is slow).
local function until_slot(in_use, waiting)
  local slot = pcap.limits().full
  while slot.in_use ~= in_use or slot.waiting ~= waiting do
    task.sleep(0.5)
    slot = pcap.limits().full
  end
end

local function result(t)
  local ok, r = task.join(t)
  T.eq(ok, true, "campaign task")
  return r
end

T.case("priority: a later, higher-priority campaign takes the slot before queued lower ones", function()
  local out, stops0 = T.tmpdir(), stops()
  local low = start(full(out, "low", { "ORD", "SJC", "AMS" }, 60))
  until_slot(1, 2) -- low's first capture holds the slot; the other two wait for it
  local high = start(full(out, "high", { "FRA" }, 60, { priority = 5 }))
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
  T.eq(stops() - stops0, 0, "no preemption without preempt = true")
  T.eq(T.valid_pcaps(out), 4, "valid pcaps")
  T.no_violations()
  T.rmtree(out)
end)

T.case("preempt: the urgent capture stops the long one instead of waiting 600 s", function()
  local out, stops0, t0 = T.tmpdir(), stops(), task.now()
  local low = start(full(out, "background", { "ORD" }, 600))
  until_slot(1, 0) -- the background capture holds the slot; it is running once its create is done
  local function running()
    for _, c in ipairs(emulator.captures()) do
      if c.type == "full" and c.status == "running" then return true end
    end
  end
  repeat task.sleep(0.5) until running()
  local urgent = campaign.run(full(out, "urgent", { "SJC" }, 30, { priority = 10, preempt = true }))
  local bg = result(low)
  local u, b = urgent.targets[1], bg.targets[1]
  T.eq(urgent.status, "complete", "urgent status")
  T.ok(u.created_at - t0 < 100, ("the urgent capture started at once (at %.0f s)"):format(u.created_at - t0))
  T.eq(b.status, "preempted", "the background capture was preempted")
  T.ok(b.finished_at - b.created_at < 100, "it ended early")
  T.eq(#b.files, 1, "and its file was collected")
  T.eq(bg.status, "partial", "a preempted target is not complete: run the campaign again to redo it")
  T.eq(stops() - stops0, 1, "one stop request")
  T.eq(T.valid_pcaps(out), 2, "valid pcaps")
  T.no_violations()
  T.rmtree(out)
end)

T.done()
