-- pcaprun-test: --emulate --time-scale 0.01 --api-budget 5/10
-- The request budget: at most N requests in any window, whatever the script does, so an API
-- with the same budget (and no Ratelimit hints) never refuses one.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

emulator.configure{ rate_limit_quota = 5, rate_limit_window = 10, ratelimit_headers = false }
local t0 = task.now()
local tasks = {}
for i = 1, 20 do tasks[i] = task.spawn(function() return assert(pcap.list()) end) end
T.eq(task.wait_all(tasks), true, "20 concurrent lists all succeed")
local elapsed = task.now() - t0
T.ok(elapsed >= 30, ("20 requests at 5 per 10 s take at least 30 s (took %.1f s API)"):format(elapsed))
T.ok(elapsed < 90, "and are not stalled (how close to 30 s: the benchmark; load adds delays)")
T.eq(emulator.stats().violations.api_budget, 0, "the API never saw a request over its budget")
T.ok(pcap.limits().api.max_wait > 0, "requests waited in the limiter")
T.done()
