--- pcaprun.campaign: captures across colos, declared once and run as one job.
--
--   local result = campaign.run{
--     name   = "edge-syn-flood",
--     bucket = "s3://my-bucket/pcaps?region=us-east-1",
--     full   = { colos = { "ORD", "SJC", "AMS" }, time_limit = 120, byte_limit = 100e6 },
--     sample = { time_limit = 60, packet_limit = 10000,
--                filters = { { destination_port = 443, protocol = 6 } } },
--   }
--   print(result:summary())
--
-- Every target runs as its own task; the runtime queues full captures for the account's slot
-- (they start back to back) and paces simple ones to the sample rate, so the campaign never
-- sleeps to pace anything itself. Files land in OUT/<name>/<colo>/<id>.pcap (full) and
-- OUT/<name>/sampled/<id>.pcap (simple), beside OUT/<name>/manifest.json, which is rewritten
-- atomically whenever a target changes state. Running the same campaign again skips the
-- targets the manifest shows complete (files present and valid) and picks up captures a killed
-- run left running. With a journal (--journal) that holds even when the manifest is stale or gone:
-- each attempt's intent names the target, its spec and the attempt, so the runtime adopts the
-- capture an attempt made instead of making it twice, and a file the journal shows downloaded
-- for the capture is reused. Declaration mistakes raise at once, naming the field and the rule;
-- failures of captures are recorded per target and never raise.
local bucket = require "pcaprun.bucket"
local fs = require "pcaprun.fs"
local group = require "pcaprun.group"
local intent = require "pcaprun.intent"
local journal = require "pcaprun.journal"
local json = require "pcaprun.json"
local log = require "pcaprun.log"
local pcap = require "pcaprun.pcap"
local pcapfile = require "pcaprun.pcapfile"
local perror = require "pcaprun.error"
local retry = require "pcaprun.retry"
local task = require "pcaprun.task"

local M = {}

local DONE = { complete = true, delivered = true } -- target statuses that count as success
local TERMINAL = { success = true, complete = true, failed = true } -- capture statuses

---------------------------------------------------------------------------------------------
-- Declaration: check every field, expand full/sample/targets into target records.

local function bad(fmt, ...) error(fmt:format(...), 0) end

local function check_fields(where, t, allowed)
  if type(t) ~= "table" then bad("%s must be a table", where) end
  for k in pairs(t) do
    if not allowed[k] then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      bad("%s: unknown field '%s' (fields: %s)", where, tostring(k), table.concat(names, ", "))
    end
  end
end

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

local CAMPAIGN_FIELDS = set { "name", "bucket", "bucket_dir", "out", "dir", "full", "sample", "targets",
                              "on_error", "retry", "priority", "preempt", "resume", "stop_timeout",
                              "keep_parts", "delete_after", "bucket_options" }
local FULL_FIELDS = set { "colos", "time_limit", "packet_limit", "byte_limit", "filter", "filters", "bucket" }
local SAMPLE_FIELDS = set { "time_limit", "packet_limit", "offset_time", "filter", "filters" }
local TARGET_FIELDS = set { "name", "type", "colo", "time_limit", "packet_limit", "byte_limit", "filter",
                            "offset_time", "bucket" }
local RETRY_FIELDS = set { "attempts", "base", "cap", "deadline" }

local function filters_of(where, g)
  if g.filter ~= nil and g.filters ~= nil then bad("%s: give filter or filters, not both", where) end
  local list = g.filters or { g.filter or {} }
  if type(list) ~= "table" or #list == 0 then bad("%s.filters must be a non-empty list of filters", where) end
  for i, f in ipairs(list) do
    if type(f) ~= "table" then bad("%s.filters[%d] must be a table (a filter_v1)", where, i) end
  end
  return list
end

local function label(filter)
  local parts = {}
  for k, v in pairs(filter) do parts[#parts + 1] = ("%s=%s"):format(k, tostring(v)) end
  table.sort(parts)
  return table.concat(parts, ",")
end

-- Numbers written as 100e6 are floats; the API wants integers.
local function integers(t)
  local copy = {}
  for k, v in pairs(t) do copy[k] = math.type(v) == "float" and math.tointeger(v) or v end
  return copy
end

-- A target: what to create (spec), where its files go (subdir), how it is known (key).
local function new_target(c, where, key, name, kind, colo, limits, filter, dest)
  limits = integers(limits)
  local spec = { type = kind, time_limit = limits.time_limit, packet_limit = limits.packet_limit }
  if next(filter) then spec.filter_v1 = integers(filter) end
  if kind == "full" then
    if type(colo) ~= "string" or colo == "" then
      bad("%s: colo must be a colo name such as \"ORD\"", where)
    end
    if not dest then bad("%s: full captures need a bucket (campaign field bucket)", where) end
    spec.colo_name, spec.destination_conf, spec.byte_limit = colo, dest, limits.byte_limit
  else
    spec.offset_time = limits.offset_time
  end
  local ok, err = pcap.validate(spec)
  if not ok then bad("%s: %s", where, err.message) end
  local shown = {}
  for k, v in pairs(spec) do shown[k] = v end
  shown.destination_conf = dest and bucket.redact(dest)
  local t = { key = key, name = name, type = kind, colo = colo, spec = shown, status = "pending",
              attempts = 0, ids = json.array(),
              _spec = spec, _dest = kind == "full" and dest or nil,
              _subdir = kind == "full" and colo or "sampled" }
  -- the fingerprint names what is captured; offset_time is when it looks back from, which a
  -- script may compute from the clock: a rerun is the same target, not a new one
  local what = {}
  for k, v in pairs(spec) do what[k] = v end
  what.offset_time = nil
  t.fingerprint = intent.hash(json.encode(what), 12)
  if c.keys[key] then bad("%s: two targets have the key '%s'", where, key) end
  c.keys[key] = true
  c.targets[#c.targets + 1] = t
  return t
end

local function declare(d)
  check_fields("campaign", d, CAMPAIGN_FIELDS)
  if type(d.name) ~= "string" or not d.name:match("^[%w._-]+$") then
    bad("name must be a non-empty string of letters, digits, '.', '_' or '-' (got %s)", tostring(d.name))
  end
  local on_error = d.on_error or "continue"
  if on_error ~= "continue" and on_error ~= "stop" then
    bad("on_error must be \"continue\" or \"stop\" (got %s)", tostring(on_error))
  end
  if d.priority ~= nil and math.type(d.priority) ~= "integer" then bad("priority must be an integer") end
  if d.retry ~= nil then check_fields("retry", d.retry, RETRY_FIELDS) end
  if d.stop_timeout ~= nil and type(d.stop_timeout) ~= "number" then
    bad("stop_timeout must be a number of seconds")
  end
  local out = d.out or "captures"
  local c = { name = d.name, dir = d.dir or (out .. "/" .. d.name), on_error = on_error,
              targets = {}, keys = {}, priority = d.priority or 0, preempt = d.preempt == true,
              resume = d.resume ~= false,
              mirror = bucket.mirror(d.bucket_dir), stop_timeout = d.stop_timeout or 600,
              keep_parts = d.keep_parts == true, delete_after = d.delete_after == true,
              bucket_options = d.bucket_options, stores = {}, store_errors = {},
              retry = { attempts = 3, base = 10, cap = 300 } }
  for k, v in pairs(d.retry or {}) do c.retry[k] = v end
  if d.bucket ~= nil then
    local ok, why = bucket.parse(d.bucket)
    if not ok then bad("bucket: %s", why) end
  end
  c.bucket = d.bucket

  if d.full ~= nil then
    local f = d.full
    check_fields("full", f, FULL_FIELDS)
    if type(f.colos) ~= "table" or #f.colos == 0 then
      bad("full.colos must be a non-empty list of colo names")
    end
    local filters = filters_of("full", f)
    for _, colo in ipairs(f.colos) do
      for i, filter in ipairs(filters) do
        local key = #filters > 1 and ("full/%s/%d"):format(colo, i) or ("full/" .. tostring(colo))
        local name = #filters > 1 and ("%s %s"):format(colo, label(filter)) or colo
        new_target(c, "full." .. key, key, name, "full", colo, f, filter, f.bucket or d.bucket)
      end
    end
  end
  if d.sample ~= nil then
    check_fields("sample", d.sample, SAMPLE_FIELDS)
    for i, filter in ipairs(filters_of("sample", d.sample)) do
      local name = next(filter) and ("sample " .. label(filter)) or "sample (all traffic)"
      new_target(c, "sample", "sample/" .. i, name, "simple", nil, d.sample, filter)
    end
  end
  if d.targets ~= nil then
    if type(d.targets) ~= "table" then bad("targets must be a list of tables") end
    for i, t in ipairs(d.targets) do
      local where = ("targets[%d]"):format(i)
      check_fields(where, t, TARGET_FIELDS)
      if type(t.name) ~= "string" or t.name == "" then bad("%s.name must be a non-empty string", where) end
      if t.type ~= "full" and t.type ~= "simple" then bad("%s.type must be \"full\" or \"simple\"", where) end
      new_target(c, where, "target/" .. t.name, t.name, t.type, t.colo, t, t.filter or {},
                 t.bucket or d.bucket)
    end
  end
  if #c.targets == 0 then bad("nothing to capture: declare full, sample or targets") end
  return c
end

---------------------------------------------------------------------------------------------
-- The manifest: the campaign's record, rewritten atomically at every change.

local function round(t) return t and math.floor(t * 1000 + 0.5) / 1000 end

local function count(c)
  local s = { targets = #c.targets, packets = 0, bytes = 0, files = 0 }
  for _, t in ipairs(c.targets) do
    s[t.status] = (s[t.status] or 0) + 1
    s.packets = s.packets + (t.packets or 0)
    s.bytes = s.bytes + (t.bytes or 0)
    s.files = s.files + (t.files and #t.files or 0)
  end
  return s
end

local function manifest(c)
  local targets = {}
  for i, t in ipairs(c.targets) do
    local m = {}
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" then m[k] = v end
    end
    m.queued_at, m.created_at, m.finished_at = round(t.queued_at), round(t.created_at), round(t.finished_at)
    targets[i] = m
  end
  return {
    format = "pcaprun.campaign/1", name = c.name, status = c.status, ok = c.status == "complete",
    bucket = c.bucket and bucket.redact(c.bucket), mirror = c.mirror, on_error = c.on_error,
    priority = c.priority, preempt = c.preempt, retry = c.retry, clock = "api",
    time_scale = task.time_scale(),
    started_at = round(c.started), finished_at = round(c.finished),
    duration = c.finished and round(c.finished - c.started), targets = targets, totals = count(c),
  }
end

local function save(c)
  local ok, err = json.write(c.dir .. "/manifest.json", manifest(c))
  if not ok then log.warn("campaign: cannot write the manifest", { campaign = c.name, error = err }) end
end

---------------------------------------------------------------------------------------------
-- One target: create (with retries), wait, collect the files.

-- Copies the full capture's objects from the bucket mirror, or records where they are (a bucket
-- pcaprun cannot read: why is in `why`).
local function collect_mirror(c, t, cap, why)
  t.object = bucket.object_uri(t._dest, cap.id)
  if not c.mirror then
    t.note = why and ("the bucket cannot be read: " .. why) or nil
    return "delivered"
  end
  local objects = bucket.objects(c.mirror, t._dest, cap.id)
  if #objects == 0 then
    t.note = ("no pcap_%s*.pcap in the bucket mirror %s%s"):format(cap.id, c.mirror,
                                                                   why and ("; " .. why) or "")
    return "delivered"
  end
  t.object = nil
  for _, src in ipairs(objects) do
    local rel = t._subdir .. "/" .. src:match("pcap_([^/]+)$")
    local dst = c.dir .. "/" .. rel
    local ok, err = fs.copy(src, dst)
    if not ok then return nil, perror.make("IO", err) end
    local info, ferr = fs.check_pcap(dst)
    if not info then
      fs.remove(dst)
      return nil, perror.make("BAD_PCAP", ferr)
    end
    t.files[#t.files + 1] = { path = rel, bytes = info.bytes, packets = info.packets }
  end
  return "complete"
end

-- The bucket's store, opened once per campaign: false (and why) when pcaprun cannot read it.
local function store_for(c, dest)
  if c.stores[dest] == nil then
    local s, err = bucket.open(dest, c.bucket_options)
    c.stores[dest] = s or false
    c.store_errors[dest] = err and tostring(err.message or err)
  end
  return c.stores[dest], c.store_errors[dest]
end

-- A fetch or merge that did not work out: the capture is in the bucket, so the target is not made
-- again; it is "fetch_failed", and a rerun fetches again (resuming what is there).
local function fetch_failed(t, err)
  t.error = group.as_error(err)
  t.errors[#t.errors + 1] = t.error
  return "fetch_failed"
end

-- Fetches every file of the full capture from its bucket (OUT/<name>/<colo>/parts/), merges them
-- by time into OUT/<name>/<colo>/<id>.pcap (nanosecond timestamps), and records the file, the
-- parts and the objects they came from. The parts go once the merge is recorded (unless
-- keep_parts); the objects are deleted from the bucket then too with delete_after.
local function collect_full(c, t, cap)
  local store, why = store_for(c, t._dest)
  if not store then return collect_mirror(c, t, cap, why) end
  local objects, lerr = bucket.capture_objects(store, cap.id)
  if not objects then
    if not lerr.retryable then return collect_mirror(c, t, cap, tostring(lerr.message)) end
    return fetch_failed(t, lerr)
  end
  if #objects == 0 then
    t.object = bucket.object_uri(t._dest, cap.id)
    t.note = "no pcap_" .. cap.id .. "*.pcap in the bucket"
    return "delivered"
  end
  local parts, ferr = bucket.fetch_capture(store, cap.id, c.dir .. "/" .. t._subdir .. "/parts")
  if not parts then return fetch_failed(t, ferr) end
  local rel = t._subdir .. "/" .. cap.id .. ".pcap"
  local inputs, packets = {}, 0
  for i, p in ipairs(parts) do inputs[i], packets = p.path, packets + p.packets end
  local merged, merr = pcapfile.merge(inputs, c.dir .. "/" .. rel)
  if not merged then return fetch_failed(t, merr) end
  if merged.packets ~= packets then
    return fetch_failed(t, perror.make("BAD_PCAP", ("the merged file has %d packets, its parts %d")
                                                      :format(merged.packets, packets)))
  end
  local objs = json.array()
  t.parts = json.array()
  for i, p in ipairs(parts) do
    objs[i] = p.object
    t.parts[i] = { path = t._subdir .. "/parts/" .. p.name, object = p.object, etag = p.etag,
                   bytes = p.bytes, packets = p.packets }
  end
  t.files[1] = { path = rel, bytes = merged.bytes, packets = merged.packets, objects = objs }
  t.error = nil
  t._cleanup = function()
    for i, p in ipairs(parts) do
      if not c.keep_parts and fs.remove(p.path) then t.parts[i].path = nil end
      if c.delete_after then
        local ok, derr = store:delete(p.name)
        if ok then t.parts[i].deleted = true
        else log.warn("campaign: cannot delete the object", { object = p.object, error = tostring(derr) }) end
      end
    end
  end
  return "complete"
end

-- Each collected file's summary (pcapfile.summary: packets, time range, SYN ratio, heaviest
-- addresses...) for the manifest; a file that cannot be read gets none, with a warning.
local function summarize(c, t)
  for _, f in ipairs(t.files) do
    local s, err = pcapfile.summary(c.dir .. "/" .. f.path)
    if not s then
      log.warn("campaign: cannot summarize a capture file", { path = f.path, error = tostring(err) })
    end
    f.summary = s
  end
end

local function collect(c, t, cap)
  t.files = json.array()
  local status, err
  if t.type == "full" then
    status, err = collect_full(c, t, cap)
  else
    local rel = t._subdir .. "/" .. cap.id .. ".pcap"
    local path, info = c.dir .. "/" .. rel, nil
    local earlier = journal.download(path) -- a run killed before it wrote the manifest?
    if earlier and earlier.capture_id == cap.id and earlier.state == "done" then
      info = fs.check_pcap(path)
    end
    if not info then info, err = cap:download(path) end
    if info then
      t.files[1] = { path = rel, bytes = info.bytes, packets = info.packets }
      status = "complete"
    end
  end
  if not status then return nil, err end
  summarize(c, t)
  t.packets, t.bytes = 0, 0
  for _, f in ipairs(t.files) do t.packets, t.bytes = t.packets + f.packets, t.bytes + f.bytes end
  if #t.files == 0 then t.packets, t.bytes = cap.packets, nil end
  if (cap.stop_requested or "") ~= "" and not t._stopped then status = "preempted" end
  return status
end

-- A full capture's parts and objects go only once the manifest holds the merged file.
local function settle(c, t)
  if not t._cleanup then return end
  save(c)
  t._cleanup = t._cleanup()
end

-- Waits for the capture and collects it. Returns true, or nil, err.
local function finish(c, t, cap)
  local done, err = cap:wait()
  t.finished_at = task.now()
  if not done then return nil, err end
  local status, cerr = collect(c, t, cap)
  if not status then return nil, cerr end
  t.status = t._stopped and "stopped" or status
  settle(c, t)
  return true
end

-- The intent of a target's attempt n: the same for a rerun of the same declaration into the same
-- directory, different when the target's spec changed (its fingerprint) or the output went
-- elsewhere (another directory is another campaign).
local function intent_of(c, t, n)
  return intent.of(c.name, t.key .. "@" .. t.fingerprint .. "@" .. c.realdir, n)
end

local function attempt(c, t)
  t.attempts = t.attempts + 1
  t.status = "queued"
  local cap, err = pcap.create(t._spec, { priority = c.priority, preempt = c.preempt,
                                          intent = intent_of(c, t, t.attempts) })
  if not cap then return nil, err end
  t._cap, t.id, t.submitted, t.created_at = cap, cap.id, cap.submitted, task.now()
  t.ids[#t.ids + 1] = cap.id
  t.status = "running"
  save(c)
  return finish(c, t, cap)
end

local function retryable(err)
  return retry.retryable(err) or (type(err) == "table" and err.code == "CAPTURE_FAILED")
end

-- A previous run's record of this target: reuse it when complete, adopt its capture when the
-- run died while it was running. Returns true when there is nothing left to do.
local function resume(c, t, p)
  if not p or p.fingerprint ~= t.fingerprint then return false end
  t.attempts, t.ids = p.attempts or 0, json.array(p.ids or {})
  -- a full capture an interrupted run stopped early ended incomplete: the target starts afresh
  -- with its next attempt (the stopped one stays among its ids)
  t._after = t.type == "full" and (p.status == "stopped" or p.status == "preempted" or
                                   (p.status == "canceled" and p.id)) and t.attempts or 0
  if DONE[p.status] then
    for _, f in ipairs(p.files or {}) do
      if not fs.check_pcap(c.dir .. "/" .. f.path) then return false end
    end
    for _, k in ipairs { "id", "submitted", "files", "parts", "object", "packets", "bytes", "status" } do
      t[k] = math.tointeger(p[k]) or p[k] -- counts come back from JSON as floats
    end
    t.reused = true
    return true
  end
  if (p.status == "running" or p.status == "queued" or p.status == "fetch_failed") and p.id then
    local cap = pcap.get(p.id)
    if cap and cap.status ~= "failed" then
      log.info("campaign: picking up a capture the last run left",
               { campaign = c.name, target = t.key, id = p.id })
      t._cap, t.id, t.submitted, t.created_at, t.status = cap, cap.id, cap.submitted, task.now(), "running"
      return finish(c, t, cap) == true
    end
  end
  return false
end

-- After a cancel: a full capture in flight is stopped, then whatever it captured is collected;
-- a simple one (which cannot be stopped) is finished and downloaded.
local function wind_down(c, t)
  local cap = t._cap
  if not cap or DONE[t.status] or cap.status == "failed" then return end
  if t.type == "full" and not TERMINAL[cap.status] then
    t._stopped = true
    cap:stop()
  end
  local done = cap:wait { timeout = c.stop_timeout }
  t.finished_at = task.now()
  if done and cap.status ~= "failed" then
    local status = collect(c, t, cap)
    if status then t.status = t._stopped and "stopped" or status end
    settle(c, t)
  end
end

local function capture_target(c, t)
  if resume(c, t, c.previous[t.key]) then return true end
  if t._dest and c.unusable[t._dest] then return nil, c.unusable[t._dest] end
  if journal.path() then
    -- The journal knows each attempt that went out, also those a killed run never wrote down:
    -- the first one whose capture did not fail goes on under its intent (the runtime adopts
    -- what it made, or reconciles), else a new attempt.
    local n = (t._after or 0) + 1
    while (journal.intent(intent_of(c, t, n)) or {}).status == "failed" do n = n + 1 end
    t.attempts = n - 1
  end
  return retry.call(function()
    local ok, err = attempt(c, t)
    if not ok then t.errors[#t.errors + 1] = group.as_error(err) end
    return ok, err
  end, {
    attempts = c.retry.attempts, base = c.retry.base, cap = c.retry.cap, deadline = c.retry.deadline,
    retryable = retryable,
    on_retry = function(e, n, delay)
      log.warn("campaign: target failed; trying again",
               { campaign = c.name, target = t.key, attempt = n, delay = ("%.0f"):format(delay),
                 error = tostring(e) })
    end,
  })
end

-- The task of one target. Returns true, or nil and the error that made it fail; a cancel winds
-- the target down and is re-raised.
local function run_target(c, t)
  t.queued_at, t.errors = task.now(), json.array()
  local out = group.try(capture_target, c, t)
  local e = type(out.error) == "table" and out.error or {}
  if e.capture and not t._cap then -- canceled after its create was sent: what it made is ours to record
    t._cap, t.id, t.created_at = e.capture, e.capture.id, task.now()
    t.ids[#t.ids + 1] = e.capture.id
  elseif e.outcome == "unknown" then
    t.note = ("canceled while its create (intent %s) was in flight; pcaprun kept following it: "
              .. "a rerun with the same journal finds what it made"):format(e.intent)
  end
  if out.canceled then
    pcall(wind_down, c, t)
    if not (DONE[t.status] or t.status == "stopped") then t.status = "canceled" end
  elseif out.ok then
    log.info("campaign: target " .. t.status, { campaign = c.name, target = t.key, id = t.id })
  else
    t.status, t.error, t.traceback = "failed", out.error, out.traceback
    log.warn("campaign: target failed", { campaign = c.name, target = t.key, error = tostring(out.error) })
  end
  t.finished_at = t.finished_at or task.now()
  save(c)
  if out.canceled then error(out.error, 0) end
  if not out.ok then return nil, out.error end
  return true
end

---------------------------------------------------------------------------------------------
-- The result: the manifest's contents, with a readable summary.

local Result = {}
Result.__index = Result

local function size(bytes)
  if not bytes then return "-" end
  for _, u in ipairs { { 1e9, "GB" }, { 1e6, "MB" }, { 1e3, "kB" } } do
    if bytes >= u[1] then return ("%.1f %s"):format(bytes / u[1], u[2]) end
  end
  return bytes .. " B"
end

local function secs(a, b) return (a and b) and ("%.0f"):format(b - a) or "-" end

--- result:summary() -> text: one line for the campaign, one per target (status, packets,
-- bytes, seconds waiting for the account's limits, seconds capturing, file or error).
function Result:summary()
  local s = self.totals
  local lines = { ("campaign %s: %s, %d/%d targets complete, %d packets, %s in %.0f s (API time)"):format(
    self.name, self.status, (s.complete or 0) + (s.delivered or 0), s.targets, s.packets, size(s.bytes),
    self.duration or 0) }
  local row = "  %-22s %-10s %8s %9s %5s %5s  %s"
  lines[2] = row:format("target", "status", "packets", "bytes", "wait", "run", "file / error")
  for _, t in ipairs(self.targets) do
    local where = t.files and t.files[1] and (self.dir .. "/" .. t.files[1].path) or t.object
    if t.files and #t.files > 1 then where = where .. (" (+%d files)"):format(#t.files - 1) end
    if t.error and not DONE[t.status] then where = t.error.code .. ": " .. t.error.message end
    lines[#lines + 1] = row:format(t.key, t.status, t.packets or "-",
      size(t.bytes), secs(t.queued_at, t.created_at), secs(t.created_at, t.finished_at), where or "")
  end
  lines[#lines + 1] = "  manifest: " .. self.manifest
  return table.concat(lines, "\n")
end

---------------------------------------------------------------------------------------------

local function previous(c)
  local prev = {}
  local m = c.resume and json.read(c.dir .. "/manifest.json")
  if type(m) == "table" and type(m.targets) == "table" then
    for _, p in ipairs(m.targets) do
      if type(p) == "table" and p.key then prev[p.key] = p end
    end
  end
  return prev
end

local function overall(c, interrupted)
  local s = count(c)
  local good = (s.complete or 0) + (s.delivered or 0)
  if good == s.targets then return "complete" end
  if interrupted then return "canceled" end
  if c.on_error == "stop" and c.failed then return "stopped" end
  return good + (s.stopped or 0) + (s.preempted or 0) > 0 and "partial" or "failed"
end

--- campaign.run(declaration) -> result
-- Runs every target and returns when all have ended. Declaration (API seconds):
--   name        the campaign's name: [A-Za-z0-9._-]+ (directory, intents, manifest)
--   bucket      bucket URI for full captures (destination_conf)
--   full        {colos = {...}, time_limit, packet_limit, byte_limit, filter | filters, bucket}:
--               one full capture per colo (and per filter)
--   sample      {time_limit, packet_limit, offset_time, filter | filters}: one simple capture
--               per filter (sampled across every colo)
--   targets     explicit targets {name, type = "full"|"simple", colo, limits, filter, bucket}
--   out         output directory (default "captures"); dir: the campaign's own directory
--               (default OUT/<name>)
--   bucket_dir  local mirror of the buckets, for buckets pcaprun cannot read itself (default
--               $PCAPRUN_BUCKET_DIR, or the emulator's)
--   bucket_options  options of bucket.open (keys, region, endpoint, profile) for every bucket
--   keep_parts  true: keep the files a full capture came as (OUT/<name>/<colo>/parts/) beside
--               the merged one (default false: removed once the merge is recorded)
--   delete_after  true: delete a full capture's objects from the bucket once they are fetched,
--               checked and merged (default false)
--   on_error    "continue" (default): other targets go on; "stop": the first failure cancels
--               the rest (full captures in flight are stopped and collected)
--   retry       {attempts = 3, base = 10, cap = 300, deadline}: per target, for retryable
--               errors and failed captures; full jitter; retry_after honoured
--   priority    integer (default 0): higher gets the full slot first; preempt = true also
--               stops lower-priority full captures holding it
--   resume      true (default): skip targets a previous run completed
--   stop_timeout  seconds to wait for a stopped capture to end (default 600)
-- The result has the manifest's fields (name, status, ok, targets, totals, ...), plus
-- dir, manifest (its path) and error (the first target error, an error value). status is "complete",
-- "partial", "failed", "stopped" (on_error = "stop") or "canceled". If the calling task is
-- canceled, the targets wind down, the manifest is written, and the cancel is re-raised.
function M.run(decl)
  local ok, c = pcall(declare, decl)
  if not ok then error("campaign.run: " .. tostring(c), 2) end
  c.previous = previous(c)
  c.started, c.status = task.now(), "running"
  local made, err = fs.mkdir(c.dir)
  if not made then error("campaign.run: cannot create " .. c.dir .. ": " .. tostring(err), 2) end
  c.realdir = assert(fs.realpath(c.dir))
  save(c)
  log.info("campaign: starting", { campaign = c.name, targets = #c.targets, dir = c.dir })
  -- Full captures need a validated bucket: make sure of it first (registering it when the mirror
  -- can answer the challenge), so that a bucket that cannot be used fails its targets at once.
  c.unusable = {}
  for _, t in ipairs(c.targets) do
    local p = c.previous[t.key]
    if t._dest and c.unusable[t._dest] == nil and not (p and DONE[p.status]) then
      local usable, why = bucket.ensure(t._dest, { mirror = c.mirror, bucket_options = c.bucket_options })
      c.unusable[t._dest] = not usable and group.as_error(why) or false
    end
  end
  local g = group.new { name = c.name, cancel_on_failure = c.on_error == "stop" }
  for _, t in ipairs(c.targets) do g:spawn(c.name .. " " .. t.key, run_target, c, t) end
  -- a second Ctrl-C ends the process at once: the manifest still says what was in flight
  local undo = task.on_abort(function()
    for _, t in ipairs(c.targets) do
      if not (DONE[t.status] or t.status == "failed" or t.status == "stopped") then t.status = "canceled" end
    end
    c.finished = task.now()
    c.status = "canceled"
    save(c)
  end)
  local waited, werr = pcall(g.wait, g)
  undo()
  c.failed = g.failure ~= nil
  c.finished = task.now()
  c.status = overall(c, not waited)
  save(c)
  log.info("campaign: " .. c.status, { campaign = c.name, dir = c.dir })
  if not waited then error(werr, 0) end
  local result = setmetatable(manifest(c), Result)
  result.dir, result.manifest = c.dir, c.dir .. "/manifest.json"
  for _, t in ipairs(result.targets) do
    if t.error and not DONE[t.status] then
      result.error = result.error or t.error
    end
  end
  return result
end

return M
