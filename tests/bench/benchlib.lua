-- Shared by the benchmark scripts pcaprun runs: the admin endpoints of the external
-- `pcaprun emulator` (CLOUDFLARE_BASE_URL points at it), clocks, process memory, and the JSON
-- result line every script prints last.
local http = require "pcaprun.http"
local task = require "pcaprun.task"
local cjson = require "cjson"

local M = {}
function M.get(path)
  local base = assert(os.getenv("CLOUDFLARE_BASE_URL"), "CLOUDFLARE_BASE_URL is not set")
  local r = assert(http.request{ url = base:gsub("/client/v4$", "") .. "/__admin" .. path })
  assert(r.status == 200, path .. ": HTTP " .. r.status)
  return cjson.decode(r.body)
end

-- Maps task.now() (API epoch seconds) to the emulator's timeline (real seconds since it
-- started), calibrated by one admin request: good to that request's round trip.
function M.clock()
  local before = task.now()
  local now_s = M.get("/captures").now_s
  local at = (before + task.now()) / 2
  local F = task.time_scale()
  return function(t) return now_s + ((t or task.now()) - at) * F end
end

-- Real seconds, for differences (task.now() is API time, to the millisecond).
function M.clock_real() return task.now() * task.time_scale() end

-- This process's resident set size in bytes (VmRSS).
function M.rss()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("a"):match("VmRSS:%s*(%d+) kB")
  f:close()
  return tonumber(kb) * 1024
end

function M.result(t) print(cjson.encode(t)) end

return M
