--[[ register_bucket.lua: make a bucket usable for full captures (bucket ownership).

What it does
  Cloudflare writes full captures only to a bucket whose ownership the account has proven:
  pcaprun registers the bucket (Cloudflare then writes a challenge file,
  ownership-challenge-<hex>.txt, into it), reads that file from the bucket itself over the S3
  API, sends its contents back, and waits while Cloudflare verifies (this can take 5-10
  minutes). A bucket already validated needs nothing. Campaigns do the same before their first
  full capture; this script is for doing it ahead of time, or by hand for a bucket pcaprun
  cannot read.

Run it
  pcaprun scripts/register_bucket.lua --bucket 's3://my-bucket/pcaps?region=us-east-1'
      one run: registers, reads the challenge from the bucket (with the keys AWS tools use:
      AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...; R2 keys from the URI),
      validates and waits. For a bucket pcaprun cannot read, the first run prints the challenge
      file's name and why it could not read it; copy the file from the bucket
      (e.g. aws s3 cp s3://my-bucket/pcaps/ownership-challenge-....txt -), then:
  pcaprun scripts/register_bucket.lua --bucket 's3://my-bucket/pcaps?region=us-east-1' \
      --challenge "$(cat ownership-challenge-....txt)"
  pcaprun --emulate --time-scale 0.01 scripts/register_bucket.lua     # rehearsal, ~1 s

Options (environment variables in brackets): see --help.
Exit status: 0 when the bucket is validated, 1 otherwise, 2 for bad options.
]]
local args = require "pcaprun.args"
local bucket = require "pcaprun.bucket"
local emulator = require "pcaprun.emulator"

local DEMO_BUCKET = "s3://pcaprun-demo/captures?region=us-east-1"

local opt = args.parse(arg, {
  bucket = { default = DEMO_BUCKET, env = "PCAPRUN_BUCKET", help = "bucket URI (destination_conf)" },
  bucket_dir = { env = "PCAPRUN_BUCKET_DIR", help = "local copy of the bucket (to read the challenge file)" },
  challenge = { help = "the challenge file's contents" },
  wait = { default = 900, type = "number", help = "seconds to wait for Cloudflare's verdict" },
}, "Usage: pcaprun [--emulate] scripts/register_bucket.lua [options]")
if not opt then return end
if opt.bucket == DEMO_BUCKET and not emulator.running() then
  error("outside --emulate, name your bucket: --bucket URI or PCAPRUN_BUCKET", 0)
end
local ok, why = bucket.parse(opt.bucket)
if not ok then error(why, 0) end

local validated, err = bucket.ensure(opt.bucket,
                                     { mirror = opt.bucket_dir, challenge = opt.challenge, wait = opt.wait })
if not validated then error(tostring(err.message or err), 0) end
print(("bucket %s is validated for full captures"):format(bucket.redact(opt.bucket)))
