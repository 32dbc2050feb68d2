-- HTTP requests per second through the runtime: N GETs of URL, K at a time, each by a task with
-- pcaprun.http.request on the runtime's libcurl multi handle and libuv loop. The same load from
-- a minimal C program on the same libraries is http_rps.c.
--   pcaprun http_rps.lua URL N K      prints one JSON line
local http = require "pcaprun.http"
local task = require "pcaprun.task"
local bench = require "benchlib"

local url, n, k = arg[1], tonumber(arg[2]), tonumber(arg[3])
local next_i, failed = 0, 0

local function worker()
  while next_i < n do
    next_i = next_i + 1
    local r = http.request{ url = url }
    if not r or r.status ~= 200 then failed = failed + 1 end
  end
end

local t0 = bench.clock_real()
local workers = {}
for i = 1, k do workers[i] = task.spawn(worker) end
assert(task.wait_all(workers))
local elapsed = bench.clock_real() - t0
bench.result{ requests = n, concurrency = k, failed = failed, per_s = n / elapsed }
