-- pcaprun-test: --emulate --time-scale 0.01
-- pcaprun.bucket: bucket URIs, redaction, the local mirror.
local bucket = require "pcaprun.bucket"
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local T = require "testlib"

local ID = "0123456789abcdef0123456789abcdef"

T.case("parse and object_uri", function()
  local b = bucket.parse("s3://my-bucket/a/b?region=us-east-1")
  T.eq(b.scheme, "s3", "scheme")
  T.eq(b.bucket, "my-bucket", "bucket")
  T.eq(b.path, "a/b", "path")
  T.eq(bucket.parse("gs://g").path, "", "no path")
  T.eq(bucket.object_uri("s3://my-bucket/a/?region=x", ID), "s3://my-bucket/a/pcap_" .. ID .. ".pcap",
       "object")
  T.eq(bucket.object_uri("r2://r?account-id=1&secret-access-key=S", ID), "r2://r/pcap_" .. ID .. ".pcap",
       "no credentials in object URIs")
  local bad, err = bucket.parse("https://example.com/x")
  T.eq(bad, nil, "not a bucket")
  T.match(err, "not a bucket URI", "message")
  T.eq(bucket.parse("s3://"), nil, "no bucket name")
end)

T.case("redact", function()
  T.eq(bucket.redact("r2://r?account-id=A&access-key-id=K1&secret-access-key=S2"),
       "r2://r?account-id=A&access-key-id=<redacted>&secret-access-key=<redacted>", "R2 keys")
  T.eq(bucket.redact("s3://b?region=us-east-1"), "s3://b?region=us-east-1", "nothing secret")
  -- the same redaction as the runtime's (C): tokens, secrets, sessions, signatures, userinfo
  T.eq(bucket.redact("s3://b/p?region=r&session_token=T1&secret=S1&X-Amz-Signature=G1"),
       "s3://b/p?region=r&session_token=<redacted>&secret=<redacted>&X-Amz-Signature=<redacted>",
       "tokens, secrets, signatures")
  T.eq(bucket.redact("s3://AKID:SECRET@b/p"), "s3://<redacted>@b/p", "userinfo")
  local u = "r2://r?account-id=A&password=P&auth=Q"
  T.eq(bucket.redact(u), require("pcaprun.log").redact(u), "log.redact agrees")
end)

T.case("mirror and objects", function()
  T.eq(bucket.mirror(), emulator.bucket_dir(), "under --emulate, the emulator's directory")
  T.eq(bucket.mirror("/m"), "/m", "an explicit directory wins")
  local dir = T.tmpdir()
  fs.mkdir(dir .. "/bk/p")
  local names = { "pcap_" .. ID .. ".pcap", "pcap_" .. ID .. "_2.pcap", "pcap_other.pcap", "x.txt" }
  for _, name in ipairs(names) do
    fs.write(dir .. "/bk/p/" .. name, "")
  end
  local found = bucket.objects(dir, "s3://bk/p?region=x", ID)
  T.eq(#found, 2, "both files of the capture, nothing else")
  T.eq(found[1], dir .. "/bk/p/pcap_" .. ID .. ".pcap", "sorted, full paths")
  T.eq(#bucket.objects(dir, "s3://none", ID), 0, "a missing directory has no objects")
  T.rmtree(dir)
end)

T.case("ensure: registers the bucket and answers the challenge from the mirror", function()
  emulator.configure { auto_validate_buckets = false }
  local uri = "s3://ensure-test/pcaps?region=us-east-1"
  local n0 = emulator.stats().requests.total
  T.eq(bucket.ensure(uri), true, "a new bucket is registered and validated")
  T.eq(emulator.stats().requests.total - n0, 3, "list, add, validate")
  local own = require("pcaprun.pcap").buckets.list()
  T.eq(own[1].destination_conf == uri and own[1].status, "success", "the ownership list shows it validated")
  n0 = emulator.stats().requests.total
  T.eq(bucket.ensure(uri), true, "an already validated bucket")
  T.eq(emulator.stats().requests.total - n0, 1, "costs one list")
  emulator.configure { auto_validate_buckets = true }
end)

T.case("ensure: a bucket pcaprun cannot read: says which file, why, and how to validate", function()
  emulator.configure { auto_validate_buckets = false, s3_access_denied = true }
  local ok, err = bucket.ensure("s3://no-mirror/x?region=us-east-1", { mirror = T.tmpdir() })
  T.eq(ok, nil, "not usable")
  T.eq(err.code, "BUCKET_NOT_VALIDATED", "code")
  T.match(err.message, "ownership%-challenge%-%x+%.txt", "names the challenge file")
  T.match(err.message, "AccessDenied", "why it could not be read")
  T.match(err.message, "register_bucket%.lua", "says how to validate")
  emulator.configure { auto_validate_buckets = true, s3_access_denied = false }
end)

T.case("ensure: reads the challenge from the bucket itself (no mirror)", function()
  emulator.configure { auto_validate_buckets = false }
  local uri = "s3://unattended/pcaps?region=us-east-1"
  local s3 = emulator.stats().s3.by_operation.get
  T.eq(bucket.ensure(uri, { mirror = T.tmpdir() }), true, "registered, read and validated")
  T.eq(emulator.stats().s3.by_operation.get - s3, 1, "one GET of the challenge over the S3 API")
  emulator.configure { auto_validate_buckets = true }
end)

T.done()
