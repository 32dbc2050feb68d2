-- Sums up one campaign (campaign.lua or campaign_curl.sh) from the emulator's own timeline and
-- counters plus the client's LOG; prints one JSON line, every duration in API seconds:
--   bound            the lower bound the limits and capture durations allow (README.md)
--   makespan_ready   first create accepted -> last capture ready (emulator timeline)
--   makespan_done    first create accepted -> last capture in hand (download written, or a
--                    full capture seen finished)
--   requests         API requests the emulator counted; violations
--   delay_mean/max   simple captures: ready -> download started
--   pcaprun campaign_report.lua LOG NFULL NSIMPLE FULL_TL SIMPLE_TL
local bench = require "benchlib"

local logpath, nfull, nsimple = arg[1], tonumber(arg[2]), tonumber(arg[3])
local full_tl, simple_tl = tonumber(arg[4]), tonumber(arg[5])
local cfg, stats, caps = bench.get("/config"), bench.get("/stats"), bench.get("/captures").captures
local F = cfg.time_scale

local offset, download, done = 0, {}, {}
for line in io.lines(logpath) do
  local what, id, t = line:match("^(%a+) (%S+) ?(%S*)$")
  if what == "clock" then offset = tonumber(id)
  elseif what == "download" then download[id] = tonumber(t) - offset
  elseif what == "done" then done[id] = tonumber(t) - offset end
end

local first, last_ready, last_done, delays, sum = math.huge, 0, 0, {}, 0
for _, c in ipairs(caps) do
  first = math.min(first, c.submitted_s)
  last_ready = math.max(last_ready, c.ready_s)
  last_done = math.max(last_done, (assert(done[c.id], "no 'done' line for " .. c.id)))
  if download[c.id] then
    delays[#delays + 1] = (download[c.id] - c.ready_s) / F
    sum = sum + delays[#delays]
  end
end
assert(#caps == nfull + nsimple, ("%d captures, expected %d"):format(#caps, nfull + nsimple))
table.sort(delays)

-- Full captures hold the one slot while pending or running, so they run back to back and the
-- last one still converts; simple creates are a sample window apart and the last one still
-- takes its duration. The two chains overlap; the longer one bounds the campaign.
local simple_dur = cfg.simple_duration >= 0 and cfg.simple_duration or simple_tl
local full_chain = nfull > 0 and
  nfull * (cfg.full_pending + full_tl) + cfg.conversion_pending + cfg.conversion_running or 0
local simple_chain = nsimple > 0 and (nsimple - 1) * cfg.sample_window + simple_dur or 0

bench.result{
  full = nfull, simple = nsimple, time_scale = F,
  bound = math.max(full_chain, simple_chain), full_chain = full_chain, simple_chain = simple_chain,
  makespan_ready = (last_ready - first) / F, makespan_done = (last_done - first) / F,
  requests = stats.requests.total, by_operation = stats.requests.by_operation,
  calls_per_capture = stats.requests.total / #caps,
  delay_mean = #delays > 0 and sum / #delays or nil, delay_max = delays[#delays],
  violations = stats.violations.total,
}
