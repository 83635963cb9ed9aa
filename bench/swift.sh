#!/usr/bin/env bash
# Swift data-path benchmark: 1 GiB up and down through glance-api and the
# swift store plugin, beside the swift command line (python3-swiftclient)
# moving the same file in the same run, and the plugin's peak RSS
# (VmHWM) over a 1 GiB upload of unknown size (chunked, so SLO segments).
# Prints figures; asserts nothing.
#
# Uses the Swift in SWIFT_AUTH_URL / SWIFT_USER / SWIFT_KEY, or starts its
# own all-in-one (scripts/swift-saio.sh) on loopback and stops it at the
# end. Env: BENCH_SIZE_MB (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MB=${BENCH_SIZE_MB:-1024}
W=$(mktemp -d /tmp/glance-bench-swift.XXXXXX)
SAIO=""
API_PID=""
CONTAINER=glance-bench-$$-$RANDOM
CLI_CONTAINER=$CONTAINER-cli

log() { echo "[bench/swift] $*" >&2; }
cleanup() {
  set +e
  if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; fi
  if command -v swift >/dev/null && [ -n "${SWIFT_AUTH_URL:-}" ]; then
    swift -A "$SWIFT_AUTH_URL" -U "$SWIFT_USER" -K "$SWIFT_KEY" delete "$CONTAINER" >/dev/null 2>&1
    swift -A "$SWIFT_AUTH_URL" -U "$SWIFT_USER" -K "$SWIFT_KEY" delete "$CLI_CONTAINER" >/dev/null 2>&1
  fi
  [ -n "$SAIO" ] && scripts/swift-saio.sh down "$SAIO" >&2
  rm -rf "$W" "$SAIO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${SWIFT_AUTH_URL:-}" ]; then
  SAIO=$(mktemp -d /tmp/glance-bench-saio.XXXXXX)
  eval "$(scripts/swift-saio.sh up "$SAIO")"
fi
export SWIFT_AUTH_URL SWIFT_USER SWIFT_KEY
command -v swift >/dev/null || { log "the swift command (python3-swiftclient) is missing"; exit 1; }

mkdir -p bin
go build -o bin/ ./core/cmd/glance-api ./plugins/swift/cmd/glance-store-swift

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.0f", b / 1048576 / (t1 - t0) }'; }
secs() { awk -v t0="$1" -v t1="$2" 'BEGIN { printf "%.1f", t1 - t0 }'; }

FILE=$W/image.bin
log "writing a ${SIZE_MB} MiB random file"
head -c "$((SIZE_MB * 1048576))" /dev/urandom > "$FILE"
BYTES=$(stat -c %s "$FILE")

# glance-api on a free loopback port, one swift store (the example's
# defaults: single objects up to 1 GiB, 200 MiB segments).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
API=http://127.0.0.1:$PORT
cat > "$W/config.hcl" <<EOF
plugin_dir = "$ROOT/bin"
api { bind = "127.0.0.1:$PORT" }
registry {
  driver = "sqlite"
  dsn    = "$W/glance.db"
}
auth { mode = "noauth" }
store "swift" {
  plugin  = "swift"
  default = true
  config {
    auth_url         = env("SWIFT_AUTH_URL")
    user             = env("SWIFT_USER")
    key              = env("SWIFT_KEY")
    container        = "$CONTAINER"
    create_container = true
  }
}
EOF
bin/glance-api -config "$W/config.hcl" > "$W/glance-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 300); do curl -sf "$API/healthcheck" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$API/healthcheck" >/dev/null || { log "glance-api did not start"; cat "$W/glance-api.log" >&2; exit 1; }
PLUGIN_PID=$(pgrep -P "$API_PID" -f glance-store-swift | head -1)

create() {
  curl -sf -X POST "$API/v2/images" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$1\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
upload() {  # id [chunked]
  local hdr=()
  [ "${2:-}" = chunked ] && hdr=(-H 'Transfer-Encoding: chunked')
  curl -sf -X PUT "$API/v2/images/$1/file" -H 'Content-Type: application/octet-stream' "${hdr[@]}" -T "$FILE" -o /dev/null
}
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# 1. Unknown size first, on the fresh plugin, so VmHWM is this upload's peak.
ID_U=$(create bench-unknown)
rss0=$(hwm_kib "$PLUGIN_PID")
t0=$(now); upload "$ID_U" chunked; t1=$(now)
UP_UNKNOWN=$(mbps "$BYTES" "$t0" "$t1"); UP_UNKNOWN_S=$(secs "$t0" "$t1")
RSS_PEAK=$(hwm_kib "$PLUGIN_PID")

# 2. Known size (one object of 1 GiB), and downloads of both.
ID_K=$(create bench-known)
t0=$(now); upload "$ID_K"; t1=$(now)
UP_KNOWN=$(mbps "$BYTES" "$t0" "$t1"); UP_KNOWN_S=$(secs "$t0" "$t1")
t0=$(now); curl -sf "$API/v2/images/$ID_K/file" -o /dev/null; t1=$(now)
DOWN_KNOWN=$(mbps "$BYTES" "$t0" "$t1"); DOWN_KNOWN_S=$(secs "$t0" "$t1")
t0=$(now); curl -sf "$API/v2/images/$ID_U/file" -o /dev/null; t1=$(now)
DOWN_SLO=$(mbps "$BYTES" "$t0" "$t1"); DOWN_SLO_S=$(secs "$t0" "$t1")
curl -sf -X DELETE "$API/v2/images/$ID_K" -o /dev/null
curl -sf -X DELETE "$API/v2/images/$ID_U" -o /dev/null
RSS_END=$(hwm_kib "$PLUGIN_PID")

# 3. The swift CLI, same file, same Swift, same run.
SW=(swift -A "$SWIFT_AUTH_URL" -U "$SWIFT_USER" -K "$SWIFT_KEY")
t0=$(now); "${SW[@]}" upload --object-name image.bin "$CLI_CONTAINER" "$FILE" >/dev/null; t1=$(now)
CLI_UP=$(mbps "$BYTES" "$t0" "$t1"); CLI_UP_S=$(secs "$t0" "$t1")
t0=$(now); "${SW[@]}" download "$CLI_CONTAINER" image.bin -o /dev/null >/dev/null; t1=$(now)
CLI_DOWN=$(mbps "$BYTES" "$t0" "$t1"); CLI_DOWN_S=$(secs "$t0" "$t1")
t0=$(now); "${SW[@]}" upload -S 209715200 --object-name image-slo.bin "$CLI_CONTAINER" "$FILE" >/dev/null; t1=$(now)
CLI_UP_SEG=$(mbps "$BYTES" "$t0" "$t1"); CLI_UP_SEG_S=$(secs "$t0" "$t1")

cat <<EOF
Swift store, $SIZE_MB MiB random image, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)
| transfer                                   | MB/s | seconds |
|--------------------------------------------|------|---------|
| API upload, known size (one object)        | $UP_KNOWN | $UP_KNOWN_S |
| API upload, unknown size (SLO, 200 MiB)    | $UP_UNKNOWN | $UP_UNKNOWN_S |
| API download (one object)                  | $DOWN_KNOWN | $DOWN_KNOWN_S |
| API download (SLO)                         | $DOWN_SLO | $DOWN_SLO_S |
| swift CLI upload (one object)              | $CLI_UP | $CLI_UP_S |
| swift CLI upload (-S 200 MiB segments)     | $CLI_UP_SEG | $CLI_UP_SEG_S |
| swift CLI download                         | $CLI_DOWN | $CLI_DOWN_S |
glance-store-swift peak RSS (VmHWM): $((rss0 / 1024)) MiB at start, $((RSS_PEAK / 1024)) MiB after the unknown-size upload (target < 128 MiB), $((RSS_END / 1024)) MiB at the end
EOF
