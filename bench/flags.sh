#!/usr/bin/env bash
# bench/flags.sh — feature flags, in one run on one machine:
#  1. in-process evaluations per second (static, targeting, fractional) of Slipway's evaluator
#     (FlagsBench.DISABLED_Evaluate in flags_tests) against @openfeature/flagd-core's evaluator
#     under Node (tests/ofrep/bench_flagd_core.mjs), on the same flags and 1000 contexts; the
#     variant counts of both must agree, else the bench fails;
#  2. OFREP over HTTP on a running daemon: single-flag evaluation and bulk (50 flags) against
#     the static 200 answer of GET /health on the same API listener, with wrk: requests/s,
#     p50, p99.
# Not a timed test. Usage (from the repo root, after building slipway and flags_tests and
# `npm ci` in tests/ofrep):
#   bench/flags.sh [BUILD_DIR]          (default: build)
# Knobs (env): SECONDS_INPROC (per case, 2), DURATION (s per wrk run, 5), CONNS (50),
# ROUNDS (3: HTTP targets run in interleaved rounds, each keeps its best round, which damps
# noise from other load on a shared machine), LOAD_CPU (wrk, 0), DAEMON_CPU (1).
set -euo pipefail

BUILD=${1:-build}
SECONDS_INPROC=${SECONDS_INPROC:-2}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
LOAD_CPU=${LOAD_CPU:-0}
DAEMON_CPU=${DAEMON_CPU:-1}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLIPWAY=$BUILD/slipway
FLAGS_TESTS=$BUILD/flags_tests
for b in "$SLIPWAY" "$FLAGS_TESTS"; do
  [[ -x $b ]] || { echo "missing $b: build targets slipway and flags_tests first" >&2; exit 2; }
done
SLIPWAY=$(cd "$(dirname "$SLIPWAY")" && pwd)/slipway
command -v node >/dev/null || { echo "node is needed" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
[[ -d $ROOT/tests/ofrep/node_modules/@openfeature/flagd-core ]] ||
  { echo "run 'npm ci' in tests/ofrep first" >&2; exit 2; }

TMP=$(mktemp -d)
PROJ=$TMP/project
mkdir -p "$PROJ"
cleanup() {
  local pid
  pid=$(cat "$PROJ/.slipway/daemon.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    (cd "$PROJ" && timeout 30 "$SLIPWAY" down >/dev/null 2>&1) || true
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- The flags (50: the three bench cases and 47 more of the same kinds) and contexts.
python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
staff = {"ends_with": [{"var": "email"}, "@corp.io"]}
def static(i):
    return {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}
def targeted(i):
    return {"state": "ENABLED", "defaultVariant": "red",
            "variants": {"red": "red", "blue": "blue", "green": "green"},
            "targeting": {"if": [
                {"and": [{"$ref": "staff"}, {"in": [{"var": "tier"}, ["gold", "platinum"]]}]},
                "blue",
                {"sem_ver": [{"var": "version"}, ">=", "2.0.0"]}, "green",
                None]}}
def fractional(i):
    return {"state": "ENABLED", "defaultVariant": "a",
            "variants": {"a": "a", "b": "b", "c": "c", "d": "d"},
            "targeting": {"fractional": [["a", 25], ["b", 25], ["c", 25], ["d", 25]]}}
kinds = [static, targeted, fractional]
flags = {"static-bool": static(0), "targeted": targeted(0), "rollout": fractional(0)}
for i in range(47):
    flags[f"flag-{i:02d}"] = kinds[i % 3](i)
json.dump({"$evaluators": {"staff": staff}, "flags": flags}, open(f"{d}/flags.json", "w"))
tiers = ["free", "gold", "platinum"]
versions = ["1.4.0", "2.1.3", "3.0.0", "0.9.1"]
ctx = [{"targetingKey": f"user-{i}",
        "email": f"u{i}@corp.io" if i % 2 == 0 else f"u{i}@example.com",
        "tier": tiers[i % 3], "version": versions[i % 4]} for i in range(1000)]
json.dump(ctx, open(f"{d}/contexts.json", "w"))
json.dump({"context": ctx[6]}, open(f"{d}/body.json", "w"))
PY
CASES=static=static-bool,targeting=targeted,fractional=rollout

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== in process: evaluations/s (${SECONDS_INPROC}s per case, 1000 contexts)"
SLIPWAY_BENCH_FLAGS=$TMP/flags.json SLIPWAY_BENCH_CONTEXTS=$TMP/contexts.json \
  SLIPWAY_BENCH_CASES=$CASES SLIPWAY_BENCH_SECONDS=$SECONDS_INPROC \
  taskset -c "$DAEMON_CPU" "$FLAGS_TESTS" --gtest_also_run_disabled_tests \
  --gtest_filter=FlagsBench.DISABLED_Evaluate | grep '^{' >"$TMP/inproc-slipway.jsonl"
(cd "$ROOT/tests/ofrep" && taskset -c "$DAEMON_CPU" node bench_flagd_core.mjs \
  "$TMP/flags.json" "$TMP/contexts.json" "$CASES" "$SECONDS_INPROC") >"$TMP/inproc-flagd.jsonl"
python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
s = [json.loads(l) for l in open(f"{d}/inproc-slipway.jsonl")]
f = {j["case"]: j for j in map(json.loads, open(f"{d}/inproc-flagd.jsonl"))}
print(f"{'case':<12}{'slipway/s':>14}{'flagd-core/s':>14}{'ratio':>8}  variants agree")
bad = False
for j in s:
    o = f[j["case"]]
    same = j["variants"] == o["variants"]
    bad |= not same
    print(f"{j['case']:<12}{j['evals_per_s']:>14,.0f}{o['evals_per_s']:>14,.0f}"
          f"{j['evals_per_s'] / o['evals_per_s']:>7.1f}x  {'yes' if same else 'NO'} {j['variants']}")
if bad:
    sys.exit("slipway and flagd-core disagree on some variant")
PY

# --- OFREP over HTTP on a daemon.
cat >"$PROJ/compose.yaml" <<YAML
name: flags-bench
services:
  idle:
    command: ["sleep", "3600"]
x-slipway:
  flags:
    file: $TMP/flags.json
YAML
(cd "$PROJ" && "$SLIPWAY" up -d >/dev/null)
ADDR=$(cat "$PROJ/.slipway/api.addr")
TOKEN=$(cat "$PROJ/.slipway/flags-token")
DPID=$(cat "$PROJ/.slipway/daemon.pid")
taskset -a -pc "$DAEMON_CPU" "$DPID" >/dev/null
BASE=http://$ADDR

n=$(curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data @"$TMP/body.json" "$BASE/ofrep/v1/evaluate/flags" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["flags"]))')
[[ $n == 50 ]] || { echo "bulk answered $n flags, expected 50" >&2; exit 1; }
curl -sf -X POST -H "Authorization: Bearer $TOKEN" --data @"$TMP/body.json" \
  "$BASE/ofrep/v1/evaluate/flags/targeted" | grep -q TARGETING_MATCH
curl -sf "$BASE/health" | grep -q ok

BODY=$(cat "$TMP/body.json")
post_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
}
post_lua "$TMP/post.lua"

cat >"$TMP/wrk_parse.py" <<'PY'
import re, sys
t = sys.stdin.read()
def ms(v):
    n, u = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1, "s": 1e3}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
print(sys.argv[1], rps, p50, p99)
PY

# run NAME PATH [LUA] -> appends "name rps p50_ms p99_ms" to $TMP/http.txt
run() {
  local name=$1 path=$2 lua=${3:-} out
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
    ${lua:+-s "$lua"} "$BASE$path")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$name: non-2xx answers" >&2; echo "$out" >&2; exit 1; fi
  python3 "$TMP/wrk_parse.py" "$name" <<<"$out" >>"$TMP/http.txt"
}

echo "== OFREP over HTTP: wrk -t1 -c$CONNS -d${DURATION}s, best of $ROUNDS interleaved rounds"
: >"$TMP/http.txt"
for _ in $(seq 1 "$ROUNDS"); do
  run static /health
  run single /ofrep/v1/evaluate/flags/targeted "$TMP/post.lua"
  run bulk50 /ofrep/v1/evaluate/flags "$TMP/post.lua"
done
python3 - "$TMP/http.txt" <<'PY'
import sys
best = {}
for line in open(sys.argv[1]):
    n, rps, p50, p99 = line.split()
    r = (float(rps), float(p50), float(p99))
    if n not in best or r[0] > best[n][0]:
        best[n] = r
print(f"{'target':<10}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'vs static':>11}")
s = best["static"][0]
for n in ["static", "single", "bulk50"]:
    rps, p50, p99 = best[n]
    print(f"{n:<10}{rps:>12,.0f}{p50:>10.3f}{p99:>10.3f}{rps / s:>10.0%}")
print(f"bulk50 flag evaluations/s over HTTP: {best['bulk50'][0] * 50:,.0f}")
PY
