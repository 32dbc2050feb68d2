-- pcaprun-test: --emulate --time-scale 0.01
-- pcaprun.intent: stable, distinct, valid intent names.
local intent = require "pcaprun.intent"
local T = require "testlib"

-- The reference: FNV-1a 64 ("a" is af63dc4c8601ec8c) followed by MurmurHash3's fmix64, computed
-- here with the constants written out, independently of the module.
local function reference(text)
  local h = 0xcbf29ce484222325
  for i = 1, #text do h = (h ~ text:byte(i)) * 0x100000001b3 end
  h = ((h ~ (h >> 33)) * 0xff51afd7ed558ccd)
  h = ((h ~ (h >> 33)) * 0xc4ceb9fe1a85ec53)
  return ("%016x"):format(h ~ (h >> 33))
end

T.case("hash: FNV-1a 64 with a final avalanche", function()
  for _, s in ipairs { "", "a", "foobar", "teamA" } do T.eq(intent.hash(s), reference(s), s) end
  T.eq(intent.hash("foobar", 6), reference("foobar"):sub(1, 6), "shortened")
end)

T.case("hash: short prefixes still tell similar names apart", function()
  -- FNV alone kept the leading digits of names that differ at their end: "teamA" and "teamB"
  -- collided at 4 digits
  T.ok(intent.hash("teamA", 4) ~= intent.hash("teamB", 4), "teamA, teamB")
  local seen, collisions = {}, 0
  for i = 1, 1000 do
    local h = intent.hash("target-" .. i, 6)
    if seen[h] then collisions = collisions + 1 end
    seen[h] = true
  end
  -- 1000 names in 16^6 buckets: about 0.03 collisions expected
  T.ok(collisions <= 1, ("1000 similar names, %d collisions in 6 digits"):format(collisions))
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
