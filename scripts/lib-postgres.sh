# Sourced by scripts/integration/20-postgres.sh and bench/registry.sh (after
# scripts/lib.sh): a throwaway PostgreSQL database on 127.0.0.1:5432.
#
#   pg_up      install (Debian postgresql) and start the cluster when nothing
#              answers on 127.0.0.1:5432; create a login role and a fresh
#              database; export PG_DSN (lib/pq key=value form).
#   pg_down    drop the database, and stop the cluster if pg_up started it.
#
# The role has a password and connects over TCP, so this works with
# Debian's default pg_hba.conf (scram on 127.0.0.1) as well as with trust.

PG_HOST=127.0.0.1
PG_PORT=5432
PG_STARTED=""
PG_DB=""
PG_ROLE=glance_it

# pg_admin runs psql as the superuser: over TCP when trusted, else as the
# postgres OS user on the local socket (peer authentication).
pg_admin() {
  if psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -XqAtw -c 'SELECT 1' >/dev/null 2>&1; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -XqAtw -v ON_ERROR_STOP=1 "$@"
  else
    runuser -u postgres -- psql -p "$PG_PORT" -d postgres -XqAt -v ON_ERROR_STOP=1 "$@"
  fi
}

pg_up() {
  if ! (exec 3<>/dev/tcp/$PG_HOST/$PG_PORT) 2>/dev/null; then
    need_pkg postgresql postgresql-client || return 1
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [ -z "$ver" ]; then
      echo "postgresql is installed but has no cluster under /etc/postgresql" >&2
      return 1
    fi
    echo "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || return 1
    PG_STARTED=$ver
    wait_tcp "$PG_HOST" "$PG_PORT" 30 || return 1
  fi
  for _ in $(seq 50); do
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
    sleep 0.2
  done
  local pw
  pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  PG_DB="glance_it_$(date +%s)_$$"
  pg_admin <<SQL || return 1
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN;
  END IF;
END \$\$;
ALTER ROLE $PG_ROLE LOGIN PASSWORD '$pw';
CREATE DATABASE $PG_DB OWNER $PG_ROLE;
SQL
  export PG_DSN="host=$PG_HOST port=$PG_PORT user=$PG_ROLE password=$pw dbname=$PG_DB sslmode=disable"
  echo "PostgreSQL database $PG_DB ready"
}

pg_down() {
  if [ -n "$PG_DB" ]; then
    pg_admin -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null && echo "dropped database $PG_DB"
    PG_DB=""
  fi
  if [ -n "$PG_STARTED" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$PG_STARTED" main stop && echo "stopped PostgreSQL $PG_STARTED"
    PG_STARTED=""
  fi
}
