#!/usr/bin/env bash
# bench/tcp.sh — PostgreSQL read-only throughput (pgbench -S) reached directly, through
# Slipway's TCP proxy (a published port of a PostgreSQL service, proxy/tcp_conn.h) and through
# HAProxy in `mode tcp`, all in one run, with the ratios Slipway/direct and Slipway/HAProxy.
# Not a timed test. Usage (from the repo root, after building slipway):
#   bench/tcp.sh [BUILD_DIR]          (default: build)
# Knobs (env): DURATION (s per run, 10), CLIENTS ("8 32"), LOAD_CPU (pgbench, 0), DB_CPU
# (PostgreSQL, 0), PROXY_CPU (the proxy under test, 1), ROUNDS (2: interleaved rounds, each
# target keeps its best, which damps noise from other load on a shared machine).
# Slipway is the real daemon: `slipway up` of a throwaway project whose one service is
# PostgreSQL run on the host as the postgres user, published with `x-slipway.proxy.workers: 1`;
# HAProxy (nbthread 1) forwards to that same PostgreSQL instance. Both proxies are pinned to
# PROXY_CPU (the daemon with all its threads). Needs root (initdb runs as postgres).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
bench_knobs  # DURATION, LOAD_CPU, PROXY_CPU, ROUNDS
CLIENTS=${CLIENTS:-"8 32"}
DB_CPU=${DB_CPU:-0}

bench_bins "$BUILD" slipway
SLIPWAY=$BENCH_BUILD/slipway
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)
[[ -n $PGBIN ]] || bench_need initdb:postgresql
bench_need pgbench:postgresql-contrib haproxy
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)

bench_project_tmp
chmod 755 "$TMP"

mkdir -p "$PROJ/pg"
chown postgres:postgres "$PROJ/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$PROJ/pg/data" -U postgres -A trust --no-sync \
  -E UTF8 --locale=C >"$TMP/initdb.log"

SW=$(free_port)
cat >"$PROJ/compose.yaml" <<EOF
name: tcp-bench
services:
  db:
    user: postgres
    command: ["sh", "-c", "exec $PGBIN/postgres -D pg/data -p \$\$PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"]
    ports: ["127.0.0.1:$SW:5432"]
    healthcheck: {interval: 200ms, retries: 100}
    x-slipway: {healthcheck: {tcp: true}}
x-slipway:
  proxy: {workers: 1}
EOF
bench_start_project "$PROJ" "$PROXY_CPU" "$DB_CPU"
DB=$UP DB_PID=$UP_PID
# PostgreSQL's other processes (its group: the postmaster's children) go with it.
for p in $(pgrep -g "$DB_PID"); do taskset -a -pc "$DB_CPU" "$p" >/dev/null; done

HA=$(free_port)
cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend f
  bind 127.0.0.1:$HA
  default_backend b
backend b
  server s1 127.0.0.1:$DB
EOF
taskset -c "$PROXY_CPU" haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
PIDS+=($!)
sleep 0.5

PGB=(taskset -c "$LOAD_CPU" pgbench -h 127.0.0.1 -U postgres)
"${PGB[@]}" -p "$DB" -i -s 10 -q postgres >"$TMP/init.log" 2>&1

declare -A TPS
run() {  # name port clients; keeps the round with the most transactions per second
  local name=$1 port=$2 c=$3 out tps key=$1,$3
  out=$("${PGB[@]}" -p "$port" -S -n -c "$c" -j 2 -T "$DURATION" postgres 2>&1) || {
    echo "pgbench via $name failed: $out" >&2
    return 1
  }
  tps=$(awk '/^tps = / {print $3; exit}' <<<"$out")
  if bench_beats "$tps" "${TPS[$key]:-}"; then TPS[$key]=$tps; fi
}
for _ in $(seq 1 "$ROUNDS"); do
  for c in $CLIENTS; do
    run direct "$DB" "$c"
    run slipway "$SW" "$c"
    run haproxy "$HA" "$c"
  done
done

echo "pgbench -S, ${DURATION}s, best of $ROUNDS; pgbench on cpu $LOAD_CPU, PostgreSQL on cpu $DB_CPU, proxies on cpu $PROXY_CPU"
printf '%-8s %12s %12s %12s %10s %10s\n' clients direct slipway haproxy sw/direct sw/haproxy
for c in $CLIENTS; do
  d=${TPS[direct,$c]} s=${TPS[slipway,$c]} h=${TPS[haproxy,$c]}
  printf '%-8s %12.0f %12.0f %12.0f %10s %10s\n' "$c" "$d" "$s" "$h" \
    "$(awk -v a="$s" -v b="$d" 'BEGIN {printf "%.2f", a / b}')" \
    "$(awk -v a="$s" -v b="$h" 'BEGIN {printf "%.2f", a / b}')"
done
