--- pcaprun.alert: alerts as one normalised event, and the capture filter an alert maps to.
--
--   local ev = alert.normalise("cloudflare", payload)  -- as pcaprun serve hands it to playbooks
--   local filter, post = alert.filter(ev)             -- filter_v1 for pcap.create
--
-- An event: {source, kind, state = "START" | "END" | "TEST", correlation, time, start, title,
-- target (an address or a prefix), prefix (true for a prefix), port, protocol (a number),
-- protocol_name, vector, packets_per_second, megabits_per_second, account_id, labels,
-- annotations, payload (as received)}. Fields a sender does not give are nil; an unknown alert
-- type is kept (its kind is the sender's name for it), never an error.
local M = {}

--- Protocol names to IP protocol numbers.
M.PROTOCOLS = { icmp = 1, tcp = 6, udp = 17, gre = 47, esp = 50, icmpv6 = 58 }

--- Reflection and amplification vectors: the source port of the reflected traffic (UDP).
M.REFLECTION = { dns = 53, ntp = 123, ssdp = 1900, cldap = 389, memcached = 11211, chargen = 19, snmp = 161 }

local function str(v) return type(v) == "string" and v ~= "" and v or nil end

local function num(v)
  v = tonumber(v)
  return v and v == v and v or nil -- not NaN
end

-- Days since 1970-01-01 of a civil date (proleptic Gregorian).
local function days(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

--- alert.time(text) -> epoch seconds | nil: an RFC 3339 time ("2026-11-26T17:29:20.64Z", with
-- Z or an offset), or a number of seconds (a string of digits too).
function M.time(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" then return nil end
  if v:match("^%d+%.?%d*$") then return tonumber(v) end
  local y, mo, d, h, mi, s, frac, zone =
    v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then return nil end
  local t = days(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
            + tonumber(s) + (tonumber("0" .. frac) or 0)
  if zone == "Z" or zone == "z" then return t end
  local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil end
  local off = tonumber(zh) * 3600 + tonumber(zm) * 60
  return sign == "+" and t - off or t + off
end

--- alert.protocol(v) -> number | nil: an IP protocol from a name ("TCP", "udp") or a number.
function M.protocol(v)
  if type(v) == "number" or (type(v) == "string" and v:match("^%d+$")) then
    local n = math.tointeger(tonumber(v))
    return n and n >= 0 and n <= 255 and n or nil
  end
  return type(v) == "string" and M.PROTOCOLS[v:lower()] or nil
end

--- alert.reflection(vector) -> source port | nil: the port a reflection vector comes from, when
-- the vector's name says which ("DNS amplification", "NTP reflection", "Memcached", ...).
function M.reflection(vector)
  if type(vector) ~= "string" then return nil end
  local v = vector:lower()
  for name, port in pairs(M.REFLECTION) do
    if v:find("%f[%w]" .. name) then return port end
  end
  return nil
end

--- alert.target(text) -> address, prefix_length | nil: an IPv4 or IPv6 address, or a prefix
-- ("198.51.100.0/24"); a /32 or /128 is an address.
function M.target(v)
  if type(v) ~= "string" then return nil end
  local addr, len = v:match("^([%x:.]+)/(%d+)$")
  addr = addr or v
  local v4 = addr:match("^%d+%.%d+%.%d+%.%d+$")
  local v6 = not v4 and addr:find(":") and addr:match("^[%x:.]+$")
  if not (v4 or v6) then return nil end
  if v4 then
    for part in addr:gmatch("%d+") do if tonumber(part) > 255 then return nil end end
  end
  local max = v4 and 32 or 128
  len = len and tonumber(len)
  if len and len > max then return nil end
  return addr, len and len < max and len or nil
end

local function with_target(ev, value)
  local addr, len = M.target(value)
  if addr then
    ev.target = len and (addr .. "/" .. len) or addr
    ev.prefix = len ~= nil or nil
  end
end

local normalise = {}

function normalise.cloudflare(p)
  local data = type(p.data) == "table" and p.data or {}
  local ev = { kind = str(p.alert_type), title = str(p.name) or str(p.text),
               correlation = str(p.alert_correlation_id),
               account_id = str(p.account_id), policy = str(p.policy_name), text = str(p.text) }
  local event = str(p.alert_event) or ""
  if not ev.kind then -- the test delivery ("Save and test"): a body with text alone
    ev.kind, ev.state = "test", "TEST"
  else
    ev.state = event:find("END$") and "END" or "START"
  end
  ev.start = M.time(data.start_time)
  ev.time = M.time(p.ts) or ev.start
  with_target(ev, data.target_ip)
  ev.port = math.tointeger(num(data.target_port))
  ev.protocol_name = str(data.protocol)
  ev.protocol = M.protocol(data.protocol)
  ev.vector = str(data.attack_vector)
  ev.packets_per_second = num(data.packets_per_second)
  ev.megabits_per_second = num(data.megabits_per_second)
  ev.attack_id = str(data.attack_id)
  return ev
end

function normalise.pagerduty(p)
  local e = type(p.event) == "table" and p.event or {}
  local data = type(e.data) == "table" and e.data or {}
  local ev = { kind = str(e.event_type), id = str(e.id), time = M.time(e.occurred_at),
               title = str(data.title) }
  ev.state = ev.kind == "incident.resolved" and "END" or "START"
  ev.correlation = str(data.id)
  ev.start = ev.time
  ev.service = type(data.service) == "table" and str(data.service.summary) or nil
  ev.urgency = str(data.urgency)
  ev.priority = type(data.priority) == "table" and str(data.priority.summary) or nil
  return ev
end

local function first(t, ...)
  for _, k in ipairs { ... } do
    if str(t[k]) then return t[k] end
  end
  return nil
end

function normalise.alertmanager(p)
  local a = type(p.alert) == "table" and p.alert or {}
  local labels = type(a.labels) == "table" and a.labels or {}
  local notes = type(a.annotations) == "table" and a.annotations or {}
  local ev = { kind = str(labels.alertname), labels = labels, annotations = notes, receiver = str(p.receiver),
               title = str(notes.summary) or str(labels.alertname) }
  ev.state = a.status == "resolved" and "END" or "START"
  ev.start = M.time(a.startsAt)
  ev.time = ev.state == "END" and M.time(a.endsAt) or ev.start
  ev.correlation = (str(a.fingerprint) or "") .. "@" .. (str(a.startsAt) or "")
  with_target(ev, first(labels, "target_ip", "target", "prefix", "ip"))
  ev.port = math.tointeger(num(first(labels, "target_port", "port")))
  ev.protocol_name = str(labels.protocol)
  ev.protocol = M.protocol(labels.protocol)
  ev.vector = first(labels, "attack_vector", "vector")
  return ev
end

--- alert.normalise(source, payload) -> event: the fields above from a sender's payload
-- ("cloudflare": the notification; "pagerduty": the webhook body; "alertmanager": one alert of
-- a group, {alert = {...}, receiver, status, groupKey, ...}). Raises on an unknown source.
function M.normalise(source, payload)
  local f = normalise[source]
  if not f then error(("alert.normalise: unknown source '%s'"):format(tostring(source)), 2) end
  local ev = f(type(payload) == "table" and payload or {})
  ev.source, ev.payload = source, payload
  ev.kind = ev.kind or "unknown"
  return ev
end

--- alert.filter(event) -> filter_v1, post: what to ask pcap.create for.
--   target: an address becomes destination_address; a prefix cannot be a filter_v1 address, so
--           the capture is unfiltered on address and `post` says how to filter it afterwards:
--           {net = "198.51.100.0/24", bpf = "dst net 198.51.100.0/24"} (tcpdump, tshark -f);
--   protocol: its number;
--   a reflection vector (DNS, NTP, SSDP, CLDAP, memcached, chargen, SNMP): source_port is the
--           reflector's port and the protocol UDP (the victim's port is any);
--   otherwise the target port, when the alert names one, is destination_port.
function M.filter(ev)
  local f, post = {}, nil
  if ev.target then
    if ev.prefix then post = { net = ev.target, bpf = "dst net " .. ev.target }
    else f.destination_address = ev.target end
  end
  local reflected = M.reflection(ev.vector)
  if reflected then
    f.source_port, f.protocol = reflected, ev.protocol or 17
  else
    f.protocol = ev.protocol
    if ev.port and ev.port > 0 and ev.port <= 65535 then f.destination_port = ev.port end
  end
  return f, post
end

return M
