#!/usr/bin/env bash
# bench/survive.sh — what clients see when the process in front of them is replaced. Under wrk
# (keep-alive connections, CONNS of them), in one run:
#   slipway kill -9   the daemon is SIGKILLed; its keeper starts another, which adopts the
#                     services (the listening sockets stay open in the keeper)
#   slipway restart   `slipway daemon restart`: the zero-downtime handover
#   nginx reload      `nginx -s reload` (new workers, old ones finish their requests)
#   haproxy reload    a new HAProxy takes the listeners over the stats socket (-x, with
#                     `expose-fd listeners`) and tells the old one to finish (-sf)
# Each target proxies to the same testapp; the event comes AT seconds into a DURATION-second
# wrk run. Reports failed requests (non-2xx + socket errors), wrk's p99 and max latency, and
# the ratio of Slipway's max latency to nginx's. Not a timed test.
# Usage (repo root, after building slipway and testapp):  bench/survive.sh [BUILD_DIR]
# Knobs (env): DURATION (8), AT (3), CONNS (50), THREADS (2).
set -euo pipefail

source "$(dirname "$0")/lib.sh"
BUILD=$(realpath "${1:-build}")
DURATION=${DURATION:-8}
AT=${AT:-3}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
bench_bins "$BUILD" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
TESTAPP=$BENCH_BUILD/testapp
bench_need wrk nginx haproxy

TMP=$(mktemp -d)
cleanup() {
  bench_stop_project "$TMP/proj"
  [[ -f $TMP/nginx/nginx.pid ]] && nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -s stop 2>/dev/null || true
  for f in "$TMP"/haproxy/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  bench_kill_pids
  rm -rf "$TMP"
}
trap cleanup EXIT
# "failed p99_ms max_ms rps" from a `wrk --latency` report.
wrk_summary() {
  python3 - "$1" <<'PY'
import re,sys
t=open(sys.argv[1]).read()
def ms(v,u): return float(v)*{"us":0.001,"ms":1,"s":1000,"m":60000}[u]
n=sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s*(\d+)",t))
m=re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",t)
s=sum(int(x) for x in m.groups()) if m else 0
p99=re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$",t,re.M)
mx=re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)",t)
r=re.search(r"Requests/sec:\s*([\d.]+)",t)
print(n+s, f"{ms(*p99.groups()):.1f}" if p99 else "?", f"{ms(*mx.groups()):.1f}" if mx else "?",
      r.group(1) if r else "?")
PY
}
# run_case NAME PORT COMMAND...: wrk for DURATION s; COMMAND runs AT s in.
run_case() {
  local name=$1 port=$2; shift 2
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" \
    >"$TMP/wrk-$name.txt" 2>&1 &
  local w=$!
  sleep "$AT"
  "$@" >"$TMP/event-$name.txt" 2>&1 || echo "  ($name: the event command failed: $(tail -n 1 "$TMP/event-$name.txt"))"
  wait "$w" || true
  read -r FAILS P99 MAX RPS < <(wrk_summary "$TMP/wrk-$name.txt")
  printf '%-18s %8s %10s %10s %10s\n' "$name" "$FAILS" "$P99" "$MAX" "$RPS"
  eval "MAX_${name//[^a-z]/_}=$MAX"
}

echo "machine: $(nproc) cores, $(uname -r); wrk -c$CONNS -t$THREADS -d${DURATION}s, event at ${AT}s"
printf '%-18s %8s %10s %10s %10s\n' "case" "failed" "p99 ms" "max ms" "req/s"

# --- Slipway ----------------------------------------------------------------------------
PORT=$(free_port)
mkdir -p "$TMP/proj"
cat >"$TMP/proj/compose.yaml" <<YAML
services:
  api:
    command: ["$TESTAPP"]
    ports: ["127.0.0.1:$PORT:8080"]
    deploy: {replicas: 2}
    restart: always
    healthcheck: {interval: 100ms, timeout: 2s, retries: 3}
    x-slipway: {healthcheck: {http: /health}}
YAML
cd "$TMP/proj"
"$SLIPWAY" up -d --wait >/dev/null
wait_port "$PORT"
kill_daemon() { kill -9 "$(cat "$TMP/proj/.slipway/daemon.pid")"; }
run_case slipway-kill9 "$PORT" kill_daemon
sleep 2
run_case slipway-restart "$PORT" "$SLIPWAY" daemon restart
"$SLIPWAY" down >/dev/null 2>&1 || true
cd /

# The peers proxy to one testapp of their own.
UP=$(free_port)
PORT=$UP "$TESTAPP" >/dev/null 2>&1 & PIDS+=($!)
wait_port "$UP"

# --- nginx -s reload --------------------------------------------------------------------
NG=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$NG;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGX
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
wait_port "$NG"
run_case nginx-reload "$NG" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -s reload
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -s stop || true

# --- HAProxy seamless reload (-x with expose-fd listeners, -sf) --------------------------
HA=$(free_port)
mkdir -p "$TMP/haproxy"
cat >"$TMP/haproxy/haproxy.cfg" <<HAP
global
  nbthread 1
  stats socket $TMP/haproxy/admin.sock mode 600 level admin expose-fd listeners
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$HA
  default_backend be
backend be
  server app 127.0.0.1:$UP
HAP
haproxy -D -f "$TMP/haproxy/haproxy.cfg" -p "$TMP/haproxy/old.pid"
wait_port "$HA"
ha_reload() {
  haproxy -D -f "$TMP/haproxy/haproxy.cfg" -p "$TMP/haproxy/new.pid" \
    -x "$TMP/haproxy/admin.sock" -sf "$(cat "$TMP/haproxy/old.pid")"
}
run_case haproxy-reload "$HA" ha_reload

echo
python3 - "${MAX_slipway_restart:-?}" "${MAX_slipway_kill9:-?}" "${MAX_nginx_reload:-?}" "${MAX_haproxy_reload:-?}" <<'PY'
import sys
def f(x):
    try: return float(x)
    except ValueError: return None
r, k, n, h = (f(x) for x in sys.argv[1:])
if r and n: print(f"max latency, slipway restart / nginx reload: {r/n:.2f}")
if k and n: print(f"max latency, slipway kill -9 / nginx reload: {k/n:.2f}")
if r and h: print(f"max latency, slipway restart / haproxy reload: {r/h:.2f}")
PY
