-- pcaprun-test: --emulate --time-scale 0.01
-- Every client-side validation rule: a bad field fails at once, names the field and the rule,
-- and sends nothing (the emulator sees no request, so no rate-limit slot is spent).
local pcap = require "pcaprun.pcap"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local bucket = "s3://pcaprun-test/v?region=us-east-1"
local function simple(over)
  local s = { type = "simple", time_limit = 60, packet_limit = 100 }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end
local function full(over)
  local s = { type = "full", time_limit = 60, colo_name = "ORD", destination_conf = bucket }
  for k, v in pairs(over or {}) do s[k] = v end
  return s
end
local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

local NIL = {}
local cases = {
  -- { spec, field, message pattern }
  { simple { type = NIL }, "type", "required" },
  { simple { type = "sample" }, "type", "simple" },
  { simple { system = "magic-firewall" }, "system", "magic%-transit" },
  { simple { time_limit = NIL }, "time_limit", "required" },
  { simple { time_limit = 0 }, "time_limit", "between 1 and 300" },
  { simple { time_limit = 301 }, "time_limit", "between 1 and 300 for simple" },
  { simple { time_limit = 2.5 }, "time_limit", "integer" },
  { simple { time_limit = "60" }, "time_limit", "number" },
  { simple { packet_limit = NIL }, "packet_limit", "required" },
  { simple { packet_limit = 0 }, "packet_limit", "10000" },
  { simple { packet_limit = 10001 }, "packet_limit", "10000" },
  { simple { byte_limit = 1000 }, "byte_limit", "not allowed for simple" },
  { simple { colo_name = "ORD" }, "colo_name", "not allowed for simple" },
  { simple { filter_v1 = { destination_port = 70000 } }, "filter_v1.destination_port", "65535" },
  { simple { filter_v1 = { source_port = -1 } }, "filter_v1.source_port", "65535" },
  { simple { filter_v1 = { protocol = 256 } }, "filter_v1.protocol", "255" },
  { simple { filter_v1 = { source_address = "1.2.3.400" } }, "filter_v1.source_address", "IP" },
  { simple { filter_v1 = { destination_address = 12 } }, "filter_v1.destination_address", "string" },
  { simple { filter_v1 = { port = 80 } }, "filter_v1", "port" },
  { simple { filter_v1 = "tcp" }, "filter_v1", "object" },
  { simple { offset_time = "yesterday" }, "offset_time", "RFC 3339" },
  { simple { offset_time = iso(os.time() - 25 * 3600) }, "offset_time", "24" },
  { simple { offset_time = iso(os.time() + 3600) }, "offset_time", "future" },
  { simple { colo = "ORD" }, "colo", "unknown" },
  { full { time_limit = 86401 }, "time_limit", "86400" },
  { full { colo_name = NIL }, "colo_name", "required" },
  { full { colo_name = "" }, "colo_name", "" },
  { full { destination_conf = NIL }, "destination_conf", "required" },
  { full { destination_conf = "ftp://bucket" }, "destination_conf", "s3://" },
  { full { byte_limit = 0 }, "byte_limit", "1000000000" },
  { full { byte_limit = 1e10 }, "byte_limit", "1000000000" },
  { full { offset_time = iso(os.time()) }, "offset_time", "not allowed for full" },
}

local before = emulator.stats().requests.total
for i, c in ipairs(cases) do
  local spec, field, pattern = c[1], c[2], c[3]
  for k, v in pairs(spec) do if v == NIL then spec[k] = nil end end
  local v, err = pcap.create(spec)
  local label = ("case %d (%s)"):format(i, field)
  T.fails("INVALID", v, err, label .. " is refused")
  if err then
    T.eq(err.field, field, label .. " names the field")
    T.match(err.message, pattern, label .. " states the rule")
    T.match(tostring(err), "^INVALID: ", label .. " prints as one line")
  end
  T.ok(select(2, pcap.validate(spec)) ~= nil, label .. " fails validate() too")
end
T.eq(emulator.stats().requests.total, before, "no request was sent for any invalid spec")

-- the R2 secret in a destination_conf never appears in an error
local _, rerr = pcap.create(full {
  destination_conf = "r2://b?account-id=1&access-key-id=KEYID&secret-access-key=S3CR3T",
                                   time_limit = 0 })
T.ok(rerr and not tostring(rerr):find("S3CR3T"), "errors never show bucket secrets")

-- valid specs pass, at the edges of every range
for _, spec in ipairs {
  simple { time_limit = 1, packet_limit = 1 }, simple { time_limit = 300, packet_limit = 10000 },
  simple { filter_v1 = { source_address = "2001:db8::1", destination_port = 0, protocol = 255 } },
  simple { offset_time = iso(os.time() - 23 * 3600) },
  full { time_limit = 86400, byte_limit = 1000000000, packet_limit = 10000 },
  full { destination_conf = "gs://bucket/dir" }, full { filter_v1 = {} },
} do
  T.eq(pcap.validate(spec), true, "valid: " .. require("cjson").encode(spec))
end

-- misuse raises (a string where a table belongs, unknown options)
T.ok(not pcall(pcap.create, "simple"), "a non-table spec raises")
T.ok(not pcall(pcap.create, simple(), { timeuot = 1 }), "an unknown option raises")
T.ok(not pcall(pcap.get, "not-an-id"), "a malformed id raises")
T.done()
