#!/usr/bin/env bash
# Metadata benchmark: create+show+delete cycles and list-25-of-10k pages at
# concurrency 1 and 32, glance-api (noauth, SQLite, filesystem store, a free
# loopback port) beside the real OpenStack Glance in the same run: the
# Debian glance-api package is installed when missing and started on a free
# loopback port by scripts/glance-reference.sh (no keystone, SQLite, file
# store, workers = CPUs, Glance's default), then stopped. Glance gets 60s to
# take images through its API; the rest of the 10k is cloned in its database. Prints ops/s, p50,
# p99 for both servers and the ratio. Asserts nothing.
#   bash bench/metadata.sh [-n 10000] [-glance-n N] [-duration 5s] [-c 1,32]
# BENCH_GLANCE=0 measures glance-api alone (no install, no reference server).
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/ ./core/cmd/glance-api ./plugins/filesystem/cmd/glance-store-filesystem
go build -o bin/bench-metadata ./bench/metadata

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

tmp=$(mktemp -d /tmp/bench-metadata.XXXXXX)
ref_started=0
cleanup() {
  if [ $ref_started = 1 ]; then
    scripts/glance-reference.sh down "$tmp/glance" || true
    errs=$(grep -c ' ERROR ' "$tmp/glance/glance-api.log" 2>/dev/null || true)
    if [ "${errs:-0}" -gt 0 ]; then
      echo "reference Glance logged $errs ERROR lines; the first:"
      grep -m1 -A3 ' ERROR ' "$tmp/glance/glance-api.log" | cut -c1-300 | sed 's/^/  /'
    fi
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

args=()
if [ "${BENCH_GLANCE:-1}" = 0 ]; then
  args+=(-glance-missing "BENCH_GLANCE=0")
else
  export GLANCE_REF_PORT=$(free_port) GLANCE_REF_WEB_PORT=$(free_port)
  export GLANCE_REF_WORKERS=${GLANCE_REF_WORKERS:-$(nproc)} GLANCE_REF_MULTISTORE=0
  export GLANCE_REF_FIX_CLIENT=0 GLANCE_REF_DEBUG=false
  ref_started=1
  if out=$(scripts/glance-reference.sh up "$tmp/glance" 2>"$tmp/glance-up.log"); then
    eval "$out"
    echo "reference Glance up: $GLANCE_REF_URL ($GLANCE_REF_WORKERS workers, pid $GLANCE_REF_PID)"
    # Seeding 10k images through Glance's API takes minutes: what -seed-budget
    # (60s) leaves missing is cloned in its SQLite database (glance_fill.py).
    args+=(-glance "$GLANCE_REF_URL"
           -glance-fill "/usr/bin/python3 bench/metadata/glance_fill.py '$tmp/glance/glance.sqlite' \$N")
  else
    why="scripts/glance-reference.sh up failed: $(grep -v '^\s*$' "$tmp/glance-up.log" | tail -1)"
    echo "$why"; tail -15 "$tmp/glance-up.log" | sed 's/^/  /'
    args+=(-glance-missing "$why")
  fi
fi
bin/bench-metadata -bin bin "${args[@]}" "$@"
