#!/usr/bin/env bash
# Integration suite: glance-api with auth mode keystone against a real
# Keystone (scripts/keystone.sh: Debian's keystone under uwsgi on loopback):
#   1. core/e2e TestKeystone*: valid, invalid, revoked, expired, role-less and
#      unscoped tokens, Keystone going away (each starts its own glance-api);
#   2. glance-api run from examples/deploy/keystone.hcl (port changed),
#      registered in Keystone's catalog as the image service, then
#      Tempest's tempest.api.image.v2 against it;
#   3. gophercloud's image v2 acceptance tests against it.
# Tempest and gophercloud fail the suite only for a test that is not in the
# expected-failure lists below (each with its reason). Everything started is
# stopped on exit, pass or fail; the work directory is removed unless
# KEYSTONE_WORK names one to keep.
# Env: KEYSTONE_WORK, KEYSTONE_PORT (5001), GOPHERCLOUD_VERSION (v2.15.0),
#      TEMPEST_CONCURRENCY (2), SKIP_TEMPEST=1 / SKIP_GOPHERCLOUD=1 (local runs only).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# Tempest tests expected to fail, as regular expressions over test ids,
# each with the reason (the issue that will make it pass).
# Format: 'REGEX  # reason' (two spaces before the #).
TEMPEST_EXPECTED=(
  '^tempest\.api\.image\.v2\.(admin\.)?test_images_metadefs_  # metadefs (/v2/metadefs/*): not implemented, a later issue'
)
# gophercloud tests expected to fail (go test names), with the reason.
GOPHERCLOUD_EXPECTED=(
  '^(TestImageStage|TestGetImportInfo|TestCreateImport)$  # interoperable image import (PUT /stage, GET /v2/info/import, POST /import): a later issue'
  '^TestTask  # the tasks API (/v2/tasks): a later issue'
)

# Tempest feature flags, honestly: no interoperable image import, no
# multi-store, no image cache; locations are managed (the server below adds
# show_multiple_locations and an http store to the example, as the
# reference Glance of the recipe has); os_glance_* properties are reserved.
export IMPORT_IMAGE=false IMAGE_CACHING=false MANAGE_LOCATIONS=true OS_GLANCE_RESERVED=true

for v in $(env | grep -o '^OS_[A-Za-z0-9_]*' || true); do unset "$v"; done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

WORK=${KEYSTONE_WORK:-$(mktemp -d /tmp/glance-keystone.XXXXXX)}
mkdir -p "$WORK/bin" "$WORK/glance/data/images"
SERVER_PID=
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -INT "$SERVER_PID"
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  scripts/keystone.sh down "$WORK/ks" || true
  [ -z "${KEYSTONE_WORK:-}" ] && rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=()

t0=$SECONDS
if ! exports=$(scripts/keystone.sh up "$WORK/ks"); then
  echo "60-keystone: Keystone did not start (logs in $WORK/ks/keystone)" >&2
  exit 1
fi
eval "$exports"
echo "-- keystone up: $OS_AUTH_URL ($((SECONDS - t0))s)"

step keystone-e2e go test -tags integration -count=1 -timeout 15m -run 'TestKeystone' ./core/e2e/

# glance-api from the example: the operator's file, on a free port, its
# relative data paths under $WORK/glance.
go build -o "$WORK/bin/" ./core/cmd/glance-api ./plugins/filesystem/cmd/glance-store-filesystem \
  ./plugins/http/cmd/glance-store-http || exit 1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
sed "s/127.0.0.1:9292/127.0.0.1:$PORT/" examples/deploy/keystone.hcl > "$WORK/glance/config.hcl"
grep -q "127.0.0.1:$PORT" "$WORK/glance/config.hcl" || { echo "60-keystone: no bind in the example" >&2; exit 1; }
# Tempest's ImageLocationsTest adds http:// locations (its http_image), and
# removes one as a project member: Glance's legacy defaults allow that, its
# secure-RBAC default (ours) keeps delete_image_location for admins, so this
# cloud overrides that one rule as its operator would (policy {} is also
# proven here, on a real server).
cat >> "$WORK/glance/config.hcl" <<'EOF'

images {
  show_multiple_locations = true
}

policy {
  rules = {
    delete_image_location = "role:admin or (role:member and project_id:%(project_id)s)"
  }
}

store "http" {
  plugin = "http"
}
EOF
(cd "$WORK/glance" && exec "$WORK/bin/glance-api" -config config.hcl > glance-api.log 2>&1) &
SERVER_PID=$!
wait_tcp 127.0.0.1 "$PORT" 30 || { tail -20 "$WORK/glance/glance-api.log"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/images")
[ "$code" = 401 ] || { echo "60-keystone: GET /v2/images without a token: $code, want 401" >&2; exit 1; }

# check_failures NAME EXPECTED-REGEX... < "FAILED: id" lines: prints each
# failure as expected (with its reason) or UNEXPECTED; false if any is
# unexpected.
check_failures() {
  local name=$1; shift
  local unexpected=0 id re hit
  while read -r _ id; do
    [ -n "$id" ] || continue
    hit=
    for re in "$@"; do
      [[ "$id" =~ ${re%%  #*} ]] && { hit=${re#*  # }; break; }
    done
    if [ -n "$hit" ]; then
      echo "   expected failure: $id  ($hit)"
    else
      echo "   UNEXPECTED failure: $id"
      unexpected=1
    fi
  done
  [ $unexpected = 0 ] || { echo "$name: unexpected failures"; return 1; }
}

# outside SUITE LOG EXPECTED: runs scripts/keystone.sh SUITE (tempest or
# gophercloud) against $URL; fails on a failed test not matched by the
# array named EXPECTED, or when the suite failed without a failed test
# (configuration, discovery), showing the end of LOG.
outside() {
  local name=$1 log=$2 out rc=0
  local -n expected=$3
  out=$(scripts/keystone.sh "$name" "$WORK/ks" "$URL") || rc=$?
  grep -v '^FAILED: ' <<<"$out"
  grep '^FAILED: ' <<<"$out" | check_failures "$name" "${expected[@]}" || return 1
  if [ $rc != 0 ] && ! grep -q '^FAILED: ' <<<"$out"; then
    echo "$name exited $rc (log $log)"; tail -30 "$log"; return 1
  fi
}
[ "${SKIP_TEMPEST:-}" = 1 ] && [ "${CI:-}" != true ] ||
  step tempest outside tempest "$WORK/ks/tempest/run.log" TEMPEST_EXPECTED
[ "${SKIP_GOPHERCLOUD:-}" = 1 ] && [ "${CI:-}" != true ] ||
  step gophercloud outside gophercloud "$WORK/ks/gophercloud.log" GOPHERCLOUD_EXPECTED

if [ ${#failed[@]} -gt 0 ]; then
  echo "60-keystone: failed: ${failed[*]}"
  echo "--- glance-api log (last 30 lines)"; tail -30 "$WORK/glance/glance-api.log"
  exit 1
fi
echo "60-keystone: all passed"
