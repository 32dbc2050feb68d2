--- pcaprun.bucket: where full captures land.
-- Cloudflare writes a full capture into the user's bucket as pcap_<id>.pcap (sometimes several
-- files, pcap_<id>*.pcap, one per server). pcaprun cannot read S3, GCS or R2 itself yet; when
-- a local mirror of the buckets exists it copies the objects from there:
--   <mirror>/<bucket>/<path>/pcap_<id>.pcap   for destination_conf = s3://<bucket>/<path>?...
-- The mirror is an explicit directory, else $PCAPRUN_BUCKET_DIR, else the emulator's bucket
-- directory under --emulate.
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local log = require "pcaprun.log"
local pcap = require "pcaprun.pcap"
local perror = require "pcaprun.error"
local task = require "pcaprun.task"

local M = {}

--- bucket.mirror([dir]) -> directory | nil: the local mirror of the buckets, if there is one.
function M.mirror(dir)
  if dir and dir ~= "" then return dir end
  local env = os.getenv("PCAPRUN_BUCKET_DIR")
  if env and env ~= "" then return env end
  if emulator.running() then return emulator.bucket_dir() end
  return nil
end

--- bucket.parse(uri) -> {scheme=, bucket=, path=} | nil, message. path is "" or "a/b" (no
-- query); only s3://, gs:// and r2:// are buckets.
function M.parse(uri)
  if type(uri) ~= "string" then return nil, "a bucket URI must be a string" end
  local scheme, rest = uri:match("^(%w+)://([^?]*)")
  if not (scheme == "s3" or scheme == "gs" or scheme == "r2") then
    return nil, ("'%s' is not a bucket URI (s3://, gs:// or r2://)"):format(M.redact(uri))
  end
  local parts = {}
  for seg in rest:gmatch("[^/]+") do parts[#parts + 1] = seg end
  if #parts == 0 then return nil, ("'%s' names no bucket"):format(M.redact(uri)) end
  return { scheme = scheme, bucket = parts[1], path = table.concat(parts, "/", 2) }
end

--- bucket.redact(uri) -> uri with credentials in its query (R2 keys) replaced by "REDACTED".
function M.redact(uri)
  return (tostring(uri):gsub("([?&][%w_-]*[Kk][Ee][Yy][%w_-]*=)[^&]*", "%1REDACTED"))
end

--- bucket.object_uri(uri, id) -> where the capture's file lands, e.g.
-- "s3://bucket/path/pcap_<id>.pcap" (no query, so no credentials).
function M.object_uri(uri, id)
  local b = assert(M.parse(uri))
  local dir = b.path ~= "" and (b.bucket .. "/" .. b.path) or b.bucket
  return ("%s://%s/pcap_%s.pcap"):format(b.scheme, dir, id)
end

--- bucket.objects(mirror, uri, id) -> sorted list of local paths of the capture's files in the
-- mirror (empty when there are none yet).
function M.objects(mirror, uri, id)
  local b = assert(M.parse(uri))
  local dir = mirror .. "/" .. b.bucket .. (b.path ~= "" and ("/" .. b.path) or "")
  local found = {}
  local prefix = "pcap_" .. id
  for _, name in ipairs(fs.list(dir) or {}) do
    if name:sub(1, #prefix) == prefix and name:match("%.pcap$") then
      found[#found + 1] = dir .. "/" .. name
    end
  end
  return found
end

--- bucket.challenge(mirror, uri, filename) -> contents | nil: the ownership challenge file
-- Cloudflare wrote into the bucket, read from the local mirror.
function M.challenge(mirror, uri, filename)
  local b = mirror and M.parse(uri)
  if not b or type(filename) ~= "string" or filename:find("/", 1, true) then return nil end
  local f = io.open(("%s/%s%s/%s"):format(mirror, b.bucket, b.path ~= "" and ("/" .. b.path) or "", filename))
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- The account's ownership record for uri, the newest first: nil when there is none.
local function record(uri)
  local list, err = pcap.buckets.list()
  if not list then return nil, err end
  local best
  for _, r in ipairs(list) do
    local newer = not best or (r.submitted or "") > (best.submitted or "")
    if r.destination_conf == uri and newer then best = r end
  end
  return best or false
end

--- bucket.ensure(uri [, {mirror =, challenge =, wait = 900}]) -> true | nil, err
-- Full captures need a bucket whose ownership the account has validated (runtime/API.md#8-buckets).
-- True when the ownership list shows uri validated. Otherwise registers it (Cloudflare writes a
-- challenge file into the bucket) and validates it with `challenge` (the file's contents) or,
-- when the local mirror holds the file, with what it holds; then waits (up to `wait` API
-- seconds) while Cloudflare verifies. Without either: nil, err (BUCKET_NOT_VALIDATED) naming
-- the challenge file and how to validate. When
-- the list itself fails (a token without the permission, say) it logs a warning and returns
-- true: the create will say what is wrong.
function M.ensure(uri, opts)
  opts = opts or {}
  local shown = M.redact(uri)
  local r, err = record(uri)
  if r == nil then
    log.warn("bucket: cannot check the bucket's ownership; trying anyway",
             { bucket = shown, error = tostring(err) })
    return true
  end
  if r and r.status == "success" then return true end
  if not r or r.status == "failed" then
    log.info("bucket: registering the bucket for full captures", { bucket = shown })
    r, err = pcap.buckets.add(uri)
    if not r then return nil, err end
  end
  if r.status == "pending" and (r.validated or "") == "" then
    local challenge = opts.challenge or M.challenge(M.mirror(opts.mirror), uri, r.filename)
    if not challenge then
      local how = "validate with `pcaprun scripts/register_bucket.lua --bucket '%s' --challenge CONTENTS` "
        .. "(the file's contents), or give --bucket-dir a local copy of the bucket"
      return nil, perror.make("BUCKET_NOT_VALIDATED",
        ("bucket %s is not validated for full captures: Cloudflare wrote the challenge file %s "
         .. "into it; " .. how):format(shown, tostring(r.filename), shown))
    end
    r, err = pcap.buckets.validate(uri, challenge)
    if not r then return nil, err end
  end
  local deadline = task.now() + (opts.wait or 900)
  while r and r.status == "pending" and task.now() < deadline do
    log.info("bucket: waiting for Cloudflare to verify the bucket's ownership", { bucket = shown })
    task.sleep(30)
    r, err = record(uri)
    if r == nil then return nil, err end
  end
  if r and r.status == "success" then return true end
  return nil, perror.make("BUCKET_NOT_VALIDATED",
    ("bucket %s: ownership %s"):format(shown, r and r.status or "record gone"))
end

return M
