--- pcaprun.args: a script's options, from its command line, the environment and defaults.
--
--   local opt = args.parse(arg, {
--     out   = { default = "captures", env = "PCAPRUN_OUT", help = "output directory" },
--     colos = { default = "ORD,SJC", env = "PCAPRUN_COLOS", type = "list" },
--     runs  = { default = 3, type = "number" },
--   }, "Usage: pcaprun my.lua [options]")
--
-- `--name value` and `--name=value` both work; a '-' in a name is a '_' in the key
-- (--bucket-dir sets opt.bucket_dir). The command line beats the environment, which beats the
-- default. Types: "string" (default), "number", "list" (comma-separated, empty items dropped),
-- "boolean" (a bare --flag). `--help` prints the usage and the options and returns nil.
-- `demo = V` is a default that holds only under --emulate (one of the emulator's demo buckets,
-- say); `required = true` makes parse raise when an option has no value, naming the option and
-- its variable (a real run must name its own bucket, not fall back to a demo one).
-- Bad arguments raise a USAGE error value: uncaught in the main task, pcaprun prints its
-- message (no traceback) and exits with status 2.
local emulator = require "pcaprun.emulator"
local perror = require "pcaprun.error"

local M = {}

local function bad_usage(fmt, ...)
  error(perror.make("USAGE", fmt:format(...)), 0)
end

local CONVERT = {}

function CONVERT.string(v) return v end

function CONVERT.number(v, name)
  local n = tonumber(v)
  if not n then bad_usage("option --%s: expected a number, got '%s'", name, v) end
  return n
end

function CONVERT.list(v)
  local items = {}
  for item in tostring(v):gmatch("[^,%s]+") do items[#items + 1] = item end
  return items
end

function CONVERT.boolean(v, name)
  if v == true or v == "1" or v == "true" or v == "yes" then return true end
  if v == false or v == "0" or v == "false" or v == "no" or v == "" then return false end
  bad_usage("option --%s: expected true or false, got '%s'", name, tostring(v))
end

local function flag(key) return (key:gsub("_", "-")) end

--- args.help(spec [, usage]) -> text: the usage line and one line per option.
function M.help(spec, usage)
  local keys = {}
  for k in pairs(spec) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = { usage or "Options:" }
  for _, k in ipairs(keys) do
    local o = spec[k]
    local default = o.default
    if type(default) == "table" then default = table.concat(default, ",") end
    lines[#lines + 1] = ("  --%-14s %s%s%s%s%s"):format(flag(k), o.help or "",
      default ~= nil and (" (default: %s)"):format(tostring(default)) or "",
      o.demo ~= nil and (" (under --emulate: %s)"):format(tostring(o.demo)) or "",
      o.required and " (required)" or "",
      o.env and (" [$%s]"):format(o.env) or "")
  end
  return table.concat(lines, "\n")
end

--- args.parse(argv, spec [, usage]) -> options table | nil after --help.
-- Raises on an unknown option, a missing value or a value of the wrong type.
function M.parse(argv, spec, usage)
  local given = {}
  local i = 1
  while argv and argv[i] ~= nil do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      print(M.help(spec, usage))
      return nil
    end
    local name, value = a:match("^%-%-([%w_-]+)=(.*)$")
    name = name or a:match("^%-%-([%w_-]+)$")
    if not name then bad_usage("unexpected argument '%s' (try --help)", a) end
    local key = name:gsub("-", "_")
    local o = spec[key]
    if not o then bad_usage("unknown option --%s (try --help)", name) end
    if value == nil then
      if o.type == "boolean" then
        value = true
      else
        i = i + 1
        value = argv[i]
        if value == nil then bad_usage("option --%s needs a value", name) end
      end
    end
    given[key] = value
    i = i + 1
  end
  local opts = {}
  for key, o in pairs(spec) do
    local v = given[key]
    if v == nil and o.env then
      v = os.getenv(o.env)
      if v == "" then v = nil end
    end
    local convert = CONVERT[o.type or "string"] or error("args.parse: unknown type " .. tostring(o.type), 2)
    local default = o.default
    if o.demo ~= nil and emulator.running() then default = o.demo end
    if v ~= nil then
      opts[key] = convert(v, flag(key))
    elseif type(default) == "string" and o.type and o.type ~= "string" then
      opts[key] = convert(default, flag(key))
    else
      opts[key] = default
    end
    if o.required and opts[key] == nil then
      bad_usage("option --%s is required%s%s (try --help)", flag(key),
        o.demo ~= nil and " outside --emulate" or "", o.env and (" (or $%s)"):format(o.env) or "")
    end
  end
  return opts
end

--- args.capture_options(demo_bucket, spec) -> spec: spec with the options every capture script
-- shares: --out (output directory), --bucket (the bucket for full captures: demo_bucket under
-- --emulate, required elsewhere) and --bucket-dir (a local mirror of the bucket). An entry of
-- spec with one of these names changes only the fields it gives (bucket = { required = false }).
function M.capture_options(demo_bucket, spec)
  local all = {
    out = { default = "captures", env = "PCAPRUN_OUT", help = "output directory" },
    bucket = { demo = demo_bucket, required = true, env = "PCAPRUN_BUCKET",
               help = "bucket URI for full captures" },
    bucket_dir = { env = "PCAPRUN_BUCKET_DIR", help = "local mirror of the bucket" },
  }
  for k, o in pairs(spec) do
    if all[k] then
      for field, v in pairs(o) do all[k][field] = v end
    else
      all[k] = o
    end
  end
  return all
end

return M
