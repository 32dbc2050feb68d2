-- The campaign of tests/integration/objstore_e2e.sh and objstore_secrets.sh:
--   pcaprun objstore_campaign.lua OUT BUCKET [NAME]
-- full captures in ORD, SJC and AMS into BUCKET ("-": $PCAPRUN_BUCKET, for URIs that hold keys,
-- which never go in argv), fetched over the S3 API and merged; exits 1 unless every target is
-- complete.
local campaign = require "pcaprun.campaign"
local out, uri, name = ...
if uri == "-" then uri = os.getenv("PCAPRUN_BUCKET") end
local r = campaign.run { name = name or "e2e", out = out, bucket = uri,
                         full = { colos = { "ORD", "SJC", "AMS" }, time_limit = 30 } }
print(r:summary())
if r.status ~= "complete" then os.exit(1) end
