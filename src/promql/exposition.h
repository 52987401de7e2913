// The Prometheus text exposition format (0.0.4), parsed strictly and within bounds.
//
// What a scrape target answers is hostile input: the parser reads it in one pass without
// recursion or backtracking, never reads past the text, and stops at the first error with a
// one-line message "line N: what (expected ...)". Limits make a target's answer cost bounded
// memory: the number of samples, the length of a label name or value, the labels per sample.
// `# HELP` / `# TYPE` lines are checked (a TYPE must name a known type); other comments are
// skipped. A sample's optional timestamp is checked and then ignored: the scrape time is used
// (Prometheus' honor_timestamps: false).
// Fuzzed from tests/fuzz/fuzz_exposition.cc.
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace slipway::promql {

// Label pairs sorted by name; the metric name is the label "__name__".
using Labels = std::vector<std::pair<std::string, std::string>>;

struct ExpositionSample {
  Labels labels;  // sorted, with __name__
  double value;
};

struct ExpositionLimits {
  size_t max_samples = 50'000;     // per scrape (Prometheus' sample_limit; 0 there = none)
  size_t max_label_length = 1024;  // bytes of a label name or value (label_value_length_limit)
  size_t max_labels = 64;          // per sample, the name included (label_limit)
};

// Parses `text`; samples' labels come out sorted with __name__. Errors are InvalidInput.
Result<std::vector<ExpositionSample>> ParseExposition(std::string_view text,
                                                      const ExpositionLimits& limits = {});

// Metric and label names as Prometheus defines them ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics,
// no ':' in label names). The character tests are PromQL's identifiers too (colon = true).
constexpr bool IsNameStart(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
constexpr bool IsNameChar(char c, bool colon) {
  return IsNameStart(c, colon) || (c >= '0' && c <= '9');
}
bool IsMetricName(std::string_view s);
bool IsLabelName(std::string_view s);

}  // namespace slipway::promql
