#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
# FUZZ_SECONDS (default 60 in CI, 10 otherwise) bounds each target; FUZZ_TARGETS (e.g.
# "compose_loader") runs only the named ones. In CI the fuzzers start from a fixed seed
# (FUZZ_SEED, default 1), so a run explores the same inputs as a developer's run with that
# seed and a red CI can be reproduced; `make fuzz` outside CI explores from a random seed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  # scripts/install-deps.sh installs clang: without it the fuzzers would drop out unseen.
  echo "fuzz: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 1
fi
secs=${FUZZ_SECONDS:-$([ -n "${CI:-}" ] && echo 60 || echo 10)}
seed=${FUZZ_SEED:-$([ -n "${CI:-}" ] && echo 1 || echo 0)}  # 0: libFuzzer picks one
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLIPWAY_FUZZ=ON >/dev/null
cmake --build build-fuzz --target fuzzers -j "$(nproc)" >/dev/null
for bin in build-fuzz/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" ${name#fuzz_} "* ]]; then continue; fi
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  echo "fuzz: $name for ${secs}s (seed $seed)"
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: 2 GiB is a memory blow-up.
  "$bin" -max_total_time="$secs" -seed="$seed" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
    "$work" "$corpus" 2>build-fuzz/$name.log \
    || { tail -50 build-fuzz/$name.log; rm -rf "$work"; exit 1; }
  rm -rf "$work"
done
