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
