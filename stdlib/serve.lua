--- pcaprun.serve: routes from alerts to playbooks, for `pcaprun serve SCRIPT`.
--
-- SCRIPT declares routes (and options); the daemon runs it at start and again on SIGHUP:
--
--   local serve = require "pcaprun.serve"
--   serve.route { source = "cloudflare", kind = { "dos_attack_l4", "advanced_ddos_attack_l4_alert" },
--                 playbook = function(ev, run) ... end }
--   serve.route { source = "alertmanager", kind = "DDoSAttack", playbook = { name = ..., steps = ... } }
--   serve.options { max_running = 4, cooldown = 600, grace = 60 }
--
-- Each accepted alert (recorded in the journal before the sender heard 202) is normalised
-- (pcaprun.alert), matched against the routes in order, and handled once:
--   START  the first matching route's playbook runs in a task of its own, as a run recorded in
--          the journal against the alert (started, then done or failed), unless the alert's
--          target had a run start within the cooldown (recorded as skipped), or in dry-run mode
--          (logged with the filter it maps to, recorded as skipped). At most max_running run at
--          once; the next alert waits for one to end (and the queue behind it fills: senders get
--          503 when it is full).
--   END    stops what its START began: a run of the START still going in this process is
--          canceled (a campaign inside stops its full captures and keeps their data), and every
--          full capture recorded against alerts of the same correlation id is stopped; then the
--          route's on_end(ev, run) runs, if it has one.
--   TEST   (Cloudflare's "Save and test") routed like a START when a route names kind "test";
--          otherwise recorded as skipped.
-- A run killed with its process (kill -9, a crash) runs again at the next start: give creates
-- stable names (run.id, run:intent(...), campaigns named after run.id) so the journal hands back
-- the captures it had made instead of making them twice.
local alert = require "pcaprun.alert"
local group = require "pcaprun.group"
local intent = require "pcaprun.intent"
local log = require "pcaprun.log"
local pcap = require "pcaprun.pcap"
local perror = require "pcaprun.error"
local playbook = require "pcaprun.playbook"
local task = require "pcaprun.task"

local M = {}

local TERMINAL = { success = true, complete = true, failed = true } -- capture statuses
local DEFAULTS = { max_running = 4, cooldown = 600, grace = 60, dry_run = false }
local ROUTE_FIELDS = { name = true, source = true, kind = true, when = true, playbook = true, on_end = true,
                       target = true, cooldown = true }
local SOURCES = { cloudflare = true, pagerduty = true, alertmanager = true }

local declaring -- the declaration the script being run fills in

local function bad(fmt, ...) error(fmt:format(...), 3) end

local function current(fname)
  if not declaring then bad("%s: call it from the script pcaprun serve runs", fname) end
  return declaring
end

-- A field that is a string or a list of strings, as a set (nil: any).
local function names(where, v)
  if v == nil then return nil end
  local set = {}
  for _, s in ipairs(type(v) == "table" and v or { v }) do
    if type(s) ~= "string" then bad("%s must be a string or a list of strings", where) end
    set[s] = true
  end
  if next(set) == nil then bad("%s must not be empty", where) end
  return set
end

--- serve.route{source =, kind =, when =, playbook =, on_end =, target =, cooldown =, name =}
-- source: "cloudflare" | "pagerduty" | "alertmanager" or a list (default any); kind: the
-- alert's kind (Cloudflare alert_type, PagerDuty event_type, Alertmanager alertname) or a list
-- (default any); when = function(ev) -> boolean; playbook: function(ev, run) or a playbook
-- declaration (pcaprun.playbook: its ctx gets alert = ev and run); on_end = function(ev, run)
-- after an END stopped the START's captures; target = function(ev) -> string: the cooldown's key
-- (default ev.target); cooldown: seconds for this route (default the daemon's).
function M.route(r)
  local d = current("serve.route")
  if type(r) ~= "table" then bad("serve.route: expected a table") end
  for k in pairs(r) do
    if not ROUTE_FIELDS[k] then bad("serve.route: unknown field '%s'", tostring(k)) end
  end
  local route = { name = r.name or ("route " .. (#d.routes + 1)),
                  sources = names("serve.route: source", r.source),
                  kinds = names("serve.route: kind", r.kind), when = r.when, playbook = r.playbook,
                  on_end = r.on_end, target = r.target, cooldown = r.cooldown }
  for s in pairs(route.sources or {}) do
    if not SOURCES[s] then
      bad("serve.route: unknown source '%s' (cloudflare, pagerduty, alertmanager)", s)
    end
  end
  local pb = r.playbook
  if not (type(pb) == "function" or type(pb) == "table") then
    bad("serve.route: playbook must be a function(ev, run) or a playbook declaration")
  end
  for _, k in ipairs { "when", "on_end", "target" } do
    if r[k] ~= nil and type(r[k]) ~= "function" then bad("serve.route: %s must be a function", k) end
  end
  if r.cooldown ~= nil and (type(r.cooldown) ~= "number" or r.cooldown < 0) then
    bad("serve.route: cooldown must be a number of seconds >= 0")
  end
  d.routes[#d.routes + 1] = route
  return route
end

--- serve.options{max_running =, cooldown =, grace =, dry_run =}: the daemon's guards (the
-- command line's --max-running, --cooldown, --grace, --dry-run win).
function M.options(o)
  local d = current("serve.options")
  for k, v in pairs(o) do
    if DEFAULTS[k] == nil then bad("serve.options: unknown option '%s'", tostring(k)) end
    if type(v) ~= type(DEFAULTS[k]) or (type(v) == "number" and v < 0) then
      bad("serve.options: %s must be a %s%s", k, type(DEFAULTS[k]), type(v) == "number" and " >= 0" or "")
    end
    d.options[k] = v
  end
end

--- serve.secrets{cloudflare =, pagerduty =, alertmanager =}: the receivers' secrets, when the
-- script has them rather than the environment (PCAPRUN_CF_WEBHOOK_SECRET,
-- PCAPRUN_PAGERDUTY_WEBHOOK_SECRET, PCAPRUN_ALERTMANAGER_TOKEN). They cannot be read back.
function M.secrets(t)
  current("serve.secrets")
  require("pcaprun.daemon").secrets(t)
end

---------------------------------------------------------------------------------------------
-- The script

-- Runs the script in a fresh declaration. Returns it, or nil and why.
local function load_script(path, args)
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  local d = { routes = {}, options = {} }
  declaring = d
  local ok, e = pcall(chunk, table.unpack(args, 1, args.n))
  declaring = nil
  if not ok then return nil, tostring(perror.is(e) and e.message or e) end
  if #d.routes == 0 then return nil, path .. " declares no route (serve.route{...})" end
  return d
end

-- The guards: the command line's, else the script's, else the defaults.
local function settle(daemon, d)
  local cli, o = daemon.settings(), {}
  for k, v in pairs(DEFAULTS) do
    if cli[k] ~= nil then o[k] = cli[k] elseif d.options[k] ~= nil then o[k] = d.options[k] else o[k] = v end
  end
  return o
end

---------------------------------------------------------------------------------------------
-- Routing

local function matches(route, ev)
  if route.sources and not route.sources[ev.source] then return false end
  if route.kinds and not route.kinds[ev.kind] then return false end
  if ev.state == "TEST" and not (route.kinds and route.kinds.test) then return false end
  if route.when then
    local out = group.try(route.when, ev)
    if not out.ok then
      log.warn("serve: a route's when failed", { route = route.name, error = tostring(out.error) })
      return false
    end
    return out.values[1] and true or false
  end
  return true
end

local function route_of(state, ev)
  for _, r in ipairs(state.decl.routes) do
    if matches(r, ev) then return r end
  end
  return nil
end

local function meta(ev, key)
  return { kind = ev.kind, correlation = ev.correlation, target = key }
end

---------------------------------------------------------------------------------------------
-- Runs

local Run = {}
Run.__index = Run

--- run:record(v): the captures of v (a capture object, an id, a campaign result, or a list of
-- them) were made by this run: an END of the alert stops the full ones.
function Run:record(v, depth)
  depth = depth or 0
  if depth > 3 or v == nil then return end
  if type(v) == "string" then
    if #v == 32 then self.daemon.capture(self.alert_id, v) end
  elseif type(v) == "userdata" then
    local ok, id = pcall(function() return v.id end)
    if ok and type(id) == "string" then self.daemon.capture(self.alert_id, id) end
  elseif type(v) == "table" then
    if type(v.targets) == "table" then -- a campaign result
      for _, t in ipairs(v.targets) do
        for _, id in ipairs(t.ids or {}) do self:record(id, depth + 1) end
      end
    end
    for _, item in ipairs(v) do self:record(item, depth + 1) end
  end
end

--- run.related (END runs): the journal's rows of the other alerts of the same correlation id
-- (the START: {id, state, note, captures, ...}), for on_end.
--- run:intent(key) -> a stable intent name for pcap.create (the same across reruns of the alert).
function Run:intent(key)
  return intent.of(self.id, key)
end

--- run:on_end(fn): when the alert's END comes, call fn(end_event) (in the END's task) instead
-- of canceling this run: for a playbook that stops its own captures and goes on (to write up).
function Run:on_end(fn)
  self.end_hooks[#self.end_hooks + 1] = fn
end

local function new_run(state, a, ev, route)
  return setmetatable({ id = ("%s-%d"):format(ev.source, a.id), alert_id = a.id, alert = ev,
                        route = route.name,
                        attempt = (a.runs or 0) + 1, dry_run = state.opt.dry_run, daemon = state.daemon,
                        end_hooks = {} }, Run)
end

-- Calls the route's playbook: a function, or a declaration run by pcaprun.playbook.
local function call_playbook(route, ev, run)
  local pb = route.playbook
  if type(pb) == "function" then return pb(ev, run) end
  local decl = {}
  for k, v in pairs(pb) do decl[k] = v end
  decl.name = decl.name or run.id
  decl.dir = decl.dir or ("%s/%s/%s"):format(decl.out or "captures", decl.name, run.id) -- the same on a rerun
  decl.context = setmetatable({ alert = ev, run = run }, { __index = pb.context })
  local report = playbook.run(decl)
  if not report.ok then return nil, report.failed_step and report.failed_step.error or report.status end
  return report
end

-- Stops the full captures recorded against the alerts (journal rows) that are still going.
-- Returns how many it stopped.
local function stop_recorded(alerts)
  local stopped = 0
  for _, rel in ipairs(alerts) do
    for _, id in ipairs(rel.captures or {}) do
      local cap = pcap.get(id)
      if cap and cap.type == "full" and not TERMINAL[cap.status] then
        local ok, err = pcap.stop(id)
        if ok then stopped = stopped + 1
        else log.warn("serve: could not stop a capture", { capture = id, error = tostring(err) }) end
      end
    end
  end
  return stopped
end

-- The run's task: the playbook, then its outcome in the journal. corr: the alert's source and
-- correlation id (an END finds the run by it).
local function execute(state, run, route, corr, fn)
  local a, ev = { id = run.alert_id }, run.alert
  local t0 = task.now()
  log.info("serve: playbook started", { alert = a.id, source = ev.source, kind = ev.kind, state = ev.state,
                                        route = route.name, target = ev.target, attempt = run.attempt })
  local out = group.try(fn, route, ev, run)
  if out.ok then run:record(out.values[1]) end
  if out.canceled and not state.ending[a.id] then -- the grace of a drain is over: its full captures end
    local stopped = stop_recorded { state.daemon.get(a.id) }
    if stopped > 0 then
      log.info("serve: stopped the full captures of a canceled run", { alert = a.id, captures = stopped })
    end
  end
  local status, note = "done", "ok"
  if state.ending[a.id] and (out.ok or out.canceled) then
    note = "stopped by END alert " .. state.ending[a.id]
  elseif not out.ok then
    status = "failed"
    note = out.canceled and "canceled: the daemon is shutting down" or tostring(out.error)
  end
  state.daemon.finish(a.id, status, note)
  local say = status == "done" and log.info or log.warn
  say("serve: playbook " .. (status == "done" and "finished" or "failed"),
      { alert = a.id, route = route.name, seconds = ("%.1f"):format(task.now() - t0), note = note })
  state.running[a.id] = nil
  if state.active[corr] then state.active[corr][a.id] = nil end
end

local function running_count(state)
  local n = 0
  for _ in pairs(state.running) do n = n + 1 end
  return n
end

local function running_list(state)
  local list = {}
  for _, run in pairs(state.running) do list[#list + 1] = run.task end
  return list
end

local function start_run(state, a, ev, route, fn)
  local corr = ev.source .. "|" .. (ev.correlation or "")
  local run = new_run(state, a, ev, route)
  run.task = task.spawn("alert " .. a.id, execute, state, run, route, corr, fn)
  state.running[a.id] = run
  state.active[corr] = state.active[corr] or {}
  state.active[corr][a.id] = run
end

-- END: the START runs still going here are told (their run:on_end functions), or else canceled
-- and waited for; then the full captures recorded against the alerts of this correlation are
-- stopped, and the route's on_end runs.
local function end_playbook(state)
  return function(route, ev, run)
    local stopped = 0
    if ev.correlation then
      local canceled = {}
      for id, start in pairs(state.active[ev.source .. "|" .. ev.correlation] or {}) do
        if id ~= run.alert_id then
          state.ending[id] = run.alert_id
          if #start.end_hooks > 0 then
            for _, hook in ipairs(start.end_hooks) do
              local out = group.try(hook, ev)
              if not out.ok then
                log.warn("serve: an on_end function failed", { alert = id, error = tostring(out.error) })
              end
            end
          else
            task.cancel(start.task)
            canceled[#canceled + 1] = start.task
          end
        end
      end
      if #canceled > 0 then task.wait_all(canceled) end
      local related = state.daemon.related(ev.source, ev.correlation)
      stopped = stop_recorded(related)
      run.related = {}
      for _, rel in ipairs(related) do
        if rel.id ~= run.alert_id then run.related[#run.related + 1] = rel end
      end
    end
    log.info("serve: END handled",
             { alert = run.alert_id, correlation = ev.correlation, captures_stopped = stopped })
    if route.on_end then return route.on_end(ev, run) end
    return true
  end
end

-- One alert from the queue: normalise, route, guard, and start its run (or record why not).
local function handle(state, a)
  local daemon = state.daemon
  local ok, ev = pcall(alert.normalise, a.source, a.payload)
  if not ok then
    daemon.finish(a.id, "skipped", "cannot be read: " .. tostring(ev))
    return
  end
  local route = route_of(state, ev)
  local key = route and route.target and route.target(ev) or ev.target
  if ev.state == "END" then
    if not daemon.claim(a.id, meta(ev, key)) then return end
    start_run(state, a, ev, route or { name = "END" }, end_playbook(state))
    return
  end
  if not route then
    daemon.finish(a.id, "skipped", "no route for " .. ev.source .. " " .. ev.kind, meta(ev, key))
    log.info("serve: no route", { alert = a.id, source = ev.source, kind = ev.kind })
    return
  end
  if state.opt.dry_run then
    local filter, post = alert.filter(ev)
    log.info("serve: dry run: would run the playbook", { alert = a.id, route = route.name, source = ev.source,
      kind = ev.kind, target = ev.target, filter = require("pcaprun.json").encode(filter),
      post_filter = post and post.bpf })
    daemon.finish(a.id, "skipped", "dry run", meta(ev, key))
    return
  end
  local cooldown = route.cooldown or state.opt.cooldown
  local since = key and cooldown > 0 and daemon.since(key, a.id)
  if since and since < cooldown then
    local note = ("cooldown: a playbook started for %s %.0f s ago (cooldown %g s)"):format(key, since,
                                                                                           cooldown)
    daemon.finish(a.id, "skipped", note, meta(ev, key))
    log.info("serve: skipped (cooldown)", { alert = a.id, target = key })
    return
  end
  while running_count(state) >= state.opt.max_running do task.wait_any(running_list(state)) end
  if not daemon.claim(a.id, meta(ev, key)) then return end -- another live process runs it
  start_run(state, a, ev, route, call_playbook)
end

local function dispatch(state)
  while true do
    local a = state.daemon.next()
    if not a then return end -- draining
    handle(state, a)
  end
end

---------------------------------------------------------------------------------------------
-- The daemon (runtime/main.c runs it as the main task under `pcaprun serve SCRIPT`)

local function describe(state)
  local missing = {}
  for name, on in pairs(state.daemon.receivers()) do
    if not on then missing[#missing + 1] = name end
  end
  table.sort(missing)
  local routes = {}
  for _, r in ipairs(state.decl.routes) do routes[#routes + 1] = r.name end
  log.info("serve: routes loaded", { routes = table.concat(routes, ", "), max_running = state.opt.max_running,
                                     cooldown = state.opt.cooldown, dry_run = state.opt.dry_run or nil,
                                     refusing = #missing > 0 and table.concat(missing, ", ") or nil })
end

--- serve.daemon(script, ...): the daemon's main task: runs the script, hands alerts to
-- playbooks until SIGTERM/SIGINT (then drains: no new playbook, running ones get `grace`
-- seconds, then are canceled, stopping their full captures), reading the script again on SIGHUP.
function M.daemon(script, ...)
  local daemon = require "pcaprun.daemon"
  local args = table.pack(...)
  local decl, err = load_script(script, args)
  if not decl then error(perror.make("USAGE", "pcaprun serve: " .. tostring(err)), 0) end -- exit 2
  local state = { daemon = daemon, decl = decl, opt = settle(daemon, decl), running = {}, active = {},
                  ending = {} }
  describe(state)
  local dispatcher = task.spawn("dispatcher", dispatch, state)
  local signal
  repeat
    signal = task.signal(nil, { hangup = true })
    if signal == "SIGHUP" then
      local fresh, why = load_script(script, args)
      if fresh then
        state.decl, state.opt = fresh, settle(daemon, fresh)
        log.info("serve: reloaded " .. script)
        describe(state)
      else
        log.error("serve: reload failed; the routes stay as they were", { error = why })
      end
    end
  until signal ~= "SIGHUP"
  daemon.drain()
  task.cancel(dispatcher)
  pcall(task.join, dispatcher)
  local runs = running_list(state)
  log.info("serve: draining", { signal = signal, running = #runs, grace = state.opt.grace })
  if #runs > 0 and not task.wait_all(runs, state.opt.grace) then
    log.warn("serve: grace over: canceling the running playbooks (their full captures are stopped)")
    for _, t in ipairs(runs) do task.cancel(t) end
    task.wait_all(runs)
  end
  log.info("serve: stopped")
end

return M
