#!/usr/bin/env bash
# Registry benchmark: 100,000 images with properties, tags and members on
# PostgreSQL (a throwaway database; the server is installed and started
# when nothing answers on 127.0.0.1:5432) and on SQLite (a temporary
# directory). Prints list p50/p99 per 25-image page, create and update
# rates, and the list query plans. Asserts nothing.
#   bash bench/registry.sh [-n 100000] [-iters 300]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/lib-postgres.sh
go build -o bin/bench-registry ./bench/registry

tmp=$(mktemp -d)
cleanup() { pg_down; rm -rf "$tmp"; }
trap cleanup EXIT

echo "### PostgreSQL"
if pg_up; then
  bin/bench-registry -driver postgres -dsn "$PG_DSN" "$@"
else
  echo "no PostgreSQL here: skipped"
fi
echo
echo "### SQLite"
bin/bench-registry -driver sqlite -dsn "$tmp/glance.db" "$@"
