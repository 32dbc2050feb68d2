--[[ incident_playbook.lua: the first minutes of a suspected SYN flood on HTTPS, as a playbook.

Steps
  1  sample the edge    a sampled capture of TCP/443 traffic across all colos (sample-443.pcap)
  2  assess             looks inside the sample (pcaprun.pcapfile): an incident when it holds at
                        least --threshold packets and at least --syn-ratio of its TCP packets
                        are SYNs without ACK; the target is the address that receives the most
                        of those SYNs
  3  capture            only during an incident, in parallel:
     3.1 full captures  a full capture of TCP/443 to the target in each colo of --colos at
                        priority 10: they take the account's full-capture slot first, stopping
                        lower-priority captures; the campaign's manifest summarizes each file
     3.2 sample DNS     a sampled capture of UDP/53, to see whether DNS is hit too
  4  write up           summary.txt with what was found and where the files are
  Every step has a timeout. A failure stops the playbook, and the report names the step, the
  error and the script line. Each step's start and end is printed and, with --webhook
  [PCAPRUN_WEBHOOK], POSTed there as a JSON event.

Output
  OUT/syn-flood-response/<UTC time>/: the pcaps (full captures under full/<colo>/), the
  campaign's manifest.json, summary.txt, and report.json (every step's status and times).

Run it
  pcaprun --emulate --time-scale 0.01 scripts/incident_playbook.lua   # offline, ~5 s; the
                                               # emulator plays a SYN flood on one address
  CLOUDFLARE_API_TOKEN=... CLOUDFLARE_ACCOUNT_ID=... PCAPRUN_BUCKET=s3://... \
    PCAPRUN_WEBHOOK=https://hooks.example.com/pcaprun pcaprun scripts/incident_playbook.lua

Options (environment variables in brackets): see --help.
Exit status: 0 when the playbook succeeded, 1 otherwise.
]]
local args = require "pcaprun.args"
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"
local intent = require "pcaprun.intent"
local pcap = require "pcaprun.pcap"
local pcapfile = require "pcaprun.pcapfile"
local playbook = require "pcaprun.playbook"

local DEMO_BUCKET = "s3://pcaprun-demo/incidents?region=us-east-1"

local opt = args.parse(arg, {
  out = { default = "captures", env = "PCAPRUN_OUT", help = "output directory" },
  bucket = { default = DEMO_BUCKET, env = "PCAPRUN_BUCKET", help = "bucket URI for full captures" },
  bucket_dir = { env = "PCAPRUN_BUCKET_DIR", help = "local mirror of the bucket" },
  colos = { default = "ORD,SJC", env = "PCAPRUN_COLOS", type = "list", help = "colos to capture in full" },
  threshold = { default = 1000, type = "number", help = "sampled packets that make it an incident" },
  syn_ratio = { default = 0.5, type = "number",
                help = "share of SYNs without ACK that makes it an incident" },
  webhook = { env = "PCAPRUN_WEBHOOK", help = "URL to POST JSON events to" },
}, "Usage: pcaprun [--emulate] scripts/incident_playbook.lua [options]")
if not opt then return end
if opt.bucket == DEMO_BUCKET and not emulator.running() then
  error("outside --emulate, name your bucket: --bucket URI or PCAPRUN_BUCKET", 0)
end
if emulator.running() then
  emulator.configure { syn_flood = 0.8 } -- a rehearsal: 80 % of the captured packets are a SYN flood
end

-- A BPF filter for TCP segments with SYN set and ACK clear.
local SYN_ONLY = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"

-- A sampled capture, downloaded into the run's directory; returns the capture.
local function sample(ctx, filter, file)
  local spec = { type = "simple", time_limit = 60, packet_limit = 10000, filter_v1 = filter }
  local cap = assert(pcap.create(spec, { intent = intent.of(ctx.run, file) }))
  assert(cap:wait())
  assert(cap:download(ctx:path(file)))
  return cap
end

local function show(ev)
  print(("  [%s] %s%s%s"):format(ev.event, ev.index and (ev.index .. " ") or "",
                                 ev.step or ev.status or ev.playbook, ev.error and (": " .. ev.error) or ""))
end

local report = playbook.run {
  name = "syn-flood-response", out = opt.out,
  notify = { show, opt.webhook },
  steps = {
    { "sample the edge", timeout = 300, function(ctx)
        return sample(ctx, { destination_port = 443, protocol = 6 }, "sample-443.pcap").packets
      end },

    { "assess", timeout = 300, function(ctx)
        local file = ctx:path("sample-443.pcap")
        local s = assert(pcapfile.stats(file, { top = 5 }))
        local victims = assert(pcapfile.top(file, { by = "destinations", n = 1, filter = SYN_ONLY }))
        ctx.stats, ctx.target = s, victims[1] and victims[1].address
        ctx.incident = s.packets >= opt.threshold and s.tcp.syn_ratio >= opt.syn_ratio and ctx.target ~= nil
        return { incident = ctx.incident, packets = s.packets, syn_ratio = s.tcp.syn_ratio,
                 target = ctx.target }
      end },

    { "capture", timeout = 1800, when = function(ctx) return ctx.incident end, parallel = {
        { "full captures", function(ctx)
            local result = campaign.run {
              name = ctx.run .. "-full", dir = ctx:path("full"), priority = 10, preempt = true,
              bucket = opt.bucket, bucket_dir = opt.bucket_dir,
              full = { colos = opt.colos, time_limit = 120,
                       filter = { destination_address = ctx.target, destination_port = 443, protocol = 6 } },
            }
            if not result.ok then return nil, result.error end
            return result
          end },
        { "sample DNS", function(ctx)
            return sample(ctx, { destination_port = 53, protocol = 17 }, "sample-53.pcap").packets
          end },
      } },

    { "write up", function(ctx)
        local f = assert(io.open(ctx:path("summary.txt"), "w"))
        local s = ctx.stats
        f:write(("%s\nsampled TCP/443 packets: %d, SYN without ACK: %d (ratio %.3f; incident: %s)\n"):format(
          ctx.run, s.packets, s.tcp.syn_only, s.tcp.syn_ratio, tostring(ctx.incident)))
        f:write(("target: %s\n"):format(ctx.target or "none"))
        for i, d in ipairs(s.destinations) do
          f:write(("  destination %d: %s, %d packets, %d bytes\n"):format(i, d.address, d.packets, d.bytes))
        end
        local full = ctx.results["full captures"]
        if full then f:write(full:summary(), "\n") end
        f:close()
      end },
  },
}

print(report:summary())
if emulator.running() then
  local s = emulator.stats()
  print(("emulator: %d API requests, %d limit violations"):format(s.requests.total, s.violations.total))
end
if not report.ok then error("playbook " .. report.status .. ": see " .. report.file, 0) end
