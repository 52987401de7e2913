# What the bench scripts share: finding the built binaries, installing missing peers, and
# stopping what a run started (by PID, never by name). Sourced, not run:
#   source "$(dirname "$0")/lib.sh"

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
