--- The Lua tests' one harness: checks with clear messages, temporary directories, and the
-- emulator's verdicts (violations, valid pcaps). Not a framework: a failed check raises, the
-- script fails, ctest shows the message and the line; T.done() says how many checks passed.
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local json = require "pcaprun.json"

local T = { checks = 0 }

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" and not getmetatable(v) then
    local ok, text = pcall(json.encode, v)
    if ok then return text end
  end
  return tostring(v)
end

local function check(cond, fmt, ...)
  T.checks = T.checks + 1
  if not cond then error("check failed: " .. fmt:format(...), 3) end
end

--- T.ok(value, what): value must be truthy.
function T.ok(v, what)
  check(v, "%s", what or "expected a true value")
  return v
end

--- T.eq(got, want, what): got == want.
function T.eq(got, want, what)
  check(got == want, "%s: expected %s, got %s", what or "value", show(want), show(got))
end

--- T.near(got, want, tolerance, what): |got - want| <= tolerance.
function T.near(got, want, tol, what)
  check(type(got) == "number" and math.abs(got - want) <= tol,
        "%s: expected %s within %s, got %s", what or "value", show(want), show(tol), show(got))
end

--- T.late(got, want, what [, slack = 10]): an elapsed API time that should be `want`. Timers
-- never fire early, but a loaded machine delays them: at --time-scale 0.01, 10 API seconds are
-- 100 ms of real time. Tests keep the outcomes they tell apart further apart than that.
function T.late(got, want, what, slack)
  slack = slack or 10
  -- the clocks count whole milliseconds: allow a few of them (in API time) on the early side
  local early = math.max(0.15, 0.003 / require("pcaprun.task").time_scale())
  check(type(got) == "number" and got >= want - early and got <= want + slack,
        "%s: expected %s (or up to %s later), got %s", what or "elapsed", show(want), show(slack), show(got))
end

--- T.between(got, lo, hi, what): lo <= got <= hi.
function T.between(got, lo, hi, what)
  check(type(got) == "number" and got >= lo and got <= hi,
        "%s: expected between %s and %s, got %s", what or "value", show(lo), show(hi), show(got))
end

--- T.match(text, pattern, what): text matches the Lua pattern.
function T.match(text, pattern, what)
  check(type(text) == "string" and text:find(pattern) ~= nil,
        "%s: expected to match %s, got %s", what or "text", show(pattern), show(text))
end

--- T.fails(code, value, err, what): a call that failed with nil, err where err.code is code.
function T.fails(code, v, err, what)
  check(v == nil and type(err) == "table" and err.code == code, "%s: expected nil, %s; got %s, %s",
        what or "call", code, show(v), show(err))
end

--- T.raises(fn, pattern, what): fn() raises an error whose text matches pattern.
function T.raises(fn, pattern, what)
  local ok, err = pcall(fn)
  check(not ok, "%s: expected an error matching %s, but it did not raise", what or "call", show(pattern))
  check(tostring(err):find(pattern) ~= nil, "%s: expected an error matching %s, got %s",
        what or "call", show(pattern), show(tostring(err)))
end

--- T.utc("2026-11-26T07:15:00Z") -> epoch seconds, by calendar arithmetic (no time zone, no
-- cron code involved); T.iso(t) is the reverse, for messages.
function T.utc(iso)
  local y, m, d, H, M, S = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  assert(y, "not a UTC timestamp: " .. iso)
  y, m = tonumber(y), tonumber(m)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + tonumber(d) - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + tonumber(H) * 3600 + tonumber(M) * 60 + tonumber(S)
end

function T.iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

--- T.case(name, fn): runs one case, naming it in the output.
function T.case(name, fn)
  print("# " .. name)
  fn()
end

--- T.tmpdir() -> a new empty directory; T.rmtree(dir) removes it.
function T.tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(fs.mkdir(path))
  return path
end

function T.rmtree(dir)
  assert(dir:match("^/tmp/"), "refusing to remove " .. dir)
  os.execute(("rm -rf '%s'"):format(dir))
end

--- T.files(dir [, pattern]) -> every file below dir whose name matches pattern, sorted.
function T.files(dir, pattern, found)
  found = found or {}
  for _, name in ipairs(fs.list(dir) or {}) do
    local path = dir .. "/" .. name
    local st = fs.stat(path)
    if st and st.type == "directory" then T.files(path, pattern, found)
    elseif not pattern or name:find(pattern) then found[#found + 1] = path end
  end
  table.sort(found)
  return found
end

--- T.valid_pcaps(dir) -> number of .pcap files below dir, each checked to be a valid pcap;
-- also checks that no .part, .tmp or .invalid file was left behind.
function T.valid_pcaps(dir)
  local files = T.files(dir, "%.pcap$")
  for _, path in ipairs(files) do
    local info, err = fs.check_pcap(path)
    check(info ~= nil, "%s is not a valid pcap: %s", path, tostring(err))
  end
  for _, suffix in ipairs { "%.part$", "%.tmp$", "%.invalid$" } do
    local left = T.files(dir, suffix)
    check(#left == 0, "files left behind: %s", table.concat(left, ", "))
  end
  return #files
end

--- T.no_violations(): the emulator saw no broken limit, no invalid request, no duplicate.
function T.no_violations()
  local v = emulator.stats().violations
  check(v.total == 0, "emulator violations: %s", show(v))
end

function T.done()
  print(("ok: %d checks passed"):format(T.checks))
end

return T
