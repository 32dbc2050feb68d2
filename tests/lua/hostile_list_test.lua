-- pcaprun-test: --emulate --time-scale 0.01
-- A list answer that names a capture twice (a hostile or broken API; the emulator's
-- list_duplicates) gives each capture once (issue 11, item 7).
local pcap = require "pcaprun.pcap"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

T.case("an id listed twice is one capture", function()
  local made = assert(pcap.create { type = "simple", time_limit = 1, packet_limit = 1 })
  emulator.configure { list_duplicates = true }
  local list = assert(pcap.list())
  emulator.configure { list_duplicates = false }
  T.eq(#list, 1, "one capture")
  T.eq(list[1], made, "the one this run made")
end)

T.done()
