#!/bin/sh
# Runs ofrep.test.mjs (the OpenFeature JS SDKs) against a real Slipway daemon:
#   tests/ofrep/run.sh /path/to/slipway [/path/to/node [FLAGS_FILE SCRIPT]]
# or, with FLAGS_FILE and SCRIPT, `node SCRIPT` against a daemon serving FLAGS_FILE (the
# flagd-testbed suite: testbed/evaluator/flags/testkit-flags.json and testbed.mjs).
# Makes a throwaway project whose x-slipway.flags is tests/ofrep/flags.json, starts it with
# `up -d` (state in the project's .slipway), passes the API address, the read token and the
# admin token to `node --test`, then `down`s it and kills the daemon by its PID on every exit
# path. Needs node and the packages from `npm ci` in tests/ofrep.
set -eu

bin=${1:?usage: run.sh /path/to/slipway [/path/to/node]}
node=${2:-node}
here=$(cd "$(dirname "$0")" && pwd)
flags_file=${3:-$here/flags.json}
script=${4:-}
[ -x "$bin" ] || { echo "run.sh: $bin is not executable" >&2; exit 2; }
[ -d "$here/node_modules/@openfeature/server-sdk" ] || {
  echo "run.sh: run 'npm ci' in $here first" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-ofrep-XXXXXX")
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
    tail -n 20 "$work/.slipway/logs/daemon.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$work/compose.yaml" <<YAML
name: ofrep-e2e
services:
  idle:
    command: ["sleep", "600"]
x-slipway:
  flags:
    file: $flags_file
YAML

(cd "$work" && "$bin" up -d)
state="$work/.slipway"
for f in api.addr flags-token token; do
  [ -s "$state/$f" ] || { echo "run.sh: the daemon wrote no $state/$f" >&2; exit 1; }
done

export SLIPWAY_OFREP_URL="http://$(cat "$state/api.addr")"
SLIPWAY_FLAGS_TOKEN=$(cat "$state/flags-token")
SLIPWAY_ADMIN_TOKEN=$(cat "$state/token")
export SLIPWAY_FLAGS_TOKEN SLIPWAY_ADMIN_TOKEN
if [ -n "$script" ]; then
  "$node" "$script"
else
  "$node" --test "$here/ofrep.test.mjs"
fi
