#!/usr/bin/env bash
# bench/ingress_kill.sh — how long the host's ingress leaves a host unserved after kill -9. One
# project (`build/testapp`, `x-slipway.ingress: true`, host k.test) behind an ingress on free
# loopback ports with its state in a temp $SLIPWAY_STATE_DIR. Per round, each case:
#   ingress     kill -9 of the ingress (ingress.pid): its keeper starts it again
#   both        kill -9 of the ingress, then of its keeper GAP_MS later (before the keeper's
#               restart): only the project's daemon can start another
# and reports the ms from the kill until `GET / Host: k.test` answers 200 (one connection
# after another, each bounded by 2 s), and whether the project's daemon started an ingress
# meanwhile (in the `ingress` case such a start can only lose on the keeper's lock). Not a
# timed test.
# Usage (repo root, after building slipway and testapp):  bench/ingress_kill.sh [BUILD_DIR]
# Knobs (env): ROUNDS (3), GAP_MS (30), KEEP (set: the temp folder with the logs stays).
set -euo pipefail

source "$(dirname "$0")/lib.sh"
BUILD=$(realpath "${1:-build}")
ROUNDS=${ROUNDS:-3}
GAP_MS=${GAP_MS:-30}
bench_bins "$BUILD" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
TESTAPP=$BENCH_BUILD/testapp

TMP=$(mktemp -d)
STATE=$TMP/state/ingress
cleanup() {
  bench_stop_project "$TMP/proj"
  local k i
  k=$(cat "$STATE/keeper.pid" 2>/dev/null || true)
  i=$(cat "$STATE/ingress.pid" 2>/dev/null || true)
  [[ -n $k ]] && kill "$k" 2>/dev/null || true
  [[ -n $i ]] && kill "$i" 2>/dev/null || true
  if [[ -n ${KEEP:-} ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

HTTP=$(free_port)
HTTPS=$(free_port)
export SLIPWAY_STATE_DIR=$TMP/state SLIPWAY_INGRESS_HTTP=127.0.0.1:$HTTP \
  SLIPWAY_INGRESS_HTTPS=127.0.0.1:$HTTPS
mkdir -p "$TMP/proj"
cat >"$TMP/proj/compose.yaml" <<EOF
services:
  web:
    command: ["$TESTAPP"]
    healthcheck: {interval: 100ms, start_interval: 50ms}
    x-slipway: {healthcheck: {http: /health}}
x-slipway:
  ingress: true
  routes:
    - {host: k.test, service: web}
EOF
(cd "$TMP/proj" && "$SLIPWAY" up -d --wait >/dev/null)

# until_200 [PID [PID2]]: kill -9 PID (and PID2 GAP_MS later), then the ms from the first
# kill until a GET for k.test answers 200, one connection at a time (each bounded by 2 s); -1
# after 20 s. Without PID, only the wait.
until_200() {
  python3 - "$HTTP" "$GAP_MS" "$@" <<'PY'
import os, signal, socket, sys, time
port, gap, pids = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
t0 = time.monotonic()
if pids:
    os.kill(pids[0], signal.SIGKILL)
if len(pids) > 1:
    time.sleep(gap / 1000)
    os.kill(pids[1], signal.SIGKILL)
while time.monotonic() - t0 < 20:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET / HTTP/1.1\r\nHost: k.test\r\nConnection: close\r\n\r\n")
        got = s.recv(64)
        s.close()
        if got.startswith(b"HTTP/1.1 200"):
            print(round((time.monotonic() - t0) * 1000))
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
print(-1)
PY
}

[[ $(until_200) -ge 0 ]] || { echo "k.test never answered" >&2; exit 1; }
DLOG=$TMP/proj/.slipway/logs/daemon.log
# The daemon starts an ingress at most once per 5 s: each case begins outside that window.
settle() { sleep 6; [[ $(until_200) -ge 0 ]] || { echo "k.test did not come back" >&2; exit 1; }; }
started() {  # whether the daemon started an ingress since line $1 of its log
  if tail -n +"$1" "$DLOG" | grep -q "started it"; then echo "started one"; else echo "none"; fi
}

printf '%-8s %-6s %-10s %s\n' case round ms 'daemon start'
for round in $(seq 1 "$ROUNDS"); do
  settle
  lines=$(($(wc -l <"$DLOG") + 1))
  ms=$(until_200 "$(cat "$STATE/ingress.pid")")
  printf '%-8s %-6s %-10s %s\n' ingress "$round" "$ms" "$(started "$lines")"

  settle
  lines=$(($(wc -l <"$DLOG") + 1))
  ms=$(until_200 "$(cat "$STATE/ingress.pid")" "$(cat "$STATE/keeper.pid")")
  printf '%-8s %-6s %-10s %s\n' both "$round" "$ms" "$(started "$lines")"
done
