-- One download through the runtime: pcap.download of a finished simple capture (streamed to
-- PATH.part, checked as a pcap as it arrives, fsynced, renamed).
--   pcaprun download.lua ID PATH      prints one JSON line
local pcap = require "pcaprun.pcap"
local bench = require "benchlib"

local info = assert(pcap.download(arg[1], arg[2]))
bench.result{ bytes = info.bytes, packets = info.packets }
