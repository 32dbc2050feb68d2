-- Assertions for the runtime's Lua tests: each check prints one "ok"/"not ok" line; done()
-- raises if any failed, so the test script exits 1.
local M = {}
local count, failures = 0, 0

local function report(pass, what, detail)
  count = count + 1
  if pass then
    print(("ok %d - %s"):format(count, what))
  else
    failures = failures + 1
    print(("not ok %d - %s: %s"):format(count, what, detail))
    print(debug.traceback("", 3))
  end
  return pass
end

function M.ok(cond, what) return report(cond and true or false, what, "condition is false") end

function M.eq(got, want, what)
  return report(got == want, what, ("got %s, expected %s"):format(tostring(got), tostring(want)))
end

function M.near(got, want, tol, what)
  return report(type(got) == "number" and math.abs(got - want) <= tol, what,
    ("got %s, expected %s +/- %s"):format(tostring(got), tostring(want), tostring(tol)))
end

function M.match(s, pattern, what)
  return report(type(s) == "string" and s:find(pattern) ~= nil, what,
    ("%q does not match %q"):format(tostring(s), pattern))
end

-- Expects a failed call: nil, err with err.code == code.
function M.fails(code, v, err, what)
  return report(v == nil and type(err) == "table" and err.code == code, what,
    ("got %s, %s; expected nil, %s"):format(tostring(v), tostring(err), code))
end

function M.done()
  print(("%d checks, %d failed"):format(count, failures))
  if failures > 0 then error(("%d of %d checks failed"):format(failures, count), 0) end
end

return M
