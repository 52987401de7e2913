#!/usr/bin/env bash
# clang-format over the tracked C++ files (.clang-format is the style).
#   scripts/format.sh          rewrites the files in place
#   scripts/format.sh --check  changes nothing; lists the files that differ and fails if any
#   scripts/format.sh [--check] FILE...  only those files
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
if ! command -v clang-format >/dev/null; then
  echo "format: clang-format not found (scripts/install-deps.sh installs it)" >&2; exit 1
fi
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cc' '*.h')
fi
if [ $check -eq 0 ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# --dry-run names each differing file in its warnings; one list, not every differing line.
differ=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -oE '^[^:]+\.(cc|h):[0-9]+:[0-9]+: (warning|error)' \
  | cut -d: -f1 | sort -u || true)
if [ -n "$differ" ]; then
  echo "$differ" | sed 's/^/  /' >&2
  echo "format: $(wc -l <<<"$differ") of ${#files[@]} files differ from .clang-format; run scripts/format.sh" >&2
  exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
