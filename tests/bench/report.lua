-- The benchmark table: reads what run.sh measured in DIR, prints one aligned table (metric,
-- pcaprun, baseline, ratio, target, verdict) and writes it, with every raw figure, as JSON.
--   lua5.4 report.lua DIR OUT.json [pcap|objstore|serve]   (only pcap.sh's, objstore.sh's or
--                                                           serve.sh's rows)
local cjson = require "cjson"
local dir, outpath = arg[1], arg[2]

local function read_json(name)
  local f = assert(io.open(dir .. "/" .. name))
  local t = cjson.decode(f:read("a"))
  f:close()
  return t
end

-- Lines of numbers: column `col` of every line of a file, or a field of every JSON line.
local function column(name, col)
  local values = {}
  for line in io.lines(dir .. "/" .. name) do
    if line:sub(1, 1) == "{" then values[#values + 1] = cjson.decode(line)[col]
    else
      local fields = {}
      for w in line:gmatch("%S+") do fields[#fields + 1] = tonumber(w) end
      values[#values + 1] = fields[col]
    end
  end
  return values
end

local function median(v)
  table.sort(v)
  local n = #v
  return n % 2 == 1 and v[(n + 1) / 2] or (v[n / 2] + v[n / 2 + 1]) / 2
end

local function max(v)
  local m = -math.huge
  for _, x in ipairs(v) do m = math.max(m, x) end
  return m
end

local rows, raw = {}, {}
-- row(metric, pcaprun, baseline, target, pass): ratio is pcaprun / baseline; pass(pcaprun,
-- ratio) decides the verdict when there is a target.
local function row(metric, p, b, target, pass)
  local ratio = b and b ~= 0 and p / b or nil
  local verdict = target and (pass(p, ratio) and "PASS" or "MISS") or "info"
  rows[#rows + 1] = { metric = metric, pcaprun = p, baseline = b, ratio = ratio, target = target or "",
                      verdict = verdict }
end

-- Every row but the capture-file ones.
local function core_rows()
  -- 1, 2. Campaigns
  local cp, cc = read_json("mixed_pcaprun.json"), read_json("mixed_curl.json")
  local sp, sc = read_json("simple_pcaprun.json"), read_json("simple_curl.json")
  raw.mixed = { pcaprun = cp, curl = cc }
  raw.simple_only = { pcaprun = sp, curl = sc }
  local what = ("%d full / %d colos + %d simple"):format(cp.full, cp.full, cp.simple)
  row(what .. ": makespan, API s (baseline: the lower bound)", cp.makespan_done, cp.bound,
    "<= 1.02x (issue 2: 1.05x)", function(_, r) return r <= 1.02 end)
  row("  same, until the last capture was ready", cp.makespan_ready, cp.bound)
  row("  curl + sleep script: makespan (baseline: the lower bound)", cc.makespan_done, cc.bound)
  row("  makespan, pcaprun vs curl + sleep", cp.makespan_done, cc.makespan_done)
  row("  limit violations (pcaprun vs curl)", cp.violations, cc.violations, "0",
    function(p) return p == 0 end)
  row("  API calls per capture (pcaprun vs curl)", cp.calls_per_capture, cc.calls_per_capture)
  row(("%d simple only: API calls per simple capture"):format(sp.simple), sp.calls_per_capture,
    sc.calls_per_capture, "<= 4", function(p) return p <= 4 end)
  row("  ready -> download start, mean API s", sp.delay_mean, sc.delay_mean)
  row("  ready -> download start, max API s", sp.delay_max, sc.delay_max, "<= 1 s",
    function(p) return p <= 1 end)
  row("  makespan, API s (baseline: the lower bound)", sp.makespan_done, sp.bound)

  -- 3. Downloads: throughput from the median wall time, peak RSS the largest seen.
  for _, d in ipairs { { "download_64m", "64 MiB" }, { "download_1g", "1 GiB" } } do
    local name, label = d[1], d[2]
    local bytes = tonumber(io.open(dir .. "/" .. name .. "_bytes.txt"):read("l"))
    local pt, ct = column(name .. "_pcaprun.txt", 1), column(name .. "_curl.txt", 1)
    local prss, crss = max(column(name .. "_pcaprun.txt", 2)), max(column(name .. "_curl.txt", 2))
    local pm, cm = bytes / 2 ^ 20 / median(pt), bytes / 2 ^ 20 / median(ct)
    raw[name] = { bytes = bytes, pcaprun_seconds = pt, curl_seconds = ct, pcaprun_rss_kb = prss,
                  curl_rss_kb = crss }
    row("download " .. label .. ": MiB/s (vs curl -o)", pm, cm, ">= 0.9x", function(_, r) return r >= 0.9 end)
    row("download " .. label .. ": peak RSS, MiB (vs curl -o)", prss / 1024, crss / 1024,
      name == "download_1g" and "< 32 MiB" or nil, function(p) return p < 32 end)
  end

  -- 4. Tasks and HTTP
  local tp, tl = read_json("tasks_pcaprun.json"), read_json("tasks_lua.json")
  raw.tasks = { pcaprun = tp, lua = tl }
  row(("%d sleeping tasks: RSS per task, bytes (vs a Lua coroutine)"):format(tp.tasks), tp.rss_per_task,
    tl.rss_per_task, "<= 4096", function(p) return p <= 4096 end)
  row("  Lua heap per task, bytes (vs a Lua coroutine)", tp.heap_per_task, tl.heap_per_task)
  row("spawn + join per second (vs coroutine create + resume)", tp.spawn_join_per_s, tl.spawn_join_per_s)
  local rp, rc = column("rps_pcaprun.jsonl", "per_s"), column("rps_c.jsonl", "per_s")
  raw.http_rps = { pcaprun = rp, c = rc }
  row("HTTP requests/s, 8 at once (vs C on libcurl multi + libuv)", median(rp), median(rc))

  -- 5. Start-up
  local up, ul = column("startup_pcaprun.txt", 1), column("startup_lua.txt", 1)
  raw.startup = { pcaprun_seconds = up, lua_seconds = ul }
  row("start-up, ms: pcaprun -e '' (vs lua5.4 -e '')", median(up) * 1000, median(ul) * 1000, "<= 3x",
    function(_, r) return r <= 3 end)

  -- 6. The journal
  raw.journal = {}
  for _, w in ipairs { "campaign", "raw" } do
    local function runs(mode) return column(("journal_%s_%s.txt"):format(w, mode), 1) end
    local none, disk = runs("none"), runs("disk")
    raw.journal[w] = { none = none, disk = disk, shm = runs("shm") }
    local label = w == "raw" and "bare create/wait/download" or "campaign"
    row(("journal: %s API calls/s (vs no journal)"):format(label), median(disk), median(none))
  end

  -- 8. The emulator under hostile load
  local el = read_json("emu_load.json")
  raw.emu_load = el
  row("emulator: RSS after 40,000 credentials, MiB (vs at start)", el.rss_after_tokens_kb / 1024,
    el.rss_start_kb / 1024, "<= 2x (was 37x)", function(_, r) return r <= 2 end)
  row("  requests/s after 40,000 credentials (vs before them)", el.rate_after.rps, el.rate_before.rps,
    ">= 0.7x (was 0.15x)", function(_, r) return r >= 0.7 end)
  row("  requests answered while 1,100 slow connections are open", el.slow.served, el.slow.requests,
    "all", function(_, r) return r == 1 end)
end

-- 7. Capture files: throughput from the median wall time (over the file's bytes), peak RSS the
-- largest seen, and the same commands at a quarter of the size.
local function pcap_rows()
  local f = assert(io.open(dir .. "/pcap_bytes.txt"))
  local big, small, size, parts = f:read("n", "n", "n", "n")
  f:close()
  local function label(bytes)
    return bytes >= 2 ^ 30 and ("%g GiB"):format(bytes / 2 ^ 30) or ("%g MiB"):format(bytes / 2 ^ 20)
  end
  local function rate(name, bytes) return bytes / 2 ^ 20 / median(column(name, 1)) end
  local function rss(name) return max(column(name, 2)) / 1024 end
  local stats = rate("pcap_stats_pcaprun.txt", size)
  raw.pcap = { bytes = size, parts_bytes = parts, small_bytes = small }
  for _, name in ipairs { "stats_pcaprun", "stats_tshark", "stats_capinfos", "stats_capinfos_nohash",
                          "merge_pcaprun", "merge_mergecap", "filter_pcaprun", "filter_tcpdump",
                          "small_stats", "small_merge", "small_filter" } do
    local file = "pcap_" .. name .. ".txt"
    raw.pcap[name] = { seconds = column(file, 1), rss_kb = column(file, 2) }
  end
  row(("pcap stats %s: MiB/s (vs tshark -q -z conv,ip)"):format(label(big)), stats,
    rate("pcap_stats_tshark.txt", size), ">= 10x", function(_, r) return r >= 10 end)
  row("  same (vs capinfos: all its figures, hashes included)", stats, rate("pcap_stats_capinfos.txt", size),
    ">= 1x", function(_, r) return r >= 1 end)
  row("  same (vs capinfos without hashes: -c -s -d -u -a -e -y -i -z -x)", stats,
    rate("pcap_stats_capinfos_nohash.txt", size))
  row(("pcap merge 8 x %s: MiB/s (vs mergecap -F nsecpcap)"):format(label(big / 8)),
    rate("pcap_merge_pcaprun.txt", parts), rate("pcap_merge_mergecap.txt", parts), ">= 1x",
    function(_, r) return r >= 1 end)
  row(("pcap filter %s to a file: MiB/s (vs tcpdump -r -w)"):format(label(big)),
    rate("pcap_filter_pcaprun.txt", size), rate("pcap_filter_tcpdump.txt", size), ">= 0.8x",
    function(_, r) return r >= 0.8 end)
  for _, op in ipairs { "stats", "merge", "filter" } do
    row(("  peak RSS, MiB: %s at %s (vs at %s)"):format(op, label(big), label(small)),
      rss(("pcap_%s_pcaprun.txt"):format(op)), rss(("pcap_small_%s.txt"):format(op)), "< 64 MiB",
      function(p) return p < 64 end)
  end
end

-- 8. The emulator under hostile load
local function emu_rows()
  local el = read_json("emu_load.json")
  raw.emu_load = el
  row("emulator: RSS after 40,000 credentials, MiB (vs at start)", el.rss_after_tokens_kb / 1024,
    el.rss_start_kb / 1024, "<= 2x (was 37x)", function(_, r) return r <= 2 end)
  row("  requests/s after 40,000 credentials (vs before them)", el.rate_after.rps, el.rate_before.rps,
    ">= 0.7x (was 0.15x)", function(_, r) return r >= 0.7 end)
  row("  requests answered while 1,100 slow connections are open", el.slow.served, el.slow.requests,
    "all", function(_, r) return r == 1 end)
end

-- 9. Object stores (objstore.sh): a 1 GiB fetch over the S3 API against curl --aws-sigv4.
local function objstore_rows()
  local f = assert(io.open(dir .. "/objstore_fetch_bytes.txt"))
  local bytes = f:read("n")
  f:close()
  local pt, ct = column("objstore_fetch_pcaprun.txt", 1), column("objstore_fetch_curl.txt", 1)
  local prss, crss = max(column("objstore_fetch_pcaprun.txt", 2)), max(column("objstore_fetch_curl.txt", 2))
  raw.objstore_fetch = { bytes = bytes, pcaprun_seconds = pt, curl_seconds = ct, pcaprun_rss_kb = prss,
                         curl_rss_kb = crss }
  row("S3 fetch 1 GiB: MiB/s (vs curl --aws-sigv4)", bytes / 2 ^ 20 / median(pt), bytes / 2 ^ 20 / median(ct),
    ">= 0.9x", function(_, r) return r >= 0.9 end)
  row("S3 fetch 1 GiB: peak RSS, MiB (vs curl --aws-sigv4)", prss / 1024, crss / 1024, "< 32 MiB",
    function(p) return p < 32 end)
end

-- 10. pcaprun serve (serve.sh): alert -> 202 -> the playbook's create, alerts per second.
local function serve_rows()
  local sv = read_json("serve.json")
  raw.serve = sv
  local ms = 1000
  row(("serve: POST -> 202, p50 ms (vs GET /healthz, %d alerts one at a time)"):format(sv.alerts),
      sv.ack_p50 * ms, sv.healthz_p50 * ms, "< 100 ms (senders wait 5 s)", function(p) return p < 100 end)
  row("  POST -> 202, p99 ms (vs GET /healthz)", sv.ack_p99 * ms, sv.healthz_p99 * ms,
      "< 1000 ms", function(p) return p < 1000 end)
  row("  POST -> the playbook's first create sent, p50 ms (vs POST -> 202)", sv.create_p50 * ms,
      sv.ack_p50 * ms)
  row("  POST -> the playbook's first create sent, p99 ms (vs POST -> 202)", sv.create_p99 * ms,
      sv.ack_p99 * ms)
  row("  alerts accepted per second, 16 at once (vs GET /healthz per second)", sv.accepted_per_s,
      sv.healthz_per_s)
end

local only = arg[3]
if not only then
  core_rows()
  emu_rows()
end
if (not only or only == "pcap") and io.open(dir .. "/pcap_bytes.txt") then pcap_rows() end
if (not only or only == "objstore") and io.open(dir .. "/objstore_fetch_bytes.txt") then objstore_rows() end
if (not only or only == "serve") and io.open(dir .. "/serve.json") then serve_rows() end

-- The table
local function fmt(v)
  if type(v) ~= "number" then return v and tostring(v) or "" end
  local a = math.abs(v)
  if a >= 1e5 then return ("%.0f"):format(v) end
  if a >= 100 then return ("%.1f"):format(v) end
  if a == math.floor(a) then return ("%d"):format(v) end
  return ("%.3f"):format(v)
end
local header = { "metric", "pcaprun", "baseline", "ratio", "target", "verdict" }
local cells, width = { header }, {}
for _, r in ipairs(rows) do
  cells[#cells + 1] = { r.metric, fmt(r.pcaprun), fmt(r.baseline), fmt(r.ratio), r.target, r.verdict }
end
for _, line in ipairs(cells) do
  for i, c in ipairs(line) do width[i] = math.max(width[i] or 0, #c) end
end
for n, line in ipairs(cells) do
  local out = {}
  for i, c in ipairs(line) do out[i] = ("%" .. (i == 1 and "-" or "") .. width[i] .. "s"):format(c) end
  print(table.concat(out, "  "))
  if n == 1 then print(("-"):rep(#table.concat(out, "  "))) end
end

local f = assert(io.open(outpath, "w"))
f:write(cjson.encode{ rows = rows, raw = raw }, "\n")
f:close()
print("\nwritten to " .. outpath)
