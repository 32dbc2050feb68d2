-- Checks what journal_campaign.lua runs left behind, from the journal (pcaprun journal --json)
-- and the emulator (/__admin/stats, /__admin/captures): every target of every campaign has its
-- capture, succeeded and (simple) downloaded; each intent made exactly one capture; no limit was
-- violated. Prints "ok"/"not ok" lines, writes the pcap files to check (one per line) to FILES,
-- and fails when a check fails.
--   pcaprun -e "$(cat journal_verify.lua)" JOURNAL_JSON STATS_JSON CAPTURES_JSON BUCKET_DIR FILES PER_CAMPAIGN NAME...
local cjson = require "cjson"
local fs = require "pcaprun.fs"

local args = { ... }
local function load(path)
  local f = assert(io.open(path))
  local v = cjson.decode(f:read("a"))
  f:close()
  return v
end
local journal, stats, captures = load(args[1]), load(args[2]), load(args[3])
local bucket_dir, files_out, per = args[4], args[5], tonumber(args[6])
local names = { table.unpack(args, 7) }

local failed = 0
local function check(cond, what)
  print((cond and "ok - " or "not ok - ") .. what)
  if not cond then failed = failed + 1 end
end

local acct = journal.accounts[1]
local by_intent, done = {}, {}
for _, i in ipairs(acct.intents) do by_intent[i.intent] = i end
for _, d in ipairs(acct.downloads) do if d.state == "done" then done[d.path] = d end end
local emu = {}
for _, c in ipairs(captures.captures) do emu[c.id] = c end

local files, n = {}, 0
for _, name in ipairs(names) do
  local count, good, made = 0, 0, 0
  for intent, i in pairs(by_intent) do
    if intent:sub(1, #name + 1) == name .. "." then
      count = count + 1
      local c = i.capture_id and emu[i.capture_id]
      if c and c.intent == intent then made = made + 1 end
      if i.status == "success" and c and c.status == "success" then
        if i.type == "full" then
          local file = ("%s/crash/%s/pcap_%s.pcap"):format(bucket_dir, name, i.capture_id)
          if c.delivered and fs.stat(file) then good = good + 1; files[#files + 1] = file end
        else
          for path, d in pairs(done) do
            if d.capture_id == i.capture_id then good = good + 1; files[#files + 1] = path end
          end
        end
      end
    end
  end
  n = n + count
  check(count == per, ("campaign %s: %d intents journaled (want %d)"):format(name, count, per))
  check(made == per, ("campaign %s: each intent's capture is the one the emulator made for it (%d)"):format(name, made))
  check(good == per, ("campaign %s: %d captures succeeded with their file present"):format(name, good))
end
check(stats.captures.created == n, ("the emulator made %d captures for %d intents: none twice, none lost"):format(
  stats.captures.created, n))
for k, v in pairs(stats.violations) do check(v == 0, ("violations.%s == 0 (%d)"):format(k, v)) end
check(#acct.slots == 0, "no full-capture slot left claimed in the journal")

local f = assert(io.open(files_out, "w"))
for _, p in ipairs(files) do f:write(p, "\n") end
f:close()
if failed > 0 then error(("%d checks failed"):format(failed), 0) end
