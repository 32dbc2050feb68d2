-- The routes of the burst (serve_burst.sh): a sampled capture of the attacked address, waited
-- for. The daemon's cooldown and the account's limits do the pacing.
local alert = require "pcaprun.alert"
local pcap = require "pcaprun.pcap"
local serve = require "pcaprun.serve"

serve.route { name = "ddos", source = "cloudflare", kind = "dos_attack_l4", playbook = function(ev, run)
  local spec = { type = "simple", time_limit = 10, packet_limit = 10, filter_v1 = alert.filter(ev) }
  local cap = assert(pcap.create(spec, { intent = run:intent("sample") }))
  return assert(cap:wait())
end }
