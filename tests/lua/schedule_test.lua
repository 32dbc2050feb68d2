-- pcaprun-test: --emulate --time-scale 0.02
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- ctest-timeout: 300
-- pcaprun.schedule: firing times, overlap (skip, queue, cancel), catch-up (none, latest, all,
-- bounded) from a pre-written state file, jitter bounds, failures, bounds, misuse.
-- Every event the checks rely on is at least 10 API seconds (200 ms real at this time scale)
-- away from the next one, so a loaded machine does not reorder them.
local json = require "pcaprun.json"
local schedule = require "pcaprun.schedule"
local task = require "pcaprun.task"
local T = require "testlib"

local DIR = T.tmpdir()
local TOL = 5 -- API seconds of timer lateness tolerated (100 ms real)

-- The time schedules count from: cron times are whole seconds ("@every 20s" after 1000.7 is
-- 1020, not 1020.7), so expectations count from the whole second a schedule starts in.
local function start() return math.floor(task.now()) end

-- A job function recording its runs; each run sleeps `busy` seconds.
local function recorder(busy)
  local r = { runs = {}, active = 0, max_active = 0, canceled = {} }
  function r.fn(run)
    r.runs[#r.runs + 1] = run
    r.active = r.active + 1
    r.max_active = math.max(r.max_active, r.active)
    local ok, err = pcall(task.sleep, busy or 0)
    r.active = r.active - 1
    run.ended = task.now()
    if not ok then
      r.canceled[#r.canceled + 1] = run.n
      error(err, 0)
    end
  end
  return r
end

T.case("fires on schedule, numbers the runs, stops after `runs`", function()
  local s, r = schedule.new(), recorder(0)
  local t0 = start()
  s:cron("@every 20s", { name = "tick" }, r.fn)
  local summary = s:run { runs = 4 }
  T.eq(summary.reason, "runs", "reason")
  T.eq(summary.runs, 4, "runs")
  T.eq(summary.jobs.tick.ok, 4, "ok runs")
  for i, run in ipairs(r.runs) do
    T.eq(run.n, i, "run number")
    T.near(run.at, t0 + 20 * i, TOL, "scheduled time of run " .. i)
    T.between(run.late, 0, TOL, "started on time")
    T.eq(run.catch_up, false, "not a catch-up run")
    T.match(run.id, "^tick%-%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", "run id")
  end
end)

T.case("overlap = skip: a run due while the previous one runs is skipped", function()
  local s, r = schedule.new(), recorder(72)
  local t0 = start()
  s:cron("@every 30s", { name = "skip", overlap = "skip" }, r.fn)
  local summary = s:run { duration = 170 }
  -- 30: run 1 (to 102); 60, 90 skipped; 120: run 2 (to 192, after the bound); 150 skipped
  T.eq(#r.runs, 2, "runs")
  T.near(r.runs[2].at, t0 + 120, TOL, "second run's time")
  T.eq(summary.jobs.skip.skipped, 3, "skipped")
  T.eq(r.max_active, 1, "never two at once")
  T.eq(summary.reason, "duration", "reason")
  T.late(r.runs[2].ended - t0, 192, "the run in flight at the bound finished normally", 2 * TOL)
end)

T.case("overlap = queue: one run waits and starts when the previous ends", function()
  local s, r = schedule.new(), recorder(70)
  local t0 = start()
  s:cron("@every 30s", { name = "queue", overlap = "queue" }, r.fn)
  local summary = s:run { duration = 200 }
  -- 30: run 1 (30-100); 60 queued; 90 skipped; 100: run 2 for 60 (100-170); 120 queued;
  -- 150 skipped; 170: run 3 for 120 (170-240); 180 queued, then dropped by the bound (200)
  T.eq(#r.runs, 3, "runs")
  local want_at, want_start = { 30, 60, 120 }, { 30, 100, 170 }
  for i, run in ipairs(r.runs) do
    T.near(run.at - t0, want_at[i], TOL, "run " .. i .. " scheduled time")
    T.late(run.started - t0, want_start[i], "run " .. i .. " starts when the previous ends", TOL * i)
  end
  T.eq(summary.jobs.queue.skipped, 2, "skipped")
  T.eq(r.max_active, 1, "never two at once")
end)

T.case("overlap = cancel: the previous run is canceled, then the new one starts", function()
  local s, r = schedule.new(), recorder(48)
  local t0 = start()
  s:cron("@every 20s", { name = "cancel", overlap = "cancel" }, r.fn)
  local summary = s:run { duration = 70 }
  -- 20: run 1; 40: cancel 1, run 2; 60: cancel 2, run 3 (60-108), which finishes after the bound
  T.eq(#r.runs, 3, "runs")
  T.eq(table.concat(r.canceled, ","), "1,2", "runs 1 and 2 were canceled")
  T.near(r.runs[2].started - t0, 40, TOL, "run 2 starts on time")
  T.eq(summary.jobs.cancel.canceled, 2, "canceled count")
  T.eq(summary.jobs.cancel.ok, 1, "the last run finished")
  T.eq(r.max_active, 1, "never two at once")
end)

T.case("jitter: each run starts within [0, jitter] after its time", function()
  math.randomseed(3)
  local s, r = schedule.new(), recorder(0)
  s:cron("@every 30s", { name = "jitter", jitter = 15 }, r.fn)
  s:run { runs = 6 }
  local max = 0
  for _, run in ipairs(r.runs) do
    T.between(run.late, 0, 15 + TOL, "lateness of run " .. run.n)
    max = math.max(max, run.late)
  end
  T.ok(max > 5, "the delays are spread (largest " .. max .. ")")
end)

-- catch-up: a state file says the job last fired 165 s ago; at every 30 s, 5 runs were missed
-- (last + 30 ... last + 150).
local function with_state(name, offset)
  local path = ("%s/%s.json"):format(DIR, name)
  local last = math.floor(task.now()) - offset
  assert(json.write(path, { format = "pcaprun.schedule/1", jobs = { [name] = { last_fire = last } } }))
  return path, last
end

local function catch_up(policy, runs, max)
  local name = policy .. (max or "")
  local path, last = with_state(name, 165)
  local s, r = schedule.new(), recorder(5)
  local t0 = start()
  s:cron("@every 30s", { name = name, catch_up = policy, catch_up_max = max }, r.fn)
  local summary = s:run { state = path, runs = runs }
  return r, summary.jobs[name], last, t0, path
end

T.case("catch_up = none: missed runs are counted, not run", function()
  local r, counts, _, t0 = catch_up("none", 1)
  T.eq(counts.missed, 5, "missed")
  T.eq(counts.caught_up, 0, "caught up")
  T.eq(r.runs[1].catch_up, false, "the first run is a regular one")
  T.near(r.runs[1].at, t0 + 30, TOL, "at the next firing time")
end)

T.case("catch_up = latest: one run for the latest missed time, at once", function()
  local r, counts, last, t0 = catch_up("latest", 2)
  T.eq(counts.caught_up, 1, "caught up")
  T.eq(r.runs[1].catch_up, true, "first run catches up")
  T.eq(r.runs[1].at, last + 150, "for the latest missed time")
  T.near(r.runs[1].started, t0, TOL, "right away")
  T.eq(r.runs[2].catch_up, false, "then the regular schedule")
  T.near(r.runs[2].at, t0 + 30, TOL, "second run's time")
end)

T.case("catch_up = all: every missed time, oldest first, one at a time", function()
  local r, counts, last, _, path = catch_up("all", 6)
  T.eq(counts.caught_up, 5, "caught up")
  for i = 1, 5 do
    T.eq(r.runs[i].at, last + 30 * i, "catch-up run " .. i)
    if i > 1 then T.ok(r.runs[i].started >= r.runs[i - 1].ended, "run " .. i .. " after the previous") end
  end
  T.eq(r.runs[6].catch_up, false, "then the regular schedule")
  local st = json.read(path)
  T.eq(st.jobs.all.last_fire, r.runs[6].at, "the state file holds the last firing time")
  T.eq(st.jobs.all.last_run, r.runs[6].id, "and its run id")
end)

T.case("catch_up = all with catch_up_max: only the latest ones", function()
  local r, counts, last = catch_up("all", 2, 2)
  T.eq(counts.missed, 5, "missed")
  T.eq(r.runs[1].at, last + 120, "first catch-up run")
  T.eq(r.runs[2].at, last + 150, "second catch-up run")
end)

T.case("a state file ahead of the clock is ignored (no catch-up)", function()
  local path = with_state("ahead", -1000)
  local s, r = schedule.new(), recorder(0)
  local t0 = start()
  s:cron("@every 30s", { name = "ahead", catch_up = "all" }, r.fn)
  s:run { state = path, runs = 1 }
  T.eq(r.runs[1].catch_up, false, "a regular run")
  T.near(r.runs[1].at, t0 + 30, TOL, "on the regular schedule")
end)

T.case("a failing run is counted and the schedule goes on", function()
  local s, n = schedule.new(), 0
  s:cron("@every 20s", { name = "flaky" }, function()
    n = n + 1
    if n == 1 then error("first run breaks") end
  end)
  local summary = s:run { runs = 3 }
  T.eq(summary.jobs.flaky.failed, 1, "failed")
  T.eq(summary.jobs.flaky.ok, 2, "ok")
end)

T.case("misuse raises at once", function()
  local s = schedule.new()
  T.raises(function() s:cron("61 * * * *", print) end,
           "schedule_test%.lua:%d+: schedule%.cron: bad expression '61 %* %* %* %*': minute", "bad expr")
  T.raises(function() s:cron("@hourly", { overlap = "allow" }, print) end, "overlap must be", "overlap")
  T.raises(function() s:cron("@hourly", { catch_up = "some" }, print) end, "catch_up must be", "catch_up")
  T.raises(function() s:cron("@hourly", { jitter = -1 }, print) end, "jitter must be", "jitter")
  T.raises(function() s:cron("@hourly") end, "the function to run", "no function")
  T.raises(function() schedule.new():run() end, "no jobs", "no jobs")
  s:cron("@hourly", { catch_up = "latest" }, print)
  T.raises(function() s:cron("@hourly", print) end, "two jobs are named '@hourly'", "duplicate name")
  T.raises(function() s:run() end, "needs a state file", "catch_up without state")
end)

T.rmtree(DIR)
T.done()
