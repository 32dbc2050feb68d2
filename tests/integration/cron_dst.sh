#!/usr/bin/env bash
# Local-time schedules across daylight-saving changes, through pcaprun.schedule with tz = "local"
# (the process time zone comes from TZ, which a Lua test's command line cannot set). Expected
# times are read off the America/New_York and Europe/Berlin transitions (zdump).
set -u
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/dst.lua" <<'LUA'
local schedule = require "pcaprun.schedule"
local T = require "testlib"
local zone = ...
local function series(expr, tz, after, want)
  local got = schedule.upcoming(expr, { tz = tz, after = T.utc(after), count = #want })
  for i, w in ipairs(want) do T.eq(T.iso(got[i]), w, ("%s %s (%s) after %s, firing %d"):format(zone, expr, tz, after, i)) end
end
if zone == "America/New_York" then
  T.case("ordinary days: 09:00 EST is 14:00Z, 09:00 EDT 13:00Z; tz = utc ignores the zone", function()
    series("0 9 * * *", "local", "2026-01-15T00:00:00Z", { "2026-01-15T14:00:00Z" })
    series("0 9 * * *", "local", "2026-07-15T00:00:00Z", { "2026-07-15T13:00:00Z" })
    series("0 9 * * *", "utc", "2026-07-15T00:00:00Z", { "2026-07-15T09:00:00Z" })
  end)
  T.case("spring forward: 02:30 does not exist on 2026-03-08; it fires once, just after the gap", function()
    series("30 2 * * *", "local", "2026-03-07T00:00:00Z",
           { "2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z" })
  end)
  T.case("fall back: 01:30 happens twice on 2026-11-01; it fires once", function()
    series("30 1 * * *", "local", "2026-10-31T00:00:00Z",
           { "2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z" })
    series("0 * * * *", "local", "2026-11-01T04:30:00Z",
           { "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z" })
  end)
else
  T.case("Berlin: 02:30 on 2026-03-29 is skipped to 03:00 CEST; @daily at local midnight", function()
    series("30 2 * * *", "local", "2026-03-28T00:00:00Z",
           { "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z" })
    series("@daily", "local", "2026-10-24T12:00:00Z", { "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z" })
  end)
end
T.done()
LUA
fail=0
for zone in America/New_York Europe/Berlin; do
  if TZ=$zone LUA_PATH="$PCAPRUN_SRC/tests/lua/?.lua;;" "$PCAPRUN" -q "$tmp/dst.lua" "$zone"; then
    echo "ok - $zone"
  else
    echo "not ok - $zone"; fail=1
  fi
done
exit $fail
