--- pcaprun.playbook: incident-response playbooks — ordered steps with timeouts, conditions on
-- earlier results, parallel branches, webhook notifications and a final report.
--
--   local report = playbook.run{
--     name = "syn-flood-response",
--     notify = os.getenv("PCAPRUN_WEBHOOK"),
--     steps = {
--       { "sample the edge", timeout = 300, function(ctx) ... return packets end },
--       { "full captures", when = function(ctx) return ctx.results["sample the edge"] > 1000 end,
--         parallel = { { "ORD", function(ctx) ... end }, { "SJC", function(ctx) ... end } } },
--     },
--   }
--   print(report:summary())
--
-- A step fails when its function raises, returns nil (or false) and an error, or outlives its
-- timeout (its task is then canceled, and waits until it has unwound: a campaign.run inside
-- stops its full captures and keeps their data). A failed step stops the playbook unless it
-- says on_error = "continue"; the report names the step, the error and the script line.
local fs = require "pcaprun.fs"
local group = require "pcaprun.group"
local http = require "pcaprun.http"
local json = require "pcaprun.json"
local log = require "pcaprun.log"
local perror = require "pcaprun.error"
local retry = require "pcaprun.retry"
local task = require "pcaprun.task"

local M = {}

local STEP_FIELDS = { [1] = true, [2] = true, name = true, run = true, parallel = true, timeout = true,
                      when = true, on_error = true, fail_fast = true }
local PLAYBOOK_FIELDS = { name = true, steps = true, notify = true, notify_timeout = true, out = true,
                          dir = true, context = true }

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end
local function round(t) return t and math.floor(t * 1000 + 0.5) / 1000 end

---------------------------------------------------------------------------------------------
-- Declaration

local function bad(fmt, ...) error(fmt:format(...), 0) end

local function check_fields(where, t, allowed)
  for k in pairs(t) do
    if not allowed[k] then bad("%s: unknown field '%s'", where, tostring(k)) end
  end
end

-- Turns the declared steps into records {index, name, fn | branches, ...}, checking each.
local function declare_steps(list, prefix, names, out)
  if type(list) ~= "table" or #list == 0 then bad("%s must be a non-empty list of steps", prefix) end
  local steps = {}
  for i, s in ipairs(list) do
    local index = prefix == "steps" and tostring(i) or (prefix .. "." .. i)
    local where = "step " .. index
    if type(s) ~= "table" then bad("%s must be a table", where) end
    check_fields(where, s, STEP_FIELDS)
    local name = s.name or s[1]
    if type(name) ~= "string" or name == "" then bad("%s needs a name (its first item)", where) end
    where = ("step %s (%s)"):format(index, name)
    if names[name] then bad("%s: two steps are named '%s'", where, name) end
    names[name] = true
    local fn = s.run or s[2]
    if (fn ~= nil) == (s.parallel ~= nil) then
      bad("%s needs a function or parallel = {steps}, not both", where)
    end
    if fn ~= nil and type(fn) ~= "function" then bad("%s: its action must be a function", where) end
    if s.timeout ~= nil and (type(s.timeout) ~= "number" or s.timeout <= 0) then
      bad("%s: timeout must be a number of seconds > 0", where)
    end
    if s.when ~= nil and type(s.when) ~= "function" then bad("%s: when must be a function(ctx)", where) end
    local on_error = s.on_error or "stop"
    if on_error ~= "stop" and on_error ~= "continue" then
      bad("%s: on_error must be \"stop\" or \"continue\"", where)
    end
    local step = { index = index, name = name, fn = fn, timeout = s.timeout, when = s.when,
                   optional = on_error == "continue", fail_fast = s.fail_fast ~= false,
                   rec = { index = index, name = name, status = "not_run",
                           optional = on_error == "continue" or nil } }
    out[#out + 1] = step.rec
    if s.parallel then step.branches = declare_steps(s.parallel, index, names, out) end
    steps[i] = step
  end
  return steps
end

local function declare(d)
  if type(d) ~= "table" then bad("expected a table") end
  check_fields("playbook", d, PLAYBOOK_FIELDS)
  if type(d.name) ~= "string" or not d.name:match("^[%w._-]+$") then
    bad("name must be a non-empty string of letters, digits, '.', '_' or '-' (got %s)", tostring(d.name))
  end
  local sinks = type(d.notify) == "table" and d.notify or { d.notify }
  for _, s in pairs(sinks) do
    if not (type(s) == "function" or (type(s) == "string" and s:match("^https?://"))) then
      bad("notify must be a webhook URL (http:// or https://), a function(event), or a list of them")
    end
  end
  local records = {}
  local pb = { name = d.name, sinks = sinks, notify_timeout = d.notify_timeout or 10, records = records,
               notified = { sent = 0, failed = 0 }, sink_failed = {} }
  pb.steps = declare_steps(d.steps, "steps", {}, records)
  pb.started = task.now()
  pb.run_id = d.name .. "-" .. os.date("!%Y%m%dT%H%M%SZ", math.floor(pb.started))
  pb.dir = d.dir or ((d.out or "captures") .. "/" .. d.name .. "/" .. pb.run_id:sub(#d.name + 2))
  return pb, d.context
end

---------------------------------------------------------------------------------------------
-- Notifications: each event goes to every sink, in order, from its own task (a slow webhook
-- never holds the playbook up); a webhook that fails in a way that may pass (a connection
-- failure, a timeout, 429 or 5xx) is tried again a few times with backoff; failures are logged,
-- never fatal.

local NOTIFY_RETRY = { attempts = 3, base = 1, cap = 10 }

-- POSTs the event to a webhook URL. Returns true, or nil and why.
local function post(pb, url, body)
  return retry.call(function()
    local res, err = http.request { url = url, method = "POST", body = body, timeout = pb.notify_timeout,
                                    headers = { ["Content-Type"] = "application/json",
                                                ["User-Agent"] = "pcaprun-playbook" } }
    if not res then return nil, err end
    if res.status >= 200 and res.status < 300 then return true end
    local transient = res.status == 408 or res.status == 429 or res.status >= 500
    return nil, perror.make("API_ERROR", "the webhook answered HTTP " .. res.status,
                            { http_status = res.status, retryable = transient })
  end, NOTIFY_RETRY)
end

local function deliver(pb, ev)
  local body = json.encode(ev)
  for _, sink in ipairs(pb.sinks) do
    local ok, why
    if type(sink) == "function" then
      local out = group.try(sink, ev)
      ok, why = out.ok, out.error
    else
      ok, why = post(pb, sink, body)
    end
    if ok then
      pb.notified.sent = pb.notified.sent + 1
    else -- a dead webhook is reported once, then counted
      pb.notified.failed = pb.notified.failed + 1
      local first = not pb.sink_failed[sink]
      pb.sink_failed[sink] = true
      local say = first and log.warn or log.debug
      say("playbook: notification failed", { playbook = pb.name, event = ev.event, error = tostring(why) })
    end
  end
end

local function emit(pb, event, fields)
  if #pb.sinks == 0 then return end
  local ev = { event = event, playbook = pb.name, run = pb.run_id, time = iso(task.now()) }
  for k, v in pairs(fields or {}) do ev[k] = v end
  pb.notifier = task.spawn("notify " .. event, function(prev)
    if prev then pcall(task.join, prev) end
    deliver(pb, ev)
  end, pb.notifier)
end

local function step_event(pb, event, rec)
  local err = rec.error and (rec.error.code .. ": " .. rec.error.message)
  emit(pb, event, { step = rec.name, index = rec.index, status = rec.status, duration = rec.duration,
                    error = err, reason = rec.reason })
end

---------------------------------------------------------------------------------------------
-- Running steps

-- The first frames of a traceback that point into the script (not into C or the stdlib).
local function excerpt(traceback)
  local frames, seen = {}, false
  for line in (traceback or ""):gmatch("[^\n]+") do
    line = line:gsub("^%s+", "")
    if not seen then
      seen = line == "stack traceback:"
    elseif not (line:match("^%[C%]") or line:match("^stdlib/") or line:match("^%(%.%.%.tail")) then
      frames[#frames + 1] = line
      if #frames == 4 then break end
    end
  end
  return frames[1] and table.concat(frames, "\n") or nil
end

local function finish_rec(rec, status)
  rec.status, rec.finished_at = status, round(task.now())
  rec.duration = rec.started_at and round(rec.finished_at - rec.started_at)
end

local run_step

-- Runs the step's function or branches as a group, within the step's timeout.
local function run_body(pb, step)
  local g = group.new { name = step.name, cancel_on_failure = step.fail_fast }
  if step.branches then
    for _, b in ipairs(step.branches) do g:spawn(b.name, run_step, pb, b) end
  else
    g:spawn(step.name, step.fn, pb.ctx)
  end
  local ok, err = g:wait(step.timeout)
  local rec = step.rec
  if ok then
    if step.fn then pb.ctx.results[step.name] = g.members[1].outcome.values[1] end
    return "ok"
  end
  if err.code == "TIMEOUT" and not err.member then
    g:cancel()
    g:wait()
    local message = ("the step did not finish within %g s"):format(step.timeout)
    rec.error = perror.make("TIMEOUT", message)
    return "timed_out"
  end
  local out = step.fn and g.members[1].outcome
  if out then
    rec.error, rec.traceback = out.error, excerpt(out.traceback)
    return out.canceled and "canceled" or "failed"
  end
  rec.error = g.failure and g.failure.outcome.error or err -- names the failed branch
  return "failed"
end

-- Runs one step (checking its condition). Returns true, or nil, err when it failed and is not
-- optional. A cancel of the calling task is re-raised after the step's tasks have unwound.
function run_step(pb, step)
  local rec = step.rec
  if step.when then
    local out = group.try(step.when, pb.ctx)
    if out.ok and not out.values[1] then
      rec.status, rec.reason = "skipped", "condition false"
      step_event(pb, "step.skipped", rec)
      return true
    end
    if not out.ok then
      rec.started_at = round(task.now())
      rec.error = perror.new { code = out.error.code, message = "condition failed: " .. out.error.message }
      rec.traceback = excerpt(out.traceback)
      finish_rec(rec, "failed")
    end
  end
  if rec.status ~= "failed" then
    rec.status, rec.started_at = "running", round(task.now())
    log.info("playbook: step " .. rec.index .. " " .. rec.name, { playbook = pb.name })
    step_event(pb, "step.started", rec)
    local ok, status = pcall(run_body, pb, step)
    if not ok then
      finish_rec(rec, "canceled")
      step_event(pb, "step.failed", rec)
      error(status, 0)
    end
    finish_rec(rec, status)
  end
  if rec.status == "ok" then
    step_event(pb, "step.finished", rec)
    return true
  end
  step_event(pb, "step.failed", rec)
  if not step.branches or rec.status == "timed_out" then -- a failed branch has said it already
    log.warn("playbook: step " .. rec.status, { playbook = pb.name, step = rec.index .. " " .. rec.name,
                                                  error = rec.error.message })
  end
  if step.optional then return true end
  local message = ("step %s (%s) %s: %s"):format(rec.index, rec.name, rec.status, rec.error.message)
  return nil, perror.new { code = rec.error.code, message = message }
end

---------------------------------------------------------------------------------------------
-- The report

local Report = {}
Report.__index = Report

--- report:summary() -> text: the outcome (and where and why it failed), then one line per step.
function Report:summary()
  local lines = {}
  local f = self.failed_step
  if f then
    lines[1] = ("playbook %s: FAILED at step %s (%s) after %.0f s"):format(self.name, f.index, f.name,
                                                                         self.duration)
    lines[2] = "  " .. f.error.code .. ": " .. f.error.message
    if f.traceback then lines[3] = "  at " .. f.traceback:gsub("\n", "\n     ") end
  else
    lines[1] = ("playbook %s: %s in %.0f s"):format(self.name, self.status, self.duration)
  end
  for _, r in ipairs(self.steps) do
    local depth = select(2, r.index:gsub("%.", ""))
    local note = r.reason or (r.error and (r.error.code .. ": " .. r.error.message)) or ""
    lines[#lines + 1] = ("  %-5s %-34s %-9s %6s  %s"):format(r.index, ("  "):rep(depth) .. r.name, r.status,
      r.duration and ("%.0f s"):format(r.duration) or "", note):gsub("%s+$", "")
  end
  lines[#lines + 1] = "  report: " .. self.file
  return table.concat(lines, "\n")
end

-- The step that made the playbook fail: the deepest failed record under the failed top-level step.
local function failed_step(pb)
  local top, found = pb.failed_top, nil
  for _, rec in ipairs(pb.records) do
    local under = rec.index == top.index or rec.index:sub(1, #top.index + 1) == top.index .. "."
    if under and (rec.status == "failed" or rec.status == "timed_out") and not rec.optional
       and (not found or #rec.index > #found.index) then
      found = rec
    end
  end
  return found or top
end

local function report(pb)
  local r = {
    format = "pcaprun.playbook/1", name = pb.name, run = pb.run_id, status = pb.status,
    ok = pb.status == "success", started_at = round(pb.started), finished_at = round(pb.finished),
    duration = round(pb.finished - pb.started), clock = "api", steps = pb.records,
    notifications = pb.notified, dir = pb.dir, file = pb.dir .. "/report.json",
  }
  if pb.failed_top then
    local f = failed_step(pb)
    r.failed_step = { index = f.index, name = f.name, status = f.status, error = f.error,
                      traceback = f.traceback }
  end
  return setmetatable(r, Report)
end

--- playbook.run(declaration) -> report
-- Runs the steps in order. Declaration:
--   name     the playbook's name, [A-Za-z0-9._-]+
--   steps    list of steps; a step is {name, function(ctx) ... end, options...} or
--            {name, parallel = {steps...}, options...}. Options:
--              timeout = seconds (API time): the step is canceled when it runs longer
--              when = function(ctx) -> boolean: run the step only when true (else skipped)
--              on_error = "stop" (default) | "continue": does a failure stop the playbook?
--              fail_fast = true (parallel): a failed branch cancels the others
--   notify   webhook URL(s) (a JSON event is POSTed to each through pcaprun.http) and/or
--            function(event): playbook.started, step.started, step.finished, step.failed,
--            step.skipped, playbook.finished
--   notify_timeout  seconds per webhook request (real time; default 10)
--   context  fields copied into ctx before the first step
--   out      output directory (default "captures"); the run's files and report.json go to
--            OUT/<name>/<UTC stamp>/ (or dir)
-- Each step function gets ctx: {name, run, dir, results = {[step name] = first value returned},
-- steps = {[step name] = record}, path = function(ctx, file) -> dir/file} plus the context.
-- The report (also written to report.json) has status "success" | "partial" (every step that
-- must succeed did, but an on_error = "continue" step failed) | "failed" | "canceled", ok (success),
-- failed_step = {index, name, status, error, traceback} and one record per step: index, name,
-- status (ok, failed, timed_out, canceled, skipped, not_run), times, error, traceback.
function M.run(decl)
  local ok, pb, context = pcall(declare, decl)
  if not ok then error("playbook.run: " .. tostring(pb), 2) end
  local ctx = { name = pb.name, run = pb.run_id, dir = pb.dir, results = {}, steps = {} }
  for k, v in pairs(context or {}) do ctx[k] = v end
  function ctx.path(_, file)
    fs.mkdir(pb.dir)
    return pb.dir .. "/" .. file
  end
  for _, rec in ipairs(pb.records) do ctx.steps[rec.name] = rec end
  pb.ctx = ctx
  log.info("playbook: starting", { playbook = pb.name, run = pb.run_id })
  emit(pb, "playbook.started", { steps = #pb.steps })
  local canceled
  pb.status = "success"
  -- a second Ctrl-C ends the process at once: the report still says the run was canceled
  local undo = task.on_abort(function()
    pb.status, pb.finished = "canceled", task.now()
    fs.mkdir(pb.dir)
    json.write(pb.dir .. "/report.json", report(pb))
  end)
  for _, step in ipairs(pb.steps) do
    local done, res = pcall(run_step, pb, step)
    if not done then
      canceled, pb.status = res, "canceled"
      break
    end
    if not res then
      pb.status, pb.failed_top = "failed", step.rec
      log.info("playbook: stopping after a failed step", { playbook = pb.name, step = step.index })
      break
    end
  end
  undo()
  pb.finished = task.now()
  if pb.status == "success" then -- an optional step that failed is not a success
    for _, rec in ipairs(pb.records) do
      if rec.optional and (rec.status == "failed" or rec.status == "timed_out") then pb.status = "partial" end
    end
  end
  local r = report(pb)
  local f = r.failed_step
  emit(pb, "playbook.finished", { status = r.status, duration = r.duration,
                                  failed_step = f and (f.index .. " " .. f.name),
                                  error = f and f.error.message })
  if pb.notifier then pcall(task.join, pb.notifier) end
  fs.mkdir(pb.dir)
  local written, werr = json.write(r.file, r)
  if not written then log.warn("playbook: cannot write the report", { error = werr }) end
  log.info("playbook: " .. r.status, { playbook = pb.name, report = r.file })
  if canceled then error(canceled, 0) end
  return r
end

return M
