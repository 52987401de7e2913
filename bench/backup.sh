#!/usr/bin/env bash
# Backup and migration throughput against the plain PostgreSQL tools.
#
#   bench/backup.sh                 # SIZE_MB=200 MIGRATIONS=1000 RUNS=3
#   SIZE_MB=1024 bench/backup.sh    # the 1 GiB figure of the issue
#
# Starts a throwaway PostgreSQL (initdb as the postgres user, 127.0.0.1, random
# port, fsync off), fills one table to about SIZE_MB of heap, then per run times:
#   pg_dump -Fc           vs  slipway backup create   (goal: within 10%)
#   createdb + pg_restore vs  slipway backup verify   (checksum + scratch restore + check)
# and, on a fresh database, `psql -f` of MIGRATIONS small files (one psql, one
# -f per file) vs `slipway migrate up` of the same folder.
# Prints medians. Needs build/slipway (make build) and postgresql-15.
set -euo pipefail

SIZE_MB=${SIZE_MB:-200}
MIGRATIONS=${MIGRATIONS:-1000}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLIPWAY=${SLIPWAY:-$ROOT/build/slipway}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$SLIPWAY" ] || { echo "build $SLIPWAY first (make build)" >&2; exit 1; }
[ -x "$PGBIN/initdb" ] || { echo "postgresql server not installed" >&2; exit 1; }

PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
DIR=$(mktemp -d /tmp/slipway-bench-XXXXXX)
chown postgres:postgres "$DIR"
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)
cleanup() {
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${AS_PG[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >/dev/null
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_wal_size=4GB" start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)

"$PGBIN/createdb" bench
# ~160 bytes of poorly compressible text per row.
ROWS=$(( SIZE_MB * 1024 * 1024 / 200 ))
"${PSQL[@]}" -d bench -c "CREATE TABLE t(id bigint PRIMARY KEY, a text, b text)" \
  -c "INSERT INTO t SELECT g, md5(random()::text) || md5(random()::text), md5(random()::text) || md5(random()::text) FROM generate_series(1, $ROWS) g"
DBSIZE=$("${PSQL[@]}" -d bench -Atc "SELECT pg_database_size('bench')")
echo "database: $ROWS rows, $((DBSIZE / 1024 / 1024)) MiB (pg_database_size)"

PROJ=$DIR/proj
mkdir -p "$PROJ/migrations"
cat >"$PROJ/compose.yaml" <<YAML
name: bench
services:
  app:
    image: busybox
x-slipway:
  databases:
    main:
      url: postgres://postgres@127.0.0.1:$PORT/bench
      check: SELECT count(*) FROM t
  backups:
    dir: $DIR/backups
YAML

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -a T_DUMP T_CREATE T_RESTORE T_VERIFY
for r in $(seq 1 "$RUNS"); do
  t0=$(now); "$PGBIN/pg_dump" -Fc -f "$DIR/plain.dump" bench; t1=$(now)
  T_DUMP+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now); (cd "$PROJ" && "$SLIPWAY" backup create main >/dev/null 2>&1); t1=$(now)
  T_CREATE+=("$(echo "$t1 - $t0" | bc)")
  ID=$(cd "$PROJ" && "$SLIPWAY" backup list --format json | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["id"])')
  t0=$(now)
  "$PGBIN/createdb" "restore_$r"
  "$PGBIN/pg_restore" --exit-on-error --no-owner -d "restore_$r" "$DIR/plain.dump"
  "${PSQL[@]}" -d "restore_$r" -Atc "SELECT count(*) FROM t" >/dev/null
  "$PGBIN/dropdb" "restore_$r"
  t1=$(now)
  T_RESTORE+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now); (cd "$PROJ" && "$SLIPWAY" backup verify "$ID" >/dev/null 2>&1); t1=$(now)
  T_VERIFY+=("$(echo "$t1 - $t0" | bc)")
  echo "run $r: pg_dump ${T_DUMP[-1]}s, backup create ${T_CREATE[-1]}s, pg_restore ${T_RESTORE[-1]}s, backup verify ${T_VERIFY[-1]}s"
  rm -f "$DIR/plain.dump"
done

# Migrations: MIGRATIONS small files, each a table, an index and a row.
for i in $(seq 1 "$MIGRATIONS"); do
  n=$(printf '%04d' "$i")
  printf 'CREATE TABLE m_%s(id int PRIMARY KEY, v text);\nCREATE INDEX m_%s_v ON m_%s(v);\nINSERT INTO m_%s VALUES (1, %s);\n' \
    "$n" "$n" "$n" "$n" "'x'" >"$PROJ/migrations/${n}_m${n}.up.sql"
done
declare -a T_PSQL T_MIGRATE
for r in $(seq 1 "$RUNS"); do
  "$PGBIN/createdb" "mp_$r"; "$PGBIN/createdb" "ms_$r"
  ARGS=(); for f in "$PROJ"/migrations/*.up.sql; do ARGS+=(-f "$f"); done
  t0=$(now); "${PSQL[@]}" -d "mp_$r" "${ARGS[@]}"; t1=$(now)
  T_PSQL+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now)
  "$SLIPWAY" migrate --url "postgres://postgres@127.0.0.1:$PORT/ms_$r" --dir "$PROJ/migrations" up >/dev/null 2>&1
  t1=$(now)
  T_MIGRATE+=("$(echo "$t1 - $t0" | bc)")
  echo "run $r: psql -f x$MIGRATIONS ${T_PSQL[-1]}s, migrate up ${T_MIGRATE[-1]}s"
done

m() { printf '%s\n' "$@" | median; }
D=$(m "${T_DUMP[@]}"); C=$(m "${T_CREATE[@]}"); R=$(m "${T_RESTORE[@]}"); V=$(m "${T_VERIFY[@]}")
P=$(m "${T_PSQL[@]}"); M=$(m "${T_MIGRATE[@]}")
MB=$((DBSIZE / 1024 / 1024))
echo
echo "medians over $RUNS runs ($MB MiB database, $MIGRATIONS migrations):"
printf '  pg_dump -Fc        %6.2fs  %6.1f MiB/s\n' "$D" "$(echo "$MB / $D" | bc -l)"
printf '  backup create      %6.2fs  %6.1f MiB/s  (%+.1f%%)\n' "$C" "$(echo "$MB / $C" | bc -l)" "$(echo "($C / $D - 1) * 100" | bc -l)"
printf '  pg_restore (+db)   %6.2fs  %6.1f MiB/s\n' "$R" "$(echo "$MB / $R" | bc -l)"
printf '  backup verify      %6.2fs  %6.1f MiB/s  (%+.1f%%)\n' "$V" "$(echo "$MB / $V" | bc -l)" "$(echo "($V / $R - 1) * 100" | bc -l)"
printf '  psql -f            %6.2fs\n' "$P"
printf '  migrate up         %6.2fs  (%+.1f%%)\n' "$M" "$(echo "($M / $P - 1) * 100" | bc -l)"
