#!/usr/bin/env bash
# Integration suite for the Ceph RBD store (plugins/rbd, its own cgo module):
# installs Ceph's dev packages, starts a Ceph micro-cluster on loopback
# without radosgw (scripts/ceph-micro.sh: mon, mgr, memstore OSD), then
#   - builds glance-store-rbd with -tags pacific, gofmt and go vet;
#   - the in-process and gRPC conformance runs again under the race detector;
#   - the rbd package's tests: unit tests, conformance in-process, over gRPC
#     and as the real plugin binary (1 GiB objects of known and unknown
#     size), a clone of the protected snapshot blocking deletion, orphan
#     sweeping, probe reasons;
#   - glance-api with an rbd store, end to end (core/e2e TestRBD*);
#   - nothing left in the pool afterwards (rbd ls, rados ls).
# The cluster is stopped and its directory removed on exit, pass or fail.
# Env: CEPH_DIR (default: a fresh temporary directory), CEPH_MEMSTORE_GB
# (default 6: the OSD keeps objects in RAM).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

DIR=${CEPH_DIR:-$(mktemp -d /tmp/glance-rbd.XXXXXX)}
export CEPH_MEMSTORE_GB=${CEPH_MEMSTORE_GB:-6}
export CEPH_NO_RGW=1
# Beside 30-ceph.sh's cluster, should both run at once: another mon port
# (ceph-micro.sh picks a free one when this one is busy).
export CEPH_MON_PORT=${CEPH_MON_PORT:-3305}
cleanup() { scripts/ceph-micro.sh down "$DIR" || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! need_pkg librados-dev librbd-dev ceph-common; then
  echo "35-rbd: cannot install librados-dev librbd-dev" >&2
  exit 1
fi
if ! exports=$(scripts/ceph-micro.sh up "$DIR"); then
  echo "35-rbd: the Ceph micro-cluster did not start (logs were in $DIR/log)" >&2
  exit 1
fi
eval "$exports"
unset CEPH_KEYRING CEPH_ARGS

failed=()

BIN=${GLANCE_BIN_DIR:-$PWD/bin}
mkdir -p "$BIN"
build() { (cd plugins/rbd && go build -tags pacific -o "$BIN/" ./cmd/glance-store-rbd); }
lint() {
  local bad
  bad=$(gofmt -l plugins/rbd core/e2e/rbd_test.go)
  [ -z "$bad" ] || { echo "gofmt: $bad"; return 1; }
  (cd plugins/rbd && go vet -tags pacific ./...)
}
pool_empty() {
  local imgs objs
  imgs=$(rbd -c "$CEPH_CONF" --id "$CEPH_GLANCE_USER" ls "$CEPH_POOL") || return 1
  objs=$(rados -c "$CEPH_CONF" --id "$CEPH_GLANCE_USER" -p "$CEPH_POOL" ls |
    grep -vxE 'rbd_(directory|info|trash|children|mirroring|namespace|task)') || true
  echo "rbd ls: ${imgs:-(empty)}; rados ls (image objects): ${objs:-(none)}"
  [ -z "$imgs" ] && [ -z "$objs" ]
}

step build build
step lint lint
export GLANCE_PLUGIN_DIR=$BIN
step rbd bash -c 'cd plugins/rbd && go test -tags pacific -count=1 -timeout 30m -v ./... 2>&1 |
  grep -E "^(=== RUN|--- |ok|FAIL|PASS)|^\s+--- (FAIL|SKIP)|--- PASS: .*size=1073741824|rbd_test.go|panic" | grep -v "^=== RUN"; exit ${PIPESTATUS[0]}'
step rbd-race bash -c 'cd plugins/rbd && go test -tags pacific -race -count=1 -timeout 15m -run "TestConformance$|TestConformanceGRPC$|TestClone" ./'
step rbd-e2e go test -tags integration -count=1 -timeout 15m -v -run 'TestRBD' ./core/e2e/
step pool-empty pool_empty

if [ ${#failed[@]} -gt 0 ]; then
  echo "35-rbd: failed: ${failed[*]}"
  exit 1
fi
echo "35-rbd: all passed"
