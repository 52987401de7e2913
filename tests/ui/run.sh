#!/bin/sh
# Runs one Playwright suite (default ui.test.mjs; Debian's Chromium) against the example shop:
#   tests/ui/run.sh /path/to/slipway /path/to/testapp OUT_DIR [/path/to/node] [SUITE.test.mjs]
# Each suite gets a daemon of its own, so suites cannot leak state into one another.
# Copies examples/shop to a throwaway folder (its x-slipway.command pointed at this build's
# testapp, its published port and the API on free ports), starts it with `up -d --wait`, passes
# the dashboard's URL and both tokens to node, then `down`s it and kills the daemon by its PID
# on every exit path. Screenshots go to OUT_DIR. Needs the packages from `npm ci` here and
# /usr/bin/chromium (scripts/install-deps.sh).
set -eu

bin=${1:?usage: run.sh /path/to/slipway /path/to/testapp OUT_DIR [/path/to/node]}
testapp=${2:?testapp}
out=${3:?out dir}
node=${4:-node}
suite=${5:-ui.test.mjs}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
[ -x "$bin" ] || { echo "run.sh: $bin is not executable" >&2; exit 2; }
[ -x "$testapp" ] || { echo "run.sh: $testapp is not executable" >&2; exit 2; }
# The project runs from a throwaway folder: absolute paths from here on.
bin=$(realpath "$bin")
testapp=$(realpath "$testapp")
[ -x "$testapp" ] || { echo "run.sh: $testapp is not executable" >&2; exit 2; }
[ -d "$here/node_modules/playwright-core" ] || { echo "run.sh: run 'npm ci' in $here first" >&2; exit 2; }
[ -x /usr/bin/chromium ] || { echo "run.sh: /usr/bin/chromium is missing (scripts/install-deps.sh)" >&2; exit 2; }

. "$here/../lib/project.sh"
project_workdir ui

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

cp "$src/examples/shop/compose.yaml" "$src/examples/shop/app.env" "$work/"
sed -i "s#\.\./\.\./build/testapp#$testapp#g" "$work/compose.yaml"
# A suite may merge settings of its own over the shop's: <suite>.compose.yaml beside it.
overlay="$here/${suite%.test.mjs}.compose.yaml"
if [ -f "$overlay" ]; then cp "$overlay" "$work/compose.override.yaml"; fi
# ... or one its <suite>.compose.sh writes (100 services are generated, not listed); it is
# given the project folder (SLIPWAY_UI_WORK) for files of its own (a database's folder).
generator="$here/${suite%.test.mjs}.compose.sh"
if [ -f "$generator" ]; then SLIPWAY_UI_WORK=$work sh "$generator" > "$work/compose.override.yaml"; fi
# In up's environment only (not in .env): a deploy from the dashboard loads the files again
# with the environment the project was last loaded with, so web keeps this port.
web_port=$(free_port)
mkdir -p "$out"
(cd "$work" && WEB_PORT=$web_port timeout 180 "$bin" up -d --wait)
state="$work/.slipway"
for f in api.addr token read-token; do
  [ -s "$state/$f" ] || { echo "run.sh: the daemon wrote no $state/$f" >&2; exit 1; }
done

# Per-user tokens: a deployer and a viewer (each printed once by `tokens create`).
SLIPWAY_DEPLOY_TOKEN=$(cd "$work" && "$bin" tokens create ui-deployer --role deployer 2>/dev/null)
SLIPWAY_VIEWER_TOKEN=$(cd "$work" && "$bin" tokens create ui-viewer --role viewer 2>/dev/null)
SLIPWAY_UI_URL="http://$(cat "$state/api.addr")"
SLIPWAY_ADMIN_TOKEN=$(cat "$state/token")
SLIPWAY_READ_TOKEN=$(cat "$state/read-token")
SLIPWAY_WEB_URL="http://127.0.0.1:$web_port"
SLIPWAY_UI_SHOTS=$out
# The project's OFREP read token (x-slipway.flags without tokens: the daemon made this one).
SLIPWAY_FLAGS_TOKEN=$(cat "$state/flags-token" 2>/dev/null || true)
export SLIPWAY_FLAGS_TOKEN
export SLIPWAY_UI_URL SLIPWAY_ADMIN_TOKEN SLIPWAY_READ_TOKEN SLIPWAY_WEB_URL SLIPWAY_UI_SHOTS
export SLIPWAY_DEPLOY_TOKEN SLIPWAY_VIEWER_TOKEN
# For a suite that runs the CLI in the project too (`slipway migrate up`).
SLIPWAY_BIN=$bin
SLIPWAY_UI_WORK=$work
export SLIPWAY_BIN SLIPWAY_UI_WORK
[ -f "$here/$suite" ] || { echo "run.sh: no suite $here/$suite" >&2; exit 2; }
timeout 240 "$node" "$here/$suite"
