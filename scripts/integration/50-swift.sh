#!/usr/bin/env bash
# Integration suite: OpenStack Swift all-in-one on loopback
# (scripts/swift-saio.sh: proxy with tempauth, account, container and object
# servers, memcached), then
#   - the Swift store: conformance against the real plugin binary (1 GiB
#     objects of known and unknown size, outside -short), in process with
#     1 MiB segments, failed and cancelled uploads leaving no object and no
#     segment (checked through Swift's own listing), SLO delete, probe
#     reasons;
#   - glance-api with a swift store, end to end (core/e2e TestSwift*).
# Swift is stopped on exit, pass or fail, and its directory removed unless
# SWIFT_SAIO_DIR names one to keep.
# Env: SWIFT_SAIO_DIR (default: a fresh temporary directory); ports as in
# scripts/swift-saio.sh (busy defaults are replaced by free ports).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# Debian's packages; keep their init scripts from starting system-wide
# daemons (the suite runs its own on loopback).
policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1
fi
need_pkg swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached >&2
rc=$?
[ $policy = 1 ] && rm -f /usr/sbin/policy-rc.d
if [ $rc != 0 ]; then
  echo "50-swift: cannot install the Swift packages" >&2
  exit 1
fi

DIR=${SWIFT_SAIO_DIR:-$(mktemp -d /tmp/glance-saio.XXXXXX)}
cleanup() {
  scripts/swift-saio.sh down "$DIR" || true
  [ -z "${SWIFT_SAIO_DIR:-}" ] && rm -rf "$DIR"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! exports=$(scripts/swift-saio.sh up "$DIR"); then
  echo "50-swift: Swift did not start (logs in $DIR/log)" >&2
  exit 1
fi
eval "$exports"
export SWIFT_AUTH_URL SWIFT_USER SWIFT_KEY
# The plugin tests use make build's binaries when there are some.
if [ -n "${GLANCE_BIN_DIR:-}" ] && [ -x "$GLANCE_BIN_DIR/glance-store-swift" ]; then
  export GLANCE_PLUGIN_DIR=$GLANCE_BIN_DIR
fi

failed=()

step swift go test -tags integration -count=1 -timeout 30m ./plugins/swift/...
step swift-e2e go test -tags integration -count=1 -timeout 15m -run 'TestSwift' ./core/e2e/

if [ ${#failed[@]} -gt 0 ]; then
  echo "50-swift: failed: ${failed[*]}"
  exit 1
fi
echo "50-swift: all passed"
