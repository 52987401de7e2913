#!/usr/bin/env bash
# bench/deploy.sh — zero-downtime deploys under load. Under wrk, runs N consecutive blue-green
# deploys of a testapp service through `slipway deploy`, then a bad version (ERROR_RATE=0.5)
# that must be rolled back automatically; then does the same kind of cutover with nginx by
# editing its upstream and `nginx -s reload`, in the same run.
# Reports: failed requests (wrk non-2xx + socket errors), cutover time (switch decided → every
# proxy worker routes to the new set, from the release's numbers), rollback time (breach
# detected → every worker routes to the old set), detection time (bad version live → breach),
# and nginx's reload cutover (reload issued → 20 fresh requests in a row answered by the new
# upstream). Not a timed test. Usage (repo root, after building slipway and testapp):
#   bench/deploy.sh [BUILD_DIR]        (default: build)
# Knobs (env): DEPLOYS (20), CONNS (32), THREADS (2).
set -euo pipefail

source "$(dirname "$0")/lib.sh"
BUILD=$(realpath "${1:-build}")
DEPLOYS=${DEPLOYS:-20}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
bench_bins "$BUILD" slipway testapp
SLIPWAY=$BENCH_BUILD/slipway
TESTAPP=$BENCH_BUILD/testapp
bench_need wrk nginx

TMP=$(mktemp -d)
cleanup() {
  bench_stop_project "$TMP/proj"
  bench_kill_pids
  rm -rf "$TMP"
}
trap cleanup EXIT
wrk_failures() {  # non-2xx/3xx + socket errors from a wrk report
  python3 - "$1" <<'PY'
import re,sys
t=open(sys.argv[1]).read()
n=sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s*(\d+)",t))
m=re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",t)
s=sum(int(x) for x in m.groups()) if m else 0
r=re.search(r"Requests/sec:\s*([\d.]+)",t)
print(n+s, n, s, r.group(1) if r else "?")
PY
}

# --- Slipway ---------------------------------------------------------------------------
PORT=$(free_port)
mkdir -p "$TMP/proj"
cat >"$TMP/proj/compose.yaml" <<YAML
services:
  api:
    command: ["$TESTAPP"]
    environment: {VERSION: v0}
    ports: ["127.0.0.1:$PORT:8080"]
    healthcheck: {interval: 100ms, timeout: 2s, retries: 3}
    x-slipway:
      healthcheck: {http: /health}
      deploy:
        strategy: blue-green
        monitor: 1s
        drain: 300ms
        rollback_window: 2s
        analysis: {min_requests: 100, window: 2s, interval: 50ms}
YAML
cd "$TMP/proj"
"$SLIPWAY" up -d --wait >/dev/null
wait_port "$PORT"
SECS=$((DEPLOYS * 3 + 15))
wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$PORT/" >"$TMP/wrk.txt" 2>&1 &
WRK=$!
PIDS+=("$WRK")
sleep 1
: >"$TMP/cutovers"
for i in $(seq 1 "$DEPLOYS"); do
  "$SLIPWAY" deploy api --env "VERSION=v$i" --format json | tail -n 1 |
    python3 -c 'import json,sys;r=json.load(sys.stdin)["releases"][0];print(r["numbers"]["cutover_ms"])' \
      >>"$TMP/cutovers"
done
set +e
"$SLIPWAY" deploy api --env ERROR_RATE=0.5 --env VERSION=bad >"$TMP/bad.out" 2>"$TMP/bad.err"
BAD_RC=$?
set -e
"$SLIPWAY" releases api --format json >"$TMP/releases.json"
wait "$WRK" || true
read -r FAILS NON2XX SOCKERR RPS < <(wrk_failures "$TMP/wrk.txt")
python3 - "$TMP/cutovers" "$TMP/releases.json" "$BAD_RC" "$FAILS" "$RPS" "$TMP/bad.err" <<'PY' | tee "$TMP/slipway.txt"
import json,sys,statistics
cut=[float(x) for x in open(sys.argv[1]).read().split()]
rel=json.load(open(sys.argv[2]))[0]
n=rel.get("numbers",{})
tot=n.get("totals",{})
bad_5xx=int(tot.get("new_5xx",0))
fails=int(sys.argv[4])
print(f"slipway: {len(cut)} blue-green deploys under wrk ({sys.argv[5]} req/s)")
print(f"  cutover ms: median {statistics.median(cut):.2f}  max {max(cut):.2f}")
print(f"  bad version: exit {sys.argv[3]}, status {rel['status']}: {rel['reason']}")
print(f"  detection ms (live -> breach): {n.get('detect_ms',float('nan')):.0f}")
print(f"  rollback ms (breach -> old set everywhere): {n.get('rollback_ms',float('nan')):.2f}")
print(f"  failed requests: {fails} total, of which {bad_5xx} were the bad version's 5xx the analysis observed;"
      f" outside that: {fails-bad_5xx}")
PY
"$SLIPWAY" down >/dev/null 2>&1 || true
cd /

# --- nginx: edit the upstream and reload ---------------------------------------------------
A=$(free_port); B=$(free_port); NG=$(free_port)
PORT=$A VERSION=old "$TESTAPP" >/dev/null 2>&1 & PIDS+=($!)
PORT=$B VERSION=new "$TESTAPP" >/dev/null 2>&1 & PIDS+=($!)
wait_port "$A"; wait_port "$B"
mkdir -p "$TMP/nginx"
conf() {
  cat >"$TMP/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server 127.0.0.1:$1; keepalive 64; }
  server {
    listen 127.0.0.1:$NG;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGX
}
conf "$A"
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
wait_port "$NG"
wrk -t"$THREADS" -c"$CONNS" -d10s "http://127.0.0.1:$NG/" >"$TMP/wrk-nginx.txt" 2>&1 &
WRK=$!
sleep 3
conf "$B"
NGINX_MS=$(python3 - "$NG" "$TMP/nginx/nginx.conf" "$TMP/nginx" <<'PY'
import http.client,subprocess,sys,time
port=int(sys.argv[1])
t0=time.monotonic()
subprocess.run(["nginx","-c",sys.argv[2],"-p",sys.argv[3],"-s","reload"],check=True)
streak=0
while time.monotonic()-t0<10:
    c=http.client.HTTPConnection("127.0.0.1",port,timeout=2)
    try:
        c.request("GET","/"); body=c.getresponse().read().decode()
    except Exception:
        body=""
    c.close()
    streak=streak+1 if "version=new" in body else 0
    if streak>=20: break
print(f"{(time.monotonic()-t0)*1000:.1f}")
PY
)
wait "$WRK" || true
read -r NFAILS _ _ NRPS < <(wrk_failures "$TMP/wrk-nginx.txt")
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" -s stop || true
echo "nginx: upstream edit + reload under wrk ($NRPS req/s)"
echo "  cutover ms (reload issued -> 20 fresh requests in a row on the new upstream): $NGINX_MS"
echo "  failed requests: $NFAILS"
