-- pcaprun-test: --emulate --time-scale 0.01 --http-timeout 2
-- Numbers from a server (and from scripts) are bounded before they become a timer or a pause:
-- Retry-After: 999999999 on the simple-create limit and on the global limit, Ratelimit t=inf on
-- a 200, a capture whose time_limit reads 1e300; timeouts of 1e300, 1e-9, -5 and NaN. Nothing
-- waits for years, nothing spins, and under UBSan (make test-asan) nothing is undefined.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local http = require "pcaprun.http"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local WINDOW = 300 -- API s: the request budget's window, the longest a pause may last
-- Measured waits include the machine's own delays, a hundredfold at this time scale (0.1 s of a
-- loaded machine is 10 API s), so upper bounds are orders of magnitude: bounded, not years. The
-- exact pause the runtime computes is checked in C (tests/c/test_call.c).
local BOUNDED = 10 * WINDOW

T.case("Retry-After: 999999999 on the simple-create limit waits the limit's window", function()
  emulator.configure { hostile_retry_after = "999999999" }
  assert(pcap.create { type = "simple", time_limit = 1, packet_limit = 1 })
  local t0 = task.now()
  -- the runtime keeps the interval itself: make the server's limit stricter than ours
  emulator.configure { sample_window = 90 }
  local cap, err = pcap.create { type = "simple", time_limit = 1, packet_limit = 1 }
  emulator.configure { hostile_retry_after = "", sample_window = 60 }
  T.ok(cap, "the second create succeeded (" .. tostring(err) .. ")")
  T.between(task.now() - t0, 60, BOUNDED, "it waited about the limit's window, not 31 years")
end)

T.case("Retry-After: 999999999 on the global limit waits the budget's window", function()
  emulator.configure { hostile_retry_after = "999999999", fault_429 = 1 }
  local healer = task.spawn(function()
    repeat task.sleep(0.5) until (emulator.stats().faults["429"] or 0) > 0
    emulator.configure { fault_429 = 0, hostile_retry_after = "" }
  end)
  local t0 = task.now()
  local list, err = pcap.list()
  task.join(healer)
  T.ok(list, "the list succeeded (" .. tostring(err) .. ")")
  T.between(task.now() - t0, 0, BOUNDED, "within the window")
end)

T.case("Ratelimit: r=0;t=inf on a 200 pauses the budget's window at most", function()
  emulator.configure { hostile_ratelimit = '"default";r=0;t=inf' }
  assert(pcap.list())
  emulator.configure { hostile_ratelimit = "" }
  local t0 = task.now()
  assert(pcap.list())
  T.between(task.now() - t0, 0, BOUNDED, "the next request waited the window at most")
end)

T.case("a capture whose time_limit reads 1e300 is polled sanely", function()
  emulator.configure { hostile_time_limit = 1e300 }
  local before = pcap.limits().requests
  local cap = assert(pcap.create { type = "simple", time_limit = 5, packet_limit = 1 })
  T.eq(cap.time_limit, 1e300, "the object says so")
  assert(cap:wait { timeout = 120 })
  emulator.configure { hostile_time_limit = 0 }
  T.ok(pcap.limits().requests - before < 40, "a few polls, not a storm")
end)

T.case("script timeouts: huge means none, tiny is a millisecond, negative and NaN raise", function()
  local url = emulator.url():gsub("/client/v4$", "") .. "/__admin/stats"
  local r = assert(http.request { url = url, timeout = 1e300 })
  T.eq(r.status, 200, "timeout = 1e300: a request like any other")
  emulator.configure { fault_slow = 1, slow_ms = 200 }
  -- with credentials: if the request does get out before the millisecond is up (a loaded
  -- machine), the emulator must not count it as an invalid one
  local ok, err = http.request { url = emulator.url() .. "/accounts/0123456789abcdef0123456789abcdef/pcaps",
                                 headers = { Authorization = "Bearer hostile-numbers" }, timeout = 1e-9 }
  emulator.configure { fault_slow = 0 }
  T.ok(not ok and err.code == "TRANSPORT" and err.message:find("[Tt]imed out"),
       "timeout = 1e-9 times out (it meant none): " .. tostring(err))
  T.raises(function() http.request { url = url, timeout = -5 } end, "timeout must be", "negative")
  T.raises(function() http.request { url = url, timeout = 0 / 0 } end, "timeout must be", "NaN")
  T.raises(function() task.sleep(-5) end, "seconds >= 0", "a negative sleep")
  T.raises(function() pcap.list { timeout = 0 / 0 } end, "timeout must be", "a NaN call timeout")
  local t0 = task.now()
  T.eq(task.sleep(1e-9), true, "a tiny sleep")
  T.ok(task.now() - t0 < BOUNDED, "is short, not forever")
  local list = assert(pcap.list { timeout = 1e300 })
  T.ok(list, "a huge call timeout is none")
end)

local v = emulator.stats().violations
-- the one simple create the test itself sent early (the server was made stricter than the client)
T.eq(v.total - v.sample_rate, 0, "no other limit was broken: " .. require("pcaprun.json").encode(v))
T.done()
