--[[ alert_responder.lua: capture an L3/4 DDoS attack while it happens, started by its alert.
Run it with pcaprun serve, which receives the alerts (see pcaprun-serve(1), README "Alerts"):

  pcaprun serve --emulate --time-scale 0.01 scripts/alert_responder.lua        # a rehearsal
  pcaprun serve --journal /var/lib/pcaprun/journal.db scripts/alert_responder.lua

Routes
  Cloudflare dos_attack_l4, advanced_ddos_attack_l4_alert, and Alertmanager alerts with a
  target_ip label: the playbook "ddos-response"; Cloudflare's test message: a log line.
  PagerDuty incident.triggered: a sampled capture of the edge (PagerDuty names no target).

The playbook, on START
  1  sample the attack   a simple capture looking back to the attack's start (offset_time, at
                         most 24 h) with the alert's filter (pcaprun.alert: target address,
                         protocol, reflection vector -> source port), downloaded as sample.pcap
  2  full captures       a full capture in each colo of PCAPRUN_COLOS at priority 10 (they take
                         the account's slot first), into PCAPRUN_BUCKET, for up to
                         PCAPRUN_FULL_SECONDS; a prefix target is captured unfiltered on address
                         (filter it afterwards with the BPF in summary.txt)
  3  write up            summary.txt: the alert, the sample's packets, the full captures, and the
                         report (report.json) beside it
On END (run:on_end) the campaign is canceled: it stops its full captures and collects what they
captured (with a mirror, PCAPRUN_BUCKET_DIR); the playbook goes on to write up, and the END is
noted in ended.txt.

Everything goes under PCAPRUN_OUT (default ./captures)/ddos-response/<alert's run id>/. Creates
are named after the alert (run.id), so a daemon killed mid-playbook and started again adopts
the captures it had made instead of making them twice.

Environment: PCAPRUN_OUT, PCAPRUN_COLOS (default ORD,SJC), PCAPRUN_BUCKET (required outside
--emulate), PCAPRUN_BUCKET_DIR, PCAPRUN_FULL_SECONDS (default 3600), and the receivers' secrets
(PCAPRUN_CF_WEBHOOK_SECRET, PCAPRUN_PAGERDUTY_WEBHOOK_SECRET, PCAPRUN_ALERTMANAGER_TOKEN).
]]
local alert = require "pcaprun.alert"
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local group = require "pcaprun.group"
local json = require "pcaprun.json"
local log = require "pcaprun.log"
local pcap = require "pcaprun.pcap"
local serve = require "pcaprun.serve"

local DEMO_BUCKET = "s3://pcaprun-demo/ddos?region=us-east-1"
local out = os.getenv("PCAPRUN_OUT") or "captures"
local bucket = os.getenv("PCAPRUN_BUCKET") or (emulator.running() and DEMO_BUCKET)
local colos = {}
for c in (os.getenv("PCAPRUN_COLOS") or "ORD,SJC"):gmatch("[^,%s]+") do colos[#colos + 1] = c end
local full_seconds = tonumber(os.getenv("PCAPRUN_FULL_SECONDS") or "3600")
if not bucket then error("name the bucket for full captures: PCAPRUN_BUCKET=s3://...", 0) end

-- offset_time for the attack's start: looking back at most 23 h, never ahead of the clock.
local function offset(ev)
  local now = os.time()
  local at = math.floor(math.max(math.min(ev.start or ev.time or now, now - 1), now - 23 * 3600))
  return os.date("!%Y-%m-%dT%H:%M:%SZ", at)
end

local ddos = {
  name = "ddos-response", out = out,
  steps = {
    { "sample the attack", timeout = 900, function(ctx)
        local ev, run = ctx.alert, ctx.run
        local spec = { type = "simple", time_limit = 300, packet_limit = 10000, filter_v1 = alert.filter(ev),
                       offset_time = offset(ev) }
        local cap = assert(pcap.create(spec, { intent = run:intent("sample") }))
        run:record(cap)
        assert(cap:wait())
        return assert(cap:download(ctx:path("sample.pcap"))).packets
      end },

    { "full captures", function(ctx)
        local ev, run = ctx.alert, ctx.run
        local dir = ctx:path("full")
        local g = group.new { name = "full captures" }
        g:spawn("campaign", campaign.run, {
          name = run.id, dir = dir, priority = 10, preempt = true, bucket = bucket,
          bucket_dir = os.getenv("PCAPRUN_BUCKET_DIR"), retry = { attempts = 1 },
          full = { colos = colos, time_limit = full_seconds, filter = alert.filter(ev) },
        })
        -- the END: the campaign is canceled, so it stops its full captures and collects them
        run:on_end(function() g:cancel() end)
        local ok, err, outcomes = g:wait()
        if ok then ctx.full = outcomes[1].values[1] end
        ctx.manifest = json.read(dir .. "/manifest.json") -- written at every change, canceled too
        run:record(ctx.manifest)
        if not ok and not group.is_canceled(err) then return nil, err end
        return ctx.manifest ~= nil
      end },

    { "write up", function(ctx)
        local ev = ctx.alert
        local _, post = alert.filter(ev)
        local lines = {
          ("%s %s %s: %s"):format(ev.source, ev.kind, ev.state, ev.title or ""),
          ("target %s%s, protocol %s, port %s, vector %s"):format(ev.target or "-",
            ev.prefix and " (a prefix)" or "",
            ev.protocol_name or tostring(ev.protocol or "-"), tostring(ev.port or "-"), ev.vector or "-"),
          ("sampled packets: %s"):format(tostring(ctx.results["sample the attack"])),
        }
        if post then lines[#lines + 1] = "filter the captures afterwards with: " .. post.bpf end
        if ctx.full then lines[#lines + 1] = ctx.full:summary()
        elseif ctx.manifest then
          lines[#lines + 1] = ("full captures: %s"):format(ctx.manifest.status)
          for _, t in ipairs(ctx.manifest.targets or {}) do
            lines[#lines + 1] = ("  %-10s %-10s %s packets, %d files"):format(t.colo or t.key, t.status,
              tostring(math.tointeger(t.packets) or t.packets or 0), #(t.files or {}))
          end
        end
        assert(json.write(ctx:path("alert.json"), ev.payload))
        local f = assert(io.open(ctx:path("summary.txt"), "w"))
        f:write(table.concat(lines, "\n"), "\n")
        f:close()
      end },
  },
}

-- the route's on_end, after the daemon told the START's run (which stops its campaign): noted in
-- the START's directory
local function ended(ev, run)
  for _, start in ipairs(run.related or {}) do
    local dir = ("%s/ddos-response/%s-%d"):format(out, ev.source, start.id)
    if fs.stat(dir) then
      fs.write(dir .. "/ended.txt", ("ended at %s (END alert %d; the playbook: %s)\n"):format(
        os.date("!%Y-%m-%dT%H:%M:%SZ"), run.alert_id, start.note or start.state))
    end
  end
end

-- PagerDuty names no target: a look-back sample of the whole edge
local function edge(ev, run)
  local spec = { type = "simple", time_limit = 300, packet_limit = 10000, offset_time = offset(ev) }
  local cap = assert(pcap.create(spec, { intent = run:intent("edge") }))
  run:record(cap)
  assert(cap:wait())
  return cap:download(("%s/pagerduty/%s/edge.pcap"):format(out, run.id))
end

serve.route { name = "cloudflare ddos", source = "cloudflare",
              kind = { "dos_attack_l4", "advanced_ddos_attack_l4_alert" }, playbook = ddos, on_end = ended }
serve.route { name = "alertmanager ddos", source = "alertmanager", playbook = ddos, on_end = ended,
              when = function(ev) return ev.target ~= nil end }
serve.route { name = "cloudflare test", source = "cloudflare", kind = "test", playbook = function(ev)
  log.info("alert_responder: Cloudflare's test message arrived", { text = ev.text })
end }
serve.route { name = "pagerduty", source = "pagerduty", kind = "incident.triggered", playbook = edge }
serve.options { max_running = 4, cooldown = 600, grace = 60 }
