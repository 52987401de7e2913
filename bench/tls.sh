#!/usr/bin/env bash
# bench/tls.sh — HTTPS termination: Slipway's proxy vs nginx and Caddy in front of the same
# upstream (tools/testapp), with the same certificate, in one run:
#   - new TLS 1.3 handshakes per second (`openssl s_time -new`, CLIENTS processes in parallel,
#     spread over HS_CPUS), with an ECDSA P-256 and an RSA 2048 certificate, and how busy the
#     server's core was meanwhile: below 90 % the clients were the limit (the rate is theirs),
#     and the server's own figure is its handshakes per CPU-second (1e6 / its µs per handshake);
#   - keep-alive HTTPS requests per second with p50/p99 (`wrk --latency`, CONNS connections);
#   - each server's CPU time per handshake and per request (/proc/<pid>/task/*/schedstat);
#   - keep-alive HTTP/2 requests per second (`h2load`, from Debian's nghttp2-client:
#     H2_CONNS connections of H2_STREAMS concurrent streams each), Slipway with
#     `x-slipway.tls.http2: true`, nginx with `http2` on its listener, Caddy as it comes.
# Prints a table and the ratios Slipway/peer; exits 1 when a run had errors.
# Usage (from the repo root, after building slipway and testapp):
#   bench/tls.sh [BUILD_DIR]            (default: build)
# Knobs (env): DURATION (s per run, 10), CONNS (50), LOAD_CPU (wrk, 0), UP_CPU (testapp, 0),
# PROXY_CPU (the server under test, 1), HS_CPUS (the s_time clients: the cores that are none of
# those three, else LOAD_CPU), CLIENTS (s_time processes, 2 per HS_CPUS core, at least 2),
# ROUNDS (2, best kept), H2 (1: the HTTP/2 runs; 0 skips them), H2_CONNS (10), H2_STREAMS (10).
# Slipway is the real daemon (`slipway up`, `x-slipway.proxy.workers: 1`, the whole daemon
# pinned to PROXY_CPU); nginx runs one worker, Caddy GOMAXPROCS=1, both pinned there too. The
# certificate changes between the two key types by rewriting the files: Slipway reloads them
# on SIGHUP, nginx and Caddy are restarted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD=${1:-build}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
LOAD_CPU=${LOAD_CPU:-0}
UP_CPU=${UP_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
if [[ -z ${HS_CPUS:-} ]]; then  # the handshake clients on cores of their own when there are any
  HS_CPUS=$(seq 0 $(($(nproc) - 1)) | { grep -vx -e "$LOAD_CPU" -e "$UP_CPU" -e "$PROXY_CPU" || true; } | paste -sd, -)
  HS_CPUS=${HS_CPUS:-$LOAD_CPU}
fi
IFS=, read -r -a HS_CPU_LIST <<<"$HS_CPUS"
CLIENTS=${CLIENTS:-$((${#HS_CPU_LIST[@]} * 2 > 2 ? ${#HS_CPU_LIST[@]} * 2 : 2))}
ROUNDS=${ROUNDS:-2}
H2=${H2:-1}
H2_CONNS=${H2_CONNS:-10}
H2_STREAMS=${H2_STREAMS:-10}

TESTAPP=$BUILD/testapp
SLIPWAY=$BUILD/slipway
for b in "$TESTAPP" "$SLIPWAY"; do
  [[ -x $b ]] || { echo "missing $b: build targets slipway and testapp first" >&2; exit 2; }
done
TESTAPP=$(cd "$(dirname "$TESTAPP")" && pwd)/testapp
SLIPWAY=$(cd "$(dirname "$SLIPWAY")" && pwd)/slipway
need=()
for t in wrk nginx caddy openssl h2load; do command -v "$t" >/dev/null || need+=("$t"); done
need=("${need[@]/#h2load/nghttp2-client}")
if ((${#need[@]})); then  # as bench/proxy.sh: the peers are Debian packages
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi

TMP=$(mktemp -d)
PROJ=$TMP/project
PIDS=()
NGINX_PID=""
CADDY_PID=""
cleanup() {
  for p in "${PIDS[@]}" $NGINX_PID $CADDY_PID; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}" $NGINX_PID $CADDY_PID; do wait "$p" 2>/dev/null || true; done
  # The keeper too (it would restart the daemon and keeps writing its log into $TMP).
  bench_stop_project "$PROJ"
  rm -rf "$TMP"
}
trap cleanup EXIT

make_cert() {  # ecdsa|rsa → $TMP/cert.pem, $TMP/key.pem
  local key="-newkey ec -pkeyopt ec_paramgen_curve:P-256"
  [[ $1 == rsa ]] && key="-newkey rsa:2048"
  # shellcheck disable=SC2086
  openssl req -x509 $key -nodes -keyout "$TMP/key.pem.new" -out "$TMP/cert.pem.new" -days 30 \
    -subj /CN=bench.test -addext subjectAltName=DNS:bench.test 2>/dev/null
  mv "$TMP/key.pem.new" "$TMP/key.pem"
  mv "$TMP/cert.pem.new" "$TMP/cert.pem"
}

make_cert ecdsa
SW=$(free_port)
mkdir -p "$PROJ"
cat >"$PROJ/compose.yaml" <<EOF
name: tls-bench
services:
  app:
    environment: {HOST: 127.0.0.1, THREADS: "1"}
    ports: ["127.0.0.1:$SW:8080"]
    healthcheck: {interval: 1s, start_interval: 50ms, start_period: 10s}
    x-slipway:
      command: ["$TESTAPP"]
      healthcheck: {http: /health}
      ports: {8080: https}
x-slipway:
  proxy: {workers: 1}
  tls:
    certificates: [{cert: $TMP/cert.pem, key: $TMP/key.pem}]
    http2: true
EOF
(cd "$PROJ" && "$SLIPWAY" up -d --wait >/dev/null)
SLIPWAY_PID=$(cat "$PROJ/.slipway/daemon.pid")
read -r UP UP_PID < <(cd "$PROJ" && "$SLIPWAY" ps --format json |
  python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["port"], r["pid"])')
taskset -a -pc "$PROXY_CPU" "$SLIPWAY_PID" >/dev/null
taskset -a -pc "$UP_CPU" "$UP_PID" >/dev/null
wait_port "$UP"

NG=$(free_port)
CA=$(free_port)
mkdir -p "$TMP/nginx" "$TMP/caddy"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  # Its default (1000 requests, then GOAWAY) would end h2load's connections, which it does
  # not reopen: the run would stop early and count the streams in flight as failed.
  keepalive_requests 1000000;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  upstream app { server 127.0.0.1:$UP; keepalive 256; }
  server {
    listen 127.0.0.1:$NG ssl http2;
    ssl_certificate $TMP/cert.pem;
    ssl_certificate_key $TMP/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
EOF
cat >"$TMP/caddy/Caddyfile" <<EOF
{
  admin off
  skip_install_trust
  auto_https disable_redirects
  default_sni bench.test
  storage file_system $TMP/caddy/data
  log {
    output discard
  }
}
https://bench.test:$CA, https://127.0.0.1:$CA {
  tls $TMP/cert.pem $TMP/key.pem
  reverse_proxy 127.0.0.1:$UP
}
EOF
start_peers() {
  [[ -n $NGINX_PID ]] && { kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; }
  [[ -n $CADDY_PID ]] && { kill "$CADDY_PID"; wait "$CADDY_PID" 2>/dev/null || true; }
  taskset -c "$PROXY_CPU" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
  NGINX_PID=$!
  HOME=$TMP/caddy XDG_DATA_HOME=$TMP/caddy XDG_CONFIG_HOME=$TMP/caddy GOMAXPROCS=1 \
    taskset -c "$PROXY_CPU" caddy run --config "$TMP/caddy/Caddyfile" --adapter caddyfile \
    >"$TMP/caddy.log" 2>&1 &
  CADDY_PID=$!
  wait_port "$NG"
  wait_port "$CA"
  NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
  [[ -n $NGINX_WORKER ]] || { echo "nginx has no worker process" >&2; exit 1; }
}

ERRORS=0
declare -A HS HS_CPU HS_BUSY HS_CAP RPS P50 P99 CPU_US H2_RPS H2_MEAN H2_CPU_US
handshakes() {  # key name port pids...: new TLS 1.3 handshakes/s over CLIENTS s_time processes
  local kt=$1 name=$2 port=$3 before after total=0 secs=0 i out
  shift 3
  before=$(cpu_ns "$@")
  for i in $(seq 1 "$CLIENTS"); do
    taskset -c "${HS_CPU_LIST[$(((i - 1) % ${#HS_CPU_LIST[@]}))]}" openssl s_time -connect "127.0.0.1:$port" -new -tls1_3 \
      -time "$DURATION" >"$TMP/stime.$i" 2>&1 &
  done
  wait $(jobs -p | grep -v -e "^$NGINX_PID\$" -e "^$CADDY_PID\$" || true) 2>/dev/null || true
  after=$(cpu_ns "$@")
  for i in $(seq 1 "$CLIENTS"); do
    out=$(grep "connections in .* real seconds" "$TMP/stime.$i" || true)
    if [[ -z $out ]]; then
      echo "error: s_time against $name ($kt): $(tail -2 "$TMP/stime.$i")" >&2
      ERRORS=1
      continue
    fi
    total=$((total + $(awk '{print $1}' <<<"$out")))
    secs=$(awk '{print $4}' <<<"$out")
  done
  local key=$kt,$name rate
  rate=$(awk -v n="$total" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')
  if [[ -n ${HS[$key]:-} ]] && ((rate <= ${HS[$key]})); then return 0; fi
  HS[$key]=$rate
  HS_CPU[$key]=$(awk -v a="$before" -v b="$after" -v n="$total" 'BEGIN {printf "%.1f", (n > 0 ? (b - a) / n / 1000 : 0)}')
  # The server's core: how busy it was, and what it would do busy (handshakes per CPU-second).
  HS_BUSY[$key]=$(awk -v a="$before" -v b="$after" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? (b - a) / (s * 1e7) : 0)}')
  HS_CAP[$key]=$(awk -v a="$before" -v b="$after" -v n="$total" 'BEGIN {printf "%.0f", (b > a ? n / ((b - a) / 1e9) : 0)}')
}
requests() {  # name port pids...: keep-alive HTTPS with wrk
  local name=$1 port=$2 out rps before after reqs
  shift 2
  before=$(cpu_ns "$@")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "https://127.0.0.1:$port/")
  after=$(cpu_ns "$@")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "error: $name: $(grep -E 'Non-2xx|Socket errors' <<<"$out")" >&2
    ERRORS=1
  fi
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  if [[ -n ${RPS[$name]:-} ]] && awk -v a="$rps" -v b="${RPS[$name]}" 'BEGIN {exit !(a <= b)}'; then
    return 0
  fi
  RPS[$name]=$rps
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  CPU_US[$name]=$(awk -v a="$before" -v b="$after" -v n="$reqs" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n / 1000 : 0)}')
  P50[$name]=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  P99[$name]=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
}

h2requests() {  # name port pids...: keep-alive HTTP/2 with h2load
  local name=$1 port=$2 out rps before after reqs
  shift 2
  before=$(cpu_ns "$@")
  out=$(taskset -c "$LOAD_CPU" h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D"$DURATION" \
    "https://127.0.0.1:$port/" 2>&1)
  after=$(cpu_ns "$@")
  if ! grep -q "^requests: .* 0 failed, 0 errored" <<<"$out" ||
    ! grep -q "^status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$out" ||
    ! grep -q "Application protocol: h2" <<<"$out"; then
    echo "error: $name over h2: $(grep -E '^(requests|status codes|Application protocol)' <<<"$out" | paste -sd' ')" >&2
    ERRORS=1
  fi
  rps=$(awk '/^finished in/ {print $4}' <<<"$out")
  if [[ -n ${H2_RPS[$name]:-} ]] && awk -v a="$rps" -v b="${H2_RPS[$name]}" 'BEGIN {exit !(a <= b)}'; then
    return 0
  fi
  H2_RPS[$name]=$rps
  reqs=$(awk '/^requests:/ {print $8}' <<<"$out")
  H2_CPU_US[$name]=$(awk -v a="$before" -v b="$after" -v n="$reqs" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n / 1000 : 0)}')
  H2_MEAN[$name]=$(awk '/^time for request:/ {print $6}' <<<"$out")
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "kernel: $(uname -r); $(nginx -v 2>&1); caddy $(caddy version | cut -d' ' -f1); $(openssl version)"
echo "pinning: wrk -t1 on cpu $LOAD_CPU, s_time on cpu $HS_CPUS, testapp on cpu $UP_CPU, server under test on cpu $PROXY_CPU"
echo "runs: ${DURATION}s; handshakes: $CLIENTS s_time -new -tls1_3 over cpu $HS_CPUS; requests: wrk -c$CONNS keep-alive"
echo "rounds: $ROUNDS (best kept); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

for kt in ecdsa rsa; do
  if [[ $kt == rsa ]]; then
    make_cert rsa
    kill -HUP "$SLIPWAY_PID"
    sleep 1
    openssl s_client -connect "127.0.0.1:$SW" </dev/null 2>/dev/null | grep -q "Server public key is 2048 bit" ||
      { echo "slipway did not reload the RSA certificate" >&2; exit 1; }
  fi
  start_peers
  for p in "$SLIPWAY_PID" "$NGINX_WORKER" "$CADDY_PID"; do kill -0 "$p" 2>/dev/null || { echo "server process $p is gone (slipway $SLIPWAY_PID, nginx worker $NGINX_WORKER, caddy $CADDY_PID)" >&2; cat "$PROJ"/.slipway/logs/daemon.log >&2; tail -5 "$TMP"/caddy.log "$PROJ"/.slipway/logs/*.log >&2 2>/dev/null; exit 1; }; done
  for r in $(seq 1 "$ROUNDS"); do
    for t in "slipway:$SW:$SLIPWAY_PID" "nginx:$NG:$NGINX_WORKER" "caddy:$CA:$CADDY_PID"; do
      IFS=: read -r name port pid <<<"$t"
      handshakes "$kt" "$name" "$port" "$pid"
      sleep 1
      if [[ $kt == ecdsa ]]; then
        requests "$name" "$port" "$pid"
        sleep 1
        if ((H2)); then
          h2requests "$name" "$port" "$pid"
          sleep 1
        fi
      fi
    done
  done
done

printf '%-8s %11s %7s %6s %9s %11s %7s %6s %9s %10s %8s %8s %10s\n' server ecdsa_hs/s us/hs busy% \
  hs/cpu-s rsa_hs/s us/hs busy% hs/cpu-s req/s p50_ms p99_ms cpu_us/req
for t in slipway nginx caddy; do
  printf '%-8s %11s %7s %6s %9s %11s %7s %6s %9s %10s %8s %8s %10s\n' "$t" "${HS[ecdsa,$t]}" \
    "${HS_CPU[ecdsa,$t]}" "${HS_BUSY[ecdsa,$t]}" "${HS_CAP[ecdsa,$t]}" "${HS[rsa,$t]}" \
    "${HS_CPU[rsa,$t]}" "${HS_BUSY[rsa,$t]}" "${HS_CAP[rsa,$t]}" "${RPS[$t]}" "${P50[$t]}" \
    "${P99[$t]}" "${CPU_US[$t]}"
done
if ((H2)); then
  echo
  echo "HTTP/2 keep-alive: h2load -t1 -c$H2_CONNS -m$H2_STREAMS"
  printf '%-8s %10s %12s %10s\n' server h2_req/s mean_latency cpu_us/req
  for t in slipway nginx caddy; do
    printf '%-8s %10s %12s %10s\n' "$t" "${H2_RPS[$t]}" "${H2_MEAN[$t]}" "${H2_CPU_US[$t]}"
  done
fi
for k in "${!HS_BUSY[@]}"; do
  if ((${HS_BUSY[$k]:-0} < 90)); then
    echo "note: ${k#*,} (${k%%,*}) was ${HS_BUSY[$k]}% busy during its handshakes: the clients were" \
      "the limit there, compare hs/cpu-s (add cores to HS_CPUS)"
  fi
done | sort
echo
for peer in nginx caddy; do
  awk -v p="$peer" -v he="${HS[ecdsa,slipway]}" -v pe="${HS[ecdsa,$peer]}" \
    -v hr="${HS[rsa,slipway]}" -v pr="${HS[rsa,$peer]}" -v s="${RPS[slipway]}" \
    -v ce="${HS_CAP[ecdsa,slipway]}" -v cpe="${HS_CAP[ecdsa,$peer]}" \
    -v cr="${HS_CAP[rsa,slipway]}" -v cpr="${HS_CAP[rsa,$peer]}" \
    -v o="${RPS[$peer]}" -v sp="${P99[slipway]}" -v op="${P99[$peer]}" \
    -v sc="${CPU_US[slipway]}" -v oc="${CPU_US[$peer]}" 'BEGIN {
      printf "slipway/%s: handshakes ECDSA %.2fx, RSA %.2fx (per server CPU-second %.2fx, %.2fx); keep-alive req/s %.2fx; p99 %.3f vs %.3f ms; CPU per request %s/slipway %.2fx\n",
        p, he / pe, hr / pr, ce / cpe, cr / cpr, s / o, sp, op, p, oc / sc }'
done
exit "$ERRORS"
