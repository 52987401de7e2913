#!/usr/bin/env bash
# Unit tests under sanitizers (CMakePresets.json), each <module>_tests binary run whole.
#   scripts/sanitize.sh address [module...]  ASan + UBSan in build-asan/, every module's unit
#                                            tests (or the modules named)
#   scripts/sanitize.sh thread [module...]   TSan in build-tsan/, net and proxy (the modules
#                                            whose own threads share state: event loops, the
#                                            proxy's workers), or the modules named
# The integration tests (tests/*_test.cc) are not run here: they drive the release binary,
# and under ASan each of their daemons would take seconds to start. A finding stops its test
# binary (-fno-sanitize-recover=all, halt_on_error) and fails the run with its log printed.
# SANITIZE_JOBS (default: nproc) is the build's and the runs' parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
shift || true
jobs=${SANITIZE_JOBS:-$(nproc)}
case "$kind" in
  address) preset=asan; dir=build-asan; default=() ;;
  thread) preset=tsan; dir=build-tsan; default=(net proxy) ;;
  *) echo "sanitize: unknown kind \"$kind\" (expected address or thread)" >&2; exit 2 ;;
esac
modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then modules=("${default[@]}"); fi

start=$(date +%s)
cmake --preset "$preset" >/dev/null
if [ ${#modules[@]} -eq 0 ]; then
  # Every module with unit tests: the <name>_tests targets the build defines.
  mapfile -t targets < <(cmake --build "$dir" --target help | grep -oE '^[a-z]+_tests' \
    | grep -v '^integration_tests$' | sort -u)
else
  targets=("${modules[@]/%/_tests}")
fi
cmake --build "$dir" -j "$jobs" --target "${targets[@]}" >"$dir/build.log" 2>&1 \
  || { tail -50 "$dir/build.log"; echo "sanitize: $kind build failed" >&2; exit 1; }
built=$(date +%s)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# The tests that mean nothing under this sanitizer (scripts/sanitize-skips.txt, each with
# its reason), left out of every binary by name.
skip=$(awk -v k="$kind" '$1 == k { print $2 }' scripts/sanitize-skips.txt | paste -sd: -)
if [ -n "$skip" ]; then echo "sanitize: $kind: leaving out $skip (scripts/sanitize-skips.txt)"; fi
# One log per binary; the runs go in parallel as ctest's would.
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} sh -c \
  'if "$1/$2" --gtest_brief=1 --gtest_filter="-$3" >"$1/$2.log" 2>&1; then echo "sanitize: $2 passed";
   else echo "sanitize: $2 FAILED ($1/$2.log)"; exit 1; fi' _ "$dir" {} "$skip" \
  && rc=0 || rc=$?
for t in "${targets[@]}"; do
  if grep -qE 'ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|runtime error:|FAILED|WARNING: ThreadSanitizer' "$dir/$t.log"; then
    echo "---- $dir/$t.log" >&2
    grep -E -A40 'ERROR: |runtime error:|WARNING: ThreadSanitizer|\[  FAILED  \]' "$dir/$t.log" | head -120 >&2
  fi
done
echo "sanitize: $kind: ${#targets[@]} test binaries, build $((built - start)) s, run $(($(date +%s) - built)) s"
exit $rc
