-- Capture files merged by time into one nanosecond pcap, as campaigns merge a full capture's
-- files (pcapfile.merge, on the thread pool).
--   pcaprun objstore_merge.lua OUT IN...     prints one JSON line
local pcapfile = require "pcaprun.pcapfile"
local bench = require "benchlib"

local inputs = {}
for i = 2, #arg do inputs[#inputs + 1] = arg[i] end
local info = assert(pcapfile.merge(inputs, arg[1]))
bench.result{ bytes = info.bytes, packets = info.packets }
