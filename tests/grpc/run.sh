#!/bin/sh
# Runs grpc.test.mjs (@grpc/grpc-js as client and server) through a real Slipway daemon:
#   tests/grpc/run.sh /path/to/slipway [/path/to/node]
# Makes a throwaway project: a self-signed certificate for grpc.test, one service running
# server.mjs (gRPC over cleartext HTTP/2) with `x-slipway.upstream.protocol: h2`, published on a
# free loopback port as HTTPS with HTTP/2. Starts it with `up -d --wait`, runs `node --test`
# against the published port, then `down`s it and kills the daemon and the keeper by their PIDs
# on every exit path. Needs node, openssl and the packages from `npm ci` in tests/grpc.
set -eu

bin=${1:?usage: run.sh /path/to/slipway [/path/to/node]}
node=${2:-node}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bin" ] || { echo "run.sh: $bin is not executable" >&2; exit 2; }
[ -d "$here/node_modules/@grpc/grpc-js" ] || {
  echo "run.sh: run 'npm ci' in $here first" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-grpc-XXXXXX")
cleanup() {
  rc=$?
  trap - EXIT INT TERM
  pid=$(cat "$work/.slipway/daemon.pid" 2>/dev/null || true)
  keeper=$(cat "$work/.slipway/keeper.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    (cd "$work" && timeout 30 "$bin" down >/dev/null 2>&1) || true
  fi
  # The keeper first: it would start a daemon killed under it again.
  if [ -n "$keeper" ] && kill -0 "$keeper" 2>/dev/null; then kill -9 "$keeper" 2>/dev/null || true; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  if [ "$rc" -ne 0 ] && [ -f "$work/.slipway/logs/daemon.log" ]; then
    echo "--- daemon.log (last lines)" >&2
    tail -n 30 "$work/.slipway/logs/daemon.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=grpc.test \
  -addext subjectAltName=DNS:grpc.test 2>/dev/null
port=$("$node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

cat >"$work/compose.yaml" <<YAML
name: grpc-e2e
services:
  echo:
    environment: {HOST: 127.0.0.1}
    ports: ["127.0.0.1:$port:8080"]
    healthcheck: {interval: 1s, start_interval: 100ms, start_period: 20s}
    x-slipway:
      command: ["$node", "$here/server.mjs"]
      ports: {8080: https}
      healthcheck: {tcp: true}
      upstream: {protocol: h2}
x-slipway:
  tls:
    certificates: [{cert: $work/cert.pem, key: $work/key.pem}]
    http2: true
YAML

(cd "$work" && "$bin" up -d --wait)
export SLIPWAY_GRPC_TARGET="127.0.0.1:$port"
export SLIPWAY_GRPC_CA="$work/cert.pem"
cd "$here" && "$node" --test --test-timeout=60000 grpc.test.mjs
