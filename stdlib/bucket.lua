--- pcaprun.bucket: where full captures land.
-- Cloudflare writes a full capture into the user's bucket as pcap_<id>.pcap (sometimes several
-- files, pcap_<id>*.pcap, one per server). pcaprun cannot read S3, GCS or R2 itself yet; when
-- a local mirror of the buckets exists it copies the objects from there:
--   <mirror>/<bucket>/<path>/pcap_<id>.pcap   for destination_conf = s3://<bucket>/<path>?...
-- The mirror is an explicit directory, else $PCAPRUN_BUCKET_DIR, else the emulator's bucket
-- directory under --emulate.
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"

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

return M
