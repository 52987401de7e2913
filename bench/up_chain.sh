#!/usr/bin/env bash
# Startup overhead of `slipway up -d --wait` on a health-gated chain.
#
# Generates N services (default 10) in a temp project, each a testapp with an
# HTTP health check that depends_on the previous one with service_healthy.
# Measures, per run:
#   baseline  starting the same N testapps directly, one after another, each
#             only once the previous answers GET /health with 200
#   up        `slipway up -d --wait` (returns when every service is healthy)
#   down      `slipway down`
# and prints overhead = up - baseline (medians over RUNS), plus the daemon's
# idle RSS (VmRSS of the pid in .slipway/daemon.pid, IDLE_S seconds after up).
# Goals: overhead < 100 ms, idle RSS < 15 MB. STRICT=1 makes a missed goal exit 1.
#
# Usage: bench/up_chain.sh            (from the repo root, after `make build`)
#   N=10 RUNS=5 HC_INTERVAL=100ms IDLE_S=2 SLIPWAY=build/slipway TESTAPP=build/testapp
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLIPWAY="$(realpath "${SLIPWAY:-$ROOT/build/slipway}")"
TESTAPP="$(realpath "${TESTAPP:-$ROOT/build/testapp}")"
N="${N:-10}"
RUNS="${RUNS:-3}"
HC_INTERVAL="${HC_INTERVAL:-100ms}"
HC_START_INTERVAL="${HC_START_INTERVAL:-5ms}"
IDLE_S="${IDLE_S:-2}"
STRICT="${STRICT:-0}"
GOAL_OVERHEAD_MS=100
GOAL_RSS_KB=$((15 * 1024))

for bin in "$SLIPWAY" "$TESTAPP"; do
  [[ -x "$bin" ]] || { echo "up_chain: $bin not built (run make build)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "up_chain: needs python3 for the baseline" >&2; exit 1; }

WORK="$(mktemp -d /tmp/slipway-up-chain.XXXXXX)"
cleanup() {
  if [[ -f "$WORK/.slipway/daemon.pid" ]]; then
    (cd "$WORK" && "$SLIPWAY" down >/dev/null 2>&1) || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- the project -----------------------------------------------------------
{
  echo "name: upchain"
  echo "services:"
  for i in $(seq 1 "$N"); do
    name=$(printf 's%02d' "$i")
    echo "  $name:"
    echo "    image: testapp"
    echo "    environment:"
    echo "      VERSION: \"$i\""
    echo "    healthcheck:"
    echo "      interval: $HC_INTERVAL"
    # Probe fast while starting (compose's start_interval), as a team that cares about
    # start-up time would; failures inside start_period do not count.
    echo "      start_period: 30s"
    echo "      start_interval: $HC_START_INTERVAL"
    echo "      timeout: 1s"
    echo "      retries: 3"
    if (( i > 1 )); then
      echo "    depends_on:"
      echo "      $(printf 's%02d' $((i - 1))):"
      echo "        condition: service_healthy"
    fi
    echo "    x-slipway:"
    echo "      command: [\"$TESTAPP\"]"
    echo "      healthcheck:"
    echo "        http: /health"
  done
} > "$WORK/compose.yaml"

# --- baseline: the same chain without slipway --------------------------------
# One python process starts each testapp on a free port, polls /health every
# millisecond until 200, then starts the next; prints the total in ms. Children
# are killed by pid at the end.
baseline_ms() {
  python3 - "$TESTAPP" "$N" <<'PY'
import http.client, os, signal, socket, subprocess, sys, time
testapp, n = sys.argv[1], int(sys.argv[2])
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
procs = []
try:
    t0 = time.monotonic()
    for i in range(n):
        port = free_port()
        env = dict(os.environ, PORT=str(port), VERSION=str(i + 1))
        procs.append(subprocess.Popen([testapp], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health"); ok = c.getresponse().status == 200; c.close()
                if ok: break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("baseline: testapp %d never became healthy" % (i + 1))
            time.sleep(0.001)
    print(int((time.monotonic() - t0) * 1000))
finally:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try: p.wait(timeout=5)
        except subprocess.TimeoutExpired: p.kill(); p.wait()
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

declare -a BASE UP DOWN RSS
for run in $(seq 1 "$RUNS"); do
  BASE+=("$(baseline_ms)")

  t0=$(now_ms)
  (cd "$WORK" && "$SLIPWAY" up -d --wait >"$WORK/up.log" 2>&1) || {
    echo "up_chain: slipway up failed:" >&2; cat "$WORK/up.log" >&2; exit 1; }
  t1=$(now_ms)
  UP+=($((t1 - t0)))

  pidfile="$WORK/.slipway/daemon.pid"
  [[ -f "$pidfile" ]] || { echo "up_chain: no $pidfile after up" >&2; exit 1; }
  pid=$(cat "$pidfile")
  sleep "$IDLE_S"  # let the daemon settle into idle health probing
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  RSS+=("${rss:-0}")

  t2=$(now_ms)
  (cd "$WORK" && "$SLIPWAY" down >"$WORK/down.log" 2>&1) || {
    echo "up_chain: slipway down failed:" >&2; cat "$WORK/down.log" >&2; exit 1; }
  t3=$(now_ms)
  DOWN+=($((t3 - t2)))
  # The daemon must be gone after down (bounded wait: 5 s).
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "up_chain: daemon $pid still alive after down" >&2; exit 1; fi
  echo "run $run: baseline ${BASE[-1]} ms, up ${UP[-1]} ms, down ${DOWN[-1]} ms, idle RSS ${RSS[-1]} kB"
done

base=$(printf '%s\n' "${BASE[@]}" | median)
up=$(printf '%s\n' "${UP[@]}" | median)
down=$(printf '%s\n' "${DOWN[@]}" | median)
rss=$(printf '%s\n' "${RSS[@]}" | median)
overhead=$((up - base))
echo
echo "chain of $N health-gated services (healthcheck interval $HC_INTERVAL, start_interval $HC_START_INTERVAL), median of $RUNS runs:"
echo "  direct start, each waiting for the previous /health: ${base} ms"
echo "  slipway up -d --wait:                                ${up} ms"
echo "  overhead:                                            ${overhead} ms (goal < ${GOAL_OVERHEAD_MS} ms)"
echo "  slipway down:                                        ${down} ms"
echo "  daemon idle RSS:                                     ${rss} kB (goal < ${GOAL_RSS_KB} kB)"
fail=0
(( overhead < GOAL_OVERHEAD_MS )) || { echo "  MISSED: overhead"; fail=1; }
(( rss < GOAL_RSS_KB )) || { echo "  MISSED: idle RSS"; fail=1; }
(( fail == 0 )) && echo "  goals met"
if (( STRICT == 1 && fail == 1 )); then exit 1; fi
exit 0
