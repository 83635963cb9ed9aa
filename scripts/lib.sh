# Sourced by scripts/integration/*.sh: small helpers shared by the suites.

# need_pkg installs Debian packages that are missing (apt-get update once).
need_pkg() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  if [ ! -f /tmp/.glance-apt-updated ]; then
    apt-get update -qq && touch /tmp/.glance-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# wait_tcp waits until host:port accepts connections.
wait_tcp() {
  local host=$1 port=$2 secs=${3:-30}
  for _ in $(seq $((secs * 10))); do
    (exec 3<>/dev/tcp/"$host"/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $host:$port after ${secs}s" >&2
  return 1
}

# step NAME CMD...: runs CMD, prints "-- NAME: ok|FAILED (Ns)" and, when it
# fails, appends NAME to the caller's failed array (declare failed=() first).
step() {
  local name=$1; shift
  echo "-- $name: $*"
  local t0=$SECONDS
  if "$@"; then
    echo "-- $name: ok ($((SECONDS - t0))s)"
  else
    echo "-- $name: FAILED ($((SECONDS - t0))s)"
    failed+=("$name")
  fi
}
