#!/usr/bin/env bash
# The real OpenStack clients against glance-api: Debian's python3-glanceclient
# (`glance`) and python3-openstackclient (`openstack`) drive a glance-api
# started here (noauth, SQLite, filesystem store, loopback, a free port)
# through the image lifecycle: create with properties, upload with --file,
# list with filters, show, set/unset properties, tags, deactivate/reactivate,
# download and compare bytes, delete. Every step is asserted; the first
# failure ends the suite non-zero. The server is stopped whatever happens.
#
# Client traps (see shared/recipes/glance-reference.sh):
# - glance reads the image from stdin when stdin is not a terminal (even
#   /dev/null: a 0-byte upload): every call runs with stdin closed (<&-).
# - glanceclient caches /v2/schemas/image in ~/.glanceclient and, once it is
#   cached, adds --stores twice ("argument --stores: conflicting option
#   string"). Real Glance has the same schema; the cache is seeded without
#   "stores", as for Glance, in a private HOME.
# - noauth: glance takes --os-image-url plus any --os-auth-token; openstack
#   takes --os-auth-type none and --os-endpoint. OS_* variables from the
#   caller's environment would override these, so they are dropped, and so
#   are proxies (loopback only, no outside DNS).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh

need_pkg python3-glanceclient python3-openstackclient

for v in $(env | grep -o '^OS_[A-Za-z0-9_]*' || true); do unset "$v"; done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

WORK=$(mktemp -d /tmp/glance-clients.XXXXXX)
mkdir -p "$WORK/home/.glanceclient" "$WORK/bin" "$WORK/images"

# This suite's own binaries: the same code as bin/, built on their own so
# that the suite does not depend on every plugin of the tree building.
# Before HOME moves: Go's caches live under it.
go build -o "$WORK/bin/" ./core/cmd/glance-api ./plugins/filesystem/cmd/glance-store-filesystem
export HOME=$WORK/home

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
cat >"$WORK/config.hcl" <<EOF
plugin_dir = "$WORK/bin"
api { bind = "127.0.0.1:$PORT" }
registry {
  driver = "sqlite"
  dsn    = "$WORK/glance.db"
}
auth { mode = "noauth" }
store "local" {
  plugin  = "filesystem"
  default = true
  config {
    data_dir = "$WORK/images"
  }
}
EOF

SERVER_PID=
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -INT "$SERVER_PID"
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ]; then
    echo "--- glance-api log (last 40 lines)"
    tail -40 "$WORK/glance-api.log" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

"$WORK/bin/glance-api" -config "$WORK/config.hcl" >"$WORK/glance-api.log" 2>&1 &
SERVER_PID=$!
wait_tcp 127.0.0.1 "$PORT" 30
curl -sf "$URL/healthcheck" >/dev/null

curl -sf "$URL/v2/schemas/image" | python3 -c 'import json, sys
d = json.load(sys.stdin); d["properties"].pop("stores", None)
json.dump(d, open(sys.argv[1], "w"))' "$HOME/.glanceclient/image_schema.json"

PASS=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { PASS=$((PASS + 1)); echo "ok $PASS - $*"; }

# run DESC CMD...: CMD must succeed; its output is kept in $OUT.
run() {
  local desc=$1; shift
  if ! OUT=$(timeout 120 "$@" <&- 2>&1); then
    echo "$OUT" >&2
    fail "$desc: exit status non-zero: $*"
  fi
}
# expect DESC REGEX: the last output must match.
expect() { grep -Eq -- "$2" <<<"$OUT" || { echo "$OUT" >&2; fail "$1: output lacks /$2/"; }; ok "$1"; }
# reject DESC REGEX: the last output must not match.
reject() { ! grep -Eq -- "$2" <<<"$OUT" || { echo "$OUT" >&2; fail "$1: output has /$2/"; }; ok "$1"; }
# field NAME: the value of a "| name | value |" row of the last output.
field() { awk -F'|' -v k="$1" '{gsub(/^ +| +$/, "", $2); if ($2 == k) {gsub(/^ +| +$/, "", $3); print $3; exit}}' <<<"$OUT"; }

G=(glance --os-image-url "$URL" --os-auth-token admin)
O=(openstack --os-auth-type none --os-endpoint "$URL" --os-image-api-version 2)

head -c 300000 /dev/urandom >"$WORK/a.img"
head -c 123457 /dev/urandom >"$WORK/b.img"
MD5A=$(md5sum "$WORK/a.img" | cut -d' ' -f1)
MD5B=$(md5sum "$WORK/b.img" | cut -d' ' -f1)

echo "# glance (python-glanceclient $(glance --version 2>&1))"
run "glance image-create" "${G[@]}" image-create --name cli-a --disk-format raw --container-format bare \
  --property os_distro=cirros --property hw_disk_bus=scsi --file "$WORK/a.img"
expect "glance image-create: active" '\| status +\| active'
expect "glance image-create: checksum" "\| checksum +\| $MD5A"
expect "glance image-create: property" '\| os_distro +\| cirros'
expect "glance image-create: size" '\| size +\| 300000 '
A=$(field id)
[ -n "$A" ] || fail "no id in image-create output"
run "glance image-create (second)" "${G[@]}" image-create --name cli-b --disk-format qcow2 --container-format bare \
  --property os_distro=debian
B=$(field id)
expect "glance image-create: queued without data" '\| status +\| queued'
run "glance image-upload --file" "${G[@]}" image-upload --file "$WORK/b.img" "$B"
run "glance image-show after upload" "${G[@]}" image-show "$B"
expect "glance image-upload: active" '\| status +\| active'
expect "glance image-upload: checksum" "\| checksum +\| $MD5B"

run "glance image-list" "${G[@]}" image-list
expect "glance image-list: a" "$A"
expect "glance image-list: b" "$B"
run "glance image-list --property-filter" "${G[@]}" image-list --property-filter os_distro=cirros
expect "glance image-list --property-filter: match" "$A"
reject "glance image-list --property-filter: no other" "$B"
run "glance image-list --checksum" "${G[@]}" image-list --checksum "$MD5B"
expect "glance image-list --checksum: match" "$B"
reject "glance image-list --checksum: no other" "$A"
run "glance image-list paged and sorted" "${G[@]}" image-list --page-size 1 --sort name:asc
grep -A1 "cli-a" <<<"$OUT" | grep -q "cli-b" || { echo "$OUT" >&2; fail "glance image-list --sort name:asc: order"; }
ok "glance image-list --page-size 1 --sort name:asc"

run "glance image-update set/unset" "${G[@]}" image-update --property hw_disk_bus=virtio --property note=hello \
  --remove-property os_distro --min-ram 256 "$A"
expect "glance image-update: set" '\| hw_disk_bus +\| virtio'
expect "glance image-update: added" '\| note +\| hello'
expect "glance image-update: min_ram" '\| min_ram +\| 256 '
reject "glance image-update: unset" 'os_distro'
run "glance image-tag-update" "${G[@]}" image-tag-update "$A" gold
run "glance image-tag-update (second)" "${G[@]}" image-tag-update "$A" silver
run "glance image-show tags" "${G[@]}" image-show "$A"
expect "glance tags: added" '\| tags +\| .*gold.*silver|silver.*gold'
run "glance image-list --tag" "${G[@]}" image-list --tag gold
expect "glance image-list --tag: match" "$A"
reject "glance image-list --tag: no other" "$B"
run "glance image-tag-delete" "${G[@]}" image-tag-delete "$A" silver
run "glance image-show after tag delete" "${G[@]}" image-show "$A"
reject "glance tag deleted" 'silver'

run "glance image-deactivate" "${G[@]}" image-deactivate "$A"
run "glance image-show deactivated" "${G[@]}" image-show "$A"
expect "glance image-deactivate: status" '\| status +\| deactivated'
run "glance image-reactivate" "${G[@]}" image-reactivate "$A"
run "glance image-show reactivated" "${G[@]}" image-show "$A"
expect "glance image-reactivate: status" '\| status +\| active'

run "glance image-download" "${G[@]}" image-download --file "$WORK/a.out" "$A"
cmp -s "$WORK/a.img" "$WORK/a.out" || fail "glance image-download: bytes differ"
ok "glance image-download: same bytes"

run "glance image-delete" "${G[@]}" image-delete "$A"
if OUT=$(timeout 120 "${G[@]}" image-show "$A" <&- 2>&1); then
  fail "glance image-show after delete succeeded"
fi
expect "glance image-show after delete: not found" 'No image with a name or ID|not found|404'

echo "# openstack ($(openstack --version 2>&1))"
run "openstack image create" "${O[@]}" image create --disk-format raw --container-format bare \
  --property os_distro=fedora --property owner_note=x --file "$WORK/b.img" osc-1 -f shell
C=$(sed -n 's/^id="\(.*\)"$/\1/p' <<<"$OUT")
[ -n "$C" ] || fail "no id in openstack image create output"
ok "openstack image create: id $C"
run "openstack image show" "${O[@]}" image show "$C" -f shell
expect "openstack image show: active" '^status="active"'
expect "openstack image show: checksum" "^checksum=\"$MD5B\""
expect "openstack image show: property" "'os_distro': 'fedora'"
run "openstack image list --property" "${O[@]}" image list --property os_distro=fedora -f value -c ID
expect "openstack image list --property: match" "^$C$"
reject "openstack image list --property: no other" "$B"
run "openstack image set" "${O[@]}" image set --property hw_disk_bus=ide --tag blue --min-disk 2 "$C"
run "openstack image unset" "${O[@]}" image unset --property owner_note "$C"
run "openstack image show after set/unset" "${O[@]}" image show "$C" -f shell
expect "openstack image set: property" "'hw_disk_bus': 'ide'"
expect "openstack image set: tag" "^tags=.*blue"
expect "openstack image set: min_disk" '^min_disk="2"'
reject "openstack image unset: property" "owner_note"
run "openstack image list --tag" "${O[@]}" image list --tag blue -f value -c ID
expect "openstack image list --tag: match" "^$C$"
run "openstack image unset --tag" "${O[@]}" image unset --tag blue "$C"
run "openstack image show after unset --tag" "${O[@]}" image show "$C" -f value -c tags
reject "openstack image unset --tag: gone" 'blue'
run "openstack image set --deactivate" "${O[@]}" image set --deactivate "$C"
run "openstack image show deactivated" "${O[@]}" image show "$C" -f value -c status
expect "openstack image set --deactivate: status" '^deactivated$'
run "openstack image set --activate" "${O[@]}" image set --activate "$C"
run "openstack image show reactivated" "${O[@]}" image show "$C" -f value -c status
expect "openstack image set --activate: status" '^active$'
run "openstack image save" "${O[@]}" image save --file "$WORK/c.out" "$C"
cmp -s "$WORK/b.img" "$WORK/c.out" || fail "openstack image save: bytes differ"
ok "openstack image save: same bytes"
run "openstack image delete" "${O[@]}" image delete "$C" "$B"
run "openstack image list after delete" "${O[@]}" image list -f value -c ID
reject "openstack image delete: gone" "$C|$B"

echo "40-clients: $PASS checks passed"
