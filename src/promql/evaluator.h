// Evaluator: computes a parsed PromQL expression at one instant over a SeriesStore.
//
// Semantics follow Prometheus for the subset parser.h accepts: instant selectors take each
// fresh series' latest sample within the 5-minute lookback; rate/increase extrapolate to the
// range's edges and correct counter resets; histogram_quantile interpolates linearly inside
// the bucket; arithmetic and comparisons drop the metric name (a comparison without `bool`
// filters and keeps it), one-to-one matching by all labels but the name unless on/ignoring.
//
// Pure functions over a const store; any thread that owns the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "promql/parser.h"
#include "promql/series_store.h"

namespace slipway::promql {

struct Sample {
  Labels labels;  // sorted; __name__ only where Prometheus keeps it
  double value = 0;
};
using Vector = std::vector<Sample>;

struct Value {
  ValueType type = ValueType::kVector;
  double scalar = 0;  // kScalar
  Vector vector;      // kVector
};

inline constexpr int64_t kLookbackMs = 5 * 60 * 1000;

// Errors (kInvalidInput) are data-dependent only: many-to-many matches, duplicate output
// series in an aggregation's input to a binary operator.
Result<Value> Evaluate(const Expr& e, const SeriesStore& store, int64_t t_ms);

// Whether a series of `store.ByName(sel.text)` passes the selector's label matchers.
bool SelectorMatches(const SeriesStore::Series& s, const Expr& sel);

// Prometheus' number formatting for messages: "0.05", "1e+06", "NaN", "+Inf".
std::string FormatValue(double v);

}  // namespace slipway::promql
