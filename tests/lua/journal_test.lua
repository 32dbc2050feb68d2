-- pcaprun-test: --emulate --time-scale 0.01 --journal journal_test.db
-- The journal inside one run (an in-process emulator, so each run is a new account): a create
-- whose intent the journal holds is not sent again, the same intent with another spec is
-- refused, full captures hold their slot row until they leave running, downloads are recorded,
-- values round-trip. (Across processes and kills: tests/integration/journal_*.sh.)
local emulator = require "pcaprun.emulator"
local journal = require "pcaprun.journal"
local pcap = require "pcaprun.pcap"
local T = require "testlib"

local dir = os.tmpname()
os.remove(dir)
local bucket = "r2://rt-journal/caps?account-id=1&access-key-id=k&secret-access-key=NotForTheJournal"
T.ok(journal.path():match("journal_test.db$"), "journal.path()")

local spec = { type = "simple", time_limit = 5, packet_limit = 50 }
local cap = assert(pcap.create(spec, { intent = "lua.simple" }))
local again = assert(pcap.create(spec, { intent = "lua.simple" }))
T.ok(again == cap, "the same intent twice: one capture")
T.eq(emulator.stats().captures.created, 1, "one create reached the API")
local other = { type = "simple", time_limit = 5, packet_limit = 60 }
local no, err = pcap.create(other, { intent = "lua.simple" })
T.fails("INVALID", no, err, "the same intent with another spec: refused")
assert(cap:wait())
local info = assert(cap:download(dir .. "/simple.pcap"))
local j = assert(journal.intent("lua.simple"))
T.ok(j.capture_id == cap.id and j.type == "simple" and j.status == "success",
  "journal.intent: id, type, status")
T.ok(#j.downloads == 1 and j.downloads[1].state == "done" and j.downloads[1].bytes == info.bytes,
  "journal.intent: the download, done")
T.eq(assert(journal.download(dir .. "/simple.pcap")).packets, info.packets, "journal.download")

local fspec = { type = "full", colo_name = "ORD", time_limit = 20, destination_conf = bucket }
local full = assert(pcap.create(fspec, { intent = "lua.full" }))
T.eq(journal.intent("lua.full").capture_id, full.id, "a full capture's intent")
assert(full:wait())
T.eq(journal.intent("lua.full").status, "success", "its status follows the capture")
local function full_to(dest)
  return { type = "full", colo_name = "ORD", time_limit = 20, destination_conf = dest }
end
local moved = full_to((bucket:gsub("account%-id=1", "account-id=2")))
no, err = pcap.create(moved, { intent = "lua.full" })
T.fails("INVALID", no, err, "the same intent with another destination (query included): refused")
local rotated = full_to((bucket:gsub("=k&", "=k2&")))
T.ok(pcap.create(rotated, { intent = "lua.full" }) == full, "a rotated bucket key is the same request")
for _, suffix in ipairs { "", "-wal" } do
  local f = io.open(journal.path() .. suffix, "rb")
  local bytes = f and f:read("a") or ""
  if f then f:close() end
  T.ok(not bytes:find("NotForTheJournal", 1, true), "no bucket secret in the journal" .. suffix)
end

assert(journal.set("lua/value", { list = { 1, 2 }, ok = true }))
local v = journal.get("lua/value")
T.ok(v.ok == true and v.list[2] == 2, "values round-trip")
assert(journal.set("lua/value", nil))
T.eq(journal.get("lua/value"), nil, "and go")
T.eq(emulator.stats().violations.total, 0, "no violation")
os.remove(dir .. "/simple.pcap")
os.remove(dir)
T.done()
