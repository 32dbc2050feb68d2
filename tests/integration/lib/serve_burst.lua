-- A burst of Cloudflare L3/4 DDoS alerts for pcaprun serve (tests/integration/serve_burst.sh,
-- tests/bench/serve.sh): N alerts for T targets (alert i targets 198.51.100.(i % T)), each with a
-- correlation id of its own, K requests in flight. Alerts answered 503 are sent again (once a
-- second, as a sender honouring a short Retry-After would) until each is accepted.
--   pcaprun serve_burst.lua URL SECRET N T K OUT.json
-- Writes {sent, accepted, first_round = {[status] = n}, retried, retry_after_seen, burst_seconds,
-- seconds, latencies = {...}} (the first round's POST -> answer times, seconds). Run it without
-- --time-scale: its clock is then the wall clock.
local http = require "pcaprun.http"
local json = require "pcaprun.json"
local task = require "pcaprun.task"

local url, secret, out = arg[1], arg[2], arg[6]
local n, targets, k = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])

local function body(i)
  return json.encode {
    name = "DDoS Alert", text = "burst alert " .. i, ts = 1795714020, alert_type = "dos_attack_l4",
    alert_correlation_id = ("burst-%05d"):format(i), alert_event = "ALERT_STATE_EVENT_START",
    account_id = "0123456789abcdef0123456789abcdef", policy_name = "L3/4 DDoS alerts",
    data = { target_ip = ("198.51.100.%d"):format(i % targets), target_port = 443, protocol = "TCP",
             attack_vector = "SYN Flood", packets_per_second = 1000000, megabits_per_second = 800,
             start_time = "2026-11-26T17:25:00Z" },
  }
end

local result = { sent = 0, accepted = 0, first_round = {}, retried = 0, retry_after_seen = false,
                 latencies = {} }

local function send(i, first)
  local started = task.now()
  local headers = { ["cf-webhook-auth"] = secret, ["Content-Type"] = "application/json" }
  local res, err = http.request { url = url .. "/hooks/cloudflare", method = "POST", body = body(i),
                                  timeout = 30, headers = headers }
  local status = res and res.status or tostring(err)
  result.sent = result.sent + 1
  if first then
    result.first_round[tostring(status)] = (result.first_round[tostring(status)] or 0) + 1
    result.latencies[#result.latencies + 1] = task.now() - started
  end
  if status == 503 and res.body:find('"retry_after":') then result.retry_after_seen = true end
  return status == 202
end

local t0 = task.now()
local pending, next_i = {}, 1
local function worker()
  while next_i <= n do
    local i = next_i
    next_i = next_i + 1
    if send(i, true) then result.accepted = result.accepted + 1 else pending[#pending + 1] = i end
  end
end
local workers = {}
for w = 1, k do workers[w] = task.spawn("sender " .. w, worker) end
assert(task.wait_all(workers))
result.burst_seconds = task.now() - t0
-- the refused ones again, oldest first, each second until one is refused again
local first = 1
while first <= #pending do
  task.sleep(1)
  while first <= #pending do
    result.retried = result.retried + 1
    if not send(pending[first], false) then break end
    result.accepted = result.accepted + 1
    first = first + 1
  end
end
result.seconds = task.now() - t0
assert(json.write(out, result))
