-- pcaprun-test: --emulate --time-scale 0.01
-- Next-run computation through schedule.upcoming (pcaprun.cron underneath), in UTC, against
-- dates read off a calendar: steps, month ends, leap days, year ends, day-of-month OR
-- day-of-week, macros, @every. Local time and DST: tests/integration/cron_dst.sh.
local schedule = require "pcaprun.schedule"
local T = require "testlib"

local function series(expr, after, want)
  local got = schedule.upcoming(expr, { after = T.utc(after), count = #want })
  for i, w in ipairs(want) do
    T.eq(T.iso(got[i]), w, ("%s after %s, firing %d"):format(expr, after, i))
  end
end

T.case("testlib.utc agrees with os.date", function()
  for _, iso in ipairs { "1970-01-01T00:00:00Z", "2000-02-29T12:34:56Z", "2026-11-26T07:15:00Z",
                         "2100-03-01T00:00:00Z" } do
    T.eq(T.iso(T.utc(iso)), iso, iso)
  end
end)

T.case("steps and ranges", function()
  series("*/15 * * * *", "2026-01-01T00:07:00Z",
         { "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z" })
  series("*/15 * * * *", "2026-01-01T00:15:00Z", { "2026-01-01T00:30:00Z" }) -- strictly after
  series("0 9-17/4 * * MON-FRI", "2026-11-27T14:00:00Z", -- a Friday afternoon
         { "2026-11-27T17:00:00Z", "2026-11-30T09:00:00Z", "2026-11-30T13:00:00Z" })
end)

T.case("month edges, leap days, year end", function()
  series("0 0 31 * *", "2026-01-31T00:00:00Z",
         { "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z" })
  series("0 0 29 2 *", "2026-01-01T00:00:00Z", { "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z" })
  series("@daily", "2026-02-28T23:59:59Z", { "2026-03-01T00:00:00Z" })
  series("@daily", "2028-02-28T23:59:59Z", { "2028-02-29T00:00:00Z" })
  series("@monthly", "2026-01-31T12:00:00Z", { "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z" })
  series("0 0 1 * *", "2026-12-15T00:00:00Z", { "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z" })
  series("59 23 31 12 *", "2026-12-31T23:59:00Z", { "2027-12-31T23:59:00Z" })
end)

T.case("day of month OR day of week (both restricted)", function()
  series("0 0 13 * FRI", "2026-11-01T00:00:00Z",
         { "2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z",
           "2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z" })
  series("0 12 * * 7", "2026-11-26T00:00:00Z", { "2026-11-29T12:00:00Z" }) -- 7 is Sunday
end)

T.case("@hourly, @every", function()
  series("@hourly", "2026-03-01T10:30:00Z", { "2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z" })
  series("@every 15m", "2026-03-01T10:07:30Z", { "2026-03-01T10:22:30Z", "2026-03-01T10:37:30Z" })
end)

T.case("a bad expression raises, naming the field", function()
  T.raises(function() schedule.upcoming("61 * * * *") end, "bad expression '61 %* %* %* %*': .*minute", "61")
  T.raises(function() schedule.upcoming("* * *") end, "bad expression", "three fields")
end)

T.done()
