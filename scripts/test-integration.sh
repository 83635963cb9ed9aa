#!/usr/bin/env bash
# make test-integration: the tests that need more than Go. They run the
# storetest conformance suite at full size (1 GiB objects) against the real
# plugin binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
export GLANCE_PLUGIN_DIR="$PWD/bin"
echo "== storetest, full size, real plugin binaries"
go test -count=1 -timeout 40m -run 'Binary' ./plugins/...
