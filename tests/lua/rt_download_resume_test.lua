-- pcaprun-test: --emulate --time-scale 0.01
-- Downloads resume what a .part holds: a prefix continues with a Range request; a .part that
-- already holds the whole file (a run stopped between the last byte and the rename) answers 416
-- and is completed as it is; a .part longer than the file and not a whole pcap starts over.
local pcap = require "pcaprun.pcap"
local fs = require "pcaprun.fs"
local T = require "testlib"

local dir = os.tmpname()
os.remove(dir)
assert(fs.mkdir(dir))
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local cap = assert(pcap.create { type = "simple", time_limit = 5, packet_limit = 300 })
assert(cap:wait())
local whole = assert(cap:download(dir .. "/whole.pcap"))
local bytes = read(dir .. "/whole.pcap")
T.ok(#bytes > 2000, "a reference download")

local cases = {
  { "prefix", bytes:sub(1, 1000) },
  { "whole", bytes },
  { "longer", bytes .. "trailing junk" },
}
for _, case in ipairs(cases) do
  local path = ("%s/%s.pcap"):format(dir, case[1])
  write(path .. ".part", case[2])
  local info, err = cap:download(path)
  T.ok(info and info.bytes == whole.bytes and info.packets == whole.packets,
    ("a .part holding a %s of the file ends as the file (%s)"):format(case[1], tostring(err)))
  T.ok(fs.stat(path) and read(path) == bytes, ("%s: byte for byte"):format(case[1]))
  T.eq(fs.stat(path .. ".part"), nil, ("%s: no .part left"):format(case[1]))
  os.remove(path)
end

-- A server that ignores Range and cuts every answer short makes no progress past what the .part
-- held: the download gives up after its attempts (it went on for ever, counting each restart
-- from byte 0 as progress).
local emulator = require "pcaprun.emulator"
emulator.configure { ignore_range = true, fault_truncate = 1 }
local before = emulator.stats().requests.by_operation.download
local cut, cuterr = cap:download(dir .. "/cut.pcap")
local tries = emulator.stats().requests.by_operation.download - before
emulator.configure { ignore_range = false, fault_truncate = 0 }
T.fails("TRANSPORT", cut, cuterr, "a download that never gets further fails")
T.ok(tries >= 2 and tries <= 9, ("after its attempts (%d requests; --retries 8)"):format(tries))
T.eq(fs.stat(dir .. "/cut.pcap"), nil, "and nothing sits under the final name")
os.remove(dir .. "/cut.pcap.part")
os.remove(dir .. "/whole.pcap")
os.remove(dir)
T.done()
