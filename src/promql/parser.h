// PromQL subset: the syntax tree and its parser.
//
// The subset Slipway's alert rules are written in (documented in docs/alerts.md):
//   - selectors `name{label="v", l2!="v", l3=~"re", l4!~"re"}`, with an optional range `[5m]`,
//     an optional `offset 5m` (or `offset -5m`) and an optional `@` modifier (`@ 1700000000`,
//     `@ start()`, `@ end()`), offset and `@` in either order
//   - subqueries `expr[30m:1m]` (the step may be left out: `expr[30m:]` steps at the
//     evaluation's EvalContext::subquery_step_ms, the project's evaluation interval), with
//     their own offset and `@`
//   - numbers (1, 0.5, 1e3, Inf, NaN) and strings (only as function arguments)
//   - binary operators `^ * / % + - == != > < >= <= and or unless`, with Prometheus'
//     precedence, the `bool` modifier, `on(...)`/`ignoring(...)` matching and many-to-one /
//     one-to-many matching with `group_left(...)` / `group_right(...)`
//   - aggregations `sum avg min max count group stddev stdvar` and `topk bottomk quantile
//     count_values` (with a first parameter), with `by (...)` / `without (...)`, before or
//     after the argument
//   - functions rate, increase, irate, delta, histogram_quantile, abs, ceil, floor, round,
//     clamp_min, clamp_max, absent, scalar, vector, time, {avg,min,max,sum,count,last,
//     stddev,stdvar,present}_over_time, quantile_over_time, absent_over_time, label_replace,
//     label_join
// Anything else (another function) is a parse error naming it.
// Parsing also checks types (a rate over an instant vector is an error), so an expression
// that parses can be evaluated without type errors; literal arguments are checked too (a
// label_replace regex that does not compile, a label name that is not one). Regular
// expressions are Go's (RE2) syntax, fully anchored, as Prometheus reads them (promql/regex.h).
//
// Errors carry the byte offset into the expression, so a rule file can point at the spot.
// Plain data and pure functions; any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "promql/regex.h"

namespace slipway::promql {

enum class ValueType { kScalar, kVector, kMatrix, kString };
std::string_view ValueTypeName(ValueType t);

struct Matcher {
  enum class Op { kEq, kNeq, kRe, kNre };
  std::string name;
  Op op = Op::kEq;
  std::string value;
  std::shared_ptr<const Regex> re;  // kRe/kNre: anchored, compiled once

  bool Matches(std::string_view v) const;
};

enum class BinOp {
  kPow,
  kMul,
  kDiv,
  kMod,
  kAdd,
  kSub,
  kEq,
  kNe,
  kGt,
  kLt,
  kGe,
  kLe,
  kAnd,
  kOr,
  kUnless,
};
std::string_view BinOpName(BinOp op);
bool IsComparison(BinOp op);
bool IsSetOp(BinOp op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kNumber,
    kString,
    kSelector,
    kCall,
    kAggregate,
    kBinary,
    kNegate,
    kSubquery,
  };
  Kind kind = Kind::kNumber;
  ValueType type = ValueType::kScalar;
  size_t pos = 0;  // byte offset of the expression's first token

  double number = 0;  // kNumber
  std::string text;   // kString: the value; kCall/kAggregate: the function; kSelector: metric
  std::vector<Matcher> matchers;  // kSelector (the metric name is also a matcher on __name__)
  int64_t range_ms = 0;           // kSelector: > 0 for a range selector; kSubquery: its range
  int64_t offset_ms = 0;          // kSelector, kSubquery: `offset` (negative: into the future)
  int64_t step_ms = 0;            // kSubquery: the step, 0 when left out (kDefaultSubqueryStepMs)

  // kSelector, kSubquery: the `@` modifier, evaluated at a fixed time instead of the query's.
  enum class At { kNone, kTime, kStart, kEnd };
  At at = At::kNone;
  int64_t at_ms = 0;  // At::kTime

  // kCall: arguments; kAggregate: [param?, expr]; kNegate: [x]; kSubquery: [inner].
  std::vector<ExprPtr> args;

  // kAggregate: by/without labels. kBinary: on/ignoring labels.
  std::vector<std::string> grouping;
  bool without = false;   // kAggregate: `without` instead of `by`
  bool on = false;        // kBinary: `on(...)` given (else `ignoring(...)` or none)
  bool matching = false;  // kBinary: on/ignoring given at all

  // kBinary: group_left (many-to-one) or group_right (one-to-many); `include` are the labels
  // copied from the "one" side.
  enum class Card { kOneToOne, kManyToOne, kOneToMany };
  Card card = Card::kOneToOne;
  std::vector<std::string> include;

  // kCall label_replace: the regex argument, compiled once (anchored, as Prometheus').
  std::shared_ptr<const Regex> regex;

  BinOp op = BinOp::kAdd;  // kBinary
  bool bool_mod = false;   // kBinary: comparison with `bool`
  ExprPtr lhs, rhs;        // kBinary
};

struct ParseError {
  size_t pos = 0;
  std::string message;
};

// Parses `text`. On failure returns InvalidInput "at char N: what" (N is 1-based) and, when
// `err` is given, fills it with the 0-based offset and the bare message.
Result<ExprPtr> Parse(std::string_view text, ParseError* err = nullptr);

// Parses a range duration as PromQL writes it ("5m", "1h30m", "90s", "500ms", "1d", "1w").
// Returns milliseconds, or -1 when not a duration.
int64_t ParsePromDuration(std::string_view s);

// The largest range any selector in `e` asks for (what the sample history must keep); a
// subquery adds its range to its inner expression's.
int64_t MaxRangeMs(const Expr& e);

// A subquery's step when it has none and the evaluation names none: Prometheus' default
// evaluation interval. The daemon passes x-slipway.alerts.interval instead (rules and the
// query API), `slipway alerts test` the file's evaluation_interval, as promtool.
inline constexpr int64_t kDefaultSubqueryStepMs = 60'000;
// The most points a subquery may evaluate for one result (Prometheus' per-series limit).
inline constexpr int64_t kMaxSubquerySteps = 11'000;

}  // namespace slipway::promql
