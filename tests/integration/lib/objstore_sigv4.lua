-- Driven by tests/integration/objstore_sigv4.sh against tests/s3/s3_server.mjs (SigV4 checked by
-- the AWS SDK's signer). Each step prints "ok - ..." or raises. Endpoints and keys come from the
-- environment the way AWS tools read them; BIG is a pcap in bucket "pcaps" under "caps/".
local bucket = require "pcaprun.bucket"
local fs = require "pcaprun.fs"
local http = require "pcaprun.http"

local OUT, A, B = os.getenv("OUT"), os.getenv("AWS_ENDPOINT_URL"), os.getenv("S3B")
local function ok(cond, what, err)
  if not cond then error(what .. (err and (": " .. tostring(err)) or ""), 0) end
  print("ok - " .. what)
end
local function admin(base, what, body)
  local r = assert(http.request { method = body and "POST" or "GET", url = base .. "/__admin/" .. what,
                                  body = body })
  return r.body
end

local store = assert(bucket.open("s3://pcaps/caps?region=us-east-1"))

-- get
local got, err = store:fetch("big.pcap", OUT .. "/big.pcap")
ok(got and got.bytes == tonumber(os.getenv("BIG_BYTES")) and got.packets > 0, "get: the whole object", err)

-- range resume after a cut
admin(A, "cut", '{"after": 300000}')
got, err = store:fetch("big.pcap", OUT .. "/resumed.pcap")
ok(got and got.bytes == tonumber(os.getenv("BIG_BYTES")), "get: cut after 300000 bytes, resumed with Range",
   err)
ok(admin(A, "stats"):find('"206":1', 1, true), "get: the resume was one ranged request (206)")

-- list with pagination (2500 keys: 3 pages)
local many = assert(bucket.open("s3://many"))
local list
list, err = many:list("obj/")
ok(list and #list == 2500 and list[1].name == "obj/k000000" and list[2500].name == "obj/k002499",
   "list: 2500 keys over 3 pages (continuation-token)", err)

-- missing object
got, err = store:fetch("nope.pcap", OUT .. "/nope.pcap")
ok(not got and err.code == "NOT_FOUND" and err.s3_code == "NoSuchKey" and err.http_status == 404,
   "missing object: NOT_FOUND (NoSuchKey)", err)
ok(not fs.stat(OUT .. "/nope.pcap") and not fs.stat(OUT .. "/nope.pcap.part"), "missing object: no file left")

-- 5xx then success
admin(A, "fail", '{"status": 503, "code": "SlowDown", "count": 2}')
list, err = store:list()
ok(list and #list >= 1, "503 SlowDown twice, then the list succeeds", err)
admin(A, "fail", '{"status": 500, "count": 1}')
got, err = store:fetch("small.pcap", OUT .. "/small.pcap")
ok(got and got.packets == 3, "500 once, then the get succeeds", err)

-- wrong region: the bucket lives in eu-west-1, the URI says us-east-1
local eu = assert(bucket.open("s3://eu-pcaps?region=us-east-1"))
list, err = eu:list()
ok(list and #list == 1 and eu.region == "eu-west-1", "wrong region: followed to the one the store names", err)
local head = eu:head("small.pcap")
ok(head and head.size > 0, "wrong region: then head works there")

-- wrong secret (an explicit option beats the environment's right one)
local wrong = assert(bucket.open("s3://pcaps/caps", { access_key_id = os.getenv("AWS_ACCESS_KEY_ID"),
                                                     secret_access_key = "not-the-secret" }))
list, err = wrong:list()
ok(not list and err.s3_code == "SignatureDoesNotMatch" and err.code == "API_ERROR" and not err.retryable,
   "wrong secret: SignatureDoesNotMatch, not retried", err)
ok(not tostring(err):find("not-the-secret", 1, true), "wrong secret: the error does not show it")

-- unknown key id
local unknown = assert(bucket.open("s3://pcaps/caps",
                                   { access_key_id = "AKIDUNKNOWN", secret_access_key = "x" }))
list, err = unknown:list()
ok(not list and err.s3_code == "InvalidAccessKeyId", "unknown key id: InvalidAccessKeyId", err)

-- session token (server B wants one): from a profile, and refused without it
local tok = assert(bucket.open("s3://pcaps/caps", { endpoint = B, profile = "session" }))
got, err = tok:fetch("small.pcap", OUT .. "/tok.pcap")
ok(got and got.packets == 3, "session token from the profile: signed and accepted", err)
local notok = assert(bucket.open("s3://pcaps/caps", { endpoint = B }))
list, err = notok:list()
ok(not list and err.s3_code == "InvalidToken", "no session token: refused", err)
print("done")
