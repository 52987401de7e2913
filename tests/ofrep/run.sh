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

. "$here/../lib/project.sh"
project_workdir ofrep

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
