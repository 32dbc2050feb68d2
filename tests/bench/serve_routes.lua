-- The routes of the pcaprun serve benchmark (serve.sh): each L3/4 alert's playbook sends one
-- simple create (named after the alert) and returns without waiting for the capture.
local alert = require "pcaprun.alert"
local pcap = require "pcaprun.pcap"
local serve = require "pcaprun.serve"

serve.route { source = "cloudflare", kind = "dos_attack_l4", playbook = function(ev, run)
  local spec = { type = "simple", time_limit = 10, packet_limit = 10, filter_v1 = alert.filter(ev) }
  return assert(pcap.create(spec, { intent = run:intent("bench") }))
end }
