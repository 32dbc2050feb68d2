--- pcaprun.group: structured concurrency. A group runs functions as tasks, waits for all of
-- them or for the first that succeeds, and cancels the others when one fails. Members never
-- outlive a wait that is canceled: the group cancels them and waits for them to unwind first.
--
--   local g = group.new()
--   for _, colo in ipairs(colos) do g:spawn(colo, capture, colo) end
--   local ok, err, outcomes = g:wait()      -- err names the member that failed first
--
-- A member fails when its function raises, or returns nil (or false) and an error. How each
-- member ended is an *outcome*: {name, index, ok, values (packed), error, traceback, canceled,
-- started, finished} (times are task.now(), API time).
local perror = require "pcaprun.error"
local task = require "pcaprun.task"

local M = {}

--- group.is_canceled(err) -> boolean: is err the error a canceled wait raises?
function M.is_canceled(err)
  return type(err) == "table" and err.code == "CANCELED"
end

--- group.as_error(v) -> error value: v itself when it is one, else a SCRIPT_ERROR whose
-- message is tostring(v) (a string raised by error() or assert, say).
function M.as_error(v)
  if perror.is(v) then return v end
  return perror.make("SCRIPT_ERROR", tostring(v))
end

--- group.try(fn, ...) -> outcome: calls fn(...) and describes how it ended, never raising.
-- A raised error keeps its traceback (outcome.traceback).
function M.try(fn, ...)
  local traceback
  local r = table.pack(xpcall(fn, function(e)
    traceback = debug.traceback(tostring(e), 2)
    return e
  end, ...))
  if not r[1] then
    return { ok = false, error = M.as_error(r[2]), canceled = M.is_canceled(r[2]), traceback = traceback }
  end
  if not r[2] and r[3] ~= nil then return { ok = false, error = M.as_error(r[3]), canceled = false } end
  return { ok = true, values = table.pack(table.unpack(r, 2, r.n)), canceled = false }
end

local Group = {}
Group.__index = Group

--- group.new([{name =, cancel_on_failure = true}]) -> group. With cancel_on_failure, the first
-- member to fail cancels every other unfinished member.
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("group.new: options must be a table", 2) end
  return setmetatable({ name = opts.name or "group", cancel_on_failure = opts.cancel_on_failure ~= false,
                        members = {} }, Group)
end

--- g:spawn([name,] fn, ...) -> task: runs fn(...) as a member (it starts when the caller next
-- waits). Members may be added while the group is being waited for.
function Group:spawn(...)
  local name, fn, first = ..., select(2, ...), 3
  if type(name) == "function" then name, fn, first = nil, name, 2 end
  if type(fn) ~= "function" then error("group:spawn: expected a function", 2) end
  local args = table.pack(select(first, ...))
  local m = { index = #self.members + 1, started = task.now() }
  m.name = name and tostring(name) or ("#" .. m.index)
  self.members[m.index] = m
  m.task = task.spawn(m.name:sub(1, 47), function()
    local out = M.try(fn, table.unpack(args, 1, args.n))
    out.name, out.index, out.started, out.finished = m.name, m.index, m.started, task.now()
    m.outcome = out
    if not out.ok and not out.canceled then
      self.failure = self.failure or m
      if self.cancel_on_failure then self:cancel() end
    end
  end)
  return m.task
end

--- g:cancel(): cancels every unfinished member (each unwinds at its current wait).
function Group:cancel()
  local me = task.current()
  for _, m in ipairs(self.members) do
    if not m.outcome and m.task ~= me then task.cancel(m.task) end
  end
end

--- g:outcomes() -> the outcomes of the members that have finished, in spawn order.
function Group:outcomes()
  local list = {}
  for _, m in ipairs(self.members) do list[#list + 1] = m.outcome end
  return list
end

local function pending(self)
  local list = {}
  for _, m in ipairs(self.members) do
    if not m.outcome then list[#list + 1] = m.task end
  end
  return list
end

-- The error of a failed member, its message prefixed with the member's name.
local function member_error(m)
  local e = m.outcome.error
  local copy = {}
  for k, v in pairs(e) do copy[k] = v end
  copy.message = ("%s: %s"):format(m.name, tostring(e.message))
  copy.member, copy.traceback = m.name, m.outcome.traceback
  return perror.new(copy)
end

-- Waits for `fn_wait` over the unfinished members; if the waiting task is canceled, cancels the
-- members, lets them unwind, and re-raises. Returns wait's results.
local function guarded(self, fn_wait, list, timeout)
  local r = table.pack(pcall(fn_wait, list, timeout))
  if r[1] then return table.unpack(r, 2, r.n) end
  self:cancel()
  local rest = pending(self)
  if #rest > 0 then pcall(task.wait_all, rest) end
  error(r[2], 0)
end

local function remaining(deadline)
  return deadline and math.max(0, deadline - task.now())
end

--- g:wait([timeout]) -> true, outcomes | nil, err, outcomes
-- Waits (API seconds) until every member has finished. err is the first failure (its message
-- names the member), or CANCELED when a member was canceled from outside, or TIMEOUT (then the
-- members keep running: cancel them with g:cancel()).
function Group:wait(timeout)
  local deadline = timeout and task.now() + timeout
  while true do
    local list = pending(self)
    if #list == 0 then break end
    local ok, err = guarded(self, task.wait_all, list, remaining(deadline))
    if not ok then return nil, err, self:outcomes() end
  end
  if self.failure then return nil, member_error(self.failure), self:outcomes() end
  for _, m in ipairs(self.members) do
    if not m.outcome.ok then return nil, member_error(m), self:outcomes() end
  end
  return true, self:outcomes()
end

--- g:wait_any([timeout]) -> outcome | nil, err, outcomes
-- Waits for the first member to succeed, cancels the others and waits for them to unwind, and
-- returns the winner's outcome. When every member fails, err is the first failure. Create the
-- group with cancel_on_failure = false, or the first failure cancels the rest.
function Group:wait_any(timeout)
  if #self.members == 0 then error("group:wait_any: the group has no members", 2) end
  local deadline = timeout and task.now() + timeout
  while true do
    for _, m in ipairs(self.members) do
      if m.outcome and m.outcome.ok then
        self:cancel()
        local rest = pending(self)
        if #rest > 0 then guarded(self, task.wait_all, rest) end
        return m.outcome
      end
    end
    local list = pending(self)
    if #list == 0 then
      local failed = self.failure or self.members[1]
      return nil, member_error(failed), self:outcomes()
    end
    local ok, err = guarded(self, task.wait_any, list, remaining(deadline))
    if not ok then return nil, err, self:outcomes() end
  end
end

local function spawn_all(g, fns)
  if type(fns) ~= "table" then error("expected a list of functions", 3) end
  for _, fn in ipairs(fns) do g:spawn(fn) end
  return g
end

--- group.all(fns [, {timeout =, cancel_on_failure = true}]) -> as g:wait(): runs each function
-- of the list as a member and waits for all.
function M.all(fns, opts)
  opts = opts or {}
  return spawn_all(M.new(opts), fns):wait(opts.timeout)
end

--- group.any(fns [, {timeout =}]) -> as g:wait_any(): the first function to succeed wins.
function M.any(fns, opts)
  opts = opts or {}
  return spawn_all(M.new { name = opts.name, cancel_on_failure = false }, fns):wait_any(opts.timeout)
end

return M
