-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-labels: pcap;lua
-- ctest-timeout: 180
-- pcaprun.pcapfile from a script, on captures the emulator delivers: reading packet by packet
-- (filters, fields, raw bytes, closing), stats, top and summary agreeing with each other and
-- with what reading finds, merge/filter/slice/split, whole-file passes that let other tasks run
-- meanwhile, a canceled pass that stops and leaves no file behind, and the errors.
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local json = require "pcaprun.json"
local pcap = require "pcaprun.pcap"
local pf = require "pcaprun.pcapfile"
local task = require "pcaprun.task"
local T = require "testlib"

local dir = T.tmpdir()

-- A sampled capture of the emulator, padded to about `bytes` (0: no padding).
local function capture(name, bytes, filter)
  emulator.configure { simple_bytes = bytes }
  local spec = { type = "simple", time_limit = 1, packet_limit = 10000, filter_v1 = filter }
  local cap = assert(pcap.create(spec))
  assert(cap:wait())
  return assert(cap:download(dir .. "/" .. name)).path
end

local small = capture("small.pcap", 0)
local big = capture("big.pcap", 64e6)
emulator.configure { simple_bytes = 0 }
local small_n = assert(fs.check_pcap(small)).packets

T.case("reading packet by packet", function()
  local f = assert(pf.open(small))
  T.eq(f.path, small, "path")
  T.eq(f.link_type, "EN10MB", "link type")
  T.eq(f.snaplen, 160, "snaplen of a sampled capture")
  local n, tcp, syn, last = 0, 0, 0, 0
  for p in f:packets() do
    n = n + 1
    T.ok(p.time_ns >= last, "time goes forward")
    last = p.time_ns
    T.ok(p.caplen <= 160 and p.len >= p.caplen, "lengths")
    T.ok(p.ip and p.ip.src and p.ip.dst and p.ip.ttl, "IP fields")
    if p.proto == "tcp" then
      tcp = tcp + 1
      T.ok(p.sport and p.dport and p.flags, "ports and flags")
      if p.flags:find("S") and not p.flags:find("%.") then syn = syn + 1 end
    end
    T.eq(p.data, nil, "no bytes unless asked")
  end
  T.ok(n > 10, "packets")
  T.eq(n, small_n, "every packet")
  T.eq(f.packets_read, n, "packets_read")
  T.eq(f:read(), nil, "then nil")
  f:close()
  T.raises(function() f:read() end, "closed", "a closed file")

  local s = assert(pf.stats(small))
  T.eq(s.packets, n, "stats count the same packets")
  T.eq(s.tcp.packets, tcp, "and the same TCP packets")
  T.eq(s.tcp.syn_only, syn, "and SYNs without ACK")
  T.eq(s.last_ns, last, "last packet")

  local u = assert(pf.open(small, { filter = "udp", data = true }))
  local k = 0
  for p in u:packets() do
    k = k + 1
    T.eq(p.proto, "udp", "the filter holds")
    T.eq(#p.data, p.caplen, "raw bytes")
    T.eq(pf.decode(p.data, 1, p.len).dport, p.dport, "decode agrees")
  end
  u:close()
  local us = assert(pf.stats(small, { filter = "udp" }))
  T.eq(us.packets, k, "stats with the same filter")
end)

T.case("stats, top and summary", function()
  local s = assert(pf.stats(big, { top = 5, interval = 0.25 }))
  T.ok(assert(fs.stat(big)).size > 60e6, "a big file")
  T.eq(s.packets, assert(fs.check_pcap(big)).packets, "every packet")
  T.eq(#s.destinations, 5, "top 5")
  T.ok(s.exact.destinations, "the emulator's 16 flows fit in the table")
  local top = assert(pf.top(big, { by = "destinations", n = 3 }))
  for i = 1, 3 do T.eq(top[i].address, s.destinations[i].address, "top agrees with stats") end
  local sum = assert(pf.summary(big))
  T.eq(sum.packets, s.packets, "summary packets")
  T.eq(sum.destinations[1].address, s.destinations[1].address, "summary's heaviest destination")
  T.eq(#sum.destinations, 3, "summary keeps three")
  local total = 0
  for _, c in ipairs(s.series.packets) do total = total + c end
  T.eq(total, s.packets, "the series counts every packet")
  T.eq(s.series.interval, 0.25, "interval")
  T.ok(json.decode(json.encode(s)).packets == s.packets, "JSON round trip")
  local several = assert(pf.stats({ small, big }))
  T.eq(several.packets, s.packets + small_n, "several files")
end)

T.case("file operations", function()
  local tcp = assert(pf.stats(big, { filter = "tcp" })).packets
  local r = assert(pf.filter(big, dir .. "/out/tcp.pcap", "tcp"))
  T.eq(r.packets, tcp, "filter writes the matching packets")
  T.eq(r.path, dir .. "/out/tcp.pcap", "path")
  T.eq(assert(fs.check_pcap(r.path)).packets, tcp, "a valid pcap")
  local m = assert(pf.merge({ r.path, small }, dir .. "/out/merged.pcap"))
  T.eq(m.packets, tcp + small_n, "merge keeps every packet")
  local parts = assert(pf.split(m.path, dir .. "/out/part.pcap", { packets = 50000 }))
  local n = 0
  for i, f in ipairs(parts.files) do
    n = n + f.packets
    T.eq(f.path, ("%s/out/part-%05d.pcap"):format(dir, i), "part names")
  end
  T.eq(n, m.packets, "parts add up")
  local s = assert(pf.stats(big))
  local mid = (s.first + s.last) / 2
  local first = assert(pf.slice(big, dir .. "/out/a.pcap", { stop = mid }))
  local second = assert(pf.slice(big, dir .. "/out/b.pcap", { start = mid }))
  T.eq(first.packets + second.packets, s.packets, "two halves")
  local half = ("+%.9f"):format(s.duration / 2)
  local rel = assert(pf.slice(big, dir .. "/out/c.pcap", { start = "+0", stop = half }))
  T.ok(math.abs(rel.packets - first.packets) <= 1, "relative bounds")
  T.eq(T.valid_pcaps(dir .. "/out"), 2 + #parts.files + 3, "every output valid, no temporary file")
end)

T.case("a pass over big files lets other tasks run", function()
  local ticks, running = 0, true
  local ticker = task.spawn(function()
    while running do
      task.sleep(0.1) -- 1 ms at this time scale
      ticks = ticks + 1
    end
  end)
  task.sleep(0)
  local before = ticks
  local s = assert(pf.stats({ big, big, big, big }))
  local during = ticks - before
  running = false
  task.join(ticker)
  T.eq(s.packets, 4 * assert(fs.check_pcap(big)).packets, "four passes")
  print(("# the ticker ran %d times during the pass"):format(during))
  T.ok(during >= 3, "other tasks ran during the pass")
end)

T.case("canceling a pass", function()
  local out = dir .. "/cancel/merged.pcap"
  local inputs = { big, big, big, big, big, big, big, big }
  local worker = task.spawn(function() return pf.merge(inputs, out) end)
  -- wait for the temporary file, so the cancel lands in the middle of the pass
  local seen = false
  for _ = 1, 2000 do
    task.sleep(0.01)
    if #T.files(dir .. "/cancel", "%.tmp$") > 0 then seen = true break end
  end
  task.cancel(worker)
  local ok, err = task.join(worker)
  T.ok(seen, "the merge was under way")
  T.eq(ok, false, "the task was canceled")
  T.eq(err.code, "CANCELED", "CANCELED")
  T.eq(#T.files(dir .. "/cancel"), 0, "no output, no temporary file")
  -- canceled before it started
  local early = task.spawn(function() return pf.stats(inputs) end)
  task.cancel(early)
  T.eq(select(2, task.join(early)).code, "CANCELED", "canceled at once")
end)

T.case("the emulator's SYN flood, seen from the file", function()
  emulator.configure { syn_flood = 0.6 }
  local file = capture("flood.pcap", 0, { destination_port = 8443, protocol = 6 })
  emulator.configure { syn_flood = 0 }
  local s = assert(pf.stats(file))
  T.between(s.tcp.syn_ratio, 0.5, 0.7, "SYN ratio near the share configured")
  local syn = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"
  local victims = assert(pf.top(file, { filter = syn }))
  T.eq(#victims, 1, "one target")
  T.eq(victims[1].packets, s.tcp.syn_only, "every SYN goes to it")
  T.eq(s.destination_ports[1].port, 8443, "the filter's port")
  T.eq(#s.destination_ports, 1, "and only it")
end)

T.case("errors", function()
  local v, err = pf.stats(dir .. "/none.pcap")
  T.eq(v, nil, "missing file")
  T.eq(err.code, "NOT_FOUND", "NOT_FOUND")
  v, err = pf.open(dir .. "/none.pcap")
  T.eq(v, nil, "open: nil")
  T.eq(err.code, "NOT_FOUND", "open: NOT_FOUND")
  v, err = pf.filter(small, dir .. "/bad.pcap", "port nonsense")
  T.eq(v, nil, "filter: nil")
  T.eq(err.code, "INVALID", "a filter that does not compile")
  T.match(err.message, "port nonsense", "names the filter")
  T.eq(fs.stat(dir .. "/bad.pcap"), nil, "and writes nothing")
  assert(fs.write(dir .. "/text.pcap", "not a capture"))
  v, err = pf.stats(dir .. "/text.pcap")
  T.eq(v, nil, "stats: nil")
  T.eq(err.code, "BAD_PCAP", "not a capture")
  T.raises(function() pf.stats(small, { fliter = "tcp" }) end, "unknown option 'fliter'", "misspelt option")
  T.raises(function() pf.top(small, { by = "colos" }) end, "'by' must be", "unknown table")
  T.raises(function() pf.split(small, dir .. "/x.pcap", {}) end, "packets=N or bytes=N", "split needs a size")
  T.raises(function() pf.slice(small, dir .. "/x.pcap", { start = "yesterday" }) end, "RFC 3339",
           "a bad time")
  T.raises(function() pf.stats({}) end, "empty", "no files")
  local co = coroutine.wrap(function() return pf.stats(small) end)
  T.raises(co, "must be called from a task", "outside a task")
end)

T.rmtree(dir)
print(("ok: %d checks"):format(T.checks))
