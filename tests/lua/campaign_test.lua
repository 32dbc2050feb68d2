-- pcaprun-test: --emulate --time-scale 0.01
-- ctest-serial (it compares intervals of API time measured on the real clock)
-- ctest-timeout: 300
-- pcaprun.campaign: layout and manifest, pacing by the runtime, resume, partial failure with
-- continue and stop, retries, declaration errors. Every pcap is checked, and the emulator must
-- see no violation (limits, invalid requests, duplicate intents).
local campaign = require "pcaprun.campaign"
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local json = require "pcaprun.json"
local pcap = require "pcaprun.pcap"
local task = require "pcaprun.task"
local T = require "testlib"

local OUT = T.tmpdir()
local BUCKET = "s3://pcaprun-test/campaigns?region=us-east-1"

local function created(kind) return emulator.stats().captures[kind or "created"] end

local function by_key(result)
  local t = {}
  for _, x in ipairs(result.targets) do t[x.key] = x end
  return t
end

local function demo(extra)
  local d = {
    name = "layout", out = OUT, bucket = BUCKET,
    full = { colos = { "ORD", "SJC" }, time_limit = 60, byte_limit = 100e6 },
    sample = { time_limit = 30, packet_limit = 500,
               filters = { { destination_port = 443, protocol = 6 }, { protocol = 17 } } },
  }
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

T.case("layout, manifest, and the runtime's pacing", function()
  local r = campaign.run(demo())
  T.eq(r.status, "complete", "status")
  T.eq(r.ok, true, "ok")
  T.eq(r.dir, OUT .. "/layout", "the campaign's directory")
  T.eq(T.valid_pcaps(r.dir), 4, "one valid pcap per target")
  T.eq(created("full"), 2, "full creates")
  T.eq(created("simple"), 2, "simple creates")

  local m = assert(json.read(r.manifest))
  T.eq(m.format, "pcaprun.campaign/1", "manifest format")
  T.eq(m.name, "layout", "manifest name")
  T.eq(m.totals.complete, 4, "totals")
  local keys = {}
  for i, t in ipairs(m.targets) do keys[i] = t.key end
  T.eq(table.concat(keys, " "), "full/ORD full/SJC sample/1 sample/2", "targets in declaration order")
  local fulls, samples = {}, {}
  for _, t in ipairs(m.targets) do
    T.match(t.id, "^%x+$", t.key .. " id")
    T.eq(#t.id, 32, t.key .. " id length")
    T.eq(t.status, "complete", t.key .. " status")
    T.eq(t.attempts, 1, t.key .. " attempts")
    T.eq(#t.files, 1, t.key .. " files")
    local want = (t.type == "full" and t.colo or "sampled") .. "/" .. t.id .. ".pcap"
    T.eq(t.files[1].path, want, t.key .. " layout")
    local summary = t.files[1].summary or {}
    T.eq(summary.packets, t.files[1].packets, t.key .. " file summary: packets")
    T.ok(summary.destinations and summary.syn_ratio, t.key .. " file summary: destinations, SYN ratio")
    local path = r.dir .. "/" .. t.files[1].path
    T.eq(t.files[1].bytes, fs.stat(path).size, t.key .. " bytes")
    T.eq(t.files[1].packets, fs.check_pcap(path).packets, t.key .. " packets")
    T.ok(t.queued_at <= t.created_at and t.created_at <= t.finished_at, t.key .. " times in order")
    T.eq(t.spec.time_limit, t.type == "full" and 60 or 30, t.key .. " spec")
    table.insert(t.type == "full" and fulls or samples, t.created_at)
  end
  T.eq(m.targets[1].spec.byte_limit, 100000000, "100e6 is sent as an integer")
  T.eq(m.targets[3].spec.filter_v1.destination_port, 443, "the filter")
  table.sort(fulls)
  table.sort(samples)
  -- API time as the script saw it: answers can come late on a loaded machine, so the bounds are
  -- loose; the emulator's violation counters check the limits exactly
  T.between(fulls[2] - fulls[1], 55, 130, "full captures back to back (the slot frees after 60 s)")
  T.between(samples[2] - samples[1], 55, 120, "simple creates one sample interval apart")
  local text = r:summary()
  T.match(text, "^campaign layout: complete, 4/4 targets complete", "summary headline")
  T.match(text, "full/SJC +complete", "summary row")
  T.match(text, "manifest: " .. OUT:gsub("%p", "%%%0") .. "/layout/manifest.json", "the manifest's path")
  T.no_violations()
end)

T.case("resume: a second run skips what is complete and redoes what is missing", function()
  local before = created()
  local r = campaign.run(demo())
  T.eq(created(), before, "no capture created again")
  T.eq(r.status, "complete", "status")
  for _, t in ipairs(r.targets) do T.eq(t.reused, true, t.key .. " reused") end
  local sjc = by_key(r)["full/SJC"]
  T.ok(fs.remove(r.dir .. "/" .. sjc.files[1].path), "remove one file")
  r = campaign.run(demo())
  T.eq(created(), before + 1, "only the missing target is captured again")
  local again = by_key(r)["full/SJC"]
  T.eq(again.attempts, 2, "attempts go on counting (a new intent)")
  T.eq(#again.ids, 2, "both ids are recorded")
  T.ok(again.id ~= sjc.id, "a new capture")
  T.eq(T.valid_pcaps(r.dir), 4, "valid pcaps (the old file stays gone)")
  T.no_violations()
end)

-- A second bucket the account cannot validate (Cloudflare refuses the challenge pcaprun reads
-- from the mirror): its targets fail at once, without a create.
emulator.configure { auto_validate_buckets = false }
local own = assert(pcap.buckets.add(BUCKET))
assert(pcap.buckets.validate(BUCKET, own.filename))
local UNVALIDATED = "s3://not-validated/x?region=us-east-1"

T.case("partial failure with on_error = continue", function()
  emulator.configure { challenge_mode = "filename", validate_mismatch_error = true }
  local r = campaign.run {
    name = "partial", out = OUT, bucket = BUCKET,
    targets = {
      { name = "good", type = "full", colo = "ORD", time_limit = 30 },
      { name = "bad", type = "full", colo = "SJC", time_limit = 30, bucket = UNVALIDATED },
      { name = "sampled", type = "simple", time_limit = 10, packet_limit = 100 },
    },
  }
  emulator.configure { challenge_mode = "either", validate_mismatch_error = false }
  T.eq(r.status, "partial", "status")
  T.eq(r.ok, false, "ok")
  local t = by_key(r)
  T.eq(t["target/good"].status, "complete", "the good full capture")
  T.eq(t["target/sampled"].status, "complete", "the simple capture")
  local bad = t["target/bad"]
  T.eq(bad.status, "failed", "the bad target")
  T.eq(bad.attempts, 0, "no create was sent")
  T.eq(bad.error.code, "API_ERROR", "error code")
  T.eq(bad.error.http_status, 400, "HTTP status")
  T.eq(bad.error.op, "pcap.buckets.validate", "the operation that failed")
  T.eq(r.error.code, "API_ERROR", "result.error is the first target error")
  T.match(r:summary(), "target/bad +failed .*API_ERROR: ", "summary")
  T.eq(T.valid_pcaps(r.dir), 2, "the good targets' files")
  T.eq(json.read(r.manifest).status, "partial", "manifest status")
  T.no_violations()
end)

T.case("on_error = stop: a failure stops the full capture in flight and keeps its data", function()
  task.sleep(60) -- one sample interval: the first simple capture below is made at once
  local before = created()
  local runner = task.spawn(function()
    return campaign.run {
      name = "stop", out = OUT, bucket = BUCKET, on_error = "stop", retry = { attempts = 1 },
      full = { colos = { "ORD" }, time_limit = 300 },
      sample = { time_limit = 30, packet_limit = 100, filters = { { protocol = 6 }, { protocol = 17 } } },
    }
  end)
  while created() < before + 2 do task.sleep(1) end
  emulator.configure { fail_rate = 1 } -- the second simple capture, made a minute later, fails
  local _, r = task.join(runner)
  emulator.configure { fail_rate = 0 }
  T.eq(r.status, "stopped", "status")
  local t = by_key(r)
  T.eq(t["sample/1"].status, "complete", "made before the failures began")
  T.eq(t["sample/2"].status, "failed", "the failed capture")
  T.eq(t["sample/2"].error.code, "CAPTURE_FAILED", "its error")
  local full = t["full/ORD"]
  T.eq(full.status, "stopped", "the full capture was stopped")
  T.ok(full.finished_at - full.created_at < 200, "well before its 300 s time limit")
  T.eq(#full.files, 1, "what it captured is kept")
  T.eq(emulator.stats().requests.by_operation.stop, 1, "one stop request")
  T.eq(T.valid_pcaps(r.dir), 2, "valid pcaps")
  T.no_violations()
end)

T.case("retries: failed captures are made again with new intents, then given up", function()
  emulator.configure { fail_rate = 1 }
  local before = created("simple")
  local t0 = task.now()
  local r = campaign.run {
    name = "retries", out = OUT, retry = { attempts = 3, base = 1, cap = 2 },
    sample = { time_limit = 5, packet_limit = 10 },
  }
  emulator.configure { fail_rate = 0 }
  local t = r.targets[1]
  T.eq(r.status, "failed", "status")
  T.eq(t.attempts, 3, "attempts")
  T.eq(#t.ids, 3, "three captures")
  T.eq(#t.errors, 3, "one error per attempt")
  T.eq(t.error.code, "CAPTURE_FAILED", "the last error")
  T.eq(created("simple"), before + 3, "creates")
  T.ok(task.now() - t0 >= 120, "the runtime kept the sample rate between attempts")
  T.no_violations() -- in particular, no duplicate intents
end)

T.case("a bucket pcaprun cannot read, no copy in the bucket mirror: the object's URI is recorded", function()
  emulator.configure { s3_access_denied = true }
  local empty = T.tmpdir()
  local r = campaign.run { name = "delivered", out = OUT, bucket = BUCKET, bucket_dir = empty,
                           full = { colos = { "AMS" }, time_limit = 10 } }
  local t = r.targets[1]
  T.eq(r.status, "complete", "delivered counts as done")
  T.eq(t.status, "delivered", "status")
  T.eq(t.object, "s3://pcaprun-test/campaigns/pcap_" .. t.id .. ".pcap", "object URI")
  T.match(t.note, "bucket mirror", "note")
  T.match(t.note, "AccessDenied", "and why the bucket itself was not read")
  T.eq(#t.files, 0, "no local file")
  emulator.configure { s3_access_denied = false }
  T.rmtree(empty)
end)

T.case("full captures are fetched over the S3 API and merged: parts removed, objects kept", function()
  emulator.configure { full_files = 3 }
  local gets = emulator.stats().s3.by_operation.get
  local r = campaign.run { name = "merged", out = OUT, bucket = BUCKET,
                           full = { colos = { "ORD" }, time_limit = 10 } }
  local t = r.targets[1]
  T.eq(t.status, "complete", "status")
  T.eq(#t.files, 1, "one merged file")
  T.eq(t.files[1].path, "ORD/" .. t.id .. ".pcap", "where it lands")
  T.eq(#t.files[1].objects, 3, "the objects it came from")
  T.eq(t.files[1].objects[1], "s3://pcaprun-test/campaigns/pcap_" .. t.id .. ".pcap", "the first object")
  T.eq(#t.parts, 3, "three parts recorded")
  local sum = 0
  for _, p in ipairs(t.parts) do
    sum = sum + p.packets
    T.eq(p.path, nil, "the part file was removed")
    T.match(p.object, "pcap_" .. t.id .. ".*%.pcap$", "with its object")
  end
  T.eq(t.files[1].packets, sum, "the merged file holds every part's packets")
  T.eq(T.valid_pcaps(r.dir), 1, "only the merged pcap on disk")
  T.eq(emulator.stats().s3.by_operation.get - gets, 3, "each object fetched once")
  local dir = emulator.bucket_dir() .. "/pcaprun-test/campaigns/"
  T.ok(fs.stat(dir .. "pcap_" .. t.id .. "_3.pcap"), "the objects stay in the bucket by default")
  emulator.configure { full_files = 1 }
end)

T.case("keep_parts and delete_after", function()
  emulator.configure { full_files = 2 }
  local r = campaign.run { name = "kept", out = OUT, bucket = BUCKET, keep_parts = true, delete_after = true,
                           full = { colos = { "SJC" }, time_limit = 10 } }
  local t = r.targets[1]
  T.eq(t.status, "complete", "status")
  T.eq(T.valid_pcaps(r.dir), 3, "the merged pcap and its two parts")
  for _, p in ipairs(t.parts) do
    T.ok(fs.stat(r.dir .. "/" .. p.path), "part kept: " .. p.path)
    T.eq(p.deleted, true, "its object deleted")
  end
  local dir = emulator.bucket_dir() .. "/pcaprun-test/campaigns/"
  T.eq(fs.stat(dir .. "pcap_" .. t.id .. ".pcap"), nil, "gone from the bucket")
  emulator.configure { full_files = 1 }
end)

T.case("a bucket that cannot be validated fails its full targets before any is created", function()
  emulator.configure { auto_validate_buckets = false, s3_access_denied = true }
  local empty, full0 = T.tmpdir(), created("full")
  local r = campaign.run { name = "unvalidated", out = OUT, bucket = "s3://not-mine/x?region=us-east-1",
                           bucket_dir = empty, full = { colos = { "ORD", "SJC" }, time_limit = 10 },
                           sample = { time_limit = 5, packet_limit = 10 } }
  local t = by_key(r)
  T.eq(r.status, "partial", "the sampled capture still ran")
  T.eq(t["full/ORD"].status, "failed", "full target failed")
  T.eq(t["full/ORD"].error.code, "BUCKET_NOT_VALIDATED", "with the reason")
  T.eq(t["full/SJC"].attempts, 0, "and was never attempted")
  T.eq(created("full"), full0, "no full capture was created")
  emulator.configure { auto_validate_buckets = true, s3_access_denied = false }
  T.rmtree(empty)
end)

T.case("the same campaign into another directory is another campaign (new intents)", function()
  local decl = { name = "elsewhere", bucket = BUCKET, sample = { time_limit = 5, packet_limit = 10 } }
  local simple0 = created("simple")
  for _, dir in ipairs { OUT .. "/here", OUT .. "/there" } do
    decl.out = dir
    T.eq(campaign.run(decl).status, "complete", "complete in " .. dir)
  end
  T.eq(created("simple") - simple0, 2, "each directory got its own capture")
  T.no_violations() -- the emulator counts a reused intent as a duplicate create
end)

T.case("declaration mistakes raise at once, naming the field and the rule", function()
  local before = emulator.stats().requests.total
  local function raises(decl, pattern)
    T.raises(function() campaign.run(decl) end, pattern, pattern)
  end
  raises({ bucket = BUCKET }, "^[^:]*campaign_test%.lua:%d+: campaign%.run: name must be")
  raises({ name = "x", full = { colos = {} }, bucket = BUCKET },
         "campaign.run: full.colos must be a non%-empty list of colo names")
  raises({ name = "x", full = { colo = "ORD" } }, "full: unknown field 'colo'")
  raises({ name = "x", full = { colos = { "ORD" }, time_limit = 60 } }, "full captures need a bucket")
  raises({ name = "x", sample = { time_limit = 60 } }, "sample: packet_limit")
  raises({ name = "x", sample = { time_limit = 500, packet_limit = 1 } }, "time_limit must be between 1 and")
  raises({ name = "x", sample = { time_limit = 5, packet_limit = 1 }, on_error = "halt" }, "on_error must be")
  raises({ name = "x" }, "nothing to capture")
  raises({ name = "x", bucket = "https://example.com" }, "bucket: 'https://example.com' is not a bucket URI")
  T.eq(emulator.stats().requests.total, before, "no request was made")
end)

T.rmtree(OUT)
T.done()
