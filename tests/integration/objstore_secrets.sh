#!/usr/bin/env bash
# ctest-labels: objstore
# ctest-timeout: 300
# Object-store secrets never leak: campaigns that fetch full captures over the S3 API with an AWS
# secret and session token from the environment, and with R2 keys in the bucket URI, succeed;
# others fail (a key the store does not know, so the bucket cannot be validated); a script prints
# stores and their errors. The AWS secret, the session token and the R2 secret key must appear in
# no output (text and JSON logs at debug level), no file the runs wrote, and no journal row.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
work=$(mktemp -d)
trap 'stop_emulator; rm -rf "$work"' EXIT
F=0.01
SECRET="aws-$RANDOM-S3cretAccessK3y/+=$RANDOM"
TOKEN="tok-$RANDOM-Sess10nT0ken-$RANDOM"
R2SECRET="r2-$RANDOM-R2S3cretK3y-$RANDOM"
start_emulator "$work" --time-scale $F --bucket-dir "$work/buckets" \
  --config '{"full_files": 2, "s3_access_key_id": "AKIDSECRETS"}' || exit 1
S3=$EMU_S3
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=secrets CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=AKIDSECRETS AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN
CAMPAIGN="$PCAPRUN_SRC/tests/integration/lib/objstore_campaign.lua"
J=$work/journal.db

# run NAME STATUS BUCKET: the campaign NAME into BUCKET (from the environment, never argv), with
# text and then JSON debug logs; it must exit STATUS.
run() {
  local name=$1 want=$2 fmt
  for fmt in text json; do
    PCAPRUN_BUCKET=$3 $PCAPRUN --time-scale $F --journal "$J" --log-level debug --log-format $fmt \
      "$CAMPAIGN" "$work/out" - "$name-$fmt" >"$work/$name.$fmt.out" 2>&1
    local rc=$?
    t "campaign $name ($fmt logs) exited $want" "[ $rc = $want ]" || tail -5 "$work/$name.$fmt.out"
  done
}
run s3 0 "s3://s3-bucket/caps?region=us-east-1"
run r2 0 "r2://r2-bucket/caps?account-id=0123456789abcdef0123456789abcdef&access-key-id=AKIDSECRETS&secret-access-key=$R2SECRET"
AWS_ACCESS_KEY_ID=AKIDUNKNOWN run unknown-key 1 "s3://other-bucket/caps?region=us-east-1"
t "the failed campaign says why" "grep -q InvalidAccessKeyId $work/unknown-key.text.out"
t "the campaigns fetched and merged" "[ \$(find $work/out -name '*.pcap' | wc -l) = 12 ]"

OUT=$work R2URI="r2://r2-bucket/caps?account-id=0123456789abcdef0123456789abcdef&access-key-id=AKIDSECRETS&secret-access-key=$R2SECRET" \
$PCAPRUN --no-journal -e '
  local bucket = require "pcaprun.bucket"
  local log = require "pcaprun.log"
  for _, uri in ipairs { os.getenv("R2URI"), "s3://s3-bucket/caps" } do
    local s = assert(bucket.open(uri))
    print(s, s.uri, s.endpoint)
    print(s:read("nope"))
    print(s:fetch("nope.pcap", os.getenv("OUT") .. "/x.pcap"))
    print(bucket.open(uri, { access_key_id = "AKIDSECRETS", secret_access_key = os.getenv("AWS_SECRET_ACCESS_KEY"),
                             endpoint = "http://example.com" }))
    print(bucket.open((uri:gsub("caps", "caps/x y"))))
    log.warn("store", { store = tostring(s) })
  end
  error("deliberate failure at the end")' >"$work/script.out" 2>&1
t "the script reached its end" "grep -q 'deliberate failure' $work/script.out"
t "a store shows its URI redacted" "grep -q 'secret-access-key=<redacted>' $work/script.out"

$PCAPRUN journal --json "$J" >"$work/journal.json" 2>&1
t "the journal holds the runs (and the fetches)" "grep -q 'capture_id' $work/journal.json && grep -aq bucket.fetch: $J*"
for s in "$SECRET" "$TOKEN" "$R2SECRET"; do
  t "no output, file or journal row holds the secret ${s%%-*}" \
    "! grep -raqF -- '$s' $work/*.*.out $work/script.out $work/out $work/journal.json $J* $work/emu.err"
done
exit $fail
