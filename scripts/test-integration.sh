#!/usr/bin/env bash
# make test-integration: every suite under scripts/integration/, in order.
# Each suite installs (Debian packages) and starts the services it needs on
# loopback, runs its tests, and stops what it started, pass or fail. Under
# CI=true a missing service is a failure, never a skip.
set -uo pipefail
cd "$(dirname "$0")/.."
export GLANCE_BIN_DIR="$PWD/bin"
failed=()
ran=0
for suite in scripts/integration/[0-9]*.sh; do
  [ -e "$suite" ] || continue
  ran=$((ran + 1))
  echo "== $suite"
  if ! bash "$suite"; then
    failed+=("$suite")
  fi
done
if [ "$ran" -eq 0 ]; then
  echo "no integration suites"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "integration suites failed: ${failed[*]}"
  exit 1
fi
