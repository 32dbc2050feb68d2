-- Checks what journal_campaign.lua runs left behind, from the campaigns' manifests, the journal
-- (pcaprun journal --json) and the emulator (/__admin/stats, /__admin/captures): every target of
-- every campaign is complete with its files; each of the campaign's intents made exactly one
-- capture, which succeeded (full: delivered to the bucket); no limit was violated; no slot claim
-- is left. Prints "ok"/"not ok" lines, writes the pcap files to check (one per line) to FILES, and
-- fails when a check fails.
--   pcaprun -e "$(cat journal_verify.lua)" JOURNAL_JSON STATS_JSON CAPTURES_JSON OUT FILES PER NAME...
-- (PER: targets per campaign)
local json = require "pcaprun.json"

local args = { ... }
local journal, stats, captures = json.read(args[1]), json.read(args[2]), json.read(args[3])
local out, files_out, per = args[4], args[5], tonumber(args[6])
local names = { table.unpack(args, 7) }

local failed = 0
local function check(cond, what)
  print((cond and "ok - " or "not ok - ") .. what)
  if not cond then failed = failed + 1 end
end

local acct = journal.accounts[1]
local emu = {}
for _, c in ipairs(captures.captures) do emu[c.id] = c end

local files, nintents = {}, 0
for _, name in ipairs(names) do
  local m = json.read(("%s/%s/manifest.json"):format(out, name))
  local complete, nfiles = 0, 0
  for _, t in ipairs(m and m.targets or {}) do
    if t.status == "complete" and #(t.files or {}) > 0 then complete = complete + 1 end
    for _, f in ipairs(t.files or {}) do
      files[#files + 1] = ("%s/%s/%s"):format(out, name, f.path)
      nfiles = nfiles + 1
    end
  end
  check(m and m.status == "complete" and complete == per,
    ("campaign %s: manifest complete, %d of %d targets complete"):format(name, complete, per))
  local count, good = 0, 0
  for _, i in ipairs(acct.intents) do
    if i.intent:sub(1, #name + 1) == name .. "." then
      count = count + 1
      local c = i.capture_id and emu[i.capture_id]
      if c and c.intent == i.intent and c.status == "success" and (i.type == "simple" or c.delivered) then
        good = good + 1
      end
    end
  end
  nintents = nintents + count
  check(count == per, ("campaign %s: %d intents journaled (want %d: one per target)")
    :format(name, count, per))
  check(good == per, ("campaign %s: %d intents' captures made for them by the emulator, succeeded")
    :format(name, good))
end
local made = stats.captures.created
check(made == nintents, ("the emulator made %d captures for %d intents: none twice, none lost")
  :format(made, nintents))
for k, v in pairs(stats.violations) do check(v == 0, ("violations.%s == 0 (%d)"):format(k, v)) end
check(#acct.slots == 0, "no full-capture slot left claimed in the journal")

local f = assert(io.open(files_out, "w"))
for _, p in ipairs(files) do f:write(p, "\n") end
f:close()
if failed > 0 then error(("%d checks failed"):format(failed), 0) end
