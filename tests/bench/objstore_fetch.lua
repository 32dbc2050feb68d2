-- One object fetched over the S3 API through the runtime: store:fetch (streamed to PATH.part,
-- checked as a pcap as it arrives, fsynced, renamed); endpoint and keys from the AWS variables.
--   pcaprun --no-journal objstore_fetch.lua BUCKET_URI NAME PATH     prints one JSON line
local bucket = require "pcaprun.bucket"
local bench = require "benchlib"

local store = assert(bucket.open(arg[1]))
local info = assert(store:fetch(arg[2], arg[3]))
bench.result{ bytes = info.bytes, packets = info.packets }
