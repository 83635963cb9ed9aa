#!/usr/bin/env bash
# A real OpenStack Keystone (Debian bookworm keystone 22 = Zed) on loopback,
# under uwsgi with SQLite and Fernet tokens, for glance-go's integration
# tests; plus the two outside suites run against an image endpoint: Tempest's
# tempest.api.image.v2 and gophercloud's image v2 acceptance tests.
# Written from ../shared/recipes/keystone-tempest.sh.
#
#   scripts/keystone.sh up          WORKDIR      # install if missing, bootstrap, start, seed users
#   scripts/keystone.sh env         WORKDIR      # print the export lines again
#   scripts/keystone.sh register    WORKDIR URL  # (re)point the catalog's image service at URL
#   scripts/keystone.sh tempest     WORKDIR URL  # register URL, run tempest.api.image.v2 against it
#   scripts/keystone.sh gophercloud WORKDIR URL  # register URL, run gophercloud's image v2 acceptance tests
#   scripts/keystone.sh down        WORKDIR      # stop every process it started (data kept)
#
# stdout of `up` and `env` is only export lines, eval-able:
#   eval "$(scripts/keystone.sh up /tmp/keystone)"
# giving OS_AUTH_URL (…/v3) and the admin's OS_* credentials, and
# GLANCE_SERVICE_USER/PASSWORD/PROJECT for glance-api's keystone {} block
# (examples/deploy/keystone.hcl), and KEYSTONE_* for core/e2e's tests.
# Accounts (domain Default, password "password"): admin (project admin,
# role admin); demo (project demo, member+reader); glance (project service,
# admin+service: may validate tokens); norole (project demo, only the
# unrelated role "observer").
# tempest: prints "tempest: N passed, N failed, N skipped" and the names of
#   failed tests; feature flags from IMPORT_IMAGE OS_GLANCE_RESERVED
#   MANAGE_LOCATIONS IMAGE_CACHING (true|false), TEMPEST_REGEX, TEMPEST_EXCLUDE,
#   TEMPEST_CONCURRENCY (2). Its exit status is tempest's.
# gophercloud: GOPHERCLOUD_VERSION (v2.15.0); prints "gophercloud: N passed,
#   N failed, N skipped" and the failed tests' names. Exit status is go test's.
# Env: KEYSTONE_PORT (5001; a busy port is replaced by a free one),
#      KEYSTONE_HTTP_PORT (file server for tempest's http_image; free port).
set -euo pipefail

CMD=${1:-}; W=${2:-}
[ -n "$CMD" ] && [ -n "$W" ] || { sed -n '2,30p' "$0" >&2; exit 2; }
mkdir -p "$W"; W=$(cd "$W" && pwd)
PW=password
PY=/usr/bin/python3   # Debian's python: a pyenv python3 may come first on PATH
log() { echo "[keystone] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {  # $1 = preferred port; a busy one is replaced by a free one
  local p=$1
  while port_busy "$p"; do p=$((20000 + RANDOM % 20000)); done
  echo "$p"
}
# The ports of a WORKDIR are fixed at `up` (the catalog records them).
[ -f "$W/ports" ] && source "$W/ports"
KS_URL="http://127.0.0.1:${KS_PORT:-5001}/v3"
WWW="http://127.0.0.1:${WWW_PORT:-0}"

install_pkgs() {
  local missing=() p made_policy=0
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  # Decline the package's own database, admin and endpoint setup: done by hand below.
  debconf-set-selections <<'EOF'
keystone keystone/configure_db boolean false
keystone keystone/create-admin-tenant boolean false
keystone keystone/register-endpoint boolean false
EOF
  # Keep postinst from starting the packaged daemons (port 5000).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${missing[@]}" >&2 || {
    apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
      --no-install-recommends "${missing[@]}" >&2 || rc=$?; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

# stop_pidfile FILE PATTERN: TERM (then KILL) the pid in FILE if its
# command line matches PATTERN.
stop_pidfile() {
  local f=$1 pat=$2 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$pat"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

wait_http() { # URL SECONDS
  for _ in $(seq "$2"); do
    curl -s -o /dev/null --max-time 2 "$1" && return 0
    sleep 1
  done
  return 1
}

os_env() {
  cat <<EOF
export OS_AUTH_URL=$KS_URL
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$PW
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export GLANCE_SERVICE_USER=glance
export GLANCE_SERVICE_PASSWORD=$PW
export GLANCE_SERVICE_PROJECT=service
export KEYSTONE_URL=$KS_URL
export KEYSTONE_PASSWORD=$PW
EOF
}

# ks_py: python with an admin keystoneauth session `s` and helpers.
ks_py() {
  KS_URL=$KS_URL PW=$PW $PY - "$@" <<EOF
import os, sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
U = os.environ['KS_URL']; PW = os.environ['PW']
s = session.Session(auth=v3.Password(auth_url=U, username='admin', password=PW,
    project_name='admin', user_domain_id='default', project_domain_id='default'))
def get(kind, name, body):
    r = s.get('%s/%s?name=%s' % (U, kind, name)).json()[kind]
    return r[0]['id'] if r else s.post('%s/%s' % (U, kind), json={kind[:-1]: body}).json()[kind[:-1]]['id']
def grant(p, u, r):
    s.put('%s/projects/%s/users/%s/roles/%s' % (U, p, u, r))
$(cat)
EOF
}

keystone_up() {
  install_pkgs keystone python3-openstackclient uwsgi-core uwsgi-plugin-python3 curl || die "cannot install Keystone"
  local K=$W/keystone KM
  stop_pidfile "$K/uwsgi.pid" uwsgi
  KS_PORT=$(free_port "${KEYSTONE_PORT:-5001}")
  WWW_PORT=$(free_port $((KS_PORT + 1)))
  printf 'KS_PORT=%s\nWWW_PORT=%s\n' "$KS_PORT" "$WWW_PORT" > "$W/ports"
  KS_URL="http://127.0.0.1:$KS_PORT/v3"
  rm -rf "$K"; mkdir -p "$K"
  cat > "$K/keystone.conf" <<EOF
[DEFAULT]
log_file = $K/keystone.log
[database]
connection = sqlite:///$K/keystone.db
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = $K/fernet-keys
[fernet_receipts]
key_repository = $K/fernet-keys
[credential]
key_repository = $K/credential-keys
[identity]
# fast bcrypt: tempest creates and authenticates many users
password_hash_rounds = 4
[cache]
enabled = false
EOF
  KM="keystone-manage --config-file $K/keystone.conf"
  log "keystone-manage db_sync, fernet_setup, bootstrap"
  { $KM db_sync
    $KM fernet_setup --keystone-user root --keystone-group root
    $KM credential_setup --keystone-user root --keystone-group root
    $KM bootstrap --bootstrap-password "$PW" --bootstrap-username admin \
      --bootstrap-project-name admin --bootstrap-role-name admin \
      --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "$KS_URL" --bootstrap-public-url "$KS_URL" \
      --bootstrap-internal-url "$KS_URL"; } > "$K/manage.log" 2>&1 || { tail -20 "$K/manage.log" >&2; die "keystone-manage failed"; }
  # WAL: fewer 'database is locked' errors with 2 uwsgi workers
  $PY -c "import sqlite3; sqlite3.connect('$K/keystone.db').execute('PRAGMA journal_mode=WAL')"
  # 1 thread per worker (SQLite and threads do not mix); "Connection: close"
  # keeps clients from reusing a socket uwsgi has closed.
  # The subshell's own stdout is the log: nothing left running may hold the
  # caller's stdout (a pipe, under "$(scripts/keystone.sh up …)").
  (cd "$K" && exec setsid uwsgi --plugins http,python3 --http "127.0.0.1:$KS_PORT" \
    --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 2 --threads 1 \
    --lazy-apps --buffer-size 65535 --die-on-term --no-orphans \
    --add-header "Connection: close" --pidfile "$K/uwsgi.pid" \
    --env "OS_KEYSTONE_CONFIG_FILES=$K/keystone.conf") > "$K/uwsgi.log" 2>&1 < /dev/null &
  wait_http "$KS_URL" 60 || { tail -20 "$K/uwsgi.log" >&2; die "keystone did not start"; }
  log "keystone up at $KS_URL; seeding projects, users and roles"
  ks_py <<'EOF'
svc = get('roles', 'service', {'name': 'service'})
ids = {n: get('roles', n, {'name': n}) for n in ('admin', 'member', 'reader', 'observer')}
p_service = get('projects', 'service', {'name': 'service', 'domain_id': 'default'})
p_demo = get('projects', 'demo', {'name': 'demo', 'domain_id': 'default'})
u_glance = get('users', 'glance', {'name': 'glance', 'password': PW, 'domain_id': 'default'})
u_demo = get('users', 'demo', {'name': 'demo', 'password': PW, 'domain_id': 'default'})
u_norole = get('users', 'norole', {'name': 'norole', 'password': PW, 'domain_id': 'default'})
grant(p_service, u_glance, ids['admin']); grant(p_service, u_glance, svc)
grant(p_demo, u_demo, ids['member']); grant(p_demo, u_demo, ids['reader'])
grant(p_demo, u_norole, ids['observer'])
EOF
  os_env
}

# register URL: (re)point the catalog's image service at URL.
register_image() {
  wait_http "$KS_URL" 5 || die "keystone is not running at $KS_URL: run '$0 up $W' first"
  ks_py "$1" <<'EOF'
url = sys.argv[1].rstrip('/')
svcs = s.get(U + '/services?type=image').json()['services']
sid = svcs[0]['id'] if svcs else s.post(U + '/services', json={'service': {
    'type': 'image', 'name': 'glance', 'enabled': True}}).json()['service']['id']
for e in s.get(U + '/endpoints?service_id=' + sid).json()['endpoints']:
    s.delete(U + '/endpoints/' + e['id'])
for i in ('public', 'internal', 'admin'):
    s.post(U + '/endpoints', json={'endpoint': {'service_id': sid, 'interface': i,
        'url': url, 'region_id': 'RegionOne', 'enabled': True}})
print('[keystone] image endpoint ->', url, file=sys.stderr)
EOF
}

# www_up: a file server for tempest's http_image and gophercloud's import
# URL (loopback, no internet).
www_up() {
  local D=$W/www
  mkdir -p "$D"
  [ -s "$D/cirros.img" ] || head -c 65536 /dev/urandom > "$D/cirros.img"
  if ! curl -s -o /dev/null "$WWW/cirros.img"; then
    setsid $PY -m http.server "$WWW_PORT" --bind 127.0.0.1 --directory "$D" \
      > "$W/www.log" 2>&1 < /dev/null &
    echo $! > "$W/www.pid"
    wait_http "$WWW/cirros.img" 10 || die "http.server did not start"
  fi
}

tempest_run() {
  local url=${1:?usage: $0 tempest WORKDIR URL} T=$W/tempest tdir rc=0
  install_pkgs tempest || die "cannot install tempest"
  register_image "$url"
  www_up
  tdir=$($PY -c 'import os, tempest; print(os.path.dirname(tempest.__file__))')
  rm -rf "$T"; mkdir -p "$T/etc" "$T/logs" "$T/lock"
  # the .stestr.conf of `tempest init`
  printf '[DEFAULT]\ntest_path=%s/test_discover\ntop_dir=%s\ngroup_regex=([^\\.]*\\.)*\n' \
    "$tdir" "$tdir" > "$T/.stestr.conf"
  cat > "$T/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $T/logs
log_file = tempest.log
[oslo_concurrency]
lock_path = $T/lock
[auth]
admin_username = admin
admin_password = $PW
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
create_isolated_networks = false
tempest_roles = member
[identity]
uri_v3 = $KS_URL
auth_version = v3
region = RegionOne
[identity-feature-enabled]
api_v2 = false
[service_available]
glance = true
nova = false
neutron = false
cinder = false
swift = false
[image]
region = RegionOne
http_image = $WWW/cirros.img
image_caching_enabled = ${IMAGE_CACHING:-false}
build_timeout = 120
[image-feature-enabled]
api_v1 = false
api_v2 = true
import_image = ${IMPORT_IMAGE:-false}
os_glance_reserved = ${OS_GLANCE_RESERVED:-true}
manage_locations = ${MANAGE_LOCATIONS:-false}
[validation]
run_validation = false
EOF
  local args=(--config-file "$T/etc/tempest.conf" --regex "${TEMPEST_REGEX:-^tempest\.api\.image\.v2}"
              --concurrency "${TEMPEST_CONCURRENCY:-2}")
  [ -n "${TEMPEST_EXCLUDE:-}" ] && args+=(--exclude-regex "$TEMPEST_EXCLUDE")
  log "tempest run ${args[*]} (log $T/run.log)"
  (cd "$T" && tempest run "${args[@]}") > "$T/run.log" 2>&1 || rc=$?
  local pass fail skip
  pass=$(sed -n 's/^ - Passed: //p' "$T/run.log"); fail=$(sed -n 's/^ - Failed: //p' "$T/run.log")
  skip=$(sed -n 's/^ - Skipped: //p' "$T/run.log")
  # the names of failed tests, one a line, as "FAILED: name"
  grep -E '\.\.\. FAILED' "$T/run.log" | sed -E 's/^\{[0-9]+\} //; s/ \[[^]]*\] \.\.\. FAILED.*//; s/^/FAILED: /' | sort -u || true
  echo "tempest: ${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
  return $rc
}

gophercloud_run() {
  local url=${1:?usage: $0 gophercloud WORKDIR URL} ver=${GOPHERCLOUD_VERSION:-v2.15.0} src D=$W/gophercloud rc=0
  command -v go >/dev/null || die "go not found"
  register_image "$url"
  www_up
  src=$(cd / && go mod download -json "github.com/gophercloud/gophercloud/v2@$ver" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  [ -d "$src/internal/acceptance/openstack/image/v2" ] || die "no image v2 acceptance tests in $src"
  # TestImagesListByDate expects an existing image (devstack has cirros): seed one.
  ks_py "$url" "$W/www/cirros.img" <<'EOF'
url = sys.argv[1].rstrip('/')
if not s.get(url + '/v2/images?limit=1').json()['images']:
    i = s.post(url + '/v2/images', json={'name': 'cirros-seed', 'disk_format': 'raw',
        'container_format': 'bare', 'visibility': 'public'}).json()
    s.put(url + '/v2/images/%s/file' % i['id'], data=open(sys.argv[2], 'rb').read(),
          headers={'Content-Type': 'application/octet-stream'})
    print('[keystone] seeded image', i['id'], file=sys.stderr)
EOF
  rm -rf "$D"; cp -r "$src" "$D"; chmod -R u+w "$D"
  # The tests fetch a CirrOS image from the internet: point them at the local file.
  sed -i "s#^const ImportImageURL = .*#const ImportImageURL = \"$WWW/cirros.img\"#" \
    "$D/internal/acceptance/openstack/image/v2/imageservice.go"
  grep -q "$WWW" "$D/internal/acceptance/openstack/image/v2/imageservice.go" || die "ImportImageURL patch failed"
  log "go test gophercloud $ver image v2 acceptance (log $W/gophercloud.log)"
  (cd "$D" && eval "$(os_env)" && go test -count=1 -v -tags "fixtures acceptance" \
     ./internal/acceptance/openstack/image/v2/) > "$W/gophercloud.log" 2>&1 || rc=$?
  grep -E '^\s*--- FAIL' "$W/gophercloud.log" | sed -E 's/^\s*--- FAIL: ([^ ]+).*/FAILED: \1/' || true
  echo "gophercloud: $(grep -cE '^\s*--- PASS' "$W/gophercloud.log") passed," \
       "$(grep -cE '^\s*--- FAIL' "$W/gophercloud.log") failed," \
       "$(grep -cE '^\s*--- SKIP' "$W/gophercloud.log") skipped"
  return $rc
}

down() {
  stop_pidfile "$W/keystone/uwsgi.pid" uwsgi
  stop_pidfile "$W/www.pid" http.server
  log "stopped (data kept in $W)"
}

case "$CMD" in
  up) keystone_up ;;
  env) os_env ;;
  register) register_image "${3:?usage: $0 register WORKDIR URL}" ;;
  tempest) tempest_run "${3:-}" ;;
  gophercloud) gophercloud_run "${3:-}" ;;
  down) down ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
