--[[ multi_colo_campaign.lua: one capture campaign across five colos (the README's demo).

What it does
  A full (unsampled) capture in each colo of --colos: the account allows one full capture at a
  time, so pcaprun queues them and starts each the moment the previous one ends. Meanwhile,
  two sampled captures (HTTPS and DNS traffic, across all colos) run within the account's
  one-per-minute sample rate. Files land in
    OUT/<name>/<colo>/<id>.pcap     full captures (copied from the bucket's local mirror)
    OUT/<name>/sampled/<id>.pcap    sampled captures
    OUT/<name>/manifest.json        targets, ids, statuses, times, files, sizes, errors
  Running it again skips the targets that are already complete.

Run it
  pcaprun --emulate --time-scale 0.01 scripts/multi_colo_campaign.lua   # offline, ~5 s
  CLOUDFLARE_API_TOKEN=... CLOUDFLARE_ACCOUNT_ID=... \
    pcaprun scripts/multi_colo_campaign.lua --bucket 's3://my-bucket/pcaps?region=us-east-1'

  Without a local mirror of the bucket (--bucket-dir), full captures stay in the bucket and
  the manifest records their object URIs (status "delivered"). The bucket must be validated
  for full captures: the campaign registers and validates it when the mirror shows the
  challenge file; otherwise run scripts/register_bucket.lua once first.

Options (environment variables in brackets): see --help.
Exit status: 0 when every target is complete, 1 otherwise.
]]
local args = require "pcaprun.args"
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"

local DEMO_BUCKET = "s3://pcaprun-demo/captures?region=us-east-1"

local opt = args.parse(arg, args.capture_options(DEMO_BUCKET, {
  name = { default = "edge-demo", help = "campaign name" },
  colos = { default = "ORD,SJC,AMS,FRA,SIN", env = "PCAPRUN_COLOS", type = "list", help = "colos" },
  time_limit = { default = 60, type = "number", help = "seconds per full capture" },
}), "Usage: pcaprun [--emulate] scripts/multi_colo_campaign.lua [options]")
if not opt then return end

local result = campaign.run {
  name = opt.name, out = opt.out, bucket = opt.bucket, bucket_dir = opt.bucket_dir,
  full = { colos = opt.colos, time_limit = opt.time_limit, byte_limit = 100e6 },
  sample = { time_limit = 60, packet_limit = 10000, filters = {
    { destination_port = 443, protocol = 6 },  -- HTTPS
    { destination_port = 53, protocol = 17 },  -- DNS
  } },
}

print(result:summary())
if emulator.running() then
  local s = emulator.stats()
  print(("emulator: %d API requests, %d limit violations"):format(s.requests.total, s.violations.total))
end
if not result.ok then
  error(("campaign %s ended %s: see %s"):format(result.name, result.status, result.manifest), 0)
end
