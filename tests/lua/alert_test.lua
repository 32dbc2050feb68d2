-- pcaprun-test: --emulate --time-scale 0.01
-- pcaprun.alert: the senders' payloads (tests/integration/lib/alerts/) as one normalised event,
-- and the capture filter an alert maps to: protocol names, reflection vectors to source ports, a
-- prefix captured unfiltered on address and filtered afterwards; times; unknown types kept.
local alert = require "pcaprun.alert"
local json = require "pcaprun.json"
local pcap = require "pcaprun.pcap"
local T = require "testlib"

local dir = assert(os.getenv("PCAPRUN_TEST_DIR")) .. "/integration/lib/alerts/"
local function payload(name) return assert(json.read(dir .. name .. ".json")) end

T.case("Cloudflare L3/4 DDoS START and END", function()
  local ev = alert.normalise("cloudflare", payload("cloudflare_ddos_start"))
  T.eq(ev.source, "cloudflare")
  T.eq(ev.kind, "dos_attack_l4")
  T.eq(ev.state, "START")
  T.eq(ev.correlation, "3c7e9d1f-5a2b-4c8d-9e0f-1a2b3c4d5e6f")
  T.eq(ev.target, "198.51.100.7")
  T.eq(ev.prefix, nil, "an address is not a prefix")
  T.eq(ev.port, 443)
  T.eq(ev.protocol, 6, "TCP is 6")
  T.eq(ev.protocol_name, "TCP")
  T.eq(ev.vector, "SYN Flood")
  T.eq(ev.packets_per_second, 1200000)
  T.eq(ev.megabits_per_second, 950)
  T.eq(ev.start, 1795713900, "start_time")
  T.eq(ev.time, 1795714020, "ts")
  local f, post = alert.filter(ev)
  T.eq(json.encode(f), '{"destination_address":"198.51.100.7","destination_port":443,"protocol":6}')
  T.eq(post, nil)
  T.ok(pcap.validate { type = "simple", time_limit = 60, packet_limit = 100, filter_v1 = f },
       "a valid filter_v1")
  local fin = alert.normalise("cloudflare", payload("cloudflare_ddos_end"))
  T.eq(fin.state, "END")
  T.eq(fin.correlation, ev.correlation, "the END names its START")
end)

T.case("an advanced alert on a prefix, DNS amplification", function()
  local ev = alert.normalise("cloudflare", payload("cloudflare_advanced"))
  T.eq(ev.kind, "advanced_ddos_attack_l4_alert")
  T.eq(ev.target, "203.0.113.0/24")
  T.eq(ev.prefix, true)
  local f, post = alert.filter(ev)
  T.eq(json.encode(f), '{"protocol":17,"source_port":53}', "unfiltered on address; from DNS reflectors")
  T.eq(post.net, "203.0.113.0/24")
  T.eq(post.bpf, "dst net 203.0.113.0/24")
end)

T.case("the test message, unknown types", function()
  local ev = alert.normalise("cloudflare", payload("cloudflare_test"))
  T.eq(ev.kind, "test")
  T.eq(ev.state, "TEST")
  T.match(ev.text, "^Hello World")
  local other = alert.normalise("cloudflare", { alert_type = "magic_tunnel_health_check_event", text = "t",
                                                 alert_event = "ALERT_STATE_EVENT_START", data = { x = 1 } })
  T.eq(other.kind, "magic_tunnel_health_check_event", "kept as it is")
  T.eq(other.target, nil)
  T.eq(json.encode(alert.filter(other)), "{}", "nothing to filter on: everything")
  T.eq(alert.normalise("cloudflare", { alert_type = "x", data = "not a table" }).kind, "x")
  T.raises(function() alert.normalise("grafana", {}) end, "unknown source")
end)

T.case("PagerDuty incident.triggered", function()
  local ev = alert.normalise("pagerduty", payload("pagerduty_triggered"))
  T.eq(ev.kind, "incident.triggered")
  T.eq(ev.state, "START")
  T.eq(ev.correlation, "PGR0VU2", "the incident")
  T.eq(ev.title, "DDoS suspected on the edge")
  T.eq(ev.urgency, "high")
  T.near(ev.time, 1795714160.641, 0.001, "occurred_at")
  local p = payload("pagerduty_triggered")
  p.event.event_type = "incident.resolved"
  T.eq(alert.normalise("pagerduty", p).state, "END")
end)

T.case("Alertmanager: one alert of a group", function()
  local group = payload("alertmanager_group")
  local ev = alert.normalise("alertmanager", { alert = group.alerts[1], receiver = group.receiver })
  T.eq(ev.kind, "DDoSAttack")
  T.eq(ev.state, "START")
  T.eq(ev.target, "198.51.100.9")
  T.eq(ev.correlation, "c6a2e3f5d1b04e7a@2026-11-26T17:30:00.000Z")
  T.eq(ev.labels.severity, "critical")
  T.eq(json.encode(alert.filter(ev)),
       '{"destination_address":"198.51.100.9","protocol":17,"source_port":123}',
       "NTP reflection: from port 123, whatever the victim's port")
  group.alerts[1].status = "resolved"
  T.eq(alert.normalise("alertmanager", { alert = group.alerts[1] }).state, "END")
end)

T.case("protocols, vectors, targets, times", function()
  for name, n in pairs { TCP = 6, udp = 17, ICMP = 1, gre = 47, ESP = 50, ICMPv6 = 58, ["17"] = 17 } do
    T.eq(alert.protocol(name), n, name)
  end
  T.eq(alert.protocol("SCTP"), nil)
  T.eq(alert.protocol(300), nil)
  for vector, port in pairs { ["DNS Amplification"] = 53, ["NTP reflection"] = 123, SSDP = 1900,
                              ["CLDAP Reflection"] = 389, Memcached = 11211, chargen = 19,
                              ["SNMP amp"] = 161 } do
    T.eq(alert.reflection(vector), port, vector)
  end
  T.eq(alert.reflection("SYN Flood"), nil)
  T.eq(alert.reflection("UDP flood (undnsed)"), nil, "a word, not any substring")
  T.eq(alert.target("198.51.100.7/32"), "198.51.100.7", "a /32 is an address")
  T.eq(select(2, alert.target("2001:db8::/48")), 48)
  T.eq(alert.target("2001:db8::1"), "2001:db8::1")
  T.eq(alert.target("300.1.1.1"), nil)
  T.eq(alert.target("198.51.100.0/33"), nil)
  T.eq(alert.target("example.com"), nil)
  T.eq(alert.time("1970-01-02T00:00:00Z"), 86400)
  T.eq(alert.time("1970-01-01T01:00:00+01:00"), 0)
  T.eq(alert.time("2026-11-26T17:25:00.5Z"), 1795713900.5)
  T.eq(alert.time("yesterday"), nil)
end)

T.done()
