#!/usr/bin/env bash
# S3 data-path benchmark: starts its own Ceph micro-cluster (radosgw on
# loopback, scripts/ceph-micro.sh), measures a 1 GiB upload and download
# through glance-api and glance-store-s3 beside a plain S3 client doing the
# same transfers, and the plugin's peak RSS during a 1 GiB upload of unknown
# size; stops the cluster on exit. Prints figures; asserts nothing.
# Extra arguments go to bench-s3 (-size, -work).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(mktemp -d /tmp/glance-bench-ceph.XXXXXX)
trap 'scripts/ceph-micro.sh down "$DIR" >/dev/null 2>&1 || true' EXIT
# The memstore OSD keeps objects in RAM, deleted ones until rgw's garbage
# collection (30 s): room for a few 1 GiB objects.
export CEPH_MEMSTORE_GB=${CEPH_MEMSTORE_GB:-8}
go build -o bin/ ./core/cmd/glance-api ./plugins/s3/cmd/glance-store-s3
go build -o bin/bench-s3 ./bench/s3
eval "$(scripts/ceph-micro.sh up "$DIR")"
bin/bench-s3 -bin bin "$@"
