#!/usr/bin/env bash
# A single-node OpenStack Swift (Debian bookworm swift 2.30 = Zed) with
# tempauth, on loopback only, for glance-go's integration tests and bench.
# Written from ../shared/recipes/swift-saio.sh.
#   scripts/swift-saio.sh up     WORKDIR   # install if missing, build 1-replica rings, start
#   scripts/swift-saio.sh down   WORKDIR   # stop every process it started (data kept)
#   scripts/swift-saio.sh status WORKDIR
# stdout of `up` is only export lines, eval-able:
#   eval "$(scripts/swift-saio.sh up /tmp/saio)"
# giving SWIFT_AUTH_URL, SWIFT_USER, SWIFT_KEY (and SWIFT_STORAGE_URL).
# Every server binds 127.0.0.1.
# Env: SWIFT_SAIO_PORT=8080 (proxy)  SWIFT_SAIO_BASE_PORT=6210 (object; +1 container,
#      +2 account)  SWIFT_SAIO_MEMCACHED_PORT=11311  SWIFT_SAIO_WORKERS=1
# Users (tempauth, auth v1.0): test:tester/testing (.admin, account AUTH_test),
#   test2:tester2/testing2, test:tester3/testing3 (non-admin), admin:admin/admin (reseller).
# Uses the packaged /etc/swift/swift.conf (hash prefix/suffix + policy 0) read-only;
# swift servers always read that path. Rings and configs live in WORKDIR/etc.
set -euo pipefail

CMD=${1:-}; W=${2:-}
[ -n "$CMD" ] && [ -n "$W" ] || { echo "usage: $0 up|down|status WORKDIR" >&2; exit 2; }
mkdir -p "$W"; W=$(cd "$W" && pwd)
# The ports of a WORKDIR are fixed once its rings exist (they record them).
[ -f "$W/ports" ] && source "$W/ports"
PORT=${SWIFT_SAIO_PORT:-8080}
BASE=${SWIFT_SAIO_BASE_PORT:-6210}
OPORT=$BASE; CPORT=$((BASE + 1)); APORT=$((BASE + 2))
MPORT=${SWIFT_SAIO_MEMCACHED_PORT:-11311}
WORKERS=${SWIFT_SAIO_WORKERS:-1}
URL="http://127.0.0.1:$PORT"
E="$W/etc"; RUN="$W/run"; LOG="$W/log"
SERVICES="container-updater proxy account container object memcached"  # stop order
log() { echo "[swift-saio] $*" >&2; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {  # $1 = preferred port; a busy one is replaced by a free one
  local p=$1
  while port_busy "$p"; do p=$((20000 + RANDOM % 20000)); done
  echo "$p"
}

# pick_ports chooses free ports for a new WORKDIR and records them.
pick_ports() {
  [ -f "$W/ports" ] && return 0
  PORT=$(free_port "$PORT"); MPORT=$(free_port "$MPORT")
  if port_busy "$OPORT" || port_busy "$CPORT" || port_busy "$APORT"; then
    BASE=$(free_port 26210)
    while port_busy $((BASE + 1)) || port_busy $((BASE + 2)); do BASE=$(free_port $((BASE + 3))); done
    OPORT=$BASE; CPORT=$((BASE + 1)); APORT=$((BASE + 2))
  fi
  URL="http://127.0.0.1:$PORT"
  printf 'SWIFT_SAIO_PORT=%s\nSWIFT_SAIO_BASE_PORT=%s\nSWIFT_SAIO_MEMCACHED_PORT=%s\n' "$PORT" "$OPORT" "$MPORT" > "$W/ports"
}

# zombies count as gone (PID 1 here reaps slowly)
pid_up() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]; }
alive() { [ -f "$RUN/$1.pid" ] && pid_up "$(cat "$RUN/$1.pid")"; }

install_pkgs() {
  local need=0 p
  for p in swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need=1
  done
  [ $need = 0 ] && return 0
  log "installing swift packages + memcached"
  local tmp_policy=0   # keep package init scripts from starting system daemons
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  local pk=(swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached)
  { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${pk[@]}" >&2 ||
    { apt-get -o DPkg::Lock::Timeout=900 update >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${pk[@]}" >&2; }; } || {
    [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; return 1; }
  [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

server_conf() {  # type port
  cat > "$E/$1-server.conf" <<EOF
[DEFAULT]
devices = $W/srv/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = $2
workers = $WORKERS
user = root
swift_dir = $E
recon_cache_path = $W/cache
log_name = $1-server
log_udp_host = 127.0.0.1
log_udp_port = 9
[pipeline:main]
pipeline = $1-server
[app:$1-server]
use = egg:swift#$1
EOF
}

write_config() {
  mkdir -p "$E" "$RUN" "$LOG" "$W/cache" "$W/srv/node/d1"
  server_conf object "$OPORT"
  server_conf container "$CPORT"
  server_conf account "$APORT"
  # refresh account listing stats quickly (default interval is 300s)
  printf '[container-updater]\ninterval = 5\n' >> "$E/container-server.conf"
  cat > "$E/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PORT
workers = $WORKERS
user = root
swift_dir = $E
log_name = proxy-server
log_udp_host = 127.0.0.1
log_udp_port = 9
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_tester3 = testing3
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MPORT
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
[filter:symlink]
use = egg:swift#symlink
EOF
}

build_rings() {  # 1 replica, part power 10 (= swift-ring-builder create/add/rebalance, 10x faster)
  [ -f "$E/object.ring.gz" ] && [ -f "$E/container.ring.gz" ] && [ -f "$E/account.ring.gz" ] && return 0
  /usr/bin/python3 - "$E" "$OPORT" "$CPORT" "$APORT" <<'RINGPY'
import sys
from swift.common.ring import RingBuilder
e, ports = sys.argv[1], dict(zip(('object', 'container', 'account'), sys.argv[2:5]))
for kind, port in ports.items():
    b = RingBuilder(10, 1, 1)
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),
               'replication_ip': '127.0.0.1', 'replication_port': int(port),
               'device': 'd1', 'weight': 1, 'meta': ''})
    b.rebalance()
    b.get_ring().save('%s/%s.ring.gz' % (e, kind))
    b.save('%s/%s.builder' % (e, kind))
RINGPY
}

start_bg() {  # name cmd...
  local n=$1; shift
  setsid nohup "$@" >"$LOG/$n.log" 2>&1 </dev/null &
  echo $! > "$RUN/$n.pid"
}

wait_port() {  # name port
  local i
  for i in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    alive "$1" || { log "$1 died:"; tail -20 "$LOG/$1.log" >&2; return 1; }
    sleep 0.2
  done
  log "$1 not listening on $2"; return 1
}

print_env() {
  cat <<EOF
export SWIFT_AUTH_URL=$URL/auth/v1.0
export SWIFT_USER=test:tester
export SWIFT_KEY=testing
export SWIFT_STORAGE_URL=$URL/v1/AUTH_test
EOF
}

up() {
  if alive proxy; then log "already running"; print_env; return 0; fi
  local t0 p; t0=$(date +%s.%N)
  install_pkgs
  pick_ports
  for p in $PORT $OPORT $CPORT $APORT $MPORT; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then log "port $p already in use"; exit 1; fi
  done
  write_config
  build_rings
  start_bg memcached memcached -l 127.0.0.1 -p "$MPORT" -U 0 -m 64 -u memcache
  start_bg object swift-object-server "$E/object-server.conf" -v
  start_bg container swift-container-server "$E/container-server.conf" -v
  start_bg account swift-account-server "$E/account-server.conf" -v
  start_bg proxy swift-proxy-server "$E/proxy-server.conf" -v
  start_bg container-updater swift-container-updater "$E/container-server.conf" -v
  wait_port memcached "$MPORT"; wait_port object "$OPORT"; wait_port container "$CPORT"
  wait_port account "$APORT"; wait_port proxy "$PORT"
  # first auth + account autocreate
  local tok
  tok=$(curl -sf -D - -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
        "$URL/auth/v1.0" | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}' | tr -d '\r')
  [ -n "$tok" ] || { log "tempauth failed"; tail -20 "$LOG/proxy.log" >&2; exit 1; }
  curl -sf -o /dev/null -X POST -H "X-Auth-Token: $tok" "$URL/v1/AUTH_test" \
    || { log "account check failed"; tail -20 "$LOG/proxy.log" >&2; exit 1; }
  log "up in $(echo "$(date +%s.%N) - $t0" | bc)s, logs in $LOG"
  print_env
}

down() {
  local n pid i pids=""
  for n in $SERVICES; do
    if alive "$n"; then pid=$(cat "$RUN/$n.pid"); kill -TERM "$pid"; pids="$pids $pid"; fi
  done
  [ -n "$pids" ] || { log "not running"; rm -f "$RUN"/*.pid; return 0; }
  for i in $(seq 1 100); do
    n=0; for pid in $pids; do pid_up "$pid" && n=1; done
    [ $n = 0 ] && break; sleep 0.1
  done
  for pid in $pids; do
    pid_up "$pid" && { kill -KILL -- "-$pid" 2>/dev/null || true; }
    for i in $(pgrep -g "$pid" 2>/dev/null); do kill -KILL "$i" 2>/dev/null || true; done
  done
  rm -f "$RUN"/*.pid; log "stopped"
}

case "$CMD" in
  up) up ;;
  down) down ;;
  status) if alive proxy; then log "running"; print_env; else log "stopped"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status WORKDIR" >&2; exit 2 ;;
esac
