#!/usr/bin/env bash
# ctest-labels: package
# ctest-timeout: 120
# make install into a staging directory (DESTDIR, prefix /usr: a packager's root), then the
# installed copy used from there: the binary, the man pages (rendered by man without warnings),
# the example scripts under share/pcaprun/scripts, the docs, the systemd unit with its hardening;
# the installed binary runs a script against its emulator and runs pcaprun serve from the
# installed alert_responder.lua in dry-run mode (an L3/4 DDoS alert logged with the filter it
# maps to, no capture made), then exits 0 on SIGTERM. The .deb and a clean Debian 12 are
# tests/package/deb_check.sh (make package-check).
set -uo pipefail
: "${PCAPRUN_SRC:?}" "${PCAPRUN_BUILD:?}"
source "$PCAPRUN_SRC/tests/integration/lib/serve.sh"
work=$(mktemp -d)
trap 'stop_serve KILL; rm -rf "$work"' EXIT
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
stage=$work/stage
DESTDIR=$stage cmake --install "$PCAPRUN_BUILD" --prefix /usr > "$work/install.log" 2>&1
t "make install DESTDIR=... (cmake --install)" "[[ $? == 0 ]]"
for f in bin/pcaprun share/man/man1/pcaprun.1 share/man/man1/pcaprun-serve.1 lib/systemd/system/pcaprun-serve.service \
         share/pcaprun/scripts/alert_responder.lua share/pcaprun/scripts/multi_colo_campaign.lua \
         share/doc/pcaprun/REFERENCE.md share/doc/pcaprun/README.md; do
  t "installed: /usr/$f" "[[ -s '$stage/usr/$f' ]]"
done
t "nothing outside the prefix" "[[ \$(ls '$stage') == usr ]]"
t "the binary is executable, the rest is not" "[[ -x '$stage/usr/bin/pcaprun' && ! -x '$stage/usr/share/man/man1/pcaprun.1' ]]"
for page in pcaprun pcaprun-serve; do
  MANWIDTH=80 man --warnings -l "$stage/usr/share/man/man1/$page.1" > "$work/$page.txt" 2> "$work/$page.err"
  t "man $page renders without warnings" "[[ -s '$work/$page.txt' && ! -s '$work/$page.err' ]]"
done
unit=$stage/usr/lib/systemd/system/pcaprun-serve.service
for opt in 'ExecStart=/usr/bin/pcaprun serve' 'ExecReload=/bin/kill -HUP $MAINPID' DynamicUser=yes StateDirectory=pcaprun \
           NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes 'CapabilityBoundingSet=$'; do
  t "the unit: $opt" "grep -q '^$opt' '$unit'"
done
t "the unit takes its secrets from a file, not its command line" "grep -q '^EnvironmentFile=' '$unit' &&
  ! grep '^ExecStart' '$unit' | grep -qi 'secret\\|token'"

P=$stage/usr/bin/pcaprun
t "the installed binary: --version" "[[ \$('$P' --version) == 'pcaprun '* ]]"
t "the installed binary runs a script against its emulator" "'$P' --emulate --time-scale 0.01 -q -e '
  local cap = assert(require(\"pcaprun.pcap\").create{ type = \"simple\", time_limit = 1, packet_limit = 10 })
  assert(cap:wait())'"
export PCAPRUN=$P XDG_STATE_HOME=$work/state PCAPRUN_CF_WEBHOOK_SECRET=install-check-secret
cd "$work" || exit 1
start_serve "$work" "$work/serve.log" --emulate --time-scale 0.01 --dry-run --journal "$work/j.db" --listen 127.0.0.1:0 \
  "$stage/usr/share/pcaprun/scripts/alert_responder.lua" || exit 1
t "pcaprun serve from the installed example: an L3/4 DDoS alert accepted" \
  "[[ \$(post cloudflare '$PCAPRUN_SRC/tests/integration/lib/alerts/cloudflare_ddos_start.json' -H 'cf-webhook-auth: $PCAPRUN_CF_WEBHOOK_SECRET') == 202 ]]"
wait_for grep -q 'dry run: would run' "$work/serve.log"
t "... dry run: logged with its filter, nothing captured" \
  "grep 'dry run: would run' '$work/serve.log' | grep -q 'destination_address.*198.51.100.7' && [[ ! -e '$work/captures' ]]"
stop_serve TERM
t "... SIGTERM: exit 0" "[[ $? == 0 ]]"
exit $fail
