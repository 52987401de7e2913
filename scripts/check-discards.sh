#!/usr/bin/env bash
# No discarded Status outside tests. Status and Result<T> are [[nodiscard]], so the compiler
# (-Werror) already refuses a call whose result is dropped; what it cannot see is a result
# dropped on purpose: `(void)f()`, `static_cast<void>(f())`, `std::ignore = f()`, or
# `Status s = f(); (void)s;`. This lists every such cast in src/ (tests excluded) and fails on
# each one that is not in scripts/discard-allowlist.txt, where every entry says why the value
# is not a Status (a write(2) byte count, an unused parameter, ...). A Status is handled
# instead: returned, or logged where the caller can do nothing else.
# Entries that no longer match any line fail too, so the list stays true.
set -euo pipefail
cd "$(dirname "$0")/.."
allow=scripts/discard-allowlist.txt
pattern='\(void\)|static_cast<void>|std::ignore[[:space:]]*='

trim() {  # trim VAR: strips the value's leading and trailing blanks in place
  local -n v=$1
  v="${v#"${v%%[![:space:]]*}"}"
  v="${v%"${v##*[![:space:]]}"}"
}

mapfile -t entries < <(grep -v '^[[:space:]]*\(#\|$\)' "$allow")
declare -A used=()
bad=0
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  code=${rest#*:}
  trim code
  ok=0
  for i in "${!entries[@]}"; do
    IFS='|' read -r efile ecode ereason <<<"${entries[$i]}"
    trim efile; trim ecode; trim ereason
    if [ "$efile" = "$file" ] && [[ "$code" == *"$ecode"* ]] && [ -n "$ereason" ]; then
      ok=1; used[$i]=1; break
    fi
  done
  if [ $ok -eq 0 ]; then
    echo "$file:$line: discarded value: $code" >&2
    echo "  handle the Status (return it, or log it where nothing else can be done); if it is" >&2
    echo "  not a Status, add \"$file | <code> | <why>\" to $allow" >&2
    bad=1
  fi
done < <(git ls-files 'src/*.cc' 'src/*.h' | grep -v '_test\.cc$' | xargs grep -nE "$pattern" /dev/null || true)

for i in "${!entries[@]}"; do
  if [ -z "${used[$i]:-}" ]; then
    echo "$allow: stale entry (matches no line): ${entries[$i]}" >&2
    bad=1
  fi
done
if [ $bad -ne 0 ]; then exit 1; fi
echo "check-discards: no discarded Status in src/ (${#entries[@]} allowed casts, each not a Status)"
