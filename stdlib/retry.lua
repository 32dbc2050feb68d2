--- pcaprun.retry: try an operation again after failures that may pass, with exponential backoff
-- and full jitter, honouring the API's retry_after, within a budget of attempts and time.
--
--   local cap, err = retry.call(function(attempt)
--     return pcap.create(spec)
--   end, { attempts = 4, base = 2, cap = 60, deadline = 600 })
--
-- The function fails when it returns nil (or false) and an error; anything it raises is not
-- caught. Delays are API seconds (task.sleep), so they shrink with --time-scale.
-- The runtime already retries transient failures of single API calls (--retries); this module
-- is for whole operations, e.g. a capture that failed and may succeed when made again.
local log = require "pcaprun.log"
local perror = require "pcaprun.error"
local task = require "pcaprun.task"

local M = {}

--- retry.retryable(err) -> boolean: the default test, err.retryable == true.
function M.retryable(err)
  return type(err) == "table" and err.retryable == true
end

--- retry.backoff(n [, {base = 1, cap = 60, random = math.random}]) -> seconds: the full-jitter
-- delay after the n-th failed attempt, uniform in [0, min(cap, base * 2^(n-1))].
function M.backoff(n, opts)
  opts = opts or {}
  local ceiling = math.min(opts.cap or 60, (opts.base or 1) * 2 ^ (n - 1))
  return (opts.random or math.random)() * ceiling
end

local function check(opts)
  if type(opts) ~= "table" then error("retry.call: options must be a table", 3) end
  for _, k in ipairs { "attempts", "base", "cap", "deadline" } do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 0) then
      error(("retry.call: %s must be a number >= 0 (got %s)"):format(k, tostring(v)), 3)
    end
  end
  if opts.attempts and opts.attempts < 1 then error("retry.call: attempts must be at least 1", 3) end
end

-- The error to return after n attempts: unchanged after one, else annotated.
local function gave_up(err, n, why)
  if n == 1 and not why then return err end
  local note = (" (%safter %d attempts)"):format(why and (why .. " ") or "", n)
  if type(err) ~= "table" then return tostring(err) .. note end
  local copy = {}
  for k, v in pairs(err) do copy[k] = v end
  copy.message, copy.attempts = tostring(err.message) .. note, n
  return perror.new(copy)
end

local function log_retry(err, n, delay, what)
  log.info("retrying", { what = what, attempt = n, delay = ("%.1f"):format(delay), error = tostring(err) })
end

--- retry.call(fn [, opts]) -> fn's results | nil, err
-- Calls fn(attempt) until it succeeds, fails with an error `retryable(err)` rejects, or the
-- budget is spent. Options (API seconds):
--   attempts = 5       at most this many calls
--   deadline = nil     give up rather than sleep past this many seconds from the first call
--   base = 1, cap = 60 the backoff: full jitter, see retry.backoff
--   retryable = retry.retryable   which errors to try again
--   random = math.random          the jitter's source (seed it for repeatable delays)
--   on_retry = fn(err, attempt, delay)   called before each sleep (default: a log line)
--   what = "..."       names the operation in that log line
-- A delay is err.retry_after when the error has one, however long (never capped); else the
-- backoff. The final error is the last one, its message saying how many attempts were made.
function M.call(fn, opts)
  opts = opts or {}
  check(opts)
  local attempts = opts.attempts or 5
  local deadline = opts.deadline and task.now() + opts.deadline
  local retryable = opts.retryable or M.retryable
  local on_retry = opts.on_retry or log_retry
  local n = 0
  while true do
    n = n + 1
    local r = table.pack(fn(n))
    local err = r[2]
    if r[1] or err == nil then return table.unpack(r, 1, r.n) end
    if n >= attempts or not retryable(err) then return nil, gave_up(err, n) end
    local delay = type(err) == "table" and tonumber(err.retry_after) or M.backoff(n, opts)
    if deadline and task.now() + delay > deadline then return nil, gave_up(err, n, "deadline reached") end
    on_retry(err, n, delay, opts.what)
    task.sleep(delay)
  end
end

return M
