#!/usr/bin/env bash
# bench/h2_upstream.sh — HTTP/2 to the upstream: h2load over TLS (ALPN h2) through Slipway
# (`x-slipway.upstream.protocol: h2`), HAProxy (`server ... proto h2`) and nginx (`grpc_pass`, its
# only HTTP/2 upstream), to one cleartext HTTP/2 upstream (nghttpd --no-tls, prior knowledge)
# serving a small file; all in one run. Prints req/s, h2load's mean time per request, each
# proxy's CPU per request (schedstat of all its threads) and the ratios Slipway/peer.
# Not a timed test. Usage (from the repo root, after building slipway):
#   bench/h2_upstream.sh [BUILD_DIR]          (default: build)
# Knobs (env): DURATION (s per run, 10), LOADS ("10x10 100x1": h2load connections x streams),
# LOAD_CPU (h2load, 0), UP_CPU (nghttpd, 0), PROXY_CPU (the proxy under test, 1), ROUNDS (2,
# interleaved, best kept), BODY (bytes of the file served, 1024).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
bench_knobs  # DURATION, LOAD_CPU, PROXY_CPU, ROUNDS
LOADS=${LOADS:-"10x10 100x1"}
UP_CPU=${UP_CPU:-0}
BODY=${BODY:-1024}

bench_bins "$BUILD" slipway
SLIPWAY=$BENCH_BUILD/slipway
bench_need h2load:nghttp2-client nghttpd:nghttp2-server haproxy nginx

bench_project_tmp
NGINX_PID=""

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" -days 30 -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null
cat "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/haproxy.pem"
mkdir -p "$TMP/htdocs" "$PROJ"
head -c "$BODY" /dev/zero | tr '\0' x >"$TMP/htdocs/index.html"

# --- Slipway: the daemon runs nghttpd and proxies its published port over h2 both ways.
SW=$(free_port)
cat >"$PROJ/compose.yaml" <<EOF
name: h2-upstream-bench
services:
  app:
    ports: ["127.0.0.1:$SW:8080"]
    healthcheck: {interval: 1s, start_interval: 50ms, start_period: 10s}
    x-slipway:
      command: ["sh", "-c", "exec nghttpd --no-tls -d $TMP/htdocs \$\$PORT"]
      healthcheck: {tcp: true}
      ports: {8080: https}
      upstream: {protocol: h2}
x-slipway:
  proxy: {workers: 1}
  tls:
    certificates: [{cert: $TMP/cert.pem, key: $TMP/key.pem}]
    http2: true
EOF
bench_start_project "$PROJ" "$PROXY_CPU" "$UP_CPU"

# --- HAProxy: one thread, TLS with ALPN h2 in front, h2 to the server.
HA=$(free_port)
cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option forwardfor
  http-reuse always
frontend f
  bind 127.0.0.1:$HA ssl crt $TMP/haproxy.pem alpn h2,http/1.1
  default_backend b
backend b
  server s1 127.0.0.1:$UP proto h2
EOF
taskset -c "$PROXY_CPU" haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
PIDS+=($!)
HAPROXY_PID=$!

# --- nginx: one worker; grpc_pass is its HTTP/2 upstream (h2c, prior knowledge).
NG=$(free_port)
bench_nginx_conf "$TMP/nginx" <<EOF
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$NG ssl http2;
    ssl_certificate $TMP/cert.pem;
    ssl_certificate_key $TMP/key.pem;
    location / {
      grpc_pass grpc://app;
      grpc_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
EOF
taskset -c "$PROXY_CPU" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
PIDS+=($!)
NGINX_PID=$!

wait_port "$HA"
wait_port "$NG"
wait_port "$SW"
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[[ -n $NGINX_WORKER ]] || { echo "nginx has no worker process" >&2; exit 1; }

ERRORS=0
declare -A RPS MEAN CPU_US
run() {  # name port load pids...: keeps the round with the most req/s
  local name=$1 port=$2 load=$3 key=$1,$3
  shift 3
  bench_h2load "$name ($load)" "$port" "${load%x*}" "${load#*x}" "$@"
  bench_beats "$H2LOAD_RPS" "${RPS[$key]:-}" || return 0
  RPS[$key]=$H2LOAD_RPS
  CPU_US[$key]=$H2LOAD_CPU_US
  MEAN[$key]=$H2LOAD_MEAN
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "kernel: $(uname -r); $(nginx -v 2>&1); $(haproxy -v | head -1); $(nghttpd --version)"
echo "pinning: h2load -t1 on cpu $LOAD_CPU, nghttpd on cpu $UP_CPU, proxy under test on cpu $PROXY_CPU (slipway: the whole daemon)"
echo "runs: ${DURATION}s, loads (connections x streams): $LOADS, body $BODY bytes"
echo "rounds: $ROUNDS (best kept); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for r in $(seq 1 "$ROUNDS"); do
  for load in $LOADS; do
    for t in "slipway:$SW:$SLIPWAY_PID" "haproxy:$HA:$HAPROXY_PID" "nginx:$NG:$NGINX_WORKER"; do
      IFS=: read -r name port pid <<<"$t"
      run "$name" "$port" "$load" "$pid"
      sleep 1
    done
  done
done

printf '%-8s %8s %10s %12s %10s\n' target load req/s mean_latency cpu_us/req
for load in $LOADS; do
  for t in slipway haproxy nginx; do
    printf '%-8s %8s %10s %12s %10s\n' "$t" "$load" "${RPS[$t,$load]}" "${MEAN[$t,$load]}" "${CPU_US[$t,$load]}"
  done
done
echo
for load in $LOADS; do
  for peer in haproxy nginx; do
    awk -v p="$peer" -v l="$load" -v s="${RPS[slipway,$load]}" -v o="${RPS[$peer,$load]}" \
      -v sc="${CPU_US[slipway,$load]}" -v oc="${CPU_US[$peer,$load]}" 'BEGIN {
        printf "%s: slipway/%s req/s %.2fx; CPU per request %s/slipway %.2fx\n", l, p, s / o, p, oc / sc }'
  done
done
exit "$ERRORS"
