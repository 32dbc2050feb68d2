-- pcaprun-test: --emulate --time-scale 0.01 --http-timeout 0.3
-- ctest-timeout: 120
-- The HTTP layer under a hostile API: keep-alive, timeouts, resets, 5xx, malformed JSON,
-- truncated downloads (resumed with Range), and giving up cleanly. Nothing crashes, nothing
-- is lost.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local http = require "pcaprun.http"
local fs = require "pcaprun.fs"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local dir = os.tmpname()
os.remove(dir)

-- keep-alive: sequential requests share a connection
local s0 = http.stats()
for _ = 1, 20 do assert(pcap.list()) end
local s1 = http.stats()
T.eq(s1.requests - s0.requests, 20, "20 requests")
local opened = s1.connections - s0.connections
T.ok(opened <= 1, ("reuse connections (%d opened)"):format(opened))

local function faults() return emulator.stats().faults end

-- Turns a fault on while `fn` runs, until it has struck `times` times (counted by the emulator,
-- so the test does not depend on timing); returns fn's results.
local function during(fault, key, times, fn)
  emulator.configure(fault)
  local off = {}
  for k in pairs(fault) do off[k] = 0 end
  local start = faults()[key] or 0
  local healer = task.spawn(function()
    while (faults()[key] or 0) - start < times do task.sleep(0.05) end
    emulator.configure(off)
  end)
  local r = table.pack(fn())
  task.join(healer)
  return table.unpack(r, 1, r.n)
end

-- each fault, on for a while: the call retries with backoff and succeeds
for _, f in ipairs {
  { fault_5xx = 1 }, { fault_reset = 1 }, { fault_malformed = 1 }, { fault_429 = 1 },
  { fault_slow = 1, slow_ms = 1000 },  -- longer than --http-timeout 0.3
} do
  local name = f.fault_slow and "fault_slow" or next(f)
  local key = name:gsub("^fault_", "")
  local before = faults()
  local list, err = during(f, key, 3, pcap.list)
  T.ok(list ~= nil, name .. ": the call succeeds once the fault stops (" .. tostring(err) .. ")")
  T.ok((faults()[key] or 0) - (before[key] or 0) >= 3, name .. ": the fault struck three times")
end

-- a create answered by a reset or a 500 after it was applied: found by listing, never duplicated
for _, f in ipairs { { fault_create_then_reset = 1 }, { fault_create_then_500 = 1 } } do
  local name = next(f)
  local n0 = #assert(pcap.list())
  local cap, err = during(f, name:gsub("^fault_", ""), 1, function()
    return pcap.create({ type = "full", colo_name = "ORD", time_limit = 5,
                         destination_conf = "s3://h/x?region=us-east-1" })
  end)
  T.ok(cap ~= nil, name .. ": the create succeeds (" .. tostring(err) .. ")")
  if cap then assert(cap:wait()) end
  T.eq(#assert(pcap.list()) - n0, 1, name .. ": exactly one capture was made")
end
T.eq(emulator.stats().violations.duplicate_creates, 0, "no duplicate creates")

-- truncated downloads resume from where they stopped (HTTP Range) and end valid
emulator.configure{ simple_bytes = 4 * 1024 * 1024 }
local cap = assert(pcap.create{ type = "simple", time_limit = 1, packet_limit = 10000 })
assert(cap:wait())
local before = emulator.stats()
emulator.configure{ fault_truncate = 1 }  -- cut every response short until three were
local healer = task.spawn(function()
  while emulator.stats().faults.truncate - before.faults.truncate < 3 do task.sleep(0.05) end
  emulator.configure{ fault_truncate = 0 }
end)
local info, derr = cap:download(dir .. "/big.pcap")
task.join(healer)
local after = emulator.stats()
T.ok(info ~= nil, "a download cut short three times completes (" .. tostring(derr) .. ")")
T.ok(after.faults.truncate - before.faults.truncate >= 3, "it was cut short")
-- Restarting would have asked for the whole file four times; resuming asks for what is missing.
local asked = after.files.bytes_served - before.files.bytes_served
T.ok(info and asked < 2 * info.bytes,
  ("it resumed with Range requests (%d bytes asked for a %d-byte file)"):format(asked,
    info and info.bytes or 0))
T.ok(info and info.bytes >= 4 * 1024 * 1024 and fs.check_pcap(info.path).bytes == info.bytes,
  "the resumed file is complete and valid")
T.eq(fs.stat(dir .. "/big.pcap.part"), nil, "no .part left")
emulator.configure{ simple_bytes = 0 }

-- a fault that never stops: the call gives up with a clear, retryable error
emulator.configure{ fault_5xx = 1 }
local r, err = pcap.get(cap.id)
emulator.configure{ fault_5xx = 0 }
T.fails("API_ERROR", r, err, "persistent 5xx")
T.ok(err and err.retryable and err.message:find("gave up after %d+ attempts"),
  "retryable, says it gave up")
T.ok(err and err.http_status >= 500, "with the HTTP status")

T.eq(emulator.stats().violations.total, 0, "no violations")
os.execute("rm -rf " .. dir)
T.done()
