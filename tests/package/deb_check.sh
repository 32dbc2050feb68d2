#!/usr/bin/env bash
# The Debian package on a clean Debian 12 (make package-check; .ci/run): builds the .deb (CPack,
# Depends from dpkg-shlibdeps), makes a fresh Debian 12 root with debootstrap (minbase, plus
# man-db; from Debian's archive, DEB_CHECK_MIRROR), installs the package there with dpkg -i (its
# dependencies then from the archive with apt-get -f install, as a user would), and inside that
# root runs: pcaprun --version, man pcaprun and man pcaprun-serve, a script against the built-in
# emulator, and pcaprun serve from the installed example (a test message answered 202, then
# SIGTERM). Root is needed (debootstrap, chroot). Takes a few minutes, most of it debootstrap.
#   tests/package/deb_check.sh [BUILD_DIR]
# DEB_CHECK_ROOT=DIR reuses a root made before (copied, never changed).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
mirror=${DEB_CHECK_MIRROR:-http://deb.debian.org/debian}
if [[ $(id -u) != 0 ]]; then echo "deb_check: needs root (debootstrap, chroot)" >&2; exit 2; fi
command -v debootstrap > /dev/null || { echo "deb_check: debootstrap is missing (make deps)" >&2; exit 2; }
(cd "$build" && cpack -G DEB > /dev/null 2>&1)
deb=$(ls -t "$build"/pcaprun_*.deb | head -1)
echo "deb_check: $deb"
dpkg-deb -f "$deb" Depends
work=$(mktemp -d)
root=$work/root
cleanup() {
  for m in proc dev/pts dev sys; do umount "$root/$m" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
if [[ -n ${DEB_CHECK_ROOT:-} ]]; then
  cp -a "$DEB_CHECK_ROOT" "$root"
else
  debootstrap --variant=minbase --include=man-db,curl bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
fi
grep -q '^12\.' "$root/etc/debian_version" || { echo "deb_check: not a Debian 12 root" >&2; exit 1; }
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp "$deb" "$root/tmp/pcaprun.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2> /dev/null || true
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
fail=0
t() { if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi; }
in_root dpkg -i /tmp/pcaprun.deb > "$work/dpkg.log" 2>&1 || true # its dependencies are not there yet
in_root apt-get update -qq > /dev/null 2>&1
DEBIAN_FRONTEND=noninteractive in_root apt-get -f install -y -qq > "$work/apt.log" 2>&1 ||
  { tail -20 "$work/apt.log" >&2; exit 1; }
# what the checks use (a root made before may lack them): man, and curl to send an alert
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq man-db curl >> "$work/apt.log" 2>&1
t "dpkg -i, then apt-get -f install: pcaprun is installed" "in_root dpkg-query -W -f='\${Status}' pcaprun | grep -q 'install ok installed'"
version=$(in_root pcaprun --version)
t "pcaprun --version: $version" "[[ '$version' == 'pcaprun '* ]]"
t "man pcaprun" "in_root man -P cat pcaprun 2> /dev/null | grep -q 'scripted packet-capture campaigns'"
t "man pcaprun-serve" "in_root man -P cat pcaprun-serve 2> /dev/null | grep -q 'run packet-capture playbooks when alerts arrive'"
t "the examples and the systemd unit are in place" "[[ -f $root/usr/share/pcaprun/scripts/alert_responder.lua && -f $root/usr/lib/systemd/system/pcaprun-serve.service ]]"
t "a script against the emulator" "in_root pcaprun --emulate --time-scale 0.01 -q -e '
  local cap = assert(require(\"pcaprun.pcap\").create{ type = \"simple\", time_limit = 1, packet_limit = 10 })
  assert(cap:wait())' "
cat > "$root/tmp/serve.sh" << 'INNER'
set -u
export PCAPRUN_CF_WEBHOOK_SECRET=deb-check-secret
mkfifo /tmp/serve.out
pcaprun serve --emulate --time-scale 0.01 --journal /tmp/j.db --listen 127.0.0.1:0 \
  /usr/share/pcaprun/scripts/alert_responder.lua > /tmp/serve.out 2> /tmp/serve.log &
pid=$!
read -r url < /tmp/serve.out
code=$(curl -s -o /dev/null -w '%{http_code}' -H "cf-webhook-auth: $PCAPRUN_CF_WEBHOOK_SECRET" \
  -d '{"text":"test"}' "$url/hooks/cloudflare")
sleep 0.5
kill -TERM $pid
wait $pid
echo "$code $?"
INNER
out=$(in_root bash /tmp/serve.sh)
t "pcaprun serve from the installed example: 202, then a clean exit ($out)" "[[ '$out' == '202 0' ]]"
exit $fail
