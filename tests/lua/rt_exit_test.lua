-- pcaprun-test: --emulate --time-scale 0.01
-- The script ends while the runtime still polls a full capture in the background (the emulator
-- answers slowly, so the poll is on the wire): the run must end cleanly, freeing the poll once
-- (it was freed twice: heap corruption at exit).
local emulator = require "pcaprun.emulator"
local http = require "pcaprun.http"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local T = require "testlib"

emulator.configure { fault_slow = 1, slow_ms = 300 }
local cap = assert(pcap.create { type = "full", time_limit = 1, colo_name = "ORD",
                                 destination_conf = "s3://rt-exit/p?region=us-east-1" })
repeat task.sleep(0.5) until http.stats().active > 0 -- the runtime's own poll is in flight
T.ok(cap.status ~= "success", "the capture has not been seen to end")
T.done()
