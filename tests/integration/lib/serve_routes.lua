-- The routes of the pcaprun serve tests. Each playbook appends lines to $SERVE_MARKS, which
-- the tests count: "test ID", "full ID CAPTURE FILTER", "done ID", "end ID", "pd-begin ID",
-- "pd-done ID CAPTURE", "am ID KIND TARGET FILTER".
local alert = require "pcaprun.alert"
local json = require "pcaprun.json"
local pcap = require "pcaprun.pcap"
local serve = require "pcaprun.serve"

local function mark(...)
  local f = assert(io.open(assert(os.getenv("SERVE_MARKS")), "a"))
  f:write(table.concat({ ... }, " "), "\n")
  f:close()
end

serve.route { name = "cloudflare test", source = "cloudflare", kind = "test", playbook = function(_, run)
  mark("test", run.alert_id)
end }

-- START: a full capture of the target, followed until an END stops it.
serve.route {
  name = "ddos", source = "cloudflare", kind = { "dos_attack_l4", "advanced_ddos_attack_l4_alert" },
  playbook = function(ev, run)
    local spec = { type = "full", colo_name = "ORD", time_limit = 3600, filter_v1 = alert.filter(ev),
                   destination_conf = "s3://serve-test/ddos?region=us-east-1" }
    local cap = assert(pcap.create(spec, { intent = run:intent("full") }))
    run:record(cap)
    mark("full", run.alert_id, cap.id, json.encode(spec.filter_v1))
    assert(cap:wait())
    mark("done", run.alert_id)
  end,
  on_end = function(_, run) mark("end", run.alert_id) end,
}

serve.route { name = "pagerduty", source = "pagerduty", kind = "incident.triggered",
              playbook = function(_, run)
  mark("pd-begin", run.alert_id)
  local cap = assert(pcap.create({ type = "simple", time_limit = 10, packet_limit = 10 },
                                 { intent = run:intent("sample") }))
  assert(cap:wait())
  mark("pd-done", run.alert_id, cap.id)
  return cap
end }

serve.route { name = "alertmanager", source = "alertmanager", playbook = function(ev, run)
  mark("am", run.alert_id, ev.kind, ev.target, json.encode(alert.filter(ev)))
end }
