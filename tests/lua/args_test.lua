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

T.case("required options, demo defaults, the capture scripts' shared options", function()
  local need = { bucket = { required = true, env = "PCAPRUN_TEST_UNSET" } }
  T.raises(function() args.parse({}, need) end, "option %-%-bucket is required %(or %$PCAPRUN_TEST_UNSET%)",
           "a required option without a value names itself and its variable")
  T.eq(args.parse({ "--bucket", "s3://b" }, need).bucket, "s3://b", "given: fine")
  -- this test runs under --emulate: a demo default holds (outside it: tests/integration/cli.sh)
  local demo = { bucket = { demo = "s3://demo", required = true } }
  T.eq(args.parse({}, demo).bucket, "s3://demo", "the demo default under --emulate")
  T.match(args.help(demo), "under %-%-emulate: s3://demo", "help shows the demo default")
  local s = args.capture_options("s3://demo", { runs = { default = 1, type = "number" },
                                                bucket = { required = false } })
  local o = args.parse({}, s)
  T.eq(o.out, "captures", "shared --out")
  T.eq(o.bucket, "s3://demo", "shared --bucket keeps its demo default when a field is changed")
  T.eq(s.bucket.required, false, "the script's field wins")
  T.eq(s.bucket.env, "PCAPRUN_BUCKET", "the other fields stay")
  T.eq(o.runs, 1, "the script's own options")
  T.ok(s.bucket_dir, "shared --bucket-dir")
end)

T.done()
