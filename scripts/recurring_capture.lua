--[[ recurring_capture.lua: a capture on a schedule, until told to stop.

What it does
  At every firing time of --cron (UTC; --tz local for local time), with up to --jitter seconds
  of random delay, it runs a small campaign: a sampled capture of the traffic to --port over
  --protocol, and a full capture in each colo of --colos (none with --colos ''). Each run
  writes OUT/<name>/<UTC time>/ (the run's pcaps and manifest.json). A run that is still going
  when the next one is due makes that one skip. The schedule's state (the last run) is kept in
  OUT/<name>/schedule.json, so after a restart the latest run missed meanwhile is made up.

  It stops after --runs runs (0: never), or on SIGINT/SIGTERM: no new run starts, the run in
  flight stops its full captures, collects what they captured and writes its manifest; no
  file ever appears half-written. A second signal exits at once.

Run it
  pcaprun --emulate --time-scale 0.01 scripts/recurring_capture.lua   # 3 runs, ~10 s offline
  CLOUDFLARE_API_TOKEN=... CLOUDFLARE_ACCOUNT_ID=... PCAPRUN_BUCKET=s3://... \
    pcaprun scripts/recurring_capture.lua --cron '*/15 * * * *' --runs 0

Options (environment variables in brackets): see --help.
Exit status: 0 when every run completed (or it was stopped by a signal), 1 otherwise.
]]
local args = require "pcaprun.args"
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"
local perror = require "pcaprun.error"
local schedule = require "pcaprun.schedule"

local DEMO_BUCKET = "s3://pcaprun-demo/recurring?region=us-east-1"

local opt = args.parse(arg, args.capture_options(DEMO_BUCKET, {
  name = { default = "recurring", help = "job name (output directory and state)" },
  cron = { default = "*/5 * * * *", help = "schedule: 5 fields, @hourly, @every 15m, ..." },
  tz = { default = "utc", help = "utc or local" },
  jitter = { default = 10, type = "number", help = "seconds of random delay per run" },
  runs = { default = 3, type = "number", help = "stop after this many runs (0: never)" },
  bucket = { required = false }, -- only full captures (--colos) need one
  colos = { default = "ORD", env = "PCAPRUN_COLOS", type = "list", help = "colos for full captures" },
  time_limit = { default = 60, type = "number", help = "seconds per capture" },
  port = { default = 443, type = "number", help = "destination port of the sampled traffic" },
  protocol = { default = 6, type = "number", help = "IP protocol of the sampled traffic" },
}), "Usage: pcaprun [--emulate] scripts/recurring_capture.lua [options]")
if not opt then return end
if #opt.colos > 0 and not opt.bucket then
  error(perror.make("USAGE", "full captures (--colos) need a bucket: --bucket URI or $PCAPRUN_BUCKET,"
                               .. " or pass --colos ''"), 0)
end
local home = opt.out .. "/" .. opt.name

schedule.cron(opt.cron, { name = opt.name, tz = opt.tz, jitter = opt.jitter, overlap = "skip",
                          catch_up = "latest" }, function(run)
  local result = campaign.run {
    name = run.id, dir = home .. "/" .. run.stamp, bucket = opt.bucket, bucket_dir = opt.bucket_dir,
    full = #opt.colos > 0 and { colos = opt.colos, time_limit = opt.time_limit } or nil,
    sample = { time_limit = math.min(opt.time_limit, 300), packet_limit = 5000,
               filter = { destination_port = opt.port, protocol = opt.protocol } },
  }
  print(("run %d at %s%s: %s, %d packets, %s"):format(run.n, run.stamp, run.catch_up and " (catch-up)" or "",
        result.status, result.totals.packets, result.manifest))
  if not result.ok then return nil, result.error end
end)

local summary = schedule.run { state = home .. "/schedule.json", runs = opt.runs > 0 and opt.runs or nil }
local c = summary.jobs[opt.name]
print(("schedule %s ended (%s): %d runs, %d ok, %d failed, %d stopped, %d skipped, %d missed"):format(
  opt.name, summary.reason, c.runs, c.ok, c.failed, c.canceled, c.skipped, c.missed))
if emulator.running() then
  local s = emulator.stats()
  print(("emulator: %d API requests, %d limit violations"):format(s.requests.total, s.violations.total))
end
if c.failed > 0 then error(("%d of %d runs failed"):format(c.failed, c.runs), 0) end
