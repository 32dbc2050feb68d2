-- pcaprun-test: --emulate --time-scale 0.01
-- pcaprun.intent: stable, distinct, valid intent names.
local intent = require "pcaprun.intent"
local T = require "testlib"

T.case("hash: FNV-1a 64 known values", function()
  T.eq(intent.hash(""), "cbf29ce484222325", "empty string: the offset basis")
  T.eq(intent.hash("a"), "af63dc4c8601ec8c", "'a'")
  T.eq(intent.hash("foobar"), "85944171f73967e8", "'foobar'")
  T.eq(intent.hash("foobar", 6), "859441", "shortened")
end)

T.case("of: stable, distinct, within the API's rules", function()
  local a = intent.of("Edge SYN flood!", "full/ORD", 1)
  T.eq(a, intent.of("Edge SYN flood!", "full/ORD", 1), "same inputs, same name")
  T.match(a, "^edge%-syn%-flood%.%x+%.1$", "readable")
  T.ok(a ~= intent.of("Edge SYN flood!", "full/SJC", 1), "another key differs")
  T.ok(a ~= intent.of("Edge SYN flood!", "full/ORD", 2), "another attempt differs")
  T.ok(a ~= intent.of("edge-syn-flood", "full/ORD", 1), "another scope differs")
  local long = intent.of(("x"):rep(200), ("y"):rep(200), 123456789)
  T.ok(#long <= 39, "at most 39 characters: " .. long)
  T.match(long, "^[a-z0-9._-]+$", "charset")
  T.match(intent.of("***", "k"), "^x%.", "an empty slug becomes x")
end)

T.case("slug", function()
  T.eq(intent.slug("  Hello, World  "), "hello-world", "punctuation and spaces")
  T.eq(intent.slug("a.b_c-d", 3), "a.b", "max")
end)

T.done()
