#!/usr/bin/env bash
# The registry on a real PostgreSQL: the repository suite (races included),
# glance-manage, and the end-to-end API tests with registry driver
# "postgres". Installs and starts PostgreSQL when nothing answers on
# 127.0.0.1:5432, runs on a throwaway database, drops it afterwards. Under
# CI=true a PostgreSQL that cannot be had is a failure, never a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
. scripts/lib-postgres.sh

trap pg_down EXIT
if ! pg_up; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL: no PostgreSQL (CI=true)" >&2
    exit 1
  fi
  echo "SKIP: no PostgreSQL here (set CI=true to make this a failure)"
  exit 0
fi

export GLANCE_TEST_POSTGRES_DSN="$PG_DSN"
# The Go tests fail, rather than fall back to SQLite, without the DSN.
export GLANCE_REQUIRE_POSTGRES=1
go test -count=1 -timeout 15m ./core/registry/... ./core/cmd/glance-manage/... &&
  go test -tags integration -count=1 -timeout 15m -run 'Postgres' ./core/e2e/...
