#!/usr/bin/env bash
# RBD data-path benchmark: 1 GiB uploaded and downloaded through glance-api
# and the rbd plugin, beside `rbd import` / `rbd export` of the same file to
# the same cluster in the same run, and the plugin's peak RSS. Prints
# figures, asserts nothing but correctness of the sizes.
#
# Uses the cluster in CEPH_CONF / CEPH_GLANCE_USER / CEPH_POOL when set,
# else starts a Ceph micro-cluster (scripts/ceph-micro.sh, no radosgw) and
# stops it at the end. Needs librados-dev and librbd-dev (installed when
# missing). Env: BENCH_SIZE_MB (1024).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

SIZE_MB=${BENCH_SIZE_MB:-1024}
WORK=$(mktemp -d /tmp/glance-bench-rbd.XXXXXX)
CEPH_DIR=
API_PID=
cleanup() {
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
  [ -n "$CEPH_DIR" ] && scripts/ceph-micro.sh down "$CEPH_DIR" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_pkg librados-dev librbd-dev ceph-common >&2
if [ -z "${CEPH_CONF:-}" ]; then
  CEPH_DIR=$WORK/ceph
  eval "$(CEPH_NO_RGW=1 CEPH_MON_PORT=${CEPH_MON_PORT:-3306} CEPH_MEMSTORE_GB=${CEPH_MEMSTORE_GB:-4} scripts/ceph-micro.sh up "$CEPH_DIR" 2>/dev/null)"
fi
unset CEPH_KEYRING CEPH_ARGS
RBD=(rbd -c "$CEPH_CONF" --id "$CEPH_GLANCE_USER")

mkdir -p bin
go build -o bin/ ./core/cmd/glance-api
(cd plugins/rbd && go build -tags pacific -o ../../bin/ ./cmd/glance-store-rbd)

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%7.1f MB/s (%.2f s)", b / s / 1e6, s }'; }
BYTES=$((SIZE_MB << 20))
FILE=$WORK/image.raw
head -c "$BYTES" /dev/urandom >"$FILE"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/config.hcl" <<HCL
plugin_dir = "$PWD/bin"
api      { bind = "127.0.0.1:$PORT" }
registry {
  driver = "sqlite"
  dsn    = "$WORK/glance.db"
}
auth { mode = "noauth" }
store "ceph" {
  plugin  = "rbd"
  default = true
  config {
    ceph_conf = env("CEPH_CONF")
    user      = env("CEPH_GLANCE_USER")
    pool      = env("CEPH_POOL")
  }
}
HCL
bin/glance-api -config "$WORK/config.hcl" >"$WORK/api.log" 2>&1 &
API_PID=$!
URL=http://127.0.0.1:$PORT
wait_tcp 127.0.0.1 "$PORT" 30
for _ in $(seq 100); do curl -fsS -o /dev/null "$URL/healthcheck" 2>/dev/null && break; sleep 0.1; done
PLUGIN_PID=$(pgrep -P "$API_PID" -f glance-store-rbd | head -1)

ID=$(curl -fsS -X POST "$URL/v2/images" -H 'Content-Type: application/json' \
  -d '{"name": "bench-rbd", "disk_format": "raw", "container_format": "bare"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

t0=$(now)
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$URL/v2/images/$ID/file" \
  -H 'Content-Type: application/octet-stream' -T "$FILE")
t1=$(now)
[ "$code" = 204 ] || { echo "upload: HTTP $code"; tail -20 "$WORK/api.log"; exit 1; }
up_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
rss_up=$(awk '/VmHWM/ { print $2 }' "/proc/$PLUGIN_PID/status")

t0=$(now)
got=$(curl -sS -o /dev/null -w '%{size_download}' "$URL/v2/images/$ID/file")
t1=$(now)
[ "$got" = "$BYTES" ] || { echo "download: $got bytes, want $BYTES"; exit 1; }
down_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
rss_all=$(awk '/VmHWM/ { print $2 }' "/proc/$PLUGIN_PID/status")
curl -fsS -o /dev/null -X DELETE "$URL/v2/images/$ID"

t0=$(now)
"${RBD[@]}" import --no-progress "$FILE" "$CEPH_POOL/bench-import" >/dev/null
t1=$(now)
imp_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
t0=$(now)
got=$("${RBD[@]}" export --no-progress "$CEPH_POOL/bench-import" - | wc -c)
t1=$(now)
exp_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
"${RBD[@]}" rm --no-progress "$CEPH_POOL/bench-import" >/dev/null
[ "$got" = "$BYTES" ] || { echo "rbd export: $got bytes, want $BYTES"; exit 1; }

echo "RBD data path, $SIZE_MB MiB, pool $CEPH_POOL ($(nproc) cores):"
echo "  upload   glance-api + rbd plugin  $(mbps "$BYTES" "$up_s")"
echo "  import   rbd import (baseline)    $(mbps "$BYTES" "$imp_s")"
echo "  download glance-api + rbd plugin  $(mbps "$BYTES" "$down_s")"
echo "  export   rbd export (baseline)    $(mbps "$BYTES" "$exp_s")"
echo "  plugin peak RSS: $((rss_up / 1024)) MiB after upload, $((rss_all / 1024)) MiB after download"
