#!/usr/bin/env bash
# Runs one step of `make test` and says how long it took, so a slow step shows in the log:
#   scripts/step.sh NAME COMMAND...   prints "step: NAME ok|FAILED in N s (cpu U s)"
# The CPU seconds (user + system of the step's processes) are what the step costs on a
# loaded machine; the wall seconds are what CI waits. Exits with the command's status.
set -uo pipefail
name=$1
shift
start=$(date +%s)
tf=$(mktemp)
/usr/bin/time -f '%U %S' -o "$tf" "$@"
rc=$?
cpu=$(tail -n 1 "$tf" | awk '{printf "%.0f", $1 + $2}')
rm -f "$tf"
echo "step: $name $([ $rc -eq 0 ] && echo ok || echo FAILED) in $(($(date +%s) - start)) s (cpu $cpu s)"
exit $rc
