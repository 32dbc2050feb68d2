#!/usr/bin/env bash
# ctest-labels: serve
# ctest-timeout: 300
# pcaprun serve against a `pcaprun emulator` (issue 15), with the payloads as the senders document
# them (lib/alerts/): a Cloudflare L3/4 DDoS START and END, an advanced one on a prefix, its test
# message, a PagerDuty incident.triggered signed with the secret and with a rotated pair, an
# Alertmanager group. Shown: each accepted (202) and routed to its playbook (lib/serve_routes.lua
# marks what ran); a wrong or missing secret, signature or token -> 401 and no capture; a
# malformed body -> 400; the same delivery three times -> one playbook run; kill -9 right after a
# 202, then a restart on the same journal -> the playbook runs once (one capture for its intent);
# END stops the full capture its START made; /healthz, /metrics; SIGHUP reloads the script (a
# broken one is refused, the routes stay) and keeps serving; SIGTERM drains and exits 0; no
# secret in any log, the journal or the metrics.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}"
source "$PCAPRUN_SRC/tests/integration/lib/emulator.sh"
source "$PCAPRUN_SRC/tests/integration/lib/serve.sh"
work=$(mktemp -d)
trap 'stop_serve KILL; stop_emulator; [[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
P=$PCAPRUN
A=$PCAPRUN_SRC/tests/integration/lib/alerts
F=0.01
export XDG_STATE_HOME=$work/state
start_emulator "$work" --time-scale $F --config '{"auto_validate_buckets":true}' || exit 1
export CLOUDFLARE_BASE_URL=$EMU_URL CLOUDFLARE_API_TOKEN=serve-test-api-token CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef
CF=cf-secret-5f1d2a7e PD=pd-secret-93b0c4aa PD_OLD=pd-secret-retired-0001 AM=am-token-7c22e019
export PCAPRUN_CF_WEBHOOK_SECRET=$CF PCAPRUN_PAGERDUTY_WEBHOOK_SECRET=$PD PCAPRUN_ALERTMANAGER_TOKEN=$AM
export SERVE_MARKS=$work/marks
touch "$SERVE_MARKS"
J=$work/journal.db
LOG=$work/serve.log
routes=$work/routes.lua
cp "$PCAPRUN_SRC/tests/integration/lib/serve_routes.lua" "$routes"
serve() { start_serve "$work" "$LOG" --time-scale $F --journal "$J" --listen 127.0.0.1:0 "$routes"; }
marks() { grep -c "^$1\( \|$\)" "$SERVE_MARKS"; }
atleast() { [ "$(marks "$1")" -ge "$2" ]; } # atleast MARK N: N such lines or more
captures() { curl -sf "$EMU_ADMIN/captures" > "$work/caps.json" && "$P" -e "
  local n = 0
  for _, c in ipairs(require('cjson').decode(io.open('$work/caps.json'):read('a')).captures) do
    if ($1) then n = n + 1 end end
  print(n)"; }
# alert ID FIELD: a field of alert ID as the journal holds it (pcaprun journal --json)
alert() { "$P" journal --json "$J" > "$work/j.json" && "$P" -e "
  for _, a in ipairs(require('cjson').decode(io.open('$work/j.json'):read('a')).alerts) do
    if a.id == $1 then local v = a['$2']; print(type(v) == 'table' and #v or v) end end"; }

# --- the command line
t "pcaprun serve --help: the usage, exit 0" "'$P' serve --help | grep -q '^Usage: pcaprun serve \[options\] SCRIPT'"
"$P" serve --journal "$J" > /dev/null 2> "$work/usage.err"
t "no SCRIPT: exit 2, saying so" "[[ \$? == 2 ]] && grep -q 'missing SCRIPT' '$work/usage.err'"
"$P" serve --no-journal "$routes" > /dev/null 2> "$work/usage.err"
t "--no-journal: refused (exit 2): every alert is recorded" "[[ \$? == 2 ]] && grep -q 'journal' '$work/usage.err'"
"$P" serve --journal "$J" --listen nowhere:80 "$routes" > /dev/null 2> "$work/usage.err"
t "a bad --listen: exit 2, naming it" "[[ \$? == 2 ]] && grep -q -- '--listen' '$work/usage.err'"
echo 'local serve = require "pcaprun.serve"' > "$work/noroute.lua"
"$P" serve --journal "$J" --listen 127.0.0.1:0 "$work/noroute.lua" > /dev/null 2> "$work/usage.err"
t "a script without a route: exit 2, saying so" "[[ \$? == 2 ]] && grep -q 'declares no route' '$work/usage.err'"

serve || exit 1
code=$(curl -s -o "$work/health" -w '%{http_code}' "$SERVE_URL/healthz")
t "GET /healthz: 200 ok" "[[ $code == 200 && \$(cat '$work/health') == ok ]]"

# --- proofs: nothing runs without one
pd_body=$A/pagerduty_triggered.json
t "Cloudflare without cf-webhook-auth: 401" "[[ \$(post cloudflare $A/cloudflare_ddos_start.json) == 401 ]]"
t "Cloudflare with a wrong secret: 401" "[[ \$(post cloudflare $A/cloudflare_ddos_start.json -H 'cf-webhook-auth: ${CF}x') == 401 ]]"
t "PagerDuty without a signature: 401" "[[ \$(post pagerduty $pd_body -H 'X-Webhook-Id: w-none') == 401 ]]"
t "PagerDuty signed with another secret: 401" \
  "[[ \$(post pagerduty $pd_body -H \"X-PagerDuty-Signature: \$(pd_sign $pd_body $PD_OLD)\") == 401 ]]"
cp "$pd_body" "$work/pd_tampered.json" && sed -i 's/"urgency":"high"/"urgency":"low"/' "$work/pd_tampered.json"
t "PagerDuty, the body changed after signing: 401" \
  "[[ \$(post pagerduty $work/pd_tampered.json -H \"X-PagerDuty-Signature: \$(pd_sign $pd_body $PD)\") == 401 ]]"
t "Alertmanager without a token: 401" "[[ \$(post alertmanager $A/alertmanager_group.json) == 401 ]]"
t "Alertmanager with a wrong token: 401" "[[ \$(post alertmanager $A/alertmanager_group.json -H 'Authorization: Bearer nope') == 401 ]]"
sleep 0.5
t "... and no capture, no playbook" "[[ \$(captures true) == 0 && ! -s '$SERVE_MARKS' ]]"
echo '{"text": ' > "$work/broken.json"
t "a body that is not JSON: 400" "[[ \$(post cloudflare $work/broken.json -H 'cf-webhook-auth: $CF') == 400 ]]"
echo '{"receiver":"x","version":"3","alerts":[]}' > "$work/am_v3.json"
t "an Alertmanager payload of another version: 400" "[[ \$(post alertmanager $work/am_v3.json -H 'Authorization: Bearer $AM') == 400 ]]"
t "an unknown hook: 404" "[[ \$(post grafana $A/cloudflare_test.json) == 404 ]]"

# --- Cloudflare's test message, delivered three times: one run
for i in 1 2 3; do
  t "Cloudflare test message, delivery $i: 202" "[[ \$(post cloudflare $A/cloudflare_test.json -H 'cf-webhook-auth: $CF') == 202 ]]"
done
wait_for grep -q '^test ' "$SERVE_MARKS"
sleep 0.3
t "... routed once" "[[ \$(marks test) == 1 ]]"

# --- PagerDuty: signed with the secret; then during a rotation (old and new signatures), each
# delivery three times (PagerDuty retries with the same X-Webhook-Id)
sig=$(pd_sign "$pd_body" "$PD")
for i in 1 2 3; do
  t "PagerDuty incident.triggered, delivery $i: 202" \
    "[[ \$(post pagerduty $pd_body -H 'X-Webhook-Id: w-0001' -H 'X-PagerDuty-Signature: $sig') == 202 ]]"
done
sed 's/01DEN4HPBQ5FGV9E8C3U2M0XWZ/01DEN4HPBQ5FGV9E8C3U2M0XYY/; s/PGR0VU2/PGR0VU3/g' "$pd_body" > "$work/pd2.json"
rotated="$(pd_sign "$work/pd2.json" "$PD_OLD"),$(pd_sign "$work/pd2.json" "$PD")"
t "PagerDuty with a rotated pair of signatures: 202" \
  "[[ \$(post pagerduty $work/pd2.json -H 'X-Webhook-Id: w-0002' -H 'X-PagerDuty-Signature: $rotated') == 202 ]]"
wait_for atleast pd-done 2
sleep 0.3
t "... each routed once: two playbook runs, two captures" "[[ \$(marks pd-begin) == 2 && \$(marks pd-done) == 2 && \$(captures \"c.type == 'simple'\") == 2 ]]"

# --- Alertmanager: a group of two alerts
t "Alertmanager group of two: 202" "[[ \$(post alertmanager $A/alertmanager_group.json -H 'Authorization: Bearer $AM') == 202 ]]"
wait_for atleast am 2
t "... both routed, with their targets and filters (NTP reflection: source port 123, UDP)" \
  "grep -q 'am [0-9]* DDoSAttack 198.51.100.9 .*\"source_port\":123' '$SERVE_MARKS' &&
   grep -q 'am [0-9]* DDoSAttack 198.51.100.10 .*\"protocol\":6' '$SERVE_MARKS'"
t "... and again: nothing new" "[[ \$(post alertmanager $A/alertmanager_group.json -H 'Authorization: Bearer $AM') == 202 ]]"

# --- Cloudflare L3/4 DDoS: START makes a full capture, END stops it
t "Cloudflare dos_attack_l4 START: 202" "[[ \$(post cloudflare $A/cloudflare_ddos_start.json -H 'cf-webhook-auth: $CF') == 202 ]]"
wait_for grep -q '^full ' "$SERVE_MARKS"
start_id=$(awk '/^full / { print $2; exit }' "$SERVE_MARKS")
cap_id=$(awk '/^full / { print $3; exit }' "$SERVE_MARKS")
t "... a full capture of the target (destination_address 198.51.100.7, TCP/443)" \
  "[[ \$(captures \"c.type == 'full' and c.id == '$cap_id' and not c.stopped\") == 1 ]]"
t "Cloudflare dos_attack_l4 END: 202" "[[ \$(post cloudflare $A/cloudflare_ddos_end.json -H 'cf-webhook-auth: $CF') == 202 ]]"
wait_for grep -q '^end ' "$SERVE_MARKS"
t "END stopped the full capture its START made" "[[ \$(captures \"c.id == '$cap_id' and c.stopped\") == 1 ]]"
state_is() { [ "$(alert "$1" state)" == "$2" ]; }
wait_for state_is "$start_id" done
t "... and the START's run is recorded done, stopped by the END" \
  "[[ \$(alert $start_id state) == done && \$(alert $start_id note) == 'stopped by END alert'* && \$(alert $start_id captures) == 1 ]]"

# --- kill -9 right after a 202, then a restart: the playbook runs once
sed 's/01DEN4HPBQ5FGV9E8C3U2M0XWZ/01DEN4HPBQ5FGV9E8C3U2M0KIL/; s/PGR0VU2/PGR0VKL/g' "$pd_body" > "$work/pd3.json"
code=$(post pagerduty "$work/pd3.json" -H 'X-Webhook-Id: w-kill' -H "X-PagerDuty-Signature: $(pd_sign "$work/pd3.json" "$PD")")
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2> /dev/null
SERVE_PID=""
t "a 202, then kill -9" "[[ $code == 202 ]]"
serve || exit 1
wait_for atleast pd-done 3
sleep 0.5
kill_id=$(awk '/^pd-done / { id = $2 } END { print id }' "$SERVE_MARKS")
t "after the restart the playbook ran to its end once" "[[ \$(marks pd-done) == 3 && \$(alert $kill_id state) == done ]]"
t "... one capture for its intent (a run cut short is resumed, never duplicated)" \
  "[[ \$(captures \"c.intent and c.intent:find('^pagerduty%-$kill_id%.')\") == 1 ]]"

# --- metrics
curl -s -D "$work/metrics.h" "$SERVE_URL/metrics" > "$work/metrics"
t "GET /metrics: Prometheus text format 0.0.4" "grep -qi '^content-type: text/plain; version=0.0.4' '$work/metrics.h' &&
  grep -q '^# TYPE pcaprun_alerts_received_total counter' '$work/metrics'"
t "... the restarted daemon counts what it received" "grep -q '^pcaprun_alerts_received_total{source=\"pagerduty\"} 0' '$work/metrics'"
t "... an account's limits and the budget left" "grep -q '^pcaprun_full_slot_capacity{account=\"$CLOUDFLARE_ACCOUNT_ID\"} 1' '$work/metrics' &&
  grep -q '^pcaprun_budget_requests_left{server=.*principal=\"token:[0-9a-f]*\"} [0-9]' '$work/metrics'"
post cloudflare "$A/cloudflare_test.json" -H 'cf-webhook-auth: nope' > /dev/null
post cloudflare "$A/cloudflare_test.json" -H "cf-webhook-auth: $CF" > /dev/null
curl -s "$SERVE_URL/metrics" > "$work/metrics"
t "... rejections and deduplications by source" "grep -q '^pcaprun_alerts_rejected_total{source=\"cloudflare\",reason=\"unauthorized\"} 1' '$work/metrics' &&
  grep -q '^pcaprun_alerts_deduplicated_total{source=\"cloudflare\"} 1' '$work/metrics'"

# --- SIGHUP: a broken script is refused and the routes stay; a good one is read again
echo 'error("broken on purpose")' > "$routes"
kill -HUP "$SERVE_PID"
wait_for grep -q 'reload failed' "$LOG"
t "SIGHUP with a broken script: refused, still serving" "grep -q 'broken on purpose' '$LOG' &&
  [[ \$(curl -s -o /dev/null -w '%{http_code}' $SERVE_URL/healthz) == 200 ]]"
cp "$PCAPRUN_SRC/tests/integration/lib/serve_routes.lua" "$routes"
kill -HUP "$SERVE_PID"
wait_for grep -q 'serve: reloaded' "$LOG"
t "SIGHUP with the script back: reloaded" "grep -q 'serve: reloaded' '$LOG'"
sed 's/"alert_correlation_id":"6a7b8c9d/"alert_correlation_id":"6a7b8c9e/' "$A/cloudflare_advanced.json" > "$work/adv.json"
t "after the reload: an advanced L3/4 alert on a prefix is routed" \
  "[[ \$(post cloudflare $work/adv.json -H 'cf-webhook-auth: $CF') == 202 ]] && wait_for atleast full 2"
t "... its capture unfiltered on address (a prefix), from DNS reflectors (source port 53, UDP)" \
  "[[ \$(captures \"c.type == 'full' and not c.stopped\") == 1 ]] &&
   grep -q '^full [0-9]* [0-9a-f]* {\"protocol\":17,\"source_port\":53}$' '$SERVE_MARKS'"

# --- SIGTERM drains: the running playbook gets its grace, then is canceled; exit 0
stop_serve TERM
t "SIGTERM: a clean exit (0)" "[[ $? == 0 ]] && grep -q 'serve: draining' '$LOG' && grep -q 'serve: stopped' '$LOG'"
t "... after the grace, the running playbook's full capture was stopped" "[[ \$(captures \"c.type == 'full' and not c.stopped\") == 0 ]]"

# --- secrets: never in a log, the journal, the metrics, the marks
t "no secret in the logs, the journal, the metrics" \
  "! grep -rqa -e '$CF' -e '$PD' -e '$AM' '$LOG' '$work/metrics' '$SERVE_MARKS' '$J'* '$work/emu.err'"
exit $fail
