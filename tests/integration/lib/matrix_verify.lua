-- The invariants of the interruption matrix, checked from the outside: the emulator's stats and
-- captures, the campaign's manifest and its files.
--   pcaprun matrix_verify.lua STATS_JSON CAPTURES_JSON OUT WHEN
-- WHEN is "interrupted" (the run was interrupted and has exited) or "final" (a run completed).
-- Prints "ok"/"not ok" lines; exits 1 when a check fails.
local fs = require "pcaprun.fs"
local json = require "pcaprun.json"

local stats, captures = json.read(arg[1]), json.read(arg[2]).captures
local out, when = arg[3], arg[4]
local failed = 0
local function check(cond, what)
  print((cond and "ok - " or "not ok - ") .. when .. ": " .. what)
  if not cond then failed = failed + 1 end
end

local function files(dir, found)
  found = found or {}
  for _, name in ipairs(fs.list(dir) or {}) do
    local path = dir .. "/" .. name
    local st = fs.stat(path)
    if st and st.type == "directory" then files(path, found) else found[#found + 1] = path end
  end
  return found
end

check(stats.violations.total == 0,
  "no limit broken, no intent created twice: " .. json.encode(stats.violations))
local running = {}
for _, c in ipairs(captures) do
  if c.type == "full" and (c.status == "pending" or c.status == "running") then
    running[#running + 1] = c.id
  end
end
check(#running == 0, "no full capture left pending or running (" .. table.concat(running, " ") .. ")")

local bad = {}
for _, path in ipairs(files(out)) do
  if path:match("%.pcap$") then
    if not fs.check_pcap(path) then bad[#bad + 1] = path end
  elseif path:match("%.part$") or path:match("%.tmp$") or path:match("%.invalid$") then
    if when == "final" then bad[#bad + 1] = path end -- a .part may wait for the next run
  end
end
check(#bad == 0, "every file under its final name is a whole pcap, nothing half-done left (" ..
  table.concat(bad, " ") .. ")")

local m = json.read(out .. "/m/manifest.json")
if m then
  local named = {}
  for _, t in ipairs(m.targets) do
    for _, id in ipairs(t.ids or {}) do named[id] = true end
  end
  local missing = {}
  for _, c in ipairs(captures) do
    if c.intent:match("^m%.") and not c.intent:match("^m%.timeout") and not named[c.id] then
      missing[#missing + 1] = c.id .. " (" .. c.intent .. ")"
    end
  end
  check(#missing == 0, "the manifest names every capture that exists (" .. table.concat(missing, " ") .. ")")
  if when == "final" then
    check(m.status == "complete", "the campaign is complete (" .. tostring(m.status) .. ")")
  else -- (or complete: what was in flight may all have finished while it wound down)
    check(m.status == "canceled" or m.status == "complete",
      "the manifest says canceled (" .. tostring(m.status) .. ")")
  end
end
os.exit(failed == 0 and 0 or 1)
