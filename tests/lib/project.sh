# What the shell-driven end-to-end suites share (tests/ofrep, tests/ui, tests/h2): a throwaway
# project folder for a real daemon, and its cleanup on every exit path. POSIX sh; sourced, not
# run, after `bin` (the slipway binary) is set:
#   . "$here/../lib/project.sh"
#   project_workdir NAME      # sets $work, a fresh folder; installs the EXIT/INT/TERM traps
# On exit: `slipway down` in $work (bounded), then what is left is killed by PID: the keeper
# first (it would start a daemon killed under it again), the daemon, and the PIDs listed in
# $work/service.pids (a suite that records its services' PIDs); on failure the daemon log's
# last lines go to stderr; $work is removed; the script's exit status is kept.

project_cleanup() {
  rc=$?
  trap - EXIT INT TERM
  pid=$(cat "$work/.slipway/daemon.pid" 2>/dev/null || true)
  keeper=$(cat "$work/.slipway/keeper.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    (cd "$work" && timeout 30 "$bin" down >/dev/null 2>&1) || true
  fi
  if [ -n "$keeper" ] && kill -0 "$keeper" 2>/dev/null; then kill -9 "$keeper" 2>/dev/null || true; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  for p in $(cat "$work/service.pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] && [ -f "$work/.slipway/logs/daemon.log" ]; then
    echo "--- daemon.log (last lines)" >&2
    tail -n 30 "$work/.slipway/logs/daemon.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$rc"
}

project_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-$1-XXXXXX")
  trap project_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
