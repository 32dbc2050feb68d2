# Shared by the emulator integration tests: source it (kept in lib/ so ctest does not run it).

EMU_PID=""
EMU_URL=""
EMU_ADMIN=""
EMU_S3=""

# start_emulator WORKDIR [options...]: runs `$PCAPRUN emulator` in the background and reads the
# base URL from the first line of its stdout (EMU_URL, EMU_ADMIN) and its S3 API's URL (EMU_S3).
start_emulator() {
  local work=$1; shift
  mkfifo "$work/emu.out"
  "$PCAPRUN" emulator "$@" > "$work/emu.out" 2> "$work/emu.err" &
  EMU_PID=$!
  exec {EMU_FD}< "$work/emu.out"
  if ! read -r -t 20 -u "$EMU_FD" EMU_URL; then
    echo "emulator did not print its URL; stderr:" >&2
    cat "$work/emu.err" >&2
    return 1
  fi
  EMU_ADMIN="${EMU_URL%/client/v4}/__admin"
  # the S3 API's URL, which the emulator names on stderr just after
  EMU_S3=""
  for _ in $(seq 100); do
    EMU_S3=$(sed -n 's/^pcaprun emulator: S3 API \([^ ]*\).*/\1/p' "$work/emu.err")
    [[ -n $EMU_S3 ]] && break
    sleep 0.02
  done
}

stop_emulator() {
  if [[ -n "$EMU_PID" ]]; then
    kill -TERM "$EMU_PID" 2> /dev/null || true
    wait "$EMU_PID" 2> /dev/null || true
    EMU_PID=""
  fi
}

# ensure_node_modules DIR [MODULE...]: npm ci when one of the modules (default: the SDK check's)
# is missing from DIR/node_modules (the lock file pins versions).
ensure_node_modules() {
  local dir=$1; shift
  local m
  (( $# )) || set -- cloudflare ajv
  for m in "$@"; do
    if [[ ! -d "$dir/node_modules/$m" ]]; then
      (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline > /dev/null)
      return
    fi
  done
}
