--- pcaprun.schedule: recurring runs on cron schedules, until a bound or a signal.
--
--   schedule.cron("*/15 * * * *", { name = "edge", jitter = 30, overlap = "skip",
--                                   catch_up = "latest" }, function(run)
--     campaign.run{ name = run.id, sample = { time_limit = 60, packet_limit = 5000 } }
--   end)
--   schedule.run{ state = "captures/schedule.json" }   -- until SIGINT/SIGTERM
--
-- Times are API time (task.now(), task.sleep), so under --time-scale F a 15-minute schedule
-- fires every 15*60*F real seconds. Each run is a task; what happens when a run is due while
-- the previous one still runs is the job's overlap policy, and what happens to runs missed
-- while pcaprun was not running is its catch-up policy, from the last firing time kept in a
-- small state file, or in the run's journal (--journal) when no state file is given. On
-- SIGINT/SIGTERM no new run starts; runs in flight get `grace` seconds, then are canceled (a
-- canceled campaign.run stops its full captures and keeps their data; files appear only when
-- complete). A second signal exits at once.
local cron = require "pcaprun.cron"
local fs = require "pcaprun.fs"
local group = require "pcaprun.group"
local intent = require "pcaprun.intent"
local journal = require "pcaprun.journal"
local json = require "pcaprun.json"
local log = require "pcaprun.log"
local task = require "pcaprun.task"

local M = {}

local OVERLAP = { skip = true, queue = true, cancel = true }
local CATCH_UP = { none = true, latest = true, all = true }
local LATE = 60        -- seconds behind schedule after which a due run counts as missed
local MAX_SCAN = 1e6   -- firing times examined when counting missed runs

---------------------------------------------------------------------------------------------
-- State: the last firing time of each job, in the state file when there is one, else in the
-- run's journal (key "schedule/<job name>"). This is the only code that reads or writes it.

local function journal_key(job) return "schedule/" .. job.name end

local function load_state(path, jobs)
  local empty = { format = "pcaprun.schedule/1", jobs = {} }
  if not path then
    for _, job in ipairs(journal.path() and jobs or {}) do
      empty.jobs[job.name] = journal.get(journal_key(job))
    end
    return empty
  end
  local st, err = json.read(path)
  if st == nil then
    if fs.stat(path) then log.warn("schedule: unreadable state file; starting afresh", { error = err }) end
    return empty
  end
  if type(st) ~= "table" or type(st.jobs) ~= "table" then return empty end
  return st
end

local function save_state(self, job, at, id)
  local rec = { last_fire = at, last_run = id }
  if not self.state_path then
    local ok, err = true, nil
    if journal.path() then ok, err = journal.set(journal_key(job), rec) end
    if not ok then log.warn("schedule: cannot write the journal", { error = tostring(err) }) end
    return
  end
  self.state.jobs[job.name] = rec
  local ok, err = json.write(self.state_path, self.state)
  if not ok then log.warn("schedule: cannot write the state file", { error = err }) end
end

---------------------------------------------------------------------------------------------

local function stamp(t) return os.date("!%Y%m%dT%H%M%SZ", math.floor(t)) end

-- The one place expressions are parsed: jobs and upcoming() agree on time zones.
local function parse(expr, tz)
  return cron.parse(expr, { tz = tz })
end

--- schedule.upcoming(expr [, {after = task.now(), count = 5, tz = "utc"|"local"}]) -> list of
-- the next firing times (epoch seconds). Raises on a bad expression.
function M.upcoming(expr, opts)
  opts = opts or {}
  local s, err = parse(expr, opts.tz)
  if not s then error(("schedule.upcoming: bad expression '%s': %s"):format(tostring(expr), err), 2) end
  local list, t = {}, opts.after or task.now()
  for i = 1, opts.count or 5 do
    t = s:next(t)
    list[i] = t
  end
  return list
end

local Scheduler = {}
Scheduler.__index = Scheduler

--- schedule.new() -> scheduler: a set of jobs run together (scheduler:cron, scheduler:run).
-- The module's own schedule.cron and schedule.run use a default scheduler.
function M.new()
  return setmetatable({ jobs = {}, names = {} }, Scheduler)
end

local function add(self, level, expr, opts, fn)
  if type(opts) == "function" and fn == nil then opts, fn = {}, opts end
  opts = opts or {}
  local function bad(fmt, ...) error("schedule.cron: " .. fmt:format(...), level + 2) end
  if type(expr) ~= "string" then bad("the expression must be a string") end
  if type(opts) ~= "table" then bad("options must be a table") end
  if type(fn) ~= "function" then bad("the last argument must be the function to run") end
  if opts.tz ~= nil and opts.tz ~= "utc" and opts.tz ~= "local" then
    bad("tz must be \"utc\" or \"local\"")
  end
  local parsed, err = parse(expr, opts.tz)
  if not parsed then bad("bad expression '%s': %s", expr, err) end
  local overlap, catch_up = opts.overlap or "skip", opts.catch_up or "none"
  if not OVERLAP[overlap] then
    bad("overlap must be \"skip\", \"queue\" or \"cancel\" (got %s)", tostring(overlap))
  end
  if not CATCH_UP[catch_up] then
    bad("catch_up must be \"none\", \"latest\" or \"all\" (got %s)", tostring(catch_up))
  end
  local jitter = opts.jitter or 0
  if type(jitter) ~= "number" or jitter < 0 then bad("jitter must be a number of seconds >= 0") end
  local name = opts.name or expr
  if self.names[name] then bad("two jobs are named '%s' (give each a name)", name) end
  local job = { name = name, expr = expr, cron = parsed, fn = fn, jitter = jitter, overlap = overlap,
                catch_up = catch_up, catch_up_max = opts.catch_up_max or 10,
                slug = intent.slug(name, 24) ~= "" and intent.slug(name, 24) or "job",
                counts = { runs = 0, ok = 0, failed = 0, canceled = 0, skipped = 0, missed = 0,
                           caught_up = 0 } }
  self.names[name] = job
  self.jobs[#self.jobs + 1] = job
  return job
end

--- scheduler:cron(expr, [opts,] fn) -> job: runs fn(run) at every firing time of expr
-- (5 fields, or @hourly, @daily, @every 15m, ...; see pcaprun.cron). Options:
--   name         the job's name (default: expr); keys its state, so keep it stable
--   tz           "utc" (default) or "local" (DST gaps fire once after the gap, repeats once)
--   jitter       each run starts up to this many seconds (uniformly random) after its time
--   overlap      when a run is due and the previous one still runs: "skip" (default) it,
--                "queue" it (at most one waits; it starts when the previous ends), or
--                "cancel" the previous run, then start
--   catch_up     runs missed while pcaprun was not running: "none" (default), "latest" (run
--                once, for the latest missed time), "all" (each, oldest first, one at a time)
--   catch_up_max at most this many catch-up runs with "all" (default 10, the latest ones)
-- fn receives run = {job, n, at (the scheduled time), started, late (started - at),
-- catch_up (boolean), stamp (at in UTC, "20261126T071500Z"), id ("<job>-<stamp>", stable,
-- usable as a campaign name)}.
function Scheduler:cron(expr, opts, fn)
  local job = add(self, 2, expr, opts, fn) -- not a tail call: error levels count this frame
  return job
end

local function finished(rec) return rec.outcome ~= nil end

--- scheduler:stop(reason): ends scheduling: no run starts after this, and run() returns once the
-- runs in flight have finished.
function Scheduler:stop(reason)
  if self.stopping then return end
  self.stopping, self.reason = true, reason
  log.info("schedule: stopping", { reason = reason })
  for _, job in ipairs(self.jobs) do
    if job.loop then task.cancel(job.loop) end
  end
end

local function start_run(self, job, at, catch_up)
  if self.stopping then return end
  self.total = self.total + 1
  job.counts.runs = job.counts.runs + 1
  if catch_up then job.counts.caught_up = job.counts.caught_up + 1 end
  local now = task.now()
  local run = { job = job.name, n = job.counts.runs, at = at, started = now, late = now - at,
                catch_up = catch_up, stamp = stamp(at), id = job.slug .. "-" .. stamp(at) }
  job.last_fire = at
  save_state(self, job, at, run.id)
  local rec = { run = run }
  job.current = rec
  self.active[rec] = true
  log.info("schedule: run", { job = job.name, n = run.n, at = stamp(at), catch_up = catch_up or nil })
  rec.task = task.spawn(("%s #%d"):format(job.name, run.n):sub(1, 47), function()
    local out = group.try(job.fn, run)
    rec.outcome = out
    local c = job.counts
    if out.canceled then c.canceled = c.canceled + 1
    elseif out.ok then c.ok = c.ok + 1
    else
      c.failed = c.failed + 1
      log.warn("schedule: run failed", { job = job.name, n = run.n, error = tostring(out.error) })
    end
    self.active[rec] = nil
    if job.current == rec then job.current = nil end
    local queued = job.queued
    job.queued = nil
    if queued and not self.stopping then start_run(self, job, queued.at, queued.catch_up) end
  end)
  if self.limit and self.total >= self.limit then self:stop("runs") end
end

-- A run is due at `at`: apply the job's overlap policy.
local function fire(self, job, at, catch_up)
  local cur = job.current
  if cur and not finished(cur) then
    if job.overlap == "cancel" then
      log.info("schedule: canceling the previous run", { job = job.name, n = cur.run.n })
      task.cancel(cur.task)
      pcall(task.join, cur.task)
    elseif job.overlap == "queue" and not job.queued then
      job.queued = { at = at, catch_up = catch_up }
      return
    else
      job.counts.skipped = job.counts.skipped + 1
      log.info("schedule: the previous run is still going; skipping this one",
               { job = job.name, at = stamp(at), overlap = job.overlap })
      return
    end
  end
  start_run(self, job, at, catch_up)
end

-- Runs missed since the last firing time the state file recorded, per the catch-up policy.
local function catch_up(self, job)
  local last, now = job.last_fire, task.now()
  if not last then return end
  if last > now then
    log.warn("schedule: the state file's last run is ahead of the clock; ignoring it", { job = job.name })
    job.last_fire = nil
    return
  end
  local missed, n, t = {}, 0, last
  for _ = 1, MAX_SCAN do
    t = job.cron:next(t)
    if t > now then break end
    n = n + 1
    missed[#missed + 1] = t
    if #missed > job.catch_up_max then table.remove(missed, 1) end
  end
  job.counts.missed = job.counts.missed + n
  if n == 0 then return end
  log.info("schedule: runs were missed while pcaprun was not running",
           { job = job.name, missed = n, catch_up = job.catch_up })
  if job.catch_up == "none" then return end
  local list = job.catch_up == "latest" and { missed[#missed] } or missed
  for _, at in ipairs(list) do
    start_run(self, job, at, true)
    if job.current then task.join(job.current.task) end
    if self.stopping then return end
  end
end

local function job_loop(self, job)
  local ok, err = pcall(function()
    local start = task.now()
    catch_up(self, job)
    local base = math.max(start, job.last_fire or 0)
    while not self.stopping do
      local at = job.cron:next(base)
      local due = at + (job.jitter > 0 and math.random() * job.jitter or 0)
      if due > task.now() then task.sleep(due - task.now()) end
      if task.now() - due > LATE then
        job.counts.missed = job.counts.missed + 1
        log.warn("schedule: a run is too late; skipping it", { job = job.name, at = stamp(at) })
      else
        fire(self, job, at, false)
      end
      base = at
    end
  end)
  if not ok and not group.is_canceled(err) then error(err, 0) end
end

local function in_flight(self)
  local list = {}
  for rec in pairs(self.active) do
    if not finished(rec) then list[#list + 1] = rec end
  end
  return list
end

local function tasks_of(recs)
  local list = {}
  for i, rec in ipairs(recs) do list[i] = rec.task end
  return list
end

-- Lets the runs in flight end: they finish on their own after a bound (or scheduler:stop); after
-- a signal or a cancel they get `grace` seconds, then are canceled and unwind.
local HARD_STOP = { SIGINT = true, SIGTERM = true, canceled = true }

local function drain(self, grace)
  local recs = in_flight(self)
  if #recs == 0 then return end
  if HARD_STOP[self.reason] then
    if grace > 0 then pcall(task.wait_all, tasks_of(recs), grace) end
    for _, rec in ipairs(in_flight(self)) do
      log.info("schedule: stopping a run in flight", { job = rec.run.job, n = rec.run.n })
      task.cancel(rec.task)
    end
  end
  pcall(task.wait_all, tasks_of(in_flight(self)))
end

--- scheduler:run([opts]) -> summary: runs the jobs until a bound or a signal. Options:
--   state     path of the state file (last firing time of each job); needed for catch_up
--   runs      stop after starting this many runs (all jobs together)
--   duration  stop after this many seconds
--   grace     after SIGINT/SIGTERM, seconds runs in flight may take before being canceled
--             (default 0)
-- After a bound, runs in flight finish normally. summary = {reason = "runs" | "duration" |
-- "SIGINT" | "SIGTERM" | "canceled", runs = n, jobs = {[name] = {runs, ok, failed, canceled,
-- skipped, missed, caught_up}}}.
function Scheduler:run(opts)
  opts = opts or {}
  if #self.jobs == 0 then error("schedule.run: no jobs (add one with schedule.cron)", 2) end
  for _, job in ipairs(self.jobs) do
    if job.catch_up ~= "none" and not opts.state and not journal.path() then
      error(("schedule.run: job '%s' has catch_up = %s, which needs a state file (option state) or a journal")
        :format(job.name, job.catch_up), 2)
    end
  end
  self.state_path, self.state = opts.state, load_state(opts.state, self.jobs)
  self.limit, self.total, self.active, self.stopping, self.reason = opts.runs, 0, {}, false, nil
  for _, job in ipairs(self.jobs) do
    local saved = self.state.jobs[job.name]
    job.last_fire = type(saved) == "table" and tonumber(saved.last_fire) or nil
    job.loop = task.spawn(("schedule " .. job.name):sub(1, 47), job_loop, self, job)
  end
  local watchers = { task.spawn("schedule signals", function() self:stop(task.signal()) end) }
  if opts.duration then
    watchers[2] = task.spawn("schedule duration", function()
      task.sleep(opts.duration)
      self:stop("duration")
    end)
  end
  local loops = {}
  for i, job in ipairs(self.jobs) do loops[i] = job.loop end
  local ok, err = pcall(task.wait_all, loops)
  if not ok then self:stop("canceled") end
  drain(self, opts.grace or 0)
  for _, w in ipairs(watchers) do task.cancel(w) end
  if not ok then error(err, 0) end
  local summary = { reason = self.reason, runs = self.total, jobs = {} }
  for _, job in ipairs(self.jobs) do summary.jobs[job.name] = job.counts end
  return summary
end

local default

--- schedule.cron(expr, [opts,] fn) and schedule.run([opts]): the same, on a default scheduler.
function M.cron(expr, opts, fn)
  default = default or M.new()
  local job = add(default, 2, expr, opts, fn)
  return job
end

function M.run(opts)
  if not default then error("schedule.run: no jobs (add one with schedule.cron)", 2) end
  return default:run(opts)
end

return M
