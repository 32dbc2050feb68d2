-- The task layer at scale: N tasks sleeping at once (memory per task: process RSS and Lua heap,
-- before and after), then spawn + join of N tasks that return at once (rate).
--   pcaprun tasks.lua [N]        prints one JSON line
-- The same measures for plain Lua coroutines (the floor) come from tasks_lua.lua.
local task = require "pcaprun.task"
local bench = require "benchlib"

local n = tonumber(arg[1]) or 100000

local function settle()
  collectgarbage()
  collectgarbage()
  return bench.rss(), collectgarbage("count") * 1024
end

local rss0, heap0 = settle()
local sleepers = {}
for i = 1, n do sleepers[i] = task.spawn(task.sleep, 3600) end
task.yield()                      -- every task runs until its sleep parks it
local parked = 0
for i = 1, n do if task.status(sleepers[i]) == "waiting" then parked = parked + 1 end end
assert(parked == n, ("%d of %d tasks parked"):format(parked, n))
local rss1, heap1 = settle()
for i = 1, n do task.cancel(sleepers[i]) end
assert(task.wait_all(sleepers))

local function noop() end
local t0 = os.clock()      -- CPU seconds: the loop never waits for I/O
for _ = 1, n / 1000 do           -- batches of 1000, as a script fanning out work would
  local batch = {}
  for i = 1, 1000 do batch[i] = task.spawn(noop) end
  for i = 1, 1000 do assert(task.join(batch[i])) end
end
local elapsed = os.clock() - t0

bench.result{ tasks = n, rss_per_task = (rss1 - rss0) / n,
              heap_per_task = (heap1 - heap0) / n, spawn_join_per_s = n / elapsed }
