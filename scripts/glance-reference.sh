#!/usr/bin/env bash
# Written from ../shared/recipes/glance-reference.sh: the project's own copy, used by
# bench/metadata.sh to run the real Glance beside glance-api in the same run.
# Reference OpenStack Glance (Debian bookworm glance-api 25.x = Zed) with no keystone.
#   glance-reference.sh up     WORKDIR   # install if missing, configure, db_sync, start
#   glance-reference.sh down   WORKDIR   # stop (data kept; rm -rf WORKDIR to purge)
#   glance-reference.sh status WORKDIR
# stdout of `up` is eval-able:  eval "$(glance-reference.sh up /tmp/gref)"
# Env: GLANCE_REF_PORT=9293  GLANCE_REF_WORKERS=1  GLANCE_REF_MULTISTORE=1
#      GLANCE_REF_WEB_PORT=9380 (extra port allowed for web-download from 127.0.0.1)
#      GLANCE_REF_DEBUG=false  GLANCE_REF_FIX_CLIENT=1 (seed glanceclient schema cache)
#      GLANCE_REF_SECURE_RBAC=1: secure-RBAC personas ([DEFAULT] enforce_secure_rbac and
#        [oslo_policy] enforce_new_defaults = True). enforce_scope = True too (every glance
#        rule is project-scoped and the stand-in's identities are project-scoped);
#        GLANCE_REF_ENFORCE_SCOPE=0 turns that off. Unset = legacy defaults (as before).
#      GLANCE_REF_SWIFT=1: add backend 'swift' (tempauth v1) from SWIFT_AUTH_URL/SWIFT_USER/
#        SWIFT_KEY (as printed by swift-saio.sh up); needs GLANCE_REF_MULTISTORE=1.
#        GLANCE_REF_SWIFT_LARGE_MB=5120 / GLANCE_REF_SWIFT_CHUNK_MB=200 (DLO segmenting)
# Auth: X-Auth-Token "user:project:role[,role]" selects an identity; any other
# token (or none) = user admin, project admin, roles admin,member,reader.
set -euo pipefail

CMD=${1:-}; W=${2:-}
[ -n "$CMD" ] && [ -n "$W" ] || { echo "usage: $0 up|down|status WORKDIR" >&2; exit 2; }
mkdir -p "$W"; W=$(cd "$W" && pwd)
PORT=${GLANCE_REF_PORT:-9293}
WORKERS=${GLANCE_REF_WORKERS:-1}
MULTI=${GLANCE_REF_MULTISTORE:-1}
WEBPORT=${GLANCE_REF_WEB_PORT:-9380}
URL="http://127.0.0.1:$PORT"
PIDF="$W/glance-api.pid"
PY=/usr/bin/python3   # not the pyenv python3 first on PATH
log() { echo "[glance-ref] $*" >&2; }

# zombies count as gone (PID 1 here reaps slowly)
pid_up() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]; }
running() { [ -f "$PIDF" ] && pid_up "$(cat "$PIDF")"; }

install_pkgs() {
  local need=0 p
  for p in glance-api python3-glanceclient python3-openstackclient; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need=1
  done
  [ $need = 0 ] && return 0
  log "installing glance-api python3-glanceclient python3-openstackclient"
  # decline db / rabbit / keystone / endpoint registration prompts
  debconf-set-selections <<'EOF'
glance-common glance/configure_db boolean false
glance-common glance/configure_rabbit boolean false
glance-common glance/configure_ksat boolean false
glance-api glance/configure_api-endpoint boolean false
EOF
  # keep the package's own init script from starting a system glance on :9292
  local tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  local pk=(glance-api python3-glanceclient python3-openstackclient)
  { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${pk[@]}" >&2 ||
    { apt-get -o DPkg::Lock::Timeout=900 update >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${pk[@]}" >&2; }; } || {
    [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; return 1; }
  [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

write_config() {
  mkdir -p "$W"/{staging,tasks,lock,store-fast,store-cheap,store}
  local stores
  local swift_be="" swift_sec=""
  local rbac_default="" rbac_policy=""
  if [ "${GLANCE_REF_SECURE_RBAC:-0}" = 1 ]; then
    local scope=True; [ "${GLANCE_REF_ENFORCE_SCOPE:-1}" = 1 ] || scope=False
    rbac_default="
enforce_secure_rbac = True"
    rbac_policy="
[oslo_policy]
enforce_new_defaults = True
enforce_scope = $scope"
  fi
  if [ "${GLANCE_REF_SWIFT:-0}" = 1 ]; then
    : "${SWIFT_AUTH_URL:?GLANCE_REF_SWIFT=1 needs SWIFT_AUTH_URL/SWIFT_USER/SWIFT_KEY}"
    swift_be=",swift:swift"
    cat > "$W/glance-swift.conf" <<EOF
[ref1]
user = ${SWIFT_USER:-test:tester}
key = ${SWIFT_KEY:-testing}
auth_version = 1
auth_address = $SWIFT_AUTH_URL
EOF
    swift_sec="
[swift]
store_description = Swift (tempauth)
default_swift_reference = ref1
swift_store_config_file = $W/glance-swift.conf
swift_store_auth_version = 1
swift_store_container = glance
swift_store_create_container_on_put = true
swift_store_large_object_size = ${GLANCE_REF_SWIFT_LARGE_MB:-5120}
swift_store_large_object_chunk_size = ${GLANCE_REF_SWIFT_CHUNK_MB:-200}"
  fi
  if [ "$MULTI" = 1 ]; then
    stores="enabled_backends = fast:file,cheap:file$swift_be
[glance_store]
default_backend = fast
[fast]
filesystem_store_datadir = $W/store-fast/
store_description = Fast file store
[cheap]
filesystem_store_datadir = $W/store-cheap/
store_description = Cheap file store
[os_glance_staging_store]
filesystem_store_datadir = $W/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $W/tasks/$swift_sec"
  else
    stores="node_staging_uri = file://$W/staging
[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = $W/store/"
  fi
  cat > "$W/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $PORT
workers = $WORKERS
log_file = $W/glance-api.log
use_stderr = false
debug = ${GLANCE_REF_DEBUG:-false}
enabled_import_methods = [glance-direct,web-download,copy-image]
show_image_direct_url = true$rbac_default
$stores
[database]
connection = sqlite:///$W/glance.sqlite
[paste_deploy]
flavor = refauth
config_file = $W/glance-api-paste.ini
[oslo_concurrency]
lock_path = $W/lock
[import_filtering_opts]
# ListOpts with bounds: brackets are mandatory. Loopback needs allowed_hosts.
allowed_hosts = [127.0.0.1]
allowed_ports = [80,443,$WEBPORT]$rbac_policy
EOF
  # Debian's paste file plus a keystone-free pipeline that still runs glance's
  # real 'context' middleware (so owner/project and RBAC behave as with keystone)
  cat /usr/share/glance-common/glance-api-paste.ini > "$W/glance-api-paste.ini"
  cat >> "$W/glance-api-paste.ini" <<'EOF'

[pipeline:glance-api-refauth]
pipeline = cors healthcheck http_proxy_to_wsgi versionnegotiation osprofiler refauth context rootapp

[filter:refauth]
paste.filter_factory = glance_ref_auth:filter_factory
user = admin
project = admin
roles = admin,member,reader
EOF
  cp /usr/share/glance-common/schema-image.json "$W/schema-image.json"
  cat > "$W/glance_ref_auth.py" <<'EOF'
"""Keystone stand-in: sets the headers keystonemiddleware would set, so
glance's 'context' filter builds the request context. X-Auth-Token
"user:project:role[,role]" picks an identity, else the paste defaults.
glanceclient percent-encodes header values, hence unquote()."""
from urllib.parse import unquote

_STRIP = ('HTTP_X_IDENTITY_STATUS', 'HTTP_X_USER_ID', 'HTTP_X_USER_NAME',
          'HTTP_X_PROJECT_ID', 'HTTP_X_PROJECT_NAME', 'HTTP_X_TENANT_ID',
          'HTTP_X_TENANT_NAME', 'HTTP_X_ROLES', 'HTTP_X_ROLE',
          'HTTP_X_SERVICE_CATALOG', 'HTTP_X_USER_DOMAIN_ID',
          'HTTP_X_PROJECT_DOMAIN_ID', 'HTTP_X_SYSTEM_SCOPE',
          'HTTP_OPENSTACK_SYSTEM_SCOPE')


def filter_factory(global_conf, **local_conf):
    default = (local_conf.get('user', 'admin'),
               local_conf.get('project', 'admin'),
               local_conf.get('roles', 'admin,member,reader'))

    def _filter(app):
        def middleware(environ, start_response):
            for key in _STRIP:
                environ.pop(key, None)
            parts = unquote(environ.get('HTTP_X_AUTH_TOKEN', '')).split(':')
            user, project, roles = parts if len(parts) == 3 else default
            environ.update({
                'HTTP_X_IDENTITY_STATUS': 'Confirmed',
                'HTTP_X_USER_ID': user, 'HTTP_X_USER_NAME': user,
                'HTTP_X_PROJECT_ID': project, 'HTTP_X_PROJECT_NAME': project,
                'HTTP_X_ROLES': roles,
                'HTTP_X_USER_DOMAIN_ID': 'default',
                'HTTP_X_PROJECT_DOMAIN_ID': 'default'})
            return app(environ, start_response)
        return middleware
    return _filter
EOF
}

fix_client_cache() {
  # glanceclient 4.1 builds `--stores` twice (schema property + option) once the
  # image schema is cached -> every later `glance` call dies with
  # "argument --stores: conflicting option string". Seed the cache without it.
  [ "${GLANCE_REF_FIX_CLIENT:-1}" = 1 ] || return 0
  mkdir -p "$HOME/.glanceclient"
  curl -sf "$URL/v2/schemas/image" | "$PY" -c 'import json,sys
d=json.load(sys.stdin); d["properties"].pop("stores", None)
json.dump(d, open(sys.argv[1], "w"))' "$HOME/.glanceclient/image_schema.json"
}

print_env() {
  cat <<EOF
export GLANCE_REF_URL=$URL
export GLANCE_REF_PID=$(cat "$PIDF")
export GLANCE_REF_LOG=$W/glance-api.log
# glance   --os-image-url $URL --os-auth-token admin <cmd> <&-   (close stdin in scripts!)
# openstack --os-auth-type none --os-endpoint $URL image list   (as admin)
# openstack --os-auth-type admin_token --os-token alice:proj-a:member --os-endpoint $URL/v2 image list
# curl -H 'X-Auth-Token: alice:proj-a:member' $URL/v2/images
EOF
}

up() {
  if running; then log "already running (pid $(cat "$PIDF"))"; print_env; return 0; fi
  local t0; t0=$(date +%s.%N)
  install_pkgs
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    log "port $PORT already in use"; exit 1
  fi
  write_config
  glance-manage --config-file "$W/glance-api.conf" db_sync >"$W/db_sync.log" 2>&1 \
    || { cat "$W/db_sync.log" >&2; exit 1; }
  PYTHONPATH="$W" setsid nohup glance-api --config-file "$W/glance-api.conf" \
    >"$W/glance-api.stdout" 2>&1 </dev/null &
  echo $! > "$PIDF"
  local i
  for i in $(seq 1 300); do
    curl -sf -o /dev/null "$URL/versions" && break
    pid_up "$(cat "$PIDF")" || { tail -20 "$W/glance-api.stdout" "$W/glance-api.log" >&2; exit 1; }
    sleep 0.2
  done
  curl -sf -o /dev/null "$URL/v2/images" || { log "API not answering"; tail -20 "$W/glance-api.log" >&2; exit 1; }
  fix_client_cache
  log "up in $(echo "$(date +%s.%N) - $t0" | bc)s, pid $(cat "$PIDF"), log $W/glance-api.log"
  print_env
}

down() {
  running || { log "not running"; rm -f "$PIDF"; return 0; }
  local pid i; pid=$(cat "$PIDF")
  kill -TERM "$pid"   # parent stops its workers on SIGTERM
  for i in $(seq 1 100); do pid_up "$pid" || break; sleep 0.1; done
  if pid_up "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  for i in $(pgrep -g "$pid" 2>/dev/null); do kill -KILL "$i" 2>/dev/null || true; done  # stray workers
  rm -f "$PIDF"; log "stopped"
}

case "$CMD" in
  up) up ;;
  down) down ;;
  status) if running; then log "running pid $(cat "$PIDF")"; print_env; else log "stopped"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status WORKDIR" >&2; exit 2 ;;
esac
