-- Fault soak: N captures, half simple and half full, against an emulator that faults about a
-- quarter of its answers: 5xx, spurious 429s with retry-after, resets, slow answers, malformed
-- JSON, truncated downloads, creates applied and then answered with a 500 or nothing. Every
-- capture must be made exactly once and end downloaded (simple) or delivered to its bucket
-- (full) as a valid pcap, with no limit broken and nothing left half-written.
-- Run by tests/integration/soak.sh (100 captures, make test) and soak_full.sh (1,000, make soak)
-- through lib/soak.sh, which holds the command line: the emulator's faults, and a sample window
-- of 2 s on both sides so that N simple creates fit in minutes (the limit is still enforced).
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local fs = require "pcaprun.fs"
local http = require "pcaprun.http"
local cjson = require "cjson"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local n = tonumber(arg[1]) or 100
local dir = os.tmpname()
os.remove(dir)
local bucket, bucket_path = "s3://soak/full?region=us-east-1", emulator.bucket_dir() .. "/soak/full"
local t0 = task.now()

-- Each capture is a task, as a script would write it; it returns the file it ended with.
local function simple(i)
  local cap = assert(pcap.create({ type = "simple", time_limit = 1 + i % 3, packet_limit = 50 + i % 200 },
                                 { intent = "soak-simple-" .. i }))
  assert(cap:wait())
  return assert(cap:download(("%s/simple_%d.pcap"):format(dir, i))).path
end

local function full(i)
  local cap = assert(pcap.create({ type = "full", colo_name = ("colo%d"):format(i % 7),
                                   time_limit = 1 + i % 2, destination_conf = bucket },
                                 { intent = "soak-full-" .. i }))
  assert(cap:wait())
  return ("%s/pcap_%s.pcap"):format(bucket_path, cap.id)
end

local tasks = {}
for i = 1, n do tasks[i] = task.spawn(i % 2 == 1 and simple or full, i) end

-- A run where nothing finishes for 600 API seconds is stuck: say where the captures wait, and fail.
local watchdog = task.spawn(function()
  local finished, last = -1, task.now()
  while true do
    task.sleep(30)
    local now_finished = 0
    for i = 1, n do
      local st = task.status(tasks[i])
      if st == "done" or st == "failed" or st == "canceled" then now_finished = now_finished + 1 end
    end
    if now_finished ~= finished then finished, last = now_finished, task.now() end
    if task.now() - last > 600 then
      local l = pcap.limits()
      print(("# stuck: %d of %d captures unfinished for 600 s (API); full slot %d in use, %d waiting; "
             .. "sample %d waiting; api %d in use, %d waiting"):format(n - finished, n, l.full.in_use,
        l.full.waiting, l.sample.waiting, l.api.in_use, l.api.waiting))
      os.exit(1)
    end
  end
end)
task.wait_all(tasks)
task.cancel(watchdog)

local ok, valid = 0, 0
for i = 1, n do
  local done, path = task.join(tasks[i])
  if done then
    ok = ok + 1
    if fs.check_pcap(path) then valid = valid + 1 end
  else
    print(("# capture %d: %s"):format(i, path))
  end
end
local stats = emulator.stats()
local faults, requests = stats.faults, stats.requests.total
local share = faults.total / requests
print(("# %d captures in %.0f s (API); %d requests, %d faulted (%.1f%%): 5xx %d, 429 %d, reset %d, slow %d, "
       .. "malformed %d, truncated %d, create+500 %d, create+reset %d"):format(n, task.now() - t0, requests,
  faults.total, share * 100, faults["5xx"], faults["429"], faults.reset, faults.slow, faults.malformed,
  faults.truncate, faults.create_then_500, faults.create_then_reset))

-- Names every logical capture the API made more than once, with its captures' timelines.
local admin = emulator.url():gsub("/client/v4$", "") .. "/__admin/captures"
local by_intent = {}
for _, c in ipairs(cjson.decode(assert(http.request{ url = admin }).body).captures) do
  by_intent[c.intent] = by_intent[c.intent] or {}
  table.insert(by_intent[c.intent], c)
end
for intent, caps in pairs(by_intent) do
  if #caps > 1 then
    for _, c in ipairs(caps) do
      print(("# %s made twice: %s %s submitted %.3f s, ready %.3f s"):format(intent, c.id, c.status,
        c.submitted_s, c.ready_s))
    end
  end
end

T.eq(ok, n, "every capture finished")
T.eq(valid, n, "every capture ended as a valid pcap (downloaded or delivered)")
T.eq(stats.captures.created, n, "the API made exactly one capture per logical capture")
T.eq(stats.violations.duplicate_creates, 0, "no duplicate creates")
T.eq(stats.violations.total, 0, "no limit or protocol violations")
-- The test's own set-up: a quarter of the answers, give or take what chance does to 500 of them.
T.ok(share > 0.18 and share < 0.35,
  ("about a quarter of the answers were faulted (%.1f%%)"):format(share * 100))
local leftovers = 0
for _, name in ipairs(fs.list(dir) or {}) do
  if not name:match("^simple_%d+%.pcap$") then leftovers = leftovers + 1 end
end
T.eq(leftovers, 0, "no .part or other stray files left")
os.execute("rm -rf " .. dir)
T.done()
