#!/bin/sh
# PostgreSQL for the stack example, run by slipway as user postgres. The first start
# initializes $PGDATA inside the named volume, with the password from the db_password secret;
# later starts find the data there (it survives `down`; `down -v` removes it).
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$bin/initdb" -D "$PGDATA" -U app --pwfile="$SLIPWAY_SECRETS_DIR/db_password" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >/dev/null
  echo "CREATE DATABASE app" | "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
  echo "db: initialized $PGDATA"
fi
exec "$bin/postgres" -D "$PGDATA" -p "$PORT" -k /tmp -c listen_addresses=127.0.0.1
