--- pcaprun.intent: stable names for logical captures.
-- pcap.create(spec, {intent = ...}) names the capture a create is meant to make. The same
-- logical capture (campaign, target, attempt) must always get the same name, and two different
-- ones never the same: the emulator counts two accepted creates with one intent as a duplicate,
-- and a crash-safe resume will key on it. Names use [a-z0-9._-] and fit in 39 characters.
local M = {}

-- FNV-1a, 64 bits (Lua integers wrap around on overflow, as the algorithm wants), then
-- MurmurHash3's 64-bit finalizer: FNV alone changes the high bits little for inputs that differ
-- only at their end ("teamA", "teamB"), and a shortened hash keeps the high digits.
local FNV_OFFSET = -3750763034362895579 -- 14695981039346656037 as a signed 64-bit integer
local FNV_PRIME = 1099511628211
local MIX1 = -49064778989728563         -- 0xff51afd7ed558ccd
local MIX2 = -4265267296055464877       -- 0xc4ceb9fe1a85ec53

--- intent.hash(text [, digits]) -> hex string: a short, stable hash (FNV-1a 64 with a final
-- avalanche, so that every digit depends on every byte; 16 digits).
function M.hash(text, digits)
  local h = FNV_OFFSET
  for i = 1, #text do
    h = (h ~ text:byte(i)) * FNV_PRIME
  end
  h = (h ~ (h >> 33)) * MIX1
  h = (h ~ (h >> 33)) * MIX2
  h = h ~ (h >> 33)
  return ("%016x"):format(h):sub(1, digits or 16)
end

--- intent.slug(text [, max]) -> text lowercased, every run of other characters than
-- [a-z0-9._-] turned into one '-', trimmed of '-', at most `max` characters (default 16).
function M.slug(text, max)
  local s = tostring(text):lower():gsub("[^a-z0-9._-]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  return s:sub(1, max or 16)
end

--- intent.of(scope, key [, n]) -> "slug.hash.n", e.g. intent.of("edge-syn", "full/ORD", 2)
-- is "edge-syn.5c1f0a9e3b.2": readable from the scope, unique through a hash of scope and key,
-- and numbered by attempt (or run) n, default 1.
function M.of(scope, key, n)
  local slug = M.slug(scope)
  if slug == "" then slug = "x" end
  return ("%s.%s.%d"):format(slug, M.hash(tostring(scope) .. "\0" .. tostring(key), 10), n or 1)
end

return M
