#!/usr/bin/env bash
# bench/metrics.sh — app metrics at scale, Slipway beside Prometheus on the same targets:
#   TARGETS (100) static targets, each an exposition of 200 series (counters that advance,
#   gauges that move, a 10-route latency histogram) served by one python3 process on
#   TARGETS loopback ports, scraped every INTERVAL (15s) by both; RULES (50) rules (recording
#   and alerting, over those metrics) in one rule file, evaluated every INTERVAL by both.
# It reports, over DURATION seconds after a WARMUP:
#   - Slipway's daemon CPU share of one core (schedstat of every thread) and Prometheus';
#   - the daemon's RSS (max of samples every 5 s) against x-slipway.scrape.memory_limit
#     (BUDGET), and what the series store itself counts (slipway_tsdb_bytes);
#   - query_range latency (median of REPS, curl's time_total) of a fixed list of queries over
#     the whole run at a 15 s step on both servers, and the ratio Slipway / Prometheus.
# Exits 1 when a target errored on either side or a process died; with STRICT=1 also when a
# goal is missed (CPU < 2 % of a core, RSS within the budget, latency <= Prometheus').
# Usage (from the repo root, after `cmake --build build --target slipway testapp`):
#   bench/metrics.sh [BUILD_DIR]        (default: build)
# Knobs (env): TARGETS (100) SERIES is fixed at 200 per target, RULES (50), INTERVAL (15s),
# WARMUP (s, 60), DURATION (s, 300), REPS (5), BUDGET (64MiB), SLIPWAY_CPU / PROM_CPU
# (taskset cpu lists, default: no pinning), STRICT (0).
# Uses only what a user installs: the slipway and testapp binaries, python3 (the exposition
# server), Debian's prometheus and curl.
set -euo pipefail

BUILD=${1:-build}
TARGETS=${TARGETS:-100}
RULES=${RULES:-50}
INTERVAL=${INTERVAL:-15s}
WARMUP=${WARMUP:-60}
DURATION=${DURATION:-300}
REPS=${REPS:-5}
BUDGET=${BUDGET:-64MiB}
STRICT=${STRICT:-0}
SLIPWAY_CPU=${SLIPWAY_CPU:-}
PROM_CPU=${PROM_CPU:-}

source "$(dirname "$0")/lib.sh"
bench_bins "$BUILD" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
TESTAPP=$BENCH_BUILD/testapp
command -v prometheus >/dev/null || { echo "prometheus is needed (apt-get install prometheus)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }

TMP=$(mktemp -d)
PROJ=$TMP/project
mkdir -p "$PROJ" "$TMP/prom"
cleanup() {
  bench_stop_project "$PROJ"
  bench_kill_pids
  rm -rf "$TMP"
}
trap cleanup EXIT

pin() {  # pin CPULIST CMD...: taskset when a cpu list is given
  local cpus=$1
  shift
  if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# --- The targets: one python3 process serving TARGETS ports; each answer is computed from the
# time since start, so counters advance and gauges move between scrapes.
python3 - "$TMP" "$TARGETS" <<'PY' &
import http.server, math, random, socket, sys, threading, time
tmp, n = sys.argv[1], int(sys.argv[2])
start = time.time()
ROUTES = [f"r{i}" for i in range(10)]
LES = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
FRAC = [0.05, 0.15, 0.35, 0.6, 0.8, 0.9, 0.95, 0.98, 0.995, 0.999, 1.0]

def body(target):
    rnd = random.Random(target)
    rates = [rnd.uniform(1, 50) for _ in ROUTES]
    el = time.time() - start
    out = ["# TYPE bench_requests_total counter"]
    for r, rate in zip(ROUTES, rates):
        out.append(f'bench_requests_total{{route="{r}",code="200"}} {int(el * rate)}')
        out.append(f'bench_requests_total{{route="{r}",code="500"}} {int(el * rate * 0.01)}')
    out.append("# TYPE bench_errors_total counter")
    for r, rate in zip(ROUTES, rates):
        out.append(f'bench_errors_total{{route="{r}"}} {int(el * rate * 0.02)}')
    out.append("# TYPE bench_latency_seconds histogram")
    for r, rate in zip(ROUTES, rates):
        count = int(el * rate)
        for le, f in zip(LES, FRAC):
            out.append(f'bench_latency_seconds_bucket{{route="{r}",le="{le}"}} {int(count * f)}')
        out.append(f'bench_latency_seconds_sum{{route="{r}"}} {count * 0.042:.3f}')
        out.append(f'bench_latency_seconds_count{{route="{r}"}} {count}')
    out.append("# TYPE bench_queue_depth gauge")
    for q in range(20):
        out.append(f'bench_queue_depth{{queue="q{q}"}} {int(500 + 500 * math.sin(el / 60 + q + target))}')
    out.append("# TYPE bench_temperature gauge")
    for s in range(20):
        out.append(f'bench_temperature{{sensor="s{s}"}} {20 + 5 * math.sin(el / 97 + s) + rnd.random():.2f}')
    return ("\n".join(out) + "\n").encode()

def serve(i, sock):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            b = body(i)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H, bind_and_activate=False)
    srv.socket = sock
    srv.serve_forever()

ports = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    ports.append(s.getsockname()[1])
    threading.Thread(target=serve, args=(i, s), daemon=True).start()
open(f"{tmp}/ports.tmp", "w").write("\n".join(map(str, ports)) + "\n")
import os
os.rename(f"{tmp}/ports.tmp", f"{tmp}/ports")
while True:
    time.sleep(3600)
PY
PIDS+=($!)
for _ in $(seq 1 200); do [[ -s $TMP/ports ]] && break; sleep 0.05; done
[[ -s $TMP/ports ]] || { echo "the exposition server did not start" >&2; exit 1; }
mapfile -t PORTS <"$TMP/ports"
# Each target serves 200 series, checked once.
series=$(curl -s "http://127.0.0.1:${PORTS[0]}/metrics" | grep -vc '^#')
[[ $series == 200 ]] || { echo "a target serves $series series, not 200" >&2; exit 1; }

# --- The rules: RULES rules in one Prometheus rule file, loaded unchanged by both.
python3 - "$PROJ/rules.yml" "$RULES" "$INTERVAL" <<'PY'
import sys
path, n, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kinds = [
    lambda k: {"record": f"job:bench_requests:rate5m_{k}",
               "expr": f'sum by (job) (rate(bench_requests_total{{route="r{k % 10}"}}[5m]))'},
    lambda k: {"alert": f"BenchErrors{k}",
               "expr": f'sum by (job) (rate(bench_errors_total{{route="r{k % 10}"}}[5m])) / '
                       f'sum by (job) (rate(bench_requests_total{{route="r{k % 10}"}}[5m])) > 0.5',
               "for": "5m", "labels": {"severity": "page"},
               "annotations": {"summary": "{{ $labels.job }} fails {{ $value | humanizePercentage }}"}},
    lambda k: {"alert": f"BenchSlow{k}",
               "expr": f'histogram_quantile(0.99, sum by (job, le) '
                       f'(rate(bench_latency_seconds_bucket{{route="r{k % 10}"}}[5m]))) > 2',
               "for": "10m"},
    lambda k: {"alert": f"BenchQueue{k}",
               "expr": f'bench_queue_depth{{queue="q{k % 20}"}} > 990',
               "annotations": {"summary": "queue at {{ $value }}"}},
    lambda k: {"alert": f"BenchHot{k}",
               "expr": f'max_over_time(bench_temperature{{sensor="s{k % 20}"}}[10m]) > 30'},
]
rules = [kinds[k % len(kinds)](k) for k in range(n)]
def emit(v, ind):
    if isinstance(v, dict):
        return "".join(f"\n{' ' * ind}{k}: {emit(x, ind + 2)}" for k, x in v.items())
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
out = f"groups:\n  - name: bench\n    interval: {interval}\n    rules:\n"
for r in rules:
    first = True
    for k, x in r.items():
        prefix = "      - " if first else "        "
        first = False
        out += f"{prefix}{k}: {emit(x, 10)}\n"
open(path, "w").write(out)
PY
promtool check rules "$PROJ/rules.yml" >/dev/null || { echo "rules.yml does not check" >&2; exit 1; }

# --- Slipway: one placeholder service (not scraped) and the static targets.
{
  printf 'services:\n  app:\n    command: ["%s"]\n' "$TESTAPP"
  printf 'x-slipway:\n  alerts:\n    builtin: false\n    interval: %s\n    rule_files: [rules.yml]\n' "$INTERVAL"
  printf '  scrape:\n    retention: 2h\n    memory_limit: %s\n    targets:\n' "$BUDGET"
  for i in "${!PORTS[@]}"; do
    printf '      - {name: t%03d, address: "127.0.0.1:%s", interval: %s}\n' "$i" "${PORTS[$i]}" "$INTERVAL"
  done
} >"$PROJ/compose.yaml"
(cd "$PROJ" && pin "$SLIPWAY_CPU" "$SLIPWAY" up -d --wait >"$TMP/up.log" 2>&1) ||
  { echo "slipway up failed:" >&2; cat "$TMP/up.log" >&2; exit 1; }
DAEMON=$(cat "$PROJ/.slipway/daemon.pid")
API=$(cat "$PROJ/.slipway/api.addr")

# --- Prometheus: the same targets (job = the target's name, as Slipway's) and rule file.
PROM_PORT=$(free_port)
{
  printf 'global:\n  scrape_interval: %s\n  evaluation_interval: %s\n' "$INTERVAL" "$INTERVAL"
  printf 'rule_files: ["%s"]\nscrape_configs:\n' "$PROJ/rules.yml"
  for i in "${!PORTS[@]}"; do
    printf '  - job_name: t%03d\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' "$i" "${PORTS[$i]}"
  done
} >"$TMP/prom/prometheus.yml"
# Started directly (taskset execs it), so $! is Prometheus' own PID, whose CPU is measured.
PROM_PIN=()
[[ -n $PROM_CPU ]] && PROM_PIN=(taskset -c "$PROM_CPU")
"${PROM_PIN[@]}" prometheus --config.file="$TMP/prom/prometheus.yml" \
  --storage.tsdb.path="$TMP/prom/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
  --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PROM=$!
PIDS+=("$PROM")
wait_port "$PROM_PORT"

[[ $(cat "/proc/$PROM/comm") == prometheus ]] || { echo "PID $PROM is not prometheus" >&2; exit 1; }
alive() { kill -0 "$DAEMON" 2>/dev/null && kill -0 "$PROM" 2>/dev/null; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

echo "targets=$TARGETS series/target=200 rules=$RULES interval=$INTERVAL warmup=${WARMUP}s duration=${DURATION}s budget=$BUDGET"
echo "machine: $(nproc) cores, $(uname -r), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
sleep "$WARMUP"
alive || { echo "a process died during the warm-up" >&2; exit 1; }
RUN_START=$(date +%s)
s_cpu0=$(cpu_ns "$DAEMON")
p_cpu0=$(cpu_ns "$PROM")
t0=$(date +%s%N)
max_rss=0
max_prss=0
end=$((SECONDS + DURATION))
while ((SECONDS < end)); do
  alive || { echo "a process died during the run" >&2; exit 1; }
  r=$(rss_kb "$DAEMON")
  ((r > max_rss)) && max_rss=$r
  r=$(rss_kb "$PROM")
  ((r > max_prss)) && max_prss=$r
  sleep 5
done
s_cpu1=$(cpu_ns "$DAEMON")
p_cpu1=$(cpu_ns "$PROM")
t1=$(date +%s%N)
load=$(cut -d' ' -f1-3 /proc/loadavg)
s_share=$(awk -v c=$((s_cpu1 - s_cpu0)) -v w=$((t1 - t0)) 'BEGIN {printf "%.2f", 100 * c / w}')
p_share=$(awk -v c=$((p_cpu1 - p_cpu0)) -v w=$((t1 - t0)) 'BEGIN {printf "%.2f", 100 * c / w}')

# --- Every target healthy on both sides.
bad=0
s_targets=$(curl -s "http://$API/api/v1/targets")
p_targets=$(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/targets")
read -r s_up s_err <<<"$(python3 -c '
import json, sys
t = json.loads(sys.argv[1])["data"]["activeTargets"]
print(sum(x["health"] == "up" for x in t), sum(bool(x.get("lastError")) for x in t))' "$s_targets")"
read -r p_up p_err <<<"$(python3 -c '
import json, sys
t = json.loads(sys.argv[1])["data"]["activeTargets"]
print(sum(x["health"] == "up" for x in t), sum(bool(x.get("lastError")) for x in t))' "$p_targets")"
echo "targets up: slipway $s_up/$TARGETS (errors $s_err), prometheus $p_up/$TARGETS (errors $p_err)"
if ((s_up != TARGETS || s_err != 0 || p_up != TARGETS || p_err != 0)); then bad=1; fi
query1() {  # query1 HOST:PORT EXPR: the first value of an instant query
  curl -s "http://$1/api/v1/query" --data-urlencode "query=$2" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
tsdb_bytes=$(query1 "$API" slipway_tsdb_bytes)
tsdb_series=$(query1 "$API" slipway_tsdb_series)
evicted=$(query1 "$API" slipway_tsdb_evicted_chunks_total)
budget_bytes=$(query1 "$API" slipway_tsdb_budget_bytes)

# --- query_range over the run on both servers: median latency of REPS.
QUERIES=(
  'sum by (job) (rate(bench_requests_total[5m]))'
  'histogram_quantile(0.99, sum by (job, le) (rate(bench_latency_seconds_bucket[5m])))'
  'topk(5, max by (job) (bench_queue_depth))'
  'avg_over_time(bench_temperature{sensor="s1"}[10m])'
  'sum(rate(bench_errors_total[5m])) / sum(rate(bench_requests_total[5m]))'
)
START=$((RUN_START - WARMUP))
END=$(date +%s)
median_ms() {  # median_ms HOST:PORT EXPR
  local i
  for i in $(seq 1 "$REPS"); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://$1/api/v1/query_range" \
      --data-urlencode "query=$2" --data-urlencode "start=$START" \
      --data-urlencode "end=$END" --data-urlencode "step=15"
  done | sort -n | awk '{v[NR] = $1} END {printf "%.1f", 1000 * v[int((NR + 1) / 2)]}'
}
printf '\n%-90s %10s %10s %7s\n' "query_range (start..end $((END - START)) s, step 15 s)" "slipway" "prometheus" "ratio"
worst=0
for q in "${QUERIES[@]}"; do
  s=$(median_ms "$API" "$q")
  p=$(median_ms "127.0.0.1:$PROM_PORT" "$q")
  ratio=$(awk -v s="$s" -v p="$p" 'BEGIN {printf "%.2f", (p > 0 ? s / p : 0)}')
  printf '%-90s %8s ms %8s ms %7s\n' "$q" "$s" "$p" "$ratio"
  worst=$(awk -v a="$worst" -v b="$ratio" 'BEGIN {print (b > a ? b : a)}')
done

alive || { echo "a process died" >&2; bad=1; }
budget_kb=$(awk -v b="$budget_bytes" 'BEGIN {printf "%d", b / 1024}')
echo
echo "slipway daemon: CPU ${s_share}% of a core over ${DURATION}s; RSS max ${max_rss} kB; budget ${budget_kb} kB;" \
  "RSS/budget $(awk -v r="$max_rss" -v b="$budget_kb" 'BEGIN {printf "%.2f", r / b}')"
echo "series store: ${tsdb_series} series, ${tsdb_bytes} bytes ($(awk -v a="$tsdb_bytes" -v b="$budget_bytes" 'BEGIN {printf "%.1f", 100 * a / b}')% of the budget), evicted chunks ${evicted}"
echo "prometheus: CPU ${p_share}% of a core; RSS max ${max_prss} kB;" \
  "CPU ratio slipway/prometheus $(awk -v s="$s_share" -v p="$p_share" 'BEGIN {printf "%.2f", (p > 0 ? s / p : 0)}')"
echo "load after: $load"
((bad == 0)) || { echo "FAILED: a target errored or a process died" >&2; exit 1; }
if [[ $STRICT == 1 ]]; then
  miss=0
  awk -v s="$s_share" 'BEGIN {exit !(s < 2)}' || { echo "goal missed: CPU ${s_share}% >= 2%"; miss=1; }
  ((max_rss <= budget_kb)) || { echo "goal missed: RSS ${max_rss} kB > budget ${budget_kb} kB"; miss=1; }
  awk -v w="$worst" 'BEGIN {exit !(w <= 1)}' || { echo "goal missed: query_range ratio $worst > 1"; miss=1; }
  exit "$miss"
fi
