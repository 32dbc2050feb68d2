-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- pcaprun.retry: full-jitter backoff, retry_after, what is retried, the budget. Timing is
-- measured with task.now() (API time) under --time-scale 0.01, so 10 s of backoff is 0.1 s real.
local perror = require "pcaprun.error"
local retry = require "pcaprun.retry"
local task = require "pcaprun.task"
local T = require "testlib"

local function transient(extra)
  local e = { code = "TRANSPORT", message = "connection reset", retryable = true }
  for k, v in pairs(extra or {}) do e[k] = v end
  return perror.new(e)
end

-- A function failing `n` times with `err`, then returning "done"; counts calls and times.
local function flaky(n, err)
  local f = { calls = 0, at = {} }
  function f.fn(attempt)
    f.calls = f.calls + 1
    f.at[#f.at + 1] = task.now()
    T.eq(attempt, f.calls, "the attempt number")
    if f.calls <= n then return nil, err end
    return "done", 42
  end
  return f
end

local function always(x) return function() return x end end
local quiet = function() end

T.case("backoff: full jitter within [0, min(cap, base * 2^(n-1))]", function()
  T.eq(retry.backoff(1, { random = always(1), base = 2 }), 2, "first ceiling")
  T.eq(retry.backoff(4, { random = always(1), base = 2 }), 16, "fourth ceiling")
  T.eq(retry.backoff(10, { random = always(1), base = 2, cap = 30 }), 30, "capped")
  T.eq(retry.backoff(3, { random = always(0) }), 0, "the floor is 0")
  math.randomseed(7)
  local seen, distinct = {}, 0
  for _ = 1, 200 do
    local d = retry.backoff(5, { base = 1, cap = 60 })
    T.between(d, 0, 16, "jittered delay")
    local bucket = math.floor(d)
    if not seen[bucket] then seen[bucket], distinct = true, distinct + 1 end
  end
  T.ok(distinct >= 12, "delays spread over the whole range (" .. distinct .. " of 16 one-second bins)")
end)

T.case("timing: three retries sleep base*(1+2+4) API seconds at the ceiling", function()
  local f = flaky(3, transient())
  local t0 = task.now()
  local v, extra = retry.call(f.fn, { base = 20, cap = 100, random = always(1), on_retry = quiet })
  T.eq(v, "done", "result")
  T.eq(extra, 42, "every result value comes back")
  T.eq(f.calls, 4, "calls")
  T.late(f.at[2] - f.at[1], 20, "first delay", 15)
  T.late(f.at[3] - f.at[2], 40, "second delay", 15)
  T.late(f.at[4] - f.at[3], 80, "third delay", 15)
  T.late(task.now() - t0, 140, "total", 40)
end)

T.case("retry_after is honoured, even above the cap", function()
  local f = flaky(1, transient { code = "RATE_LIMITED", retry_after = 120 })
  local delays = {}
  local v = retry.call(f.fn, { cap = 5, on_retry = function(_, n, d) delays[n] = d end })
  T.eq(v, "done", "result")
  T.eq(delays[1], 120, "the delay is retry_after")
  T.late(f.at[2] - f.at[1], 120, "slept retry_after API seconds", 30)
end)

T.case("non-retryable errors are returned at once, unchanged", function()
  local err = perror.new { code = "INVALID", message = "time_limit out of range", retryable = false }
  local f = flaky(5, err)
  local v, got = retry.call(f.fn, { on_retry = quiet })
  T.eq(v, nil, "no result")
  T.eq(got, err, "the error itself")
  T.eq(f.calls, 1, "one call")
  f = flaky(5, "a plain string")
  v, got = retry.call(f.fn, { on_retry = quiet })
  T.eq(v, nil, "no result")
  T.eq(got, "a plain string", "string errors are not retryable by default")
  T.eq(f.calls, 1, "one call")
end)

T.case("a custom retryable test", function()
  local f = flaky(2, perror.new { code = "CAPTURE_FAILED", message = "failed" })
  local v = retry.call(f.fn, { base = 0.1, on_retry = quiet,
                               retryable = function(e) return e.code == "CAPTURE_FAILED" end })
  T.eq(v, "done", "retried CAPTURE_FAILED")
  T.eq(f.calls, 3, "calls")
end)

T.case("budget: attempts", function()
  local f = flaky(10, transient())
  local v, err = retry.call(f.fn, { attempts = 3, base = 0.5, on_retry = quiet })
  T.eq(v, nil, "gave up")
  T.eq(f.calls, 3, "exactly `attempts` calls")
  T.eq(err.code, "TRANSPORT", "the last error's code")
  T.eq(err.attempts, 3, "err.attempts")
  T.match(err.message, "after 3 attempts", "message")
end)

T.case("budget: deadline — no sleep that would end past it", function()
  local f = flaky(10, transient())
  local t0 = task.now()
  local v, err = retry.call(f.fn, { attempts = 100, deadline = 50, base = 10, random = always(1),
                                    on_retry = quiet })
  T.eq(v, nil, "gave up")
  T.eq(f.calls, 3, "calls at 0, 10, 30; a fourth would start at 70")
  T.ok(task.now() - t0 < 50, "returned before the deadline")
  T.match(err.message, "deadline reached after 3 attempts", "message")
end)

T.case("raised errors propagate; misuse raises", function()
  T.raises(function() retry.call(function() error("bug") end) end, "bug", "raise")
  T.raises(function() retry.call(print, { attempts = 0 }) end, "attempts must be at least 1", "attempts")
  T.raises(function() retry.call(print, { base = "x" }) end, "base must be a number", "base")
end)

T.done()
