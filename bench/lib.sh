# What the bench scripts share: finding the built binaries, installing missing peers, starting
# a Slipway project and an nginx, running h2load, and stopping what a run started (by PID,
# never by name). Sourced, not run:
#   source "$(dirname "$0")/lib.sh"
# shellcheck shell=bash
# shellcheck disable=SC2034  # the globals set here are for the scripts that source it

# bench_bins BUILD NAME...: every NAME must be an executable in BUILD; sets BENCH_BUILD to
# BUILD's absolute path. Exits 2 naming the first one missing.
bench_bins() {
  local build=$1 b
  shift
  for b in "$@"; do
    [[ -x $build/$b ]] || { echo "missing $build/$b: build targets $* first" >&2; exit 2; }
  done
  BENCH_BUILD=$(cd "$build" && pwd)
}

# bench_need COMMAND[:PACKAGE]...: installs (apt) the packages of the commands not on PATH.
bench_need() {
  local want need=()
  for want in "$@"; do
    command -v "${want%%:*}" >/dev/null || need+=("${want#*:}")
  done
  if ((${#need[@]})); then apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; fi
}

# PIDs of the processes a run started; bench_kill_pids stops them and reaps them.
PIDS=()
bench_kill_pids() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# bench_stop_project DIR: `slipway down` in DIR (bounded), then whatever is left of its keeper
# and daemon is killed by their PID files, the keeper first (it would restart the daemon).
bench_stop_project() {
  local dir=$1 dpid kpid
  dpid=$(cat "$dir/.slipway/daemon.pid" 2>/dev/null || true)
  kpid=$(cat "$dir/.slipway/keeper.pid" 2>/dev/null || true)
  if [[ -n $dpid$kpid ]]; then
    (cd "$dir" && timeout 60 "$SLIPWAY" down >/dev/null 2>&1) || true
  fi
  if [[ -n $kpid ]] && kill -0 "$kpid" 2>/dev/null; then kill -9 "$kpid" 2>/dev/null || true; fi
  if [[ -n $dpid ]] && kill -0 "$dpid" 2>/dev/null; then kill -9 "$dpid" 2>/dev/null || true; fi
}

# bench_knobs: the knobs the proxy comparisons share, each from the environment or its default:
# DURATION (s per run, 10), LOAD_CPU (the load generator's core, 0), PROXY_CPU (the core of the
# proxy under test, 1), ROUNDS (interleaved rounds, each target keeping its best, 2).
bench_knobs() {
  DURATION=${DURATION:-10}
  LOAD_CPU=${LOAD_CPU:-0}
  PROXY_CPU=${PROXY_CPU:-1}
  ROUNDS=${ROUNDS:-2}
}

# bench_project_tmp: a scratch directory for the run; sets TMP to it and PROJ to TMP/project
# (not created) and traps EXIT with bench_cleanup: PIDS stopped, then the project in PROJ, then
# TMP removed. A script with more to stop traps EXIT itself and ends its handler with
# bench_cleanup.
bench_project_tmp() {
  TMP=$(mktemp -d)
  PROJ=$TMP/project
  trap bench_cleanup EXIT
}
bench_cleanup() {
  bench_kill_pids
  bench_stop_project "$PROJ"
  rm -rf "$TMP"
}

# bench_start_project DIR DAEMON_CPU UP_CPU: `slipway up -d --wait` of the compose.yaml written
# in DIR, whose first service is the upstream under test. Sets SLIPWAY_PID (the daemon), UP
# (the upstream's port, as `slipway ps` shows it) and UP_PID; pins the daemon, all its threads,
# to DAEMON_CPU and the upstream to UP_CPU (its children are the caller's to pin), then waits
# for UP to accept. Fails, saying why, when the project does not come up.
bench_start_project() {
  local dir=$1 daemon_cpu=$2 up_cpu=$3
  (cd "$dir" && "$SLIPWAY" up -d --wait >/dev/null) || { echo "slipway up failed in $dir" >&2; return 1; }
  SLIPWAY_PID=$(cat "$dir/.slipway/daemon.pid") || return 1
  UP="" UP_PID=""
  read -r UP UP_PID < <(cd "$dir" && "$SLIPWAY" ps --format json |
    python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["port"], r["pid"])')
  [[ -n $UP && -n $UP_PID ]] || { echo "slipway ps in $dir names no upstream port and pid" >&2; return 1; }
  taskset -a -pc "$daemon_cpu" "$SLIPWAY_PID" >/dev/null
  taskset -a -pc "$up_cpu" "$UP_PID" >/dev/null
  wait_port "$UP"
}

# bench_nginx_conf DIR: writes DIR/nginx.conf (DIR created) for one foreground nginx worker
# whose pid, error log and temp files stay in DIR, no access log; stdin is the body of its
# http block (upstreams, servers).
bench_nginx_conf() {
  local dir=$1
  mkdir -p "$dir"
  {
    cat <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
EOF
    cat
    echo "}"
  } >"$dir/nginx.conf"
}

# bench_beats NEW OLD: true when round figure NEW is to replace the kept OLD: OLD is empty (the
# first round) or NEW is higher.
bench_beats() {
  [[ -z $2 ]] || awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'
}

# cpu_us_per BEFORE AFTER N: microseconds of CPU per unit (two decimals) from two cpu_ns
# readings over N units (requests); 0 when N is 0 or empty.
cpu_us_per() {
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n / 1000 : 0)}'
}

# bench_h2load LABEL PORT CONNS STREAMS PID...: h2load -t1 over TLS (https://127.0.0.1:PORT/)
# with CONNS connections of STREAMS concurrent streams each, for DURATION s, pinned to
# LOAD_CPU. Unless it reports 0 failed and 0 errored, only 2xx and ALPN h2, prints
# "error: LABEL: <its requests, status codes and protocol lines>" and sets ERRORS=1. Sets
# H2LOAD_RPS (req/s), H2LOAD_REQS (requests), H2LOAD_MEAN (its mean time for request) and
# H2LOAD_CPU_US (CPU µs per request of the PIDs, all their threads); keeping the best round is
# the caller's.
bench_h2load() {
  local label=$1 port=$2 conns=$3 streams=$4 out before after
  shift 4
  before=$(cpu_ns "$@")
  out=$(taskset -c "$LOAD_CPU" h2load -t1 -c"$conns" -m"$streams" -D"$DURATION" \
    "https://127.0.0.1:$port/" 2>&1)
  after=$(cpu_ns "$@")
  if ! grep -q "^requests: .* 0 failed, 0 errored" <<<"$out" ||
    ! grep -q "^status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$out" ||
    ! grep -q "Application protocol: h2" <<<"$out"; then
    echo "error: $label: $(grep -E '^(requests|status codes|Application protocol)' <<<"$out" | paste -sd' ')" >&2
    ERRORS=1
  fi
  H2LOAD_RPS=$(awk '/^finished in/ {print $4}' <<<"$out")
  H2LOAD_REQS=$(awk '/^requests:/ {print $8}' <<<"$out")
  H2LOAD_MEAN=$(awk '/^time for request:/ {print $6}' <<<"$out")
  H2LOAD_CPU_US=$(cpu_us_per "$before" "$after" "$H2LOAD_REQS")
}

# A free TCP port on 127.0.0.1 (the kernel's pick; a race with another binder is possible).
free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# wait_port PORT: returns once 127.0.0.1:PORT accepts (up to 30 s), else prints the tails of
# $TMP's logs and fails.
wait_port() {
  for _ in $(seq 1 600); do
    if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $1 never opened; logs:" >&2
  tail -n 5 "${TMP:-/nonexistent}"/*.log "${TMP:-/nonexistent}"/nginx/error.log >&2 2>/dev/null || true
  return 1
}

# A latency from wrk's "--latency" block (e.g. 1.21ms, 830.00us, 1.02s), in ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%s", v }'
}

# cpu_ns PID...: CPU time (ns) the processes have used so far, all their threads (schedstat's
# first field).
cpu_ns() {
  local pid total=0 t
  for pid in "$@"; do
    for t in /proc/"$pid"/task/*/schedstat; do
      total=$((total + $(cut -d' ' -f1 "$t")))
    done
  done
  echo "$total"
}

# ctx_switches PID...: voluntary and involuntary context switches the processes have made so
# far, all their threads ("V I"): a voluntary one is a sleep (a wait for I/O), an involuntary
# one a preemption.
ctx_switches() {
  local pid
  for pid in "$@"; do cat /proc/"$pid"/task/*/status 2>/dev/null; done |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2}
         END {printf "%d %d\n", v, n}'
}
