#!/usr/bin/env bash
# ceph-micro.sh: throwaway single-node Ceph (mon + mgr + memstore OSD + radosgw)
# on 127.0.0.1, for the integration tests and benchmarks (S3 and Swift through
# radosgw, RBD). Debian 12 packages (Ceph 16 pacific), installed when missing.
# Needs root. Everything listens on loopback only.
#
#   ceph-micro.sh up   WORKDIR   # (re)create from scratch, wait until ready, print exports
#   ceph-micro.sh env  WORKDIR   # print the export lines again
#   ceph-micro.sh down WORKDIR   # stop daemons (by PID file) and delete WORKDIR
#
#   eval "$(ceph-micro.sh up /tmp/ceph)"   # status goes to stderr, exports to stdout
#
# Env overrides: CEPH_MON_PORT (3300), CEPH_RGW_PORT (7480): a busy default
# port is replaced by a free one. CEPH_POOL (images), CEPH_MEMSTORE_GB (4),
# CEPH_NO_RGW=1 skips radosgw.
# Every entity's key is in WORKDIR/keyring.<name> (conf: keyring = .../keyring.$name),
# so CEPH_CONF + a user id is enough. Do not export CEPH_KEYRING: Ceph tools
# honour it and it overrides the per-user keyring (auth fails for other ids).
# go-ceph: v0.36.0 builds against these libs with `-tags pacific` (rbd needs it).
set -euo pipefail

CMD=${1:-}; DIR=${2:-}; T0=$SECONDS
if [[ -z $CMD || -z $DIR ]]; then
  echo "usage: $0 up|down|env WORKDIR" >&2; exit 2
fi
DIR=$(realpath -m "$DIR")
CONF=$DIR/ceph.conf
POOL=${CEPH_POOL:-images}
# Fixed test credentials: the cluster only listens on loopback.
S3_ACCESS=GLANCETESTACCESSKEY0
S3_SECRET=glancetestsecretkey0000000000000000000
SWIFT_USER=glance:swift
SWIFT_KEY=glanceswiftkey0000000000000000000000000
PKGS=(ceph-mon ceph-mgr ceph-osd radosgw ceph-common librbd-dev librados-dev curl)
# shellcheck source=scripts/lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"

log() { echo "ceph-micro: [$((SECONDS - T0))s] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ceph_() { timeout 60 ceph -c "$CONF" --connect-timeout 30 "$@"; }

# Retry until "$@" succeeds or $1 seconds pass.
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.5
  done
}

install_pkgs() {
  # Another suite may be installing at the same time: wait for dpkg's lock
  # rather than fail (APT_CONFIG adds to, does not replace, apt.conf.d).
  local aptconf rc=0
  aptconf=$(mktemp)
  echo 'DPkg::Lock::Timeout "900";' >"$aptconf"
  # need_pkg talks on stdout: keep stdout for the export lines.
  APT_CONFIG=$aptconf need_pkg "${PKGS[@]}" >&2 || rc=$?
  rm -f "$aptconf"
  ((rc == 0)) || die "cannot install ${PKGS[*]}"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {  # $1 = preferred port
  local p=$1
  while port_busy "$p"; do p=$((20000 + RANDOM % 20000)); done
  echo "$p"
}

# Stop our daemons: only PIDs from our PID files whose cmdline names our conf.
# Order matters: rgw hangs if OSDs go first; an OSD waits for the mon to ack.
stop_daemons() {
  local stage name f pid pids
  for stage in client.rgw.gw "mgr.x osd.0" mon.a; do
    pids=()
    for name in $stage; do
      f=$DIR/run/$name.pid
      [[ -f $f ]] || continue
      pid=$(<"$f")
      if [[ $pid =~ ^[0-9]+$ ]] && { tr "\0" " " <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$CONF"; then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
      fi
      rm -f "$f"
    done
    for pid in "${pids[@]}"; do
      for _ in $(seq 1 40); do [[ -d /proc/$pid ]] || break; sleep 0.25; done
      [[ -d /proc/$pid ]] && { log "pid $pid still alive, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
    done
  done
  return 0
}

# Delete DIR only if it is ours (has our marker) or empty.
wipe_dir() {
  [[ -e $DIR ]] || return 0
  if [[ -f $DIR/.ceph-micro ]] || [[ -z $(ls -A "$DIR") ]]; then
    rm -rf "${DIR:?}"
  else
    die "$DIR exists and was not made by ceph-micro.sh; refusing to delete it"
  fi
}

print_env() {
  [[ -f $DIR/ports ]] || die "no cluster in $DIR"
  # shellcheck disable=SC1091
  source "$DIR/ports"
  cat <<EOF
export CEPH_CONF=$CONF
export CEPH_USER=admin
export CEPH_ADMIN_KEYRING=$DIR/keyring.client.admin
export CEPH_GLANCE_USER=glance
export CEPH_GLANCE_KEYRING=$DIR/keyring.client.glance
export CEPH_MON_HOST=v2:127.0.0.1:$MON_PORT
export CEPH_POOL=$POOL
EOF
  [[ -n ${RGW_PORT:-} ]] || return 0
  cat <<EOF
export RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export S3_REGION=us-east-1
export S3_ACCESS_KEY=$S3_ACCESS
export S3_SECRET_KEY=$S3_SECRET
export SWIFT_AUTH_URL=http://127.0.0.1:$RGW_PORT/auth/1.0
export SWIFT_USER=$SWIFT_USER
export SWIFT_KEY=$SWIFT_KEY
EOF
}

write_conf() {
  cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DIR/keyring.\$name
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# daemons report stats to mgr every 1s (default 5s): readiness is seen sooner
mgr stats period = 1

[mon]
mon data = $DIR/mon.\$id
mon cluster log file = $DIR/log/cluster.log
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mgr initial modules = iostat
# commit map changes every 50ms, not 1s: pool creation (rgw makes ~5) is faster
paxos propose interval = 0.05

[mgr]
mgr data = $DIR/mgr.\$id

[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = $((${CEPH_MEMSTORE_GB:-4} << 30))

[client]
client mount timeout = 30
rados mon op timeout = 60

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:${RGW_PORT:-0}
rgw data = $DIR/rgw
# free deleted objects' space (memstore = RAM) after seconds, not hours
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

up() {
  install_pkgs
  stop_daemons
  wipe_dir
  local t0=$SECONDS
  # on failure: stop what was started, keep WORKDIR/log for debugging
  trap 'rc=$?; ((rc == 0)) || { log "up failed (logs: $DIR/log)"; stop_daemons; }' EXIT
  mkdir -p "$DIR"/{run,log,crash,mgr.x,osd.0,rgw}
  touch "$DIR/.ceph-micro"
  FSID=$(cat /proc/sys/kernel/random/uuid)
  MON_PORT=$(free_port "${CEPH_MON_PORT:-3300}")
  RGW_PORT=
  [[ -n ${CEPH_NO_RGW:-} ]] || RGW_PORT=$(free_port "${CEPH_RGW_PORT:-7480}")
  printf 'MON_PORT=%s\nRGW_PORT=%s\n' "$MON_PORT" "$RGW_PORT" >"$DIR/ports"
  write_conf

  log "mon on 127.0.0.1:$MON_PORT"
  ceph-authtool --create-keyring "$DIR/keyring.mon.a" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/keyring.client.admin" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring.mon.a" --import-keyring "$DIR/keyring.client.admin" >/dev/null
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring.mon.a"
  ceph-mon -c "$CONF" -i a
  wait_for 60 ceph_ mon stat || die "mon did not come up (see $DIR/log)"

  log "mgr"
  ceph_ auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$DIR/keyring.mgr.x"
  ceph-mgr -c "$CONF" -i x

  log "osd (memstore)"
  local uuid; uuid=$(cat /proc/sys/kernel/random/uuid)
  [[ $(ceph_ osd new "$uuid") == 0 ]] || die "unexpected osd id"
  ceph_ auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
    -o "$DIR/keyring.osd.0"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" 2>>"$DIR/log/osd.0.stderr"
  ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/osd.0.stderr"
  wait_for 60 bash -c "ceph -c '$CONF' osd dump 2>/dev/null | grep -q '^osd.0 up'" ||
    die "osd did not come up (see $DIR/log)"

  log "pool $POOL + client.glance"
  ceph_ osd pool create "$POOL" 8 8 >/dev/null 2>&1 || die "pool create failed"
  rbd -c "$CONF" pool init "$POOL"
  ceph_ auth get-or-create client.glance mon 'profile rbd' osd "profile rbd pool=$POOL" \
    mgr "profile rbd pool=$POOL" -o "$DIR/keyring.client.glance"

  if [[ -n $RGW_PORT ]]; then
    log "radosgw on 127.0.0.1:$RGW_PORT"
    ceph_ auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
      -o "$DIR/keyring.client.rgw.gw"
    radosgw -c "$CONF" -n client.rgw.gw
    wait_for 120 curl -fsS -o /dev/null "http://127.0.0.1:$RGW_PORT/" ||
      die "radosgw did not answer (see $DIR/log)"
    log "rgw users"
    radosgw-admin -c "$CONF" user create --uid glance --display-name glance \
      --access-key "$S3_ACCESS" --secret-key "$S3_SECRET" >/dev/null
    radosgw-admin -c "$CONF" subuser create --uid glance --subuser "$SWIFT_USER" \
      --access full --key-type swift --secret-key "$SWIFT_KEY" >/dev/null
    wait_for 30 curl -fsS -o /dev/null -H "X-Auth-User: $SWIFT_USER" -H "X-Auth-Key: $SWIFT_KEY" \
      "http://127.0.0.1:$RGW_PORT/auth/1.0" || die "swift auth failed"
  fi

  log "waiting for PGs active+clean"
  wait_for 120 bash -c "ceph -c '$CONF' pg stat 2>/dev/null | grep -qE '^([0-9]+) pgs: \\1 active\\+clean;'" ||
    die "PGs not active+clean: $(ceph_ pg stat 2>&1)"
  log "waiting for HEALTH_OK"
  wait_for 60 bash -c "ceph -c '$CONF' health 2>/dev/null | grep -q HEALTH_OK" ||
    log "WARNING: $(ceph_ health detail 2>&1 | head -5)"
  log "ready in $((SECONDS - t0))s"
  print_env
}

case $CMD in
  up) up ;;
  env) print_env ;;
  down) stop_daemons; wipe_dir; log "down" ;;
  *) echo "usage: $0 up|down|env WORKDIR" >&2; exit 2 ;;
esac
