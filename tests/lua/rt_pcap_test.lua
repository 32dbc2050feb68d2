-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- ctest-timeout: 120
-- Every PCAPs operation through the bindings, against the emulator over real HTTP.
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local fs = require "pcaprun.fs"
local emulator = require "pcaprun.emulator"
local T = require "testlib"

local out = os.tmpname()
os.remove(out)
local bucket = "s3://rt-pcap-test/caps?region=us-east-1"

-- create (simple) -> wait -> download
local cap = assert(pcap.create{ type = "simple", time_limit = 30, packet_limit = 200,
                               filter_v1 = { destination_port = 53, protocol = 17 } })
T.ok(#cap.id == 32 and cap.status == "pending", "create returns a pending capture with a 32-hex id")
T.eq(cap.type, "simple", "fields come from the API object")
T.eq(cap.filter_v1.destination_port, 53, "nested fields too")
T.match(tostring(cap), "^capture %x+ %(simple, pending%)$", "tostring")
local early, eerr = cap:download(out .. "/early.pcap")
T.fails("BAD_STATE", early, eerr, "download before ready is refused locally")
T.eq(fs.stat(out .. "/early.pcap.part"), nil, "and writes nothing")
T.eq(cap:wait(), cap, "wait returns the capture")
T.eq(cap.status, "success", "a waited capture is terminal")
local info = assert(cap:download(out .. "/simple/one.pcap"))
T.eq(info.path, out .. "/simple/one.pcap", "download reports the path")
T.ok(info.packets > 0 and info.packets <= 200, "at most packet_limit packets")
local st = assert(fs.check_pcap(info.path))
T.ok(st.packets == info.packets and st.bytes == info.bytes and st.linktype == 1,
  "the file is a valid pcap")
T.eq(cap.packets, info.packets, "cap.packets after a download")
T.eq(fs.stat(info.path .. ".part"), nil, "no .part left")

-- get and refresh
local again = assert(pcap.get(cap.id))
T.ok(again == cap and again.status == "success", "get returns the same capture")
T.eq(assert(cap:refresh()), cap, "refresh")

-- full: create -> stop -> success, delivered to the bucket
local f = assert(pcap.create{ type = "full", colo_name = "SJC", time_limit = 300, destination_conf = bucket })
T.eq(f.colo_name, "SJC", "full capture colo")
task.sleep(5)
T.eq(assert(f:stop()), true, "stop a running full capture")
T.eq(f:wait(), f, "a stopped capture converts and succeeds")
T.ok(f.stop_requested ~= nil, "stop_requested is set")
T.eq(assert(f:stop()), true, "stopping a finished capture is not an error")
local object = ("%s/rt-pcap-test/caps/pcap_%s.pcap"):format(emulator.bucket_dir(), f.id)
T.ok(fs.check_pcap(object) ~= nil, "the full capture was delivered to the bucket")
local fd, fderr = f:download(out .. "/full.pcap")
T.fails("BAD_STATE", fd, fderr, "full captures are not downloadable")
local sc, scerr = cap:stop()
T.fails("BAD_STATE", sc, scerr, "simple captures cannot be stopped")

-- list: newest first, includes both
local list = assert(pcap.list())
T.ok(#list >= 2 and list[1] == f and list[2] == cap, "list is newest first")

-- errors from the API carry Cloudflare's code and message
local missing, merr = pcap.get(("0"):rep(32))
T.fails("NOT_FOUND", missing, merr, "an unknown id")
T.ok(merr and merr.http_status == 404 and merr.cf_code ~= nil and merr.retryable == false,
  "with HTTP status, Cloudflare code, not retryable")

-- buckets: add -> challenge file -> validate -> list -> delete (with ownership strict, as
-- Cloudflare keeps it; under --emulate a bucket registers as validated at once)
emulator.configure { auto_validate_buckets = false }
local b = "s3://rt-owned/pcaps?region=eu-west-1"
local own = assert(pcap.buckets.add(b))
T.ok(#own.id == 32 and own.status == "pending" and own.validated == "",
  "add returns a pending registration")
local fh = assert(io.open(("%s/rt-owned/pcaps/%s"):format(emulator.bucket_dir(), own.filename)))
local challenge = fh:read("a")
fh:close()
local wrong = assert(pcap.buckets.validate(b, "not the challenge"))
T.eq(wrong.status, "failed", "a wrong challenge fails")
local v = assert(pcap.buckets.validate(b, challenge))
T.eq(v.status, "success", "validate with the challenge file's contents")
local owned = assert(pcap.buckets.list())
local found
for _, o in ipairs(owned) do if o.id == own.id then found = o end end
T.ok(found and found.status == "success", "the bucket is listed as validated")
T.eq(assert(pcap.buckets.delete(own.id)), true, "delete")
emulator.configure { auto_validate_buckets = true }
T.eq(assert(pcap.buckets.add("s3://rt-auto/p?region=x")).status, "success",
  "with auto_validate_buckets, registering validates")

-- several accounts in one script, each with its own limits
local other = pcap.client{ base_url = emulator.url(), account_id = ("ab"):rep(16), token = "other-token" }
T.eq(other.account_id, ("ab"):rep(16), "client exposes its account id")
T.eq(other.token, nil, "but never its token")
local t0 = task.now()
local c1 = assert(other:create{ type = "simple", time_limit = 5, packet_limit = 10 })
T.ok(task.now() - t0 < 30, "another account does not wait for this account's sample rate")
assert(c1:wait())
T.ok(assert(other:list())[1] == c1, "lists are per account")
T.ok(tostring(other):find("abab"), "tostring of a client")
local upper = pcap.client{ base_url = emulator.url(), account_id = ("AB"):rep(16), token = "other-token" }
T.eq(upper.account_id, other.account_id, "an account id in capitals is the same account (same limits)")
T.ok(assert(upper:get(c1.id:upper())) == c1, "and a capture id in capitals the same capture")

-- auth failures: Cloudflare's 403 / 10000, not retried
emulator.configure{ token = "emulator" }
local bad = pcap.client{ base_url = emulator.url(), account_id = ("cd"):rep(16), token = "wrong" }
local n0 = emulator.stats().requests.total
local r, aerr = bad:list()
T.fails("API_ERROR", r, aerr, "a wrong token")
T.ok(aerr and aerr.http_status == 403 and aerr.cf_code == 10000, "403 with code 10000")
T.eq(emulator.stats().requests.total - n0, 1, "auth errors are not retried")

-- a capture object calls with the credentials of the client that returned it
emulator.configure{ token = "token-b" }
local cb = pcap.client{ base_url = emulator.url(), account_id = pcap.default().account_id, token = "token-b" }
local fb = assert(cb:get(f.id))
T.ok(fb == f, "the same capture, from another client")
T.eq(fb:refresh(), fb, "its methods use that client's token")
local fr, frerr = f:refresh()
T.fails("API_ERROR", fr, frerr, "the first object keeps the default client's")
emulator.configure{ token = "" }

-- client options: typos and empty values raise (they would fall back to the environment)
local url = emulator.url()
T.ok(not pcall(pcap.client, { tokn = "x", base_url = url, account_id = "ab" }), "unknown client option")
T.ok(not pcall(pcap.client, { token = "", base_url = url, account_id = "ab" }), "empty token")
T.ok(not pcall(pcap.client, { token = "t", base_url = url, account_id = "" }), "empty account id")

-- http:// is refused for anything but loopback; missing credentials raise
T.ok(not pcall(pcap.client,
    { base_url = "http://api.example.com/client/v4", account_id = "ab", token = "t" }),
  "plain http to a remote host is refused")
T.ok(not pcall(pcap.client, { base_url = emulator.url(), account_id = "xyz", token = "t" }),
  "a malformed account id raises")

-- a capture this run did not make (here: created with plain HTTP) is looked up before a download
local http = require "pcaprun.http"
task.sleep(60) -- the sample interval since our last simple create
local raw = assert(http.request{ method = "POST",
  url = emulator.url() .. "/accounts/" .. ("0123456789abcdef"):rep(2) .. "/pcaps",
  headers = { Authorization = "Bearer emulator", ["Content-Type"] = "application/json" },
  body = '{"system":"magic-transit","type":"simple","time_limit":20,"packet_limit":10}' })
local rid = require("cjson").decode(raw.body).result.id
local d1, d1err = pcap.download(rid, out .. "/raw.pcap")
T.fails("BAD_STATE", d1, d1err, "downloading an unknown capture that is not ready is refused")
T.eq(emulator.stats().violations.download_before_ready, 0, "without asking the API for the file")
task.sleep(25)
T.ok(pcap.download(rid, out .. "/raw.pcap") ~= nil, "and works once it is ready")

-- an unknown id is NOT_FOUND for every operation; stopping a simple capture is BAD_STATE even
-- when this run did not know it (the stop is refused, the capture re-read)
local zero = ("0"):rep(32)
for _, op in ipairs { "get", "stop" } do
  local res, e = pcap[op](zero)
  T.fails("NOT_FOUND", res, e, "pcap." .. op .. " of an unknown id")
end
local dn, dnerr = pcap.download(zero, out .. "/none.pcap")
T.fails("NOT_FOUND", dn, dnerr, "pcap.download of an unknown id")
local rs, rserr = pcap.stop(rid)
T.fails("BAD_STATE", rs, rserr, "stopping a simple capture this run did not make")
T.eq(rserr and rserr.http_status, nil, "a local verdict carries no HTTP status")

-- download paths: a directory is misuse; a file that cannot be made says why
T.ok(not pcall(pcap.download, rid, out), "an existing directory raises")
T.ok(not pcall(pcap.download, rid, out .. "/new/"), "a path ending in / raises")
T.ok(not pcall(pcap.download, rid, ""), "an empty path raises")
local io1, ioerr = pcap.download(rid, "/proc/none/x.pcap")
T.fails("IO", io1, ioerr, "an impossible path")
T.match(ioerr and ioerr.message or "", "/proc/none/x.pcap", "the error names the path")

-- options name themselves when wrong
for opt, badval in pairs { timeout = "x", priority = 1.5, intent = 7 } do
  local ok, e = pcall(pcap.create, { type = "simple", time_limit = 1, packet_limit = 1 }, { [opt] = badval })
  T.ok(not ok and tostring(e):find(opt, 1, true),
           ("a bad '%s' option is named: %s"):format(opt, tostring(e)))
end

T.eq(emulator.stats().violations.total, 0, "no limit or protocol violations")
os.execute("rm -rf " .. out)
T.done()
