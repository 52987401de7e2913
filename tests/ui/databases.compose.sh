#!/bin/sh
# Writes, to stdout, the databases suite's overlay on the shop (run.sh merges it as
# compose.override.yaml): a PostgreSQL server as two services of the stack, `pg-init`
# (initdb into the project's pg/ folder, once) and `db` (the server on a free loopback port,
# healthy when it accepts TCP), both as the `postgres` user (initdb refuses root); and
# x-slipway.databases.main on it with one SQL migration (migrations/), which the suite applies
# with `slipway migrate up`. Needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)
# and the postgres user (scripts/install-deps.sh), and root to switch to it.
set -eu
work=${SLIPWAY_UI_WORK:?run by run.sh}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] && [ -x "$pgbin/postgres" ] || {
  echo "databases.compose.sh: PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin)" >&2
  exit 2
}
id postgres >/dev/null 2>&1 || { echo "databases.compose.sh: no postgres user" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "databases.compose.sh: the daemon must run as root to run PostgreSQL as postgres" >&2; exit 2; }
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# The server's folder (data and socket) belongs to postgres; the project folder (mktemp's
# 0700) must let it pass through.
chmod 711 "$work"
mkdir -p "$work/pg"
chown postgres:postgres "$work/pg"
chmod 700 "$work/pg"
mkdir -p "$work/migrations"
cat > "$work/migrations/0001_orders.up.sql" <<'SQL'
CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, placed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (item) VALUES ('teapot'), ('kettle');
SQL
cat > "$work/migrations/0001_orders.down.sql" <<'SQL'
DROP TABLE orders;
SQL
cat <<YAML
services:
  pg-init:
    image: postgres:15
    user: postgres
    working_dir: $work/pg
    restart: "no"
    x-slipway:
      command: ["sh", "-c", "[ -f data/PG_VERSION ] || exec $pgbin/initdb -D data -U postgres -A trust --no-sync -E UTF8 >init.log 2>&1"]
  db:
    image: postgres:15
    user: postgres
    working_dir: $work/pg
    stop_signal: SIGINT
    depends_on:
      pg-init:
        condition: service_completed_successfully
    healthcheck: {interval: 200ms, start_interval: 100ms, start_period: 20s}
    restart: unless-stopped
    x-slipway:
      command: ["$pgbin/postgres", "-D", "data", "-p", "$port", "-k", "$work/pg", "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
      healthcheck: {tcp: true, port: $port}
x-slipway:
  databases:
    main:
      url: postgres://postgres@127.0.0.1:$port/postgres
      migrations: ./migrations
      check: SELECT count(*) FROM orders
YAML
