// The Prometheus text exposition format (0.0.4), parsed strictly and within bounds.
//
// What a scrape target answers is hostile input: the parser reads it in one pass without
// recursion or backtracking, never reads past the text, and stops at the first error with a
// one-line message "line N: what (expected ...)". Limits make a target's answer cost bounded
// memory: the number of samples, the length of a label name or value, the labels per sample.
// `# HELP` / `# TYPE` lines are checked (a TYPE must name a known type); other comments are
// skipped. A sample's optional timestamp is checked and then ignored: the scrape time is used
// (Prometheus' honor_timestamps: false).
// Fuzzed from tests/fuzz/exposition_fuzz.cc.
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "promql/series_store.h"

namespace slipway::promql {

struct ExpositionLimits {
  size_t max_samples = 50'000;     // per scrape (Prometheus' sample_limit; 0 there = none)
  size_t max_label_length = 1024;  // bytes of a label name or value (label_value_length_limit)
  size_t max_labels = 64;          // per sample, the name included (label_limit)
};

// Parses `text`; samples' labels come out sorted with __name__. Errors are InvalidInput.
Result<std::vector<ExpositionSample>> ParseExposition(std::string_view text,
                                                      const ExpositionLimits& limits = {});

// Metric and label names as Prometheus defines them ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics,
// no ':' in label names).
bool IsMetricName(std::string_view s);
bool IsLabelName(std::string_view s);

}  // namespace slipway::promql
