// Evaluator: computes a parsed PromQL expression at one instant over a SeriesStore.
//
// Semantics follow Prometheus for the subset parser.h accepts: instant selectors take each
// fresh series' latest sample within the 5-minute lookback (at the `@` time when given, less
// the offset); a subquery evaluates its expression at every multiple of its step inside its
// range (left-open, as range selectors); rate/increase extrapolate to the
// range's edges and correct counter resets; histogram_quantile interpolates linearly inside
// the bucket; arithmetic and comparisons drop the metric name (a comparison without `bool`
// filters and keeps it), one-to-one matching by all labels but the name unless on/ignoring.
//
// Pure functions over a const store; any thread that owns the store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
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
// Inner evaluations all the subqueries of one evaluation may make (nested subqueries multiply).
inline constexpr int64_t kMaxSubqueryEvaluations = 50'000;

// The query an evaluation belongs to: `@ start()` and `@ end()` read its start and end (an
// instant query and a rule evaluation have start = end = the evaluation time), and the step
// of a subquery that gives none (Prometheus' evaluation interval; promtool's rule unit tests
// use the file's evaluation_interval).
class SelectionCache;
class SelectionMemo;
struct EvalContext {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t subquery_step_ms = kDefaultSubqueryStepMs;
  SelectionCache* cache = nullptr;  // a range query's, shared by its steps; null = none
  // Which series each selector matches, kept across evaluations of the same expressions
  // (promql/selection_memo.h: a rule evaluator's); null = match at each evaluation.
  SelectionMemo* memo = nullptr;
};

// What the steps of one range query share, so each step does not match and decode again:
// per selector, the series it matches (sorted by labels) and their samples over the whole
// query's window, decoded once when the first step reads them. A step whose window falls
// outside (a subquery's earlier inner steps) reads the store as without a cache. Answers
// are the same as without it for a store that does not change during the query; one that
// does is read as of the first step (as Prometheus' querier does). Owned by the query; the
// thread evaluating it.
class SelectionCache {
 public:
  SelectionCache();
  // Decoded samples kept at most (16 bytes each); selectors past it are not cached.
  explicit SelectionCache(size_t max_points);
  ~SelectionCache();
  SelectionCache(const SelectionCache&) = delete;
  SelectionCache& operator=(const SelectionCache&) = delete;

  struct Entry;  // evaluator.cc
  // The entry of `sel` covering (lo, hi], built on first use; null when it would not fit.
  const Entry* Get(const Expr& sel, const SeriesStore& store, int64_t lo, int64_t hi);

 private:
  size_t max_points_ = 4'000'000;
  size_t points_ = 0;
  std::unordered_map<const Expr*, std::unique_ptr<Entry>> entries_;
};

// Errors (kInvalidInput) are data-dependent only: many-to-many matches, duplicate output
// series in an aggregation's input to a binary operator or out of label_replace/label_join,
// subqueries past kMaxSubqueryEvaluations.
Result<Value> Evaluate(const Expr& e, const SeriesStore& store, int64_t t_ms);
Result<Value> Evaluate(const Expr& e, const SeriesStore& store, int64_t t_ms, EvalContext range);

// A range vector at t (a range selector or a subquery, type kMatrix): each series' points in
// its window, series sorted by labels, empty ones left out.
struct RangeSeries {
  Labels labels;
  std::vector<Point> points;
};
Result<std::vector<RangeSeries>> EvaluateMatrix(const Expr& e, const SeriesStore& store,
                                                int64_t t_ms, EvalContext range);

// A range query's steps first, first + step, ..., last (inside the context's start..end),
// evaluated at once rather than step by step: each selector's series are matched and labelled
// once, range functions move their windows forward across the steps, aggregations group each
// series once. Each series' points are (step, value), series sorted by labels: what Evaluate
// at each step gives, bit for bit. nullopt when `e` or the data needs step-by-step
// evaluation (subqueries, `@`, set operators, group_x, label and other functions, a
// selection over the cache's budget, ambiguous matches); `range.cache` is required.
std::optional<std::vector<RangeSeries>> EvaluateSteps(const Expr& e, const SeriesStore& store,
                                                      int64_t first, int64_t last, int64_t step,
                                                      EvalContext range);

// Whether a series of `store.ByName(sel.text)` passes the selector's label matchers.
bool SelectorMatches(const SeriesStore::Series& s, const Expr& sel);

// Prometheus' number formatting for messages: "0.05", "1e+06", "NaN", "+Inf".
std::string FormatValue(double v);
// Go's strconv.FormatFloat(v, 'f', -1, 64): what count_values writes as a label value.
std::string FormatFloatF(double v);

}  // namespace slipway::promql
