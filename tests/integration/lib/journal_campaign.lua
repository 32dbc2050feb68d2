-- A campaign that a crash test kills and restarts: full captures across colos (serial: one slot)
-- and simple captures (one per sample interval), each with a stable intent, the simple ones
-- downloaded. Run again with the same journal, it resumes: it skips a target whose file the
-- journal shows done (and that is still valid), and creates the others with the same intents,
-- which the runtime adopts or reconciles instead of creating twice.
--   pcaprun --journal J journal_campaign.lua OUT NAME [NFULL NSIMPLE]
local fs = require "pcaprun.fs"
local journal = require "pcaprun.journal"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"

local out, name = assert(arg[1], "OUT"), arg[2] or "crash"
local nfull, nsimple = tonumber(arg[3] or 4), tonumber(arg[4] or 6)
local colos = { "ORD", "SJC", "AMS", "FRA", "LHR", "NRT", "SIN", "SYD" }

local targets = {}
for i = 1, nfull do
  targets[#targets + 1] = { key = "full-" .. colos[i]:lower(), spec = {
    type = "full", colo_name = colos[i], time_limit = 10, packet_limit = 500,
    destination_conf = "s3://crash/" .. name .. "?region=us-east-1" } }
end
for i = 1, nsimple do
  targets[#targets + 1] = { key = "simple-" .. i, spec = {
    type = "simple", time_limit = 5, packet_limit = 10000, filter_v1 = { destination_port = 1000 + i } } }
end

-- Already complete in an earlier run: the capture succeeded and (simple) its file is done.
local function complete(intent, path)
  local j = journal.intent(intent)
  if not (j and j.status == "success") then return false end
  if not path then return true end
  for _, d in ipairs(j.downloads or {}) do
    if d.path == path and d.state == "done" and fs.check_pcap(path) then return true end
  end
  return false
end

local function run(t)
  local intent = name .. "." .. t.key
  local path = t.spec.type == "simple" and (out .. "/" .. t.key .. ".pcap") or nil
  if path and path:sub(1, 1) ~= "/" then path = os.getenv("PWD") .. "/" .. path end
  if complete(intent, path) then return "skipped" end
  local cap = assert(pcap.create(t.spec, { intent = intent }))
  assert(cap:wait())
  if path then assert(cap:download(path)) end
  return "done"
end

local tasks = {}
for _, t in ipairs(targets) do tasks[#tasks + 1] = task.spawn(t.key, run, t) end
local done, skipped = 0, 0
for _, tk in ipairs(tasks) do
  local ok, how = task.join(tk)
  assert(ok, how)
  if how == "skipped" then skipped = skipped + 1 else done = done + 1 end
end
print(("COMPLETE %d targets (%d now, %d skipped)"):format(#targets, done, skipped))
