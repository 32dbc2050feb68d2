-- Sums up the pcaprun serve benchmark (serve.sh) from serve_post's lines and the emulator's
-- captures: pcaprun serve_report.lua DIR CAPTURES.json -> one JSON line.
--   DIR/healthz_seq.txt, alerts_seq.txt   one request at a time
--   DIR/alerts_par.txt, healthz_par.txt   K at a time ("# PER_SECOND" last)
-- POST -> create: the emulator's `submitted` (its clock is the wall clock at time scale 1) of the
-- capture whose intent names the alert, minus the wall time the POST started.
local alert = require "pcaprun.alert"
local json = require "pcaprun.json"

local dir, captures = arg[1], arg[2]

local function read(name)
  local rows, per_s = {}, nil
  for line in io.lines(dir .. "/" .. name) do
    local rate = line:match("^# ([%d.]+)")
    if rate then per_s = tonumber(rate)
    else
      local status, start, seconds, id = line:match("^(%d+) ([%d.]+) ([%d.]+) (%d+)$")
      rows[#rows + 1] = { status = tonumber(status), start = tonumber(start), seconds = tonumber(seconds),
                          id = tonumber(id) }
    end
  end
  return rows, per_s
end

local function quantile(v, q)
  table.sort(v)
  return v[math.max(1, math.ceil(q * #v))]
end

local function times(rows, want)
  local v = {}
  for _, r in ipairs(rows) do
    assert(r.status == want, ("HTTP %d, expected %d"):format(r.status, want))
    v[#v + 1] = r.seconds
  end
  return v
end

local health = times((read("healthz_seq.txt")), 200)
local seq = read("alerts_seq.txt")
local ack = times(seq, 202)
local started = {}
for _, r in ipairs(seq) do started[r.id] = r.start end
local create = {}
for _, c in ipairs(assert(json.read(captures)).captures) do
  local id = c.intent and tonumber(c.intent:match("^cloudflare%-(%d+)%."))
  if id and started[id] then create[#create + 1] = alert.time(c.submitted) - started[id] end
end
local par_alerts, accepted_per_s = read("alerts_par.txt")
times(par_alerts, 202)
local _, healthz_per_s = read("healthz_par.txt")
print(json.encode {
  alerts = #ack, matched = #create,
  healthz_p50 = quantile(health, 0.5), healthz_p99 = quantile(health, 0.99),
  ack_p50 = quantile(ack, 0.5), ack_p99 = quantile(ack, 0.99),
  create_p50 = quantile(create, 0.5), create_p99 = quantile(create, 0.99),
  accepted_per_s = accepted_per_s, healthz_per_s = healthz_per_s,
})
