# Sourced: starts a throwaway PostgreSQL (Debian's, as scripts/setup.sh installs it) in a new
# temporary directory on a free loopback port, exports THROWAWAY_POSTGRES_URL (a new, empty
# database on it) and stops and removes it when the sourcing shell exits. The same recipe as the
# Rust harness (tests/server/databases.rs): initdb as the postgres user when root, trust on
# loopback only, no fsync.
throwaway_pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
throwaway_pg_dir=$(mktemp -d /tmp/ferrochat-pg-XXXXXX)
throwaway_pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
throwaway_pg_as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$throwaway_pg_dir"
throwaway_pg_as_postgres "$throwaway_pg_bin/initdb" -D "$throwaway_pg_dir/data" -A trust -U ferro -E UTF8 --no-sync >/dev/null
throwaway_pg_as_postgres "$throwaway_pg_bin/pg_ctl" -D "$throwaway_pg_dir/data" -l "$throwaway_pg_dir/log" -w \
  -o "-p $throwaway_pg_port -k $throwaway_pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
trap 'throwaway_pg_as_postgres "$throwaway_pg_bin/pg_ctl" -D "$throwaway_pg_dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$throwaway_pg_dir"' EXIT
"$throwaway_pg_bin/psql" -h 127.0.0.1 -p "$throwaway_pg_port" -U ferro -d postgres -qc 'CREATE DATABASE ferrochat_e2e'
export THROWAWAY_POSTGRES_URL="postgres://ferro@127.0.0.1:$throwaway_pg_port/ferrochat_e2e"
