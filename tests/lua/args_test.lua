-- pcaprun-test: --emulate --time-scale 0.01
-- pcaprun.args: command line over environment over defaults; types; errors.
local args = require "pcaprun.args"
local T = require "testlib"

local spec = {
  out = { default = "captures", help = "output directory" },
  colos = { default = "ORD,SJC", type = "list" },
  runs = { default = 3, type = "number" },
  bucket_dir = { type = "string" },
  dry_run = { type = "boolean", default = false },
  home = { env = "HOME" },
}

T.case("defaults, environment, command line", function()
  local o = args.parse({}, spec)
  T.eq(o.out, "captures", "default")
  T.eq(#o.colos, 2, "a string default of a list is split")
  T.eq(o.runs, 3, "number default")
  T.eq(o.bucket_dir, nil, "no default")
  T.eq(o.home, os.getenv("HOME"), "from the environment")
  o = args.parse({ "--out", "x", "--colos=AMS, FRA,", "--runs", "7", "--bucket-dir", "/m", "--dry-run",
                   "--home", "h" }, spec)
  T.eq(o.out, "x", "--name value")
  T.eq(table.concat(o.colos, "+"), "AMS+FRA", "--name=value, list items trimmed")
  T.eq(o.runs, 7, "number")
  T.eq(o.bucket_dir, "/m", "dashes become underscores")
  T.eq(o.dry_run, true, "boolean flag")
  T.eq(o.home, "h", "the command line beats the environment")
end)

T.case("errors and help", function()
  T.raises(function() args.parse({ "--nope" }, spec) end, "unknown option %-%-nope", "unknown")
  T.raises(function() args.parse({ "--runs", "many" }, spec) end, "expected a number", "type")
  T.raises(function() args.parse({ "--out" }, spec) end, "needs a value", "missing value")
  T.raises(function() args.parse({ "stray" }, spec) end, "unexpected argument", "positional")
  local help = args.help(spec, "Usage: x")
  T.match(help, "^Usage: x\n", "usage first")
  T.match(help, "%-%-bucket%-dir", "options listed with dashes")
  T.match(help, "output directory %(default: captures%)", "help and default")
  T.match(help, "%[%$HOME%]", "environment variable")
end)

T.done()
