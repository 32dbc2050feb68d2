-- A campaign that the crash test kills and restarts: pcaprun.campaign with full captures across
-- colos (serial: one slot) and simple captures (one per sample interval, downloaded). Run again
-- with the same journal it resumes: the manifest and the journal skip what is complete, and the
-- same intents make the runtime adopt or reconcile what a killed run created.
--   pcaprun --journal J journal_campaign.lua OUT NAME BUCKET_DIR [NFULL NSIMPLE [FULL_SECONDS]]
-- Prints "COMPLETE n" when every target is complete; exits 1 otherwise.
local campaign = require "pcaprun.campaign"

local out, name, mirror = assert(arg[1], "OUT"), assert(arg[2], "NAME"), assert(arg[3], "BUCKET_DIR")
local nfull, nsimple, seconds = tonumber(arg[4] or 4), tonumber(arg[5] or 6), tonumber(arg[6] or 10)
local all = { "ORD", "SJC", "AMS", "FRA", "LHR", "NRT", "SIN", "SYD" }
local colos, filters = {}, {}
for i = 1, nfull do colos[i] = all[i] end
for i = 1, nsimple do filters[i] = { destination_port = 1000 + i } end

local result = campaign.run {
  name = name, out = out, bucket_dir = mirror,
  -- an R2-style secret in the URI: the journal must never hold it
  bucket = "s3://crash/" .. name .. "?region=us-east-1&secret_access_key=jOuRnAlSeCrEt",
  full = nfull > 0 and { colos = colos, time_limit = seconds, packet_limit = 500 } or nil,
  sample = nsimple > 0 and { time_limit = 5, packet_limit = 10000, filters = filters } or nil,
  retry = { attempts = 5, base = 1, cap = 5 },
}
if not result.ok then
  print(result:summary())
  os.exit(1)
end
print(("COMPLETE %d targets"):format(#result.targets))
