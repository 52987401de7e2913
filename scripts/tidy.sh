#!/usr/bin/env bash
# clang-tidy over src/ (tests excluded) with the checks in .clang-tidy, in parallel, using the
# compile database of a configured build folder (configured here when it has none). Every
# finding is an error (WarningsAsErrors in .clang-tidy); the run fails on the first file with
# one and prints them all, then a count per check.
#   scripts/tidy.sh                     every source file under src/ (tests excluded)
#   scripts/tidy.sh src/http/server.cc  only the files named
#   scripts/tidy.sh --changed           the files changed since TIDY_BASE (default HEAD~1;
#                                       `make test` passes .ci/tidy-base, the main this
#                                       work was built on, so every commit landed is seen), a
#                                       changed header standing for its own .cc; findings
#                                       in headers are reported for the changed ones only,
#                                       so a file is not failed for what an include holds
# TIDY_BUILD_DIR (default build) is where compile_commands.json is; TIDY_JOBS (default 2).
# A whole-tree run costs about as much CPU as the Release build (docs/architecture.md has
# the numbers), so `make test` runs --changed and `make tidy` the whole tree.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TIDY_BUILD_DIR:-build}
jobs=${TIDY_JOBS:-2}
if ! command -v clang-tidy >/dev/null; then
  echo "tidy: clang-tidy not found (scripts/install-deps.sh installs it)" >&2; exit 1
fi
if [ ! -f "$build/compile_commands.json" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if [ "${1:-}" = "--changed" ]; then
  base=${TIDY_BASE:-HEAD~1}
  if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
    # A clone without the previous commit (shallow, or the first commit): the whole tree.
    echo "tidy: $base not found; checking every file" >&2
    mapfile -t files < <(git ls-files 'src/*.cc' | grep -v '_test\.cc$')
  else
    mb=$(git merge-base HEAD "$base")
    mapfile -t files < <(git diff --name-only --diff-filter=d "$mb" -- 'src/*.cc' 'src/*.h' \
      | sed -E 's/\.h$/.cc/' | grep -v '_test\.cc$' | sort -u \
      | while read -r f; do [ -f "$f" ] && echo "$f"; done || true)
    headers=$(git diff --name-only --diff-filter=d "$mb" -- 'src/*.h' | sed 's/\./\\./g' \
      | paste -sd'|' -)
    header_filter="--header-filter=/(${headers:-no-header-changed})\$"
  fi
  if [ ${#files[@]} -eq 0 ]; then
    echo "tidy: no source file changed since $base"
    exit 0
  fi
elif [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'src/*.cc' | grep -v '_test\.cc$')
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
# One log per file, so the findings of parallel runs do not interleave.
status=0
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c \
  'clang-tidy -p "$1" --quiet ${4:+"$4"} "$2" >"$3/$(echo "$2" | tr / _).log" 2>&1' \
  _ "$build" {} "$out" "${header_filter:-}" \
  || status=$?
cat "$out"/*.log | grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' \
  | grep -v -E '^(Suppressed|Use -header-filter|Error while processing)' >"$out/all" || true
findings=$(grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): ' "$out/all" | sort -u || true)
if [ -n "$findings" ] || [ $status -ne 0 ]; then
  cat "$out/all"
  echo "tidy: findings per check:" >&2
  sed -E 's/.*\[([^],]+)(,[^]]*)?\]$/\1/' <<<"$findings" | sort | uniq -c | sort -rn >&2
  echo "tidy: ${#files[@]} files, $(wc -l <<<"$findings") findings ($(($(date +%s) - start)) s)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean ($(($(date +%s) - start)) s)"
