#!/usr/bin/env bash
# bench/proxy.sh — throughput and latency of one upstream (tools/testapp) reached directly,
# through Slipway's proxy, through nginx and through HAProxy, with wrk at 50 and 200
# connections, all in one run. Prints a table and the ratios Slipway/nginx, Slipway/HAProxy,
# of throughput and of CPU time per request (each proxy's own, from /proc/<pid>/task/*/schedstat
# over the wrk run: the daemon with all its threads, nginx's worker, HAProxy's process).
# Not a timed test. Usage (from the repo root, after building slipway and testapp):
#   bench/proxy.sh [BUILD_DIR]          (default: build)
# Knobs (env): DURATION (s per run, 10), CONNS ("50 200"), LOAD_CPU (wrk, 0), UP_CPU
# (testapp; unset: the whole run twice, with 0 and then 1), PROXY_CPU (the proxy under test, 1), ROUNDS (2: targets are run in
# interleaved rounds and each keeps its best round, which damps noise from other load on a
# shared machine; with more than one round every round and the medians are printed too), SYSCALLS=1 (also count syscalls per
# request of each proxy with strace -c on a short run).
# Also printed: per target, context switches per second of the upstream, of wrk and of the
# proxy (sleeps and preemptions: how the processes share the cores; bench/README.md).
# Slipway is the real daemon: `slipway up` of a throwaway project whose one service is the
# testapp, published through the proxy with `x-slipway.proxy.workers: 1`; nginx
# (worker_processes 1) and HAProxy (nbthread 1) proxy to that same testapp instance. Each
# proxy is pinned to one core (the daemon with all its threads), the same one for all three.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
bench_knobs  # DURATION, LOAD_CPU, PROXY_CPU, ROUNDS
CONNS=${CONNS:-"50 200"}
SYSCALLS=${SYSCALLS:-0}
# Unless UP_CPU is set, both arrangements of two cores, one after the other: the upstream on
# wrk's core (the proxy alone on its own), then on the proxy's (wrk alone, as a load coming from
# other machines). A p99 taken with the load generator on a core it shares measures how the
# scheduler interleaves the two as much as the proxy (bench/README.md, "Where the tail comes
# from"); on a 2-core machine one of the three always shares.
if [[ -z ${UP_CPU:-} ]]; then
  rc=0
  UP_CPU=$LOAD_CPU bash "$0" "$@" || rc=$?
  echo
  UP_CPU=$PROXY_CPU bash "$0" "$@" || rc=$?
  exit "$rc"
fi

bench_bins "$BUILD" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
TESTAPP=$BENCH_BUILD/testapp
bench_need wrk nginx haproxy
if [[ $SYSCALLS == 1 ]]; then bench_need strace; fi

bench_project_tmp

# --- Slipway: the daemon runs the testapp and proxies its published port, one worker.
SW=$(free_port)
mkdir -p "$PROJ"
cat >"$PROJ/compose.yaml" <<EOF
name: proxy-bench
services:
  app:
    environment: {HOST: 127.0.0.1, THREADS: "1"}
    ports: ["127.0.0.1:$SW:8080"]
    healthcheck: {interval: 1s, start_interval: 50ms, start_period: 10s}
    x-slipway:
      command: ["$TESTAPP"]
      healthcheck: {http: /health}
x-slipway:
  proxy: {workers: 1}
EOF
bench_start_project "$PROJ" "$PROXY_CPU" "$UP_CPU"

# --- nginx: one worker, keep-alive to the upstream.
NG=$(free_port)
bench_nginx_conf "$TMP/nginx" <<EOF
  upstream app { server 127.0.0.1:$UP; keepalive 256; }
  server {
    listen 127.0.0.1:$NG;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
EOF
taskset -c "$PROXY_CPU" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
PIDS+=($!)
NGINX_PID=$!

# --- HAProxy: one thread, keep-alive and connection reuse to the upstream.
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
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend f
  bind 127.0.0.1:$HA
  default_backend b
backend b
  server s1 127.0.0.1:$UP
EOF
taskset -c "$PROXY_CPU" haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
PIDS+=($!)
HAPROXY_PID=$!

wait_port "$NG"
wait_port "$HA"
wait_port "$SW"
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[[ -n $NGINX_WORKER ]] || { echo "nginx has no worker process" >&2; exit 1; }

declare -A RPS P50 P99 CPU_US ROUND_RPS ROUND_P99 ROUND_SCHED
run() {  # name port conns pids...; records the round, keeps the one with the most req/s
  local name=$1 port=$2 conns=$3 out rps before after reqs p99 up0 up1 px0 px1 t0 t1 wrk_cs ucpu0 ucpu1
  shift 3
  before=$(cpu_ns "$@")
  up0=$(ctx_switches "$UP_PID") px0=$(ctx_switches "$@") t0=$(date +%s%N) ucpu0=$(cpu_ns "$UP_PID")
  out=$(taskset -c "$LOAD_CPU" /usr/bin/time -f "%w %c" -o "$TMP/wrk.cs" \
    wrk -t1 -c"$conns" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  up1=$(ctx_switches "$UP_PID") px1=$(ctx_switches "$@") t1=$(date +%s%N) ucpu1=$(cpu_ns "$UP_PID")
  after=$(cpu_ns "$@")
  wrk_cs=$(tail -1 "$TMP/wrk.cs")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  local key=$name,$conns
  ROUND_RPS[$key]+="$rps "
  ROUND_P99[$key]+="$p99 "
  # Per second of the run: the upstream's sleeps and preemptions, wrk's, the proxy's sleeps
  # (how the three share the cores; see "where the tail comes from" in bench/README.md).
  ROUND_SCHED[$key]+=$(awk -v a="$up0" -v b="$up1" -v w="$wrk_cs" -v p="$px0" -v q="$px1" \
    -v ns=$((t1 - t0)) -v ucpu=$((ucpu1 - ucpu0)) -v n="$(awk '/requests in/ {print $1}' <<<"$out")" 'BEGIN {
      split(a, x, " "); split(b, y, " "); split(w, z, " "); split(p, u, " "); split(q, v, " ")
      s = ns / 1e9
      printf "%d:%d:%d:%d:%d:%.2f ", (y[1] - x[1]) / s, (y[2] - x[2]) / s, z[1] / s, z[2] / s, (v[1] - u[1]) / s, (n > 0 ? ucpu / n / 1000 : 0) }')
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "warning: $name at $conns connections: $(grep -E 'Non-2xx|Socket errors' <<<"$out")" >&2
  fi
  bench_beats "$rps" "${RPS[$key]:-}" || return 0
  RPS[$key]=$rps
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  # The proxy's own CPU per request (µs): what it costs, apart from how it interleaves with the
  # saturated upstream. For "direct" it is the upstream's.
  CPU_US[$key]=$(cpu_us_per "$before" "$after" "$reqs")
  P50[$key]=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  P99[$key]=$p99
}

median() {  # the median of the numbers given as one space-separated word list
  tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g |
    awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "kernel: $(uname -r); $(nginx -v 2>&1); $(haproxy -v | head -1)"
echo "pinning: wrk -t1 on cpu $LOAD_CPU, testapp (1 thread) on cpu $UP_CPU, proxy under test on cpu $PROXY_CPU (slipway: the whole daemon)"
echo "wrk: ${DURATION}s per run, connections: $CONNS"
echo
echo "rounds: $ROUNDS (best of each kept); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    for t in "direct:$UP:$UP_PID" "slipway:$SW:$SLIPWAY_PID" "nginx:$NG:$NGINX_WORKER" \
      "haproxy:$HA:$HAPROXY_PID"; do
      IFS=: read -r name port pid <<<"$t"
      run "$name" "$port" "$c" "$pid"
      sleep 1
    done
  done
done

printf '%-8s %6s %12s %10s %10s %12s\n' target conns req/s p50_ms p99_ms cpu_us/req
for c in $CONNS; do
  for t in direct slipway nginx haproxy; do
    printf '%-8s %6s %12s %10s %10s %12s\n' "$t" "$c" "${RPS[$t,$c]}" "${P50[$t,$c]}" \
      "${P99[$t,$c]}" "${CPU_US[$t,$c]}"
  done
done
echo
for c in $CONNS; do
  awk -v c="$c" -v s="${RPS[slipway,$c]}" -v n="${RPS[nginx,$c]}" -v h="${RPS[haproxy,$c]}" \
    -v d="${RPS[direct,$c]}" -v sp="${P99[slipway,$c]}" -v np="${P99[nginx,$c]}" \
    -v hp="${P99[haproxy,$c]}" 'BEGIN {
      best = n > h ? n : h; bp = n > h ? np : hp
      printf "c=%s: slipway/nginx %.2fx, slipway/haproxy %.2fx, slipway/best %.2fx, slipway/direct %.2f; p99 slipway %.3f ms vs best %.3f ms\n",
        c, s / n, s / h, s / best, s / d, sp, bp }'
  awk -v c="$c" -v s="${CPU_US[slipway,$c]}" -v n="${CPU_US[nginx,$c]}" \
    -v h="${CPU_US[haproxy,$c]}" 'BEGIN {
      printf "c=%s: CPU per request, nginx/slipway %.2fx, haproxy/slipway %.2fx (higher: slipway cheaper)\n",
        c, n / s, h / s }'
done

if ((ROUNDS > 1)); then
  # Best-of-rounds flatters whoever had the luckiest round; the median of each target's rounds,
  # which ran interleaved with the others', is the figure to compare p99 by on a noisy machine.
  echo
  echo "every round (req/s, p99 ms), and the median of the rounds:"
  for c in $CONNS; do
    for t in direct slipway nginx haproxy; do
      printf '  %-8s c=%-4s req/s: %s(median %s)  p99: %s(median %s)\n' "$t" "$c" \
        "${ROUND_RPS[$t,$c]}" "$(median "${ROUND_RPS[$t,$c]}")" \
        "${ROUND_P99[$t,$c]}" "$(median "${ROUND_P99[$t,$c]}")"
    done
    awk -v c="$c" -v s="$(median "${ROUND_P99[slipway,$c]}")" -v n="$(median "${ROUND_P99[nginx,$c]}")" \
      -v h="$(median "${ROUND_P99[haproxy,$c]}")" 'BEGIN {
        best = n < h ? n : h
        printf "c=%s: median p99 slipway %.3f ms vs the better peer %.3f ms (%.2fx)\n", c, s, best, s / best }'
  done
fi

# How each target's run shared the cores, per second (medians of the rounds): the upstream's
# sleeps (voluntary switches) and preemptions (involuntary), wrk's, and the proxy's sleeps.
echo
echo "context switches per second (median of rounds): upstream sleeps/preempted, wrk sleeps/preempted, proxy sleeps; the upstream's CPU per request"
for c in $CONNS; do
  for t in direct slipway nginx haproxy; do
    cols=()
    for i in 1 2 3 4 5 6; do
      cols+=("$(median "$(tr ' ' '\n' <<<"${ROUND_SCHED[$t,$c]}" | awk -F: -v i="$i" 'NF {print $i}' | tr '\n' ' ')")")
    done
    if [[ $t == direct ]]; then cols[4]="-"; fi
    printf '  %-8s c=%-4s upstream %7s / %-7s wrk %7s / %-7s proxy %-7s upstream µs CPU/req %s\n' "$t" "$c" "${cols[@]}"
  done
done

if [[ $SYSCALLS == 1 ]]; then
  echo
  echo "syscalls per request (strace -c -f, wrk -c50 for 3 s; strace slows the proxy, counts are what matter):"
  for t in slipway:$SLIPWAY_PID:$SW nginx:$NGINX_PID:$NG haproxy:$HAPROXY_PID:$HA; do
    IFS=: read -r name pid port <<<"$t"
    if [[ $name == nginx ]]; then pid=$(pgrep -P "$pid" | head -1); fi  # its worker process
    strace -c -f -p "$pid" -o "$TMP/strace.$name" &
    spid=$!
    sleep 0.5
    reqs=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d3s "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
    kill -INT "$spid"; wait "$spid" 2>/dev/null || true
    calls=$(awk '$NF=="total" {print $4}' "$TMP/strace.$name")
    printf '  %-8s %s requests, %s syscalls, %.2f per request\n' "$name" "$reqs" "$calls" \
      "$(awk -v a="$calls" -v b="$reqs" 'BEGIN {print (b > 0 ? a / b : 0)}')"
    awk 'NR>2 && !/^-/ && $NF!="total" {printf "      %-14s %s\n", $NF, $4}' "$TMP/strace.$name" | head -8
  done
fi
