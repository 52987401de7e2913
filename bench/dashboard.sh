#!/usr/bin/env bash
# The dashboard's speed goals (issue: a dashboard a team leaves open all day), measured in
# Debian's Chromium against a real daemon:
#   - first paint < 500 ms, and the time until all SERVICES rows are in the Services table;
#   - live data <= 1 s behind: an instance is killed (SIGKILL, by its PID from `slipway ps`)
#     and the time until its row shows it is taken, LAG_SAMPLES times;
#   - the Logs view with LOG_LINES lines: time until they are all kept, the longest task that
#     blocked the page meanwhile, and a search over them;
#   - the daemon's RSS with the page open for OPEN_SECONDS (default the goal's hour): growth
#     < 10 MB.
# There is no peer for a dashboard: the goals are the reference, and each line says met/missed.
#   bench/dashboard.sh [BUILD]        (default build; needs slipway and testapp built)
# SERVICES (100), LOG_LINES (100000), LAG_SAMPLES (10), OPEN_SECONDS (3600) override.
# Exits 1 when the run itself failed (the daemon died, rows never came); a missed goal is
# printed, not an exit status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
bench_bins "${1:-build}" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
services=${SERVICES:-100}
log_lines=${LOG_LINES:-100000}
ui=$here/../tests/ui
command -v node >/dev/null || { echo "dashboard: node is missing (scripts/install-deps.sh)" >&2; exit 2; }
[[ -x /usr/bin/chromium ]] || { echo "dashboard: /usr/bin/chromium is missing (scripts/install-deps.sh)" >&2; exit 2; }
if [[ ! -d $ui/node_modules/playwright-core ]]; then (cd "$ui" && npm ci --no-audit --no-fund >/dev/null); fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/slipway-dash-XXXXXX")
cleanup() {
  bench_stop_project "$TMP"
  rm -rf "$TMP"
}
trap cleanup EXIT

# SERVICES services of one instance each (the testapp, restarted when it dies) and one that
# prints LOG_LINES lines at once when the file `go` appears (the Logs view is open and
# following by then: the daemon keeps only the last 2,000 lines of a service) and then idles.
{
  echo "name: dashbench"
  echo "services:"
  for i in $(seq -f '%03g' 1 "$services"); do
    printf '  s%s:\n    image: bench/app:1\n    restart: unless-stopped\n' "$i"
    printf '    x-slipway:\n      command: ["%s"]\n' "$BENCH_BUILD/testapp"
  done
  printf '  logger:\n    image: bench/app:1\n    restart: "no"\n    x-slipway:\n'
  printf '      command: ["sh", "-c", "while [ ! -f %s/go ]; do sleep 0.1; done; seq -f \\"line %%g info request served\\" 1 %s; exec sleep 86400"]\n' \
    "$TMP" "$log_lines"
} >"$TMP/compose.yaml"

echo "dashboard: starting $services services and a logger of $log_lines lines"
t0=$(date +%s%N)
(cd "$TMP" && timeout 600 "$SLIPWAY" up -d --wait >"$TMP/up.log" 2>&1) \
  || { tail -20 "$TMP/up.log" >&2; exit 1; }
echo "dashboard: up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

SLIPWAY_UI_URL="http://$(cat "$TMP/.slipway/api.addr")" \
SLIPWAY_ADMIN_TOKEN=$(cat "$TMP/.slipway/token") \
SLIPWAY_DAEMON_PID=$(cat "$TMP/.slipway/daemon.pid") \
SLIPWAY_SERVICES=$services \
SLIPWAY_LOG_LINES=$log_lines \
SLIPWAY_LOG_TRIGGER=$TMP/go \
  node "$here/dashboard.mjs"
