-- The workload of the interruption matrix (interrupt_matrix.sh): a campaign of two full captures
-- (ORD, SJC: one slot, so SJC queues behind ORD) and one simple capture (downloaded), and the
-- points where it waits, told apart by what the emulator, the manifest and the files show.
--   pcaprun --journal J matrix.lua OUT run              run the campaign; prints its status
--   pcaprun matrix.lua OUT wait POINT PID               exits 0 once POINT is reached (1: PID ended)
--   pcaprun --journal J matrix.lua OUT cancel POINT     runs it, cancels its task at POINT
--   pcaprun --journal J matrix.lua OUT timeout POINT    the call waiting at POINT times out
-- POINT: queued (a full create waits for the slot the other's capture holds), sent (a create is on the
-- wire: creates answer slowly), answered (a create was applied and its answer lost; the list
-- that reconciles it is slow), running (a full capture runs), download (a download streams),
-- stop (a stop is on the wire: stops answer slowly). The emulator's faults for each point are
-- set by the caller (interrupt_matrix.sh) through its admin endpoint.
local campaign = require "pcaprun.campaign"
local fs = require "pcaprun.fs"
local http = require "pcaprun.http"
local json = require "pcaprun.json"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"

local out, mode, point = arg[1], arg[2], arg[3]
local admin = os.getenv("CLOUDFLARE_BASE_URL"):gsub("/client/v4$", "") .. "/__admin"
local NAME = "m"
local BUCKET = "s3://matrix/m?region=us-east-1"

local function get(what)
  local r = assert(http.request { url = admin .. "/" .. what })
  return assert(json.decode(r.body))
end

local function manifest()
  return json.read(out .. "/" .. NAME .. "/manifest.json") or { targets = {} }
end

local function target(key)
  for _, t in ipairs(manifest().targets) do
    if t.key == key then return t end
  end
  return {}
end

-- How many full captures the emulator has, and how many of them run.
local function fulls()
  local n, running = 0, 0
  for _, c in ipairs(get("captures").captures) do
    if c.type == "full" then
      n = n + 1
      if c.status == "running" then running = running + 1 end
    end
  end
  return n, running
end

local function part_growing(dir)
  for _, name in ipairs(fs.list(dir) or {}) do
    local path = dir .. "/" .. name
    local st = fs.stat(path)
    if st and st.type == "directory" and part_growing(path) then return true end
    if name:match("%.part$") and st and st.size > 0 then return true end
  end
  return false
end

local function faults(kind) return get("stats").faults[kind] or 0 end

local reached = {
  -- both targets start at once: while the first full capture runs, the other's create waits
  queued = function()
    local n, running = fulls()
    return n == 1 and running == 1
  end,
  sent = function() return faults("slow") > 0 end,
  answered = function() return faults("create_then_reset") > 0 and faults("slow") > 0 end,
  running = function() return target("full/ORD").status == "running" and select(2, fulls()) == 1 end,
  download = function() return part_growing(out) end,
  stop = function() return faults("slow") > 0 end,
}

local function declaration()
  return {
    name = NAME, out = out, bucket = BUCKET,
    full = { colos = { "ORD", "SJC" }, time_limit = 100, packet_limit = 100 },
    sample = { time_limit = 5, packet_limit = 1000 },
    retry = { attempts = 3, base = 1, cap = 5 },
  }
end

local function wait_for(p)
  local check = assert(reached[p], "unknown point " .. tostring(p))
  for _ = 1, 6000 do
    if check() then return true end
    task.sleep(0.5)
  end
  error("point " .. p .. " never reached")
end

if mode == "run" then
  local r = campaign.run(declaration())
  print("STATUS " .. r.status)
  os.exit(r.ok and 0 or 1)
elseif mode == "wait" then -- polled from here: one process, however slow its start
  local pid = arg[4]
  for _ = 1, 12000 do
    if reached[point]() then os.exit(0) end
    if not os.execute("kill -0 " .. pid .. " 2> /dev/null") then os.exit(1) end
    task.sleep(0.5)
  end
  os.exit(1)
elseif mode == "cancel" then
  local t = task.spawn(campaign.run, declaration())
  wait_for(point)
  task.cancel(t)
  local ok, err = task.join(t)
  print("CANCELED " .. tostring(not ok and err.code))
elseif mode == "timeout" then
  -- the calls a script makes itself, each with a timeout that passes while it waits at POINT
  local spec = { type = "full", colo_name = "ORD", time_limit = 30, destination_conf = BUCKET }
  local intent = { intent = "m.timeout.1" }
  if point == "queued" then -- a capture of ours holds the slot; the next create waits, times out
    local first = assert(pcap.create(spec, { intent = "m.timeout.0" }))
    local cap, err = pcap.create(spec, { intent = "m.timeout.1", timeout = 5 })
    print("TIMEOUT " .. tostring(not cap and err.code) .. " " .. tostring(err and err.outcome))
    assert(first:stop())
    assert(first:wait())
  elseif point == "sent" then
    intent.timeout = 50 -- past the admission (the run's first full create lists first), not the answer
    local cap, err = pcap.create(spec, intent)
    print("TIMEOUT " .. tostring(not cap and err.code) .. " " .. tostring(err and err.outcome))
    if err and err.capture then assert(err.capture:wait()) end
  elseif point == "download" then
    local cap = assert(pcap.create({ type = "simple", time_limit = 5, packet_limit = 1000 }, intent))
    assert(cap:wait())
    local path = out .. "/" .. NAME .. "/direct/" .. cap.id .. ".pcap"
    local got, err = cap:download(path, { timeout = 2 })
    print("TIMEOUT " .. tostring(not got and err.code))
    assert(not fs.stat(path), "nothing under the final name")
    assert(cap:download(path)) -- and the next attempt resumes and completes
  elseif point == "stop" then
    spec.time_limit = 600 -- long enough for the slow stop to land while it runs
    local cap = assert(pcap.create(spec, intent))
    while cap.status == "pending" do assert(cap:refresh()) task.sleep(1) end
    local ok, err = cap:stop { timeout = 0.5 }
    print("TIMEOUT " .. tostring(not ok and err.code))
    assert(cap:wait()) -- the stop was delivered all the same: the capture ends early
  end
else
  error("usage: matrix.lua OUT run|point|cancel|timeout [POINT]")
end
