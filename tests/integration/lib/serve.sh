# Shared by the pcaprun serve tests (source it; kept in lib/ so ctest does not run it).

SERVE_PID=""
SERVE_URL=""

# start_serve WORKDIR LOG [options...] SCRIPT: runs `$PCAPRUN serve` in the background and reads
# its base URL from the first line of its stdout. stderr goes to LOG (appended).
start_serve() {
  local work=$1 log=$2 fifo
  shift 2
  fifo=$work/serve.out.$RANDOM
  mkfifo "$fifo"
  "$PCAPRUN" serve "$@" > "$fifo" 2>> "$log" &
  SERVE_PID=$!
  exec {SERVE_FD}< "$fifo"
  rm -f "$fifo"
  if ! read -r -t 20 -u "$SERVE_FD" SERVE_URL; then
    echo "pcaprun serve did not print its URL; its log:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

# stop_serve [SIGNAL]: signals the daemon (TERM by default) and waits for it; returns its status.
stop_serve() {
  local code=0
  if [[ -n "$SERVE_PID" ]]; then
    kill -"${1:-TERM}" "$SERVE_PID" 2> /dev/null
    wait "$SERVE_PID" 2> /dev/null
    code=$?
    SERVE_PID=""
  fi
  return $code
}

# post HOOK FILE [curl options...]: POSTs the file to /hooks/HOOK; prints the HTTP status.
post() {
  local hook=$1 file=$2
  shift 2
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$file" "$@" \
    "$SERVE_URL/hooks/$hook"
}

# pd_sign FILE SECRET: the v1 signature PagerDuty sends for the body in FILE.
pd_sign() {
  echo "v1=$(openssl dgst -sha256 -hmac "$2" -hex < "$1" | sed 's/^.*= *//')"
}

# wait_for COMMAND...: runs the command until it succeeds, for up to 20 s.
wait_for() {
  local i
  for i in $(seq 200); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
