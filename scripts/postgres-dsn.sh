#!/usr/bin/env bash
# Prints the DSN of the PostgreSQL that `make run` stores usage in, and says on
# stderr which one it picked:
#   1. $GLAM_POSTGRES_DSN, when set;
#   2. else the local server on 127.0.0.1:5432 when pg_isready says it is up
#      (database "glam" is created there if missing);
#   3. else a throwaway cluster under <repo>/.run/postgres, made with the
#      installed PostgreSQL binaries and started on a free port (initdb and
#      pg_ctl refuse root, so as root they run as the postgres user).
#
#   scripts/postgres-dsn.sh          pick, start if needed, print the DSN
#   scripts/postgres-dsn.sh stop     stop the throwaway cluster, if running
#
# GLAM_POSTGRES_LOCAL_PORT (default 5432) and GLAM_RUN_DIR (default
# <repo>/.run) move step 2's port and step 3's directory, for tests.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run_dir="${GLAM_RUN_DIR:-$repo/.run}"
cluster="$run_dir/postgres"
data="$cluster/data"
local_port="${GLAM_POSTGRES_LOCAL_PORT:-5432}"
db=glam

say() { echo "postgres-dsn: $*" >&2; }

bin_dir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  say "no PostgreSQL server binaries (initdb) found: install PostgreSQL or set GLAM_POSTGRES_DSN"
  exit 1
}

# as_postgres runs a server binary as the postgres user when we are root.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# ensure_db creates database glam on the server at port $1 if it is missing.
ensure_db() {
  local port="$1" exists
  exists="$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$db'")"
  if [ "$exists" != 1 ]; then
    createdb -h 127.0.0.1 -p "$port" -U postgres "$db"
    say "created database $db"
  fi
}

# free_port is the first port from $1 (default 54320) up to 54420 that no
# server listens on.
free_port() {
  local p
  for p in $(seq "${1:-54320}" 54420); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  say "no free port between 54320 and 54420"
  exit 1
}

if [ "${1:-}" = stop ]; then
  if [ -f "$data/postmaster.pid" ]; then
    as_postgres "$(bin_dir)/pg_ctl" -D "$data" -m fast -w stop >&2
    say "stopped the throwaway cluster in $cluster"
  else
    say "no throwaway cluster running in $cluster"
  fi
  exit 0
fi

if [ -n "${GLAM_POSTGRES_DSN:-}" ]; then
  say "using \$GLAM_POSTGRES_DSN"
  echo "$GLAM_POSTGRES_DSN"
  exit 0
fi

if pg_isready -q -h 127.0.0.1 -p "$local_port"; then
  ensure_db "$local_port"
  say "using the local server on 127.0.0.1:$local_port, database $db (set GLAM_POSTGRES_DSN to use another)"
  echo "postgres://postgres@127.0.0.1:$local_port/$db?sslmode=disable"
  exit 0
fi

bin="$(bin_dir)"
mkdir -p "$cluster"
if [ "$(id -u)" = 0 ]; then chown postgres: "$cluster"; fi
if [ ! -f "$data/PG_VERSION" ]; then
  as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$cluster/initdb.log" 2>&1 ||
    { say "initdb failed, see $cluster/initdb.log"; exit 1; }
  say "initialised a throwaway cluster in $cluster"
fi
port="$(cat "$cluster/port" 2>/dev/null || true)"
if [ -z "$port" ] || ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  if [ -f "$data/postmaster.pid" ]; then
    # Left over from a crash or a reboot: pg_ctl start clears it.
    as_postgres "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  fi
  # The range lies within the kernel's ephemeral ports: a port no server
  # listens on may still be some client connection's own, and then the
  # bind fails. Try the next free one then, a few times.
  port=54319
  for try in 1 2 3 4 5 6 7 8; do
    port="$(free_port $((port + 1)))"
    seen=0
    [ ! -f "$cluster/server.log" ] || seen="$(wc -l <"$cluster/server.log")"
    if as_postgres "$bin/pg_ctl" -D "$data" -l "$cluster/server.log" -w \
      -o "-p $port -k $cluster -c listen_addresses=127.0.0.1" start >/dev/null; then
      break
    fi
    if [ "$try" = 8 ] || ! tail -n +$((seen + 1)) "$cluster/server.log" | grep -q 'could not bind'; then
      say "pg_ctl start failed, see $cluster/server.log"
      exit 1
    fi
  done
  echo "$port" >"$cluster/port"
  say "started the throwaway cluster in $cluster on port $port (stop it: scripts/postgres-dsn.sh stop)"
fi
ensure_db "$port"
say "using the throwaway cluster on 127.0.0.1:$port, database $db (set GLAM_POSTGRES_DSN to use another)"
echo "postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
