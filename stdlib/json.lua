--- pcaprun.json: JSON for files people read and diff (manifests, reports, state files).
-- Keys are sorted and output can be indented, so the same data always gives the same bytes;
-- decoding is lua-cjson's (cjson.safe). Every value is encoded as it is: no number precision
-- is lost below 2^53, and a table is an array when its keys are exactly 1..n (mark an empty
-- one with json.array, or it becomes {}).
local cjson = require "cjson.safe"
local fs = require "pcaprun.fs"

local M = {}

local ARRAY_MT = { __name = "pcaprun.json.array" }

--- json.null: the JSON null (cjson.null), for a key that must appear with no value.
M.null = cjson.null

--- json.array([t]) -> t, marked to encode as an array even when empty.
function M.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == ARRAY_MT then return true end
  local n, max = 0, 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n, max = n + 1, math.max(max, k)
  end
  return n > 0 and n == max
end

local encode

local function encode_table(t, indent, depth, seen)
  if seen[t] then error("json.encode: a table contains itself", 0) end
  seen[t] = true
  local nl, pad, inner = "", "", ""
  if indent then
    nl, pad, inner = "\n", indent:rep(depth), indent:rep(depth + 1)
  end
  local parts = {}
  local open, close
  if is_array(t) then
    open, close = "[", "]"
    for i = 1, #t do parts[i] = inner .. encode(t[i], indent, depth + 1, seen) end
  else
    open, close = "{", "}"
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then
        error(("json.encode: object keys must be strings (got %s %s)"):format(type(k), tostring(k)), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    local colon = indent and ": " or ":"
    for i, k in ipairs(keys) do
      parts[i] = inner .. quote(k) .. colon .. encode(t[k], indent, depth + 1, seen)
    end
  end
  seen[t] = nil
  if #parts == 0 then return open .. close end
  return open .. nl .. table.concat(parts, "," .. nl) .. nl .. pad .. close
end

function encode(v, indent, depth, seen)
  local tv = type(v)
  if v == nil or v == cjson.null then return "null"
  elseif tv == "boolean" then return tostring(v)
  elseif tv == "string" then return quote(v)
  elseif math.type(v) == "integer" then return ("%d"):format(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("json.encode: " .. tostring(v) .. " is not a JSON number", 0)
    end
    return ("%.14g"):format(v)
  elseif tv == "table" then return encode_table(v, indent, depth, seen)
  end
  error("json.encode: a " .. tv .. " cannot be encoded", 0)
end

--- json.encode(value [, {indent = "  "}]) -> string. Raises on values JSON cannot hold
-- (functions, NaN, non-string keys, cycles).
function M.encode(value, opts)
  return encode(value, opts and opts.indent, 0, {})
end

--- json.decode(text) -> value | nil, message.
function M.decode(text)
  return cjson.decode(text)
end

--- json.read(path) -> value | nil, message: reads and decodes a file.
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local v, derr = cjson.decode(text)
  if v == nil then return nil, path .. ": " .. tostring(derr) end
  return v
end

--- json.write(path, value) -> true | nil, message: encodes with two-space indentation and
-- writes atomically (fs.write), so readers see the old file or the new one, never half.
function M.write(path, value)
  return fs.write(path, M.encode(value, { indent = "  " }) .. "\n")
end

return M
