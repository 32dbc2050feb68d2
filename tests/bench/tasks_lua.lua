-- The floor under tasks.lua: the same measures with bare Lua coroutines in plain lua5.4 (a
-- coroutine parked in a yield; create + resume to the end), no scheduler, timers or handles.
--   lua5.4 tasks_lua.lua [N]     prints one JSON line
local cjson = require "cjson"
local n = tonumber(arg[1]) or 100000

local function rss()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("a"):match("VmRSS:%s*(%d+) kB")
  f:close()
  return tonumber(kb) * 1024
end

local function settle()
  collectgarbage()
  collectgarbage()
  return rss(), collectgarbage("count") * 1024
end

local function sleeper() coroutine.yield() end
local rss0, heap0 = settle()
local parked = {}
for i = 1, n do
  parked[i] = coroutine.create(sleeper)
  coroutine.resume(parked[i])
end
local rss1, heap1 = settle()

local function noop() end
local t0 = os.clock()
for _ = 1, n do assert(coroutine.resume(coroutine.create(noop))) end
local elapsed = os.clock() - t0

print(cjson.encode{ tasks = n, rss_per_task = (rss1 - rss0) / n, heap_per_task = (heap1 - heap0) / n,
                    spawn_join_per_s = n / elapsed })
