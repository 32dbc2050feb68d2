-- pcaprun-test: --emulate
-- The registry of error codes, as scripts see it (error.codes, error.make) and as the runtime
-- uses it: every error a call returns carries a code of the registry, with its retryability.
local perror = require "pcaprun.error"
local pcap = require "pcaprun.pcap"
local T = require "testlib"

T.case("error.codes lists every code with its meaning, retryability and exit status", function()
  local n = 0
  for name, d in pairs(perror.codes) do
    n = n + 1
    T.eq(d.name, name, "entry name")
    T.ok(type(d.meaning) == "string" and d.meaning ~= "", name .. " has a meaning")
    T.eq(type(d.retryable), "boolean", name .. ".retryable")
    T.eq(math.type(d.exit_status), "integer", name .. ".exit_status")
  end
  T.ok(n >= 20, "at least 20 codes")
  T.eq(perror.codes.TIMEOUT.retryable, true, "TIMEOUT is retryable")
  T.eq(perror.codes.INVALID.retryable, false, "INVALID is not")
  T.eq(perror.codes.USAGE.exit_status, 2, "USAGE exits 2")
end)

T.case("error.make takes registered codes only", function()
  local e = perror.make("TRANSPORT", "no route", { op = "x.y" })
  T.ok(perror.is(e), "an error value")
  T.eq(e.code, "TRANSPORT", "code")
  T.eq(e.retryable, true, "retryable from the registry")
  T.eq(e.op, "x.y", "extra fields")
  T.match(tostring(e), "^TRANSPORT: no route %(x%.y%)$", "tostring")
  T.raises(function() perror.make("NO_SUCH_CODE", "x") end, "error%.codes", "an unknown code raises")
end)

T.case("a call's error carries a registered code", function()
  local _, err = pcap.create { type = "simple", time_limit = 500, packet_limit = 1 }
  T.eq(err.code, "INVALID", "code")
  T.ok(perror.codes[err.code] ~= nil, "registered")
  T.eq(err.retryable, perror.codes[err.code].retryable, "retryability as the registry says")
end)
T.done()
