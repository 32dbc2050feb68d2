--- pcaprun.bucket: where full captures land, and reading them back.
-- Cloudflare writes a full capture into the user's bucket as pcap_<id>.pcap (sometimes several
-- files, pcap_<id>*.pcap, one per server), and the ownership challenge as
-- ownership-challenge-<hex>.txt. pcaprun reads the bucket itself over the S3 API (S3, R2 and
-- GCS speak it; see bucket.open for where credentials come from). For a bucket it cannot read, a
-- local mirror of the buckets still works:
--   <mirror>/<bucket>/<path>/pcap_<id>.pcap   for destination_conf = s3://<bucket>/<path>?...
-- The mirror is an explicit directory, else $PCAPRUN_BUCKET_DIR, else the emulator's bucket
-- directory under --emulate.
local emulator = require "pcaprun.emulator"
local fs = require "pcaprun.fs"
local log = require "pcaprun.log"
local objstore = require "pcaprun.objstore"
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

--- bucket.redact(uri) -> uri with its credentials (userinfo, and query values named like keys,
-- secrets, tokens, passwords, signatures, sessions) replaced by "<redacted>": log.redact, the
-- runtime's own redaction, so Lua and C hide the same things.
function M.redact(uri)
  return log.redact(tostring(uri))
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

local stores = {} -- bucket URI -> store, for calls without options

--- bucket.open(uri [, opts]) -> store | nil, err: the bucket read over the S3 API.
-- opts: access_key_id, secret_access_key, session_token, region, endpoint, profile. Without them
-- (the stores are then cached per URI), credentials come the way each ecosystem's tools find
-- them: R2 keys in the URI's query (access-key-id, secret-access-key), else AWS_ACCESS_KEY_ID /
-- AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else AWS_PROFILE (or "default") in
-- ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE); the region
-- from the URI, AWS_REGION / AWS_DEFAULT_REGION or the profile; the endpoint from
-- AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else the provider's (under --emulate the emulator's S3
-- server, with its keys). err (INVALID) says what is missing.
function M.open(uri, opts)
  if opts then return objstore.open(uri, opts) end
  if stores[uri] then return stores[uri] end
  local store, err = objstore.open(uri)
  stores[uri] = store
  return store, err
end

-- The store of a store-or-URI argument.
local function store_of(s)
  if type(s) ~= "string" then return s end
  return M.open(s)
end

--- bucket.capture_objects(store | uri, id [, opts]) -> {object...} | nil, err: the capture's files
-- in the bucket (pcap_<id>*.pcap beside where the URI points), sorted by name; each object is
-- {key, name, size, etag, modified}. opts: timeout.
function M.capture_objects(store, id, opts)
  local s, err = store_of(store)
  if not s then return nil, err end
  local list, lerr = s:list("pcap_" .. id, opts)
  if not list then return nil, lerr end
  local found = {}
  for _, o in ipairs(list) do
    if not o.name:find("/", 1, true) and o.name:match("%.pcap$") then found[#found + 1] = o end
  end
  table.sort(found, function(a, b) return a.name < b.name end)
  return found
end

--- bucket.fetch_capture(store | uri, id, dir [, opts]) -> {file...} | nil, err
-- Fetches every file of the capture into DIR/<name>: each streamed to .part (a fetch cut short
-- resumes there, also in a later run), checked as a pcap, fsynced and renamed; one the journal
-- shows fetched already is not fetched again. A file is {path, name, object (URI, no query),
-- bytes, packets, etag, reused}. An empty list: nothing in the bucket (yet). opts: timeout.
function M.fetch_capture(store, id, dir, opts)
  local s, err = store_of(store)
  if not s then return nil, err end
  local objects, lerr = M.capture_objects(s, id, opts)
  if not objects then return nil, lerr end
  local files = {}
  for _, o in ipairs(objects) do
    local info, ferr = s:fetch(o.name, dir .. "/" .. o.name,
                               { etag = o.etag ~= "" and o.etag or nil, size = o.size,
                                 timeout = opts and opts.timeout })
    if not info then return nil, ferr end
    files[#files + 1] = { path = info.path, name = o.name, bytes = info.bytes, packets = info.packets,
                          object = ("%s://%s/%s"):format(s.provider, s.bucket, o.key), etag = info.etag,
                          reused = info.reused }
  end
  return files
end

--- bucket.challenge(uri, filename [, {mirror =, bucket_options =}]) -> contents | nil, why: the
-- ownership challenge file Cloudflare wrote into the bucket, read from the bucket itself (opened
-- with bucket_options), else from the local mirror.
function M.challenge(uri, filename, opts)
  opts = opts or {}
  local b = M.parse(uri)
  if not b or type(filename) ~= "string" or filename:find("/", 1, true) then
    return nil, "no challenge file"
  end
  local s, why = M.open(uri, opts.bucket_options)
  if s then
    local text, err = s:read(filename, { max_bytes = 64 * 1024 })
    if text then return text end
    why = err
  end
  local mirror = M.mirror(opts.mirror)
  local dir = b.path ~= "" and (b.bucket .. "/" .. b.path) or b.bucket
  local f = mirror and io.open(("%s/%s/%s"):format(mirror, dir, filename))
  if not f then return nil, tostring(why and (why.message or why)) end
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

--- bucket.ensure(uri [, {mirror =, challenge =, bucket_options =, wait = 900}]) -> true | nil, err
-- Full captures need a bucket whose ownership the account has validated (runtime/API.md#8-buckets).
-- True when the ownership list shows uri validated. Otherwise registers it (Cloudflare writes a
-- challenge file into the bucket), reads the file from the bucket itself (or the local mirror)
-- unless `challenge` gives its contents, validates, and waits (up to `wait` API seconds) while
-- Cloudflare verifies. When the file cannot be read: nil, err (BUCKET_NOT_VALIDATED) naming the
-- challenge file, why it could not be read, and how to validate by hand. When
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
    local challenge, why = opts.challenge, nil
    if not challenge then challenge, why = M.challenge(uri, r.filename, opts) end
    if not challenge then
      local how = "validate with `pcaprun scripts/register_bucket.lua --bucket '%s' --challenge CONTENTS` "
        .. "(the file's contents), or give --bucket-dir a local copy of the bucket"
      return nil, perror.make("BUCKET_NOT_VALIDATED",
        ("bucket %s is not validated for full captures: Cloudflare wrote the challenge file %s "
         .. "into it, which pcaprun could not read (%s); " .. how):format(shown, tostring(r.filename),
                                                                       tostring(why), shown))
    end
    if not opts.challenge then
      log.info("bucket: answering the ownership challenge read from the bucket", { bucket = shown })
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
