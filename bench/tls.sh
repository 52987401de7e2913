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
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

BUILD=${1:-build}
bench_knobs  # DURATION, LOAD_CPU, PROXY_CPU, ROUNDS
CONNS=${CONNS:-50}
UP_CPU=${UP_CPU:-0}
if [[ -z ${HS_CPUS:-} ]]; then  # the handshake clients on cores of their own when there are any
  HS_CPUS=$(seq 0 $(($(nproc) - 1)) | { grep -vx -e "$LOAD_CPU" -e "$UP_CPU" -e "$PROXY_CPU" || true; } | paste -sd, -)
  HS_CPUS=${HS_CPUS:-$LOAD_CPU}
fi
IFS=, read -r -a HS_CPU_LIST <<<"$HS_CPUS"
CLIENTS=${CLIENTS:-$((${#HS_CPU_LIST[@]} * 2 > 2 ? ${#HS_CPU_LIST[@]} * 2 : 2))}
H2=${H2:-1}
H2_CONNS=${H2_CONNS:-10}
H2_STREAMS=${H2_STREAMS:-10}

bench_bins "$BUILD" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
TESTAPP=$BENCH_BUILD/testapp
bench_need wrk nginx caddy openssl h2load:nghttp2-client

bench_project_tmp
NGINX_PID=""
CADDY_PID=""
cleanup() {
  # nginx and Caddy are restarted with each certificate: their PIDs are only final now.
  # shellcheck disable=SC2206  # empty when not started
  PIDS+=($NGINX_PID $CADDY_PID)
  bench_cleanup
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
bench_start_project "$PROJ" "$PROXY_CPU" "$UP_CPU"

NG=$(free_port)
CA=$(free_port)
mkdir -p "$TMP/caddy"
bench_nginx_conf "$TMP/nginx" <<EOF
  # Its default (1000 requests, then GOAWAY) would end h2load's connections, which it does
  # not reopen: the run would stop early and count the streams in flight as failed.
  keepalive_requests 1000000;
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
  bench_beats "$rps" "${RPS[$name]:-}" || return 0
  RPS[$name]=$rps
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  CPU_US[$name]=$(cpu_us_per "$before" "$after" "$reqs")
  P50[$name]=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  P99[$name]=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
}

h2requests() {  # name port pids...: keep-alive HTTP/2 with h2load
  local name=$1 port=$2
  shift 2
  bench_h2load "$name over h2" "$port" "$H2_CONNS" "$H2_STREAMS" "$@"
  bench_beats "$H2LOAD_RPS" "${H2_RPS[$name]:-}" || return 0
  H2_RPS[$name]=$H2LOAD_RPS
  H2_CPU_US[$name]=$H2LOAD_CPU_US
  H2_MEAN[$name]=$H2LOAD_MEAN
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
