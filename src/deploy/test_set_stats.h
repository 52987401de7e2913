// Test-only: cumulative per-set proxy statistics made to order, for the unit tests of what
// reads them (analysis_test.cc, live_sets_test.cc). Header-only; any thread.
#pragma once

#include <cstdint>

#include "proxy/proxy_metrics.h"

namespace slipway::deploy {

// Cumulative stats with `n` responses, `e` of them 5xx, all taking `seconds`.
inline proxy::SetStats TestSetStats(uint64_t n, uint64_t e, double seconds) {
  proxy::SetStats s;
  s.requests = n;
  s.errors_5xx = e;
  s.latency.bounds = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5};
  s.latency.buckets.assign(s.latency.bounds.size() + 1, 0);
  for (size_t i = 0; i < s.latency.buckets.size(); ++i) {
    if (i == s.latency.bounds.size() || seconds <= s.latency.bounds[i]) s.latency.buckets[i] = n;
  }
  s.latency.count = n;
  s.latency.sum = seconds * static_cast<double>(n);
  return s;
}

}  // namespace slipway::deploy
