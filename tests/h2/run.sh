#!/bin/sh
# Runs the HTTP/2 end-to-end suites through a real Slipway daemon:
#   tests/h2/run.sh /path/to/slipway [/path/to/node]
# - grpc.test.mjs: @grpc/grpc-js as the client and as the upstream (server.mjs, gRPC over
#   cleartext HTTP/2: `x-slipway.upstream.protocol: h2`);
# - websocket.test.mjs: WebSockets over HTTP/2 (RFC 8441) from Node's http2 client to the `ws`
#   package's server over HTTP/1.1 (ws_server.mjs);
# - grpc_health.test.mjs: the daemon's gRPC health probe (`healthcheck.grpc`) of a grpc-js
#   server with the grpc-health-check package (health_server.mjs), as `slipway ps` shows it.
# Makes a throwaway project with a self-signed certificate for grpc.test and h2.test and the two
# services (and the unpublished gRPC health one), each published on a free loopback port as HTTPS with HTTP/2. Starts it with
# `up -d --wait`, runs `node --test`, then `down`s it and kills the daemon and the keeper by
# their PIDs on every exit path. Needs node, openssl and the packages from `npm ci` here.
set -eu

bin=${1:?usage: run.sh /path/to/slipway [/path/to/node]}
node=${2:-node}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bin" ] || { echo "run.sh: $bin is not executable" >&2; exit 2; }
[ -d "$here/node_modules/@grpc/grpc-js" ] && [ -d "$here/node_modules/ws" ] &&
  [ -d "$here/node_modules/grpc-health-check" ] || {
  echo "run.sh: run 'npm ci' in $here first" >&2; exit 2; }

. "$here/../lib/project.sh"
project_workdir h2

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=h2.test \
  -addext subjectAltName=DNS:grpc.test,DNS:h2.test 2>/dev/null
free_port() {
  "$node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port=$(free_port)
wsport=$(free_port)
while [ "$wsport" = "$port" ]; do wsport=$(free_port); done

cat >"$work/compose.yaml" <<YAML
name: h2-e2e
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
  ws:
    environment: {HOST: 127.0.0.1}
    ports: ["127.0.0.1:$wsport:8081"]
    healthcheck: {interval: 1s, start_interval: 100ms, start_period: 20s}
    x-slipway:
      command: ["$node", "$here/ws_server.mjs"]
      ports: {8081: https}
      healthcheck: {http: /health}
  health:
    environment: {HOST: 127.0.0.1, HEALTH_FLAG: $work/not-serving}
    healthcheck: {interval: 300ms, timeout: 2s, retries: 2, start_interval: 100ms, start_period: 20s}
    x-slipway:
      command: ["$node", "$here/health_server.mjs"]
      upstream: {protocol: h2}
      healthcheck: {grpc: ""}
x-slipway:
  tls:
    certificates: [{cert: $work/cert.pem, key: $work/key.pem}]
    http2: true
YAML

echo "run.sh: published ports $port (grpc) and $wsport (ws)"
(cd "$work" && "$bin" up -d --wait)
(cd "$work" && "$bin" ps --format json) |
  "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const r of JSON.parse(s))if(r.pid)console.log(r.pid)})' \
  >"$work/service.pids"
export SLIPWAY_GRPC_TARGET="127.0.0.1:$port"
export SLIPWAY_GRPC_CA="$work/cert.pem"
export SLIPWAY_WS_ORIGIN="https://127.0.0.1:$wsport"
export SLIPWAY_H2_CA="$work/cert.pem"
export SLIPWAY_BIN="$bin" SLIPWAY_WORK="$work" SLIPWAY_HEALTH_FLAG="$work/not-serving"
cd "$here" && "$node" --test --test-timeout=60000 grpc.test.mjs websocket.test.mjs \
  grpc_health.test.mjs
