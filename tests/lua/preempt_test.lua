-- pcaprun-test: --emulate --time-scale 0.01
-- Campaign preemption: with preempt = true, a higher-priority campaign stops a lower-priority
-- full capture that holds the account's slot (which keeps what it captured).
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

T.case("preempt: the urgent capture stops the long one instead of waiting 600 s", function()
  local t0 = task.now()
  local low = start(full("background", { "ORD" }, 600))
  task.sleep(20) -- the background capture is running
  local urgent = campaign.run(full("urgent", { "SJC" }, 30, { priority = 10, preempt = true }))
  local bg = result(low)
  local u, b = urgent.targets[1], bg.targets[1]
  T.eq(urgent.status, "complete", "urgent status")
  T.ok(u.created_at - t0 < 100, ("the urgent capture started at once (at %.0f s)"):format(u.created_at - t0))
  T.eq(b.status, "preempted", "the background capture was preempted")
  T.ok(b.finished_at - b.created_at < 100, "it ended early")
  T.eq(#b.files, 1, "and its file was collected")
  T.eq(bg.status, "partial", "a preempted target is not complete: run the campaign again to redo it")
  T.eq(emulator.stats().requests.by_operation.stop, 1, "one stop request")
  T.eq(T.valid_pcaps(OUT), 2, "valid pcaps")
  T.no_violations()
end)

T.rmtree(OUT)
T.done()
