#include "promql/evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "promql/selection_memo.h"

namespace slipway::promql {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string FormatFloatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Labels DropName(Labels l) {
  l.erase(std::remove_if(l.begin(), l.end(), [](const auto& p) { return p.first == "__name__"; }),
          l.end());
  return l;
}

// A histogram bucket's upper bound (its `le`) and its group (the labels but `le` and the
// name); false for a series that is no bucket (no `le`, or one that is not a number).
bool BucketOf(const Labels& l, double* bound, Labels* group) {
  std::string_view le = LabelValue(l, "le");
  if (le.empty()) return false;
  if (le == "+Inf" || le == "Inf") {
    *bound = std::numeric_limits<double>::infinity();
  } else {
    char* end = nullptr;
    std::string tmp(le);
    *bound = std::strtod(tmp.c_str(), &end);
    if (*end != '\0') return false;
  }
  group->clear();
  for (const auto& kv : l) {
    if (kv.first != "le" && kv.first != "__name__") group->push_back(kv);
  }
  return true;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The signature two samples must share to match: labels but the name (or on/ignoring).
std::string Signature(const Labels& l, const Expr& b) {
  std::string sig;
  for (const auto& [k, v] : l) {
    if (k == "__name__") continue;
    if (b.matching && b.on != Contains(b.grouping, k)) continue;
    sig += k;
    sig += '\x01';
    sig += v;
    sig += '\x02';
  }
  return sig;
}

// Series order in the store is a hash order; sorted output keeps results reproducible.
void SortByLabels(Vector* v) {
  std::sort(v->begin(), v->end(),
            [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
}

// Scalar binary arithmetic and comparisons (comparisons give 1/0).
double Apply(BinOp op, double a, double b) {
  switch (op) {
    case BinOp::kPow:
      return std::pow(a, b);
    case BinOp::kMul:
      return a * b;
    case BinOp::kDiv:
      return a / b;
    case BinOp::kMod:
      return std::fmod(a, b);
    case BinOp::kAdd:
      return a + b;
    case BinOp::kSub:
      return a - b;
    case BinOp::kEq:
      return a == b;
    case BinOp::kNe:
      return a != b;
    case BinOp::kGt:
      return a > b;
    case BinOp::kLt:
      return a < b;
    case BinOp::kGe:
      return a >= b;
    case BinOp::kLe:
      return a <= b;
    default:
      return kNaN;
  }
}

// Points of `s` in (t - range, t].
std::vector<Point> Window(const SeriesStore::Series& s, int64_t t_ms, int64_t range_ms) {
  std::vector<Point> out;
  s.Points(t_ms - range_ms, t_ms, &out);
  return out;
}

// Prometheus' extrapolatedRate: rate, increase and delta.
bool ExtrapolatedRate(std::span<const Point> pts, int64_t t_ms, int64_t range_ms, bool counter,
                      bool is_rate, double* out) {
  if (pts.size() < 2) return false;
  double result = pts.back().v - pts.front().v;
  if (counter) {
    for (size_t i = 1; i < pts.size(); ++i) {
      if (pts[i].v < pts[i - 1].v) result += pts[i - 1].v;
    }
  }
  const double range_start = (t_ms - range_ms) / 1000.0;
  const double range_end = t_ms / 1000.0;
  double to_start = pts.front().t_ms / 1000.0 - range_start;
  double to_end = range_end - pts.back().t_ms / 1000.0;
  const double sampled = (pts.back().t_ms - pts.front().t_ms) / 1000.0;
  const double avg_gap = sampled / static_cast<double>(pts.size() - 1);
  if (counter && result > 0 && pts.front().v >= 0) {
    double to_zero = sampled * (pts.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  const double threshold = avg_gap * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : avg_gap / 2;
  interval += to_end < threshold ? to_end : avg_gap / 2;
  result *= interval / sampled;
  if (is_rate) result /= range_ms / 1000.0;
  *out = result;
  return true;
}

double BucketQuantile(double q, std::vector<std::pair<double, double>> buckets) {
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(buckets.begin(), buckets.end());
  if (buckets.size() < 2 || !std::isinf(buckets.back().first)) return kNaN;
  for (size_t i = 1; i < buckets.size(); ++i) {  // cumulative counts must not decrease
    buckets[i].second = std::max(buckets[i].second, buckets[i - 1].second);
  }
  const double total = buckets.back().second;
  if (total == 0) return kNaN;
  double rank = q * total;
  size_t b = 0;
  while (b < buckets.size() - 1 && buckets[b].second < rank) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].first;
  if (b == 0 && buckets[0].first <= 0) return buckets[0].first;
  double start = 0;
  double end = buckets[b].first;
  double count = buckets[b].second;
  if (b > 0) {
    start = buckets[b - 1].first;
    count -= buckets[b - 1].second;
    rank -= buckets[b - 1].second;
  }
  if (count == 0) return start;
  return start + (end - start) * (rank / count);
}

// `l` with `name` set to `value` (removed when `value` is empty), kept sorted.
void SetLabel(Labels* l, const std::string& name, std::string value) {
  auto it = std::find_if(l->begin(), l->end(), [&](const auto& kv) { return kv.first == name; });
  if (it != l->end()) l->erase(it);
  if (value.empty()) return;
  l->emplace_back(name, std::move(value));
  std::sort(l->begin(), l->end());
}

// absent()'s labels: the selector's equality matchers but the name.
Labels AbsentLabels(const Expr& sel) {
  Labels l;
  for (const Matcher& m : sel.matchers) {
    if (m.op == Matcher::Op::kEq && m.name != "__name__") l.emplace_back(m.name, m.value);
  }
  std::sort(l.begin(), l.end());
  l.erase(std::unique(l.begin(), l.end(),
                      [](const auto& a, const auto& b) { return a.first == b.first; }),
          l.end());
  return l;
}

// Population variance, as Prometheus' stdvar (mean of squared deviations).
double Variance(const std::vector<double>& xs) {
  if (xs.empty()) return kNaN;
  double mean = 0;
  for (double x : xs) mean += x;
  mean /= static_cast<double>(xs.size());
  double sq = 0;
  for (double x : xs) sq += (x - mean) * (x - mean);
  return sq / static_cast<double>(xs.size());
}

// Prometheus' quantile: linear interpolation between the closest ranks, φ*(n-1).
double Quantile(double q, std::vector<double> xs) {
  if (xs.empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(xs.begin(), xs.end());
  const double rank = q * static_cast<double>(xs.size() - 1);
  const size_t lo = static_cast<size_t>(std::max(0.0, std::floor(rank)));
  const size_t hi = std::min(xs.size() - 1, lo + 1);
  const double w = rank - std::floor(rank);
  return xs[lo] * (1 - w) + xs[hi] * w;
}

// A range function's value over one series' points in its window (staleness markers left
// out, at least one point); false when the function gives no sample (a rate over one point).
bool RangeValue(const std::string& fn, std::span<const Point> pts, int64_t at, int64_t range_ms,
                double param, double* out) {
  double v = 0;
  if (fn == "rate" || fn == "increase" || fn == "delta") {
    return ExtrapolatedRate(pts, at, range_ms, fn != "delta", fn == "rate", out);
  }
  if (fn == "irate") {
    if (pts.size() < 2) return false;
    const Point& a = pts[pts.size() - 2];
    const Point& b = pts.back();
    double dv = b.v < a.v ? b.v : b.v - a.v;
    v = dv / ((b.t_ms - a.t_ms) / 1000.0);
  } else if (fn == "avg_over_time" || fn == "sum_over_time") {
    for (const Point& p : pts) v += p.v;
    if (fn == "avg_over_time") v /= static_cast<double>(pts.size());
  } else if (fn == "min_over_time" || fn == "max_over_time") {
    v = pts[0].v;
    for (const Point& p : pts) v = fn == "min_over_time" ? std::min(v, p.v) : std::max(v, p.v);
  } else if (fn == "count_over_time") {
    v = static_cast<double>(pts.size());
  } else if (fn == "last_over_time") {
    v = pts.back().v;
  } else if (fn == "present_over_time") {
    v = 1;
  } else if (fn == "stddev_over_time" || fn == "stdvar_over_time") {
    std::vector<double> xs;
    xs.reserve(pts.size());
    for (const Point& p : pts) xs.push_back(p.v);
    v = Variance(xs);
    if (fn == "stddev_over_time") v = std::sqrt(v);
  } else if (fn == "quantile_over_time") {
    std::vector<double> xs;
    xs.reserve(pts.size());
    for (const Point& p : pts) xs.push_back(p.v);
    v = Quantile(param, std::move(xs));
  }
  *out = v;
  return true;
}

// An aggregation's value over one group's values (in the input's order, at least one); not
// topk/bottomk/count_values, which keep or make series.
double AggregateValue(const std::string& fn, double param, std::vector<double> xs) {
  double v = 0;
  if (fn == "sum" || fn == "avg") {
    for (double x : xs) v += x;
    if (fn == "avg") v /= static_cast<double>(xs.size());
  } else if (fn == "min" || fn == "max") {
    // NaN only when every value is NaN, as Prometheus.
    v = kNaN;
    for (double x : xs) {
      if (std::isnan(v) || (fn == "min" ? x < v : x > v)) v = x;
    }
  } else if (fn == "count") {
    v = static_cast<double>(xs.size());
  } else if (fn == "group") {
    v = 1;
  } else if (fn == "stddev" || fn == "stdvar") {
    v = Variance(xs);
    if (fn == "stddev") v = std::sqrt(v);
  } else if (fn == "quantile") {
    v = Quantile(param, std::move(xs));
  }
  return v;
}

}  // namespace

struct SelectionCache::Entry {
  int64_t lo = 0, hi = 0;  // the samples cover (lo, hi]
  struct Row {
    Labels labels;
    std::span<const Point> points;  // in `all`; staleness markers kept: they end a lookback
  };
  std::vector<Row> rows;  // sorted by labels
  bool usable = false;    // false: over the cache's budget, read the store
  // Every row's points in one buffer: one allocation per selector, not one per series.
  std::vector<Point> all;
};

SelectionCache::SelectionCache() = default;
SelectionCache::SelectionCache(size_t max_points) : max_points_(max_points) {}
SelectionCache::~SelectionCache() = default;

const SelectionCache::Entry* SelectionCache::Get(const Expr& sel, const SeriesStore& store,
                                                 int64_t lo, int64_t hi) {
  std::unique_ptr<Entry>& slot = entries_[&sel];
  if (!slot) {
    slot = std::make_unique<Entry>();
    slot->lo = lo;
    slot->hi = hi;
    std::vector<Point>& all = slot->all;
    std::vector<std::pair<size_t, size_t>> spans;  // each row's [begin, end) in `all`
    SelectionMemo::SeriesList matched;             // sorted by labels: so are the rows
    MatchSelector(sel, store, &matched);
    for (const SeriesStore::Series* s : matched) {
      if (s->last_t <= lo || s->first_t() > hi) continue;
      const size_t begin = all.size();
      for (const XorChunk& c : s->chunks) {
        if (c.max_t() <= lo) continue;
        if (c.min_t() > hi) break;
        c.Decode(lo, hi, &all);
      }
      if (points_ + all.size() > max_points_) {
        slot->rows.clear();
        slot->all = {};
        return nullptr;
      }
      if (all.size() == begin) continue;
      slot->rows.push_back({s->labels, {}});
      spans.emplace_back(begin, all.size());
    }
    const size_t points = all.size();
    // `all` no longer grows: the spans into it stay valid.
    for (size_t i = 0; i < spans.size(); ++i) {
      slot->rows[i].points =
          std::span<const Point>(all.data() + spans[i].first, spans[i].second - spans[i].first);
    }
    points_ += points;
    slot->usable = true;
  }
  return slot->usable ? slot.get() : nullptr;
}

namespace {

class Eval {
 public:
  Eval(const SeriesStore& store, int64_t t, EvalContext range, int64_t* budget)
      : store_(store), t_(t), range_(range), budget_(budget) {}

  Result<Value> Run(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kNumber:
        return Scalar(e.number);
      case Expr::Kind::kString:
        return InvalidInput("a string is not a value");
      case Expr::Kind::kSelector:
        return Select(e);
      case Expr::Kind::kNegate: {
        ASSIGN_OR_RETURN(Value v, Run(*e.args[0]));
        if (v.type == ValueType::kScalar) return Scalar(-v.scalar);
        for (Sample& s : v.vector) {
          s.labels = DropName(std::move(s.labels));
          s.value = -s.value;
        }
        return v;
      }
      case Expr::Kind::kAggregate:
        return Aggregate(e);
      case Expr::Kind::kCall:
        return Call(e);
      case Expr::Kind::kBinary:
        return Binary(e);
      case Expr::Kind::kSubquery:
        return InvalidInput("a range vector is not an instant value");
    }
    return Internal("unknown expression kind");
  }

  // The time a selector or subquery reads at: its `@` time or the evaluation's, less offset.
  int64_t ReadTime(const Expr& e) const {
    int64_t base = t_;
    switch (e.at) {
      case Expr::At::kNone:
        break;
      case Expr::At::kTime:
        base = e.at_ms;
        break;
      case Expr::At::kStart:
        base = range_.start_ms;
        break;
      case Expr::At::kEnd:
        base = range_.end_ms;
        break;
    }
    return base - e.offset_ms;
  }

  // A range selector's samples in (at - range, at], or a subquery's points: its expression
  // evaluated at each multiple of the step in that window.
  Result<std::vector<RangeSeries>> Matrix(const Expr& e) {
    std::vector<RangeSeries> out;
    const int64_t at = ReadTime(e);
    if (e.kind == Expr::Kind::kSelector) {
      if (const SelectionCache::Entry* c = Cached(e, at, e.range_ms)) {
        for (const SelectionCache::Entry::Row& row : c->rows) {
          std::vector<Point> pts;
          auto it = std::upper_bound(row.points.begin(), row.points.end(), at - e.range_ms,
                                     [](int64_t t, const Point& p) { return t < p.t_ms; });
          for (; it != row.points.end() && it->t_ms <= at; ++it) {
            if (!IsStaleMarker(it->v)) pts.push_back(*it);
          }
          if (!pts.empty()) out.push_back({row.labels, std::move(pts)});
        }
        return out;
      }
      for (const SeriesStore::Series* s : Selected(e)) {  // sorted by labels
        std::vector<Point> pts = Window(*s, at, e.range_ms);
        if (!pts.empty()) out.push_back({s->labels, std::move(pts)});
      }
      return out;
    }
    if (e.kind != Expr::Kind::kSubquery) return InvalidInput("not a range vector");
    const int64_t step = e.step_ms > 0 ? e.step_ms : std::max<int64_t>(1, range_.subquery_step_ms);
    const int64_t from = at - e.range_ms;  // exclusive
    // The first multiple of the step after `from` (floor division, for negative times too).
    int64_t ts = (from / step) * step;
    if (ts > from) ts -= step;
    ts += step;
    std::map<Labels, std::vector<Point>> series;
    for (; ts <= at; ts += step) {
      if (--*budget_ < 0) {
        return InvalidInput(fmt::format(
            "subqueries would evaluate more than {} steps in one evaluation (a longer step or a "
            "shorter range)",
            kMaxSubqueryEvaluations));
      }
      Eval inner(store_, ts, range_, budget_);
      ASSIGN_OR_RETURN(Value v, inner.Run(*e.args[0]));
      for (Sample& smp : v.vector) series[std::move(smp.labels)].push_back({ts, smp.value});
    }
    for (auto& [labels, pts] : series) out.push_back({labels, std::move(pts)});
    return out;
  }

 private:
  static Value Scalar(double v) {
    Value out;
    out.type = ValueType::kScalar;
    out.scalar = v;
    return out;
  }

  // The query's cache entry for selector `e` read at `at` over (at - window, at], when the
  // query has a cache and that window lies inside what the entry holds.
  const SelectionCache::Entry* Cached(const Expr& e, int64_t at, int64_t window) {
    if (range_.cache == nullptr) return nullptr;
    // The widest window the query's steps read this selector over: its `@` time, or every
    // step between start and end, less the offset.
    int64_t hi = at, lo = at - window;
    if (e.at == Expr::At::kNone) {
      hi = range_.end_ms - e.offset_ms;
      lo = range_.start_ms - e.offset_ms - window;
    }
    if (at - window < lo || at > hi) return nullptr;
    const SelectionCache::Entry* c = range_.cache->Get(e, store_, lo, hi);
    if (c == nullptr || at - window < c->lo || at > c->hi) return nullptr;
    return c;
  }

  // The series selector `e` matches, sorted by labels: the memo's when the evaluation has
  // one, else matched now (valid until the next call).
  const SelectionMemo::SeriesList& Selected(const Expr& e) {
    if (range_.memo != nullptr) return range_.memo->Get(e, store_);
    MatchSelector(e, store_, &selected_);
    return selected_;
  }

  Value Select(const Expr& e) {
    Value out;
    const int64_t at = ReadTime(e);
    if (const SelectionCache::Entry* c = Cached(e, at, kLookbackMs)) {
      for (const SelectionCache::Entry::Row& row : c->rows) {
        // The newest sample at or before `at`, if it is within the lookback and not a marker.
        auto it = std::upper_bound(row.points.begin(), row.points.end(), at,
                                   [](int64_t t, const Point& p) { return t < p.t_ms; });
        if (it == row.points.begin()) continue;
        const Point& p = *std::prev(it);
        if (p.t_ms <= at - kLookbackMs || IsStaleMarker(p.v)) continue;
        out.vector.push_back({row.labels, p.v});
      }
      return out;  // rows are sorted by labels
    }
    for (const SeriesStore::Series* s : Selected(e)) {  // sorted by labels
      Point p;
      if (!s->LatestAt(at, kLookbackMs, &p)) continue;
      out.vector.push_back({s->labels, p.v});
    }
    return out;
  }

  Result<Value> RangeFunc(const Expr& call) {
    const std::string& fn = call.text;
    double param = 0;  // quantile_over_time's φ
    if (fn == "quantile_over_time") {
      ASSIGN_OR_RETURN(Value q, Run(*call.args[0]));
      param = q.scalar;
    }
    const Expr& sel = *call.args.back();
    const int64_t at = ReadTime(sel);
    ASSIGN_OR_RETURN(std::vector<RangeSeries> matrix, Matrix(sel));
    Value out;
    bool any = false;  // absent_over_time: some series had samples in the window
    for (RangeSeries& rs : matrix) {
      const std::vector<Point>& pts = rs.points;
      if (pts.empty()) continue;
      any = true;
      if (fn == "absent_over_time") break;
      double v = 0;
      if (!RangeValue(fn, pts, at, sel.range_ms, param, &v)) continue;
      // last_over_time keeps the metric name (Prometheus does); the others drop it.
      out.vector.push_back(
          {fn == "last_over_time" ? std::move(rs.labels) : DropName(std::move(rs.labels)), v});
    }
    if (fn == "absent_over_time") {
      // A subquery has no matchers to take labels from: {} (as Prometheus).
      out.vector.clear();
      if (!any) {
        out.vector.push_back({sel.kind == Expr::Kind::kSelector ? AbsentLabels(sel) : Labels{}, 1});
      }
      return out;
    }
    SortByLabels(&out.vector);
    return out;
  }

  Result<Value> Call(const Expr& e) {
    const std::string& fn = e.text;
    if (!e.args.empty() && e.args.back()->type == ValueType::kMatrix) return RangeFunc(e);
    if (fn == "time") return Scalar(t_ / 1000.0);
    if (fn == "vector") {
      ASSIGN_OR_RETURN(Value s, Run(*e.args[0]));
      Value out;
      out.vector.push_back({{}, s.scalar});
      return out;
    }
    if (fn == "histogram_quantile") {
      ASSIGN_OR_RETURN(Value q, Run(*e.args[0]));
      ASSIGN_OR_RETURN(Value v, Run(*e.args[1]));
      std::map<Labels, std::vector<std::pair<double, double>>> groups;
      for (const Sample& s : v.vector) {
        double bound = 0;
        Labels key;
        if (!BucketOf(s.labels, &bound, &key)) continue;
        groups[std::move(key)].emplace_back(bound, s.value);
      }
      Value out;
      for (auto& [labels, buckets] : groups) {
        out.vector.push_back({labels, BucketQuantile(q.scalar, std::move(buckets))});
      }
      return out;
    }
    ASSIGN_OR_RETURN(Value v, Run(*e.args[0]));
    if (fn == "label_replace" || fn == "label_join") return LabelFunc(e, std::move(v));
    if (fn == "scalar") {
      return Scalar(v.vector.size() == 1 ? v.vector[0].value : kNaN);
    }
    if (fn == "absent") {
      Value out;
      if (v.vector.empty()) {
        const Expr& a = *e.args[0];
        out.vector.push_back({a.kind == Expr::Kind::kSelector ? AbsentLabels(a) : Labels{}, 1});
      }
      return out;
    }
    double arg = 0;
    if (e.args.size() > 1) {
      ASSIGN_OR_RETURN(Value s, Run(*e.args[1]));
      arg = s.scalar;
    }
    for (Sample& s : v.vector) {
      s.labels = DropName(std::move(s.labels));
      if (fn == "abs")
        s.value = std::fabs(s.value);
      else if (fn == "ceil")
        s.value = std::ceil(s.value);
      else if (fn == "floor")
        s.value = std::floor(s.value);
      else if (fn == "round")
        s.value = std::round(s.value);
      else if (fn == "clamp_min")
        s.value = std::max(s.value, arg);
      else if (fn == "clamp_max")
        s.value = std::min(s.value, arg);
    }
    return v;
  }

  // label_replace(v, dst, replacement, src, regex) and label_join(v, dst, sep, src...): the
  // samples as they are (the name kept) with `dst` rewritten; an empty result removes it.
  Result<Value> LabelFunc(const Expr& e, Value v) {
    const std::string& dst = e.args[1]->text;
    std::unordered_map<std::string, bool> seen;
    std::vector<std::string_view> groups;
    for (Sample& s : v.vector) {
      if (e.text == "label_replace") {
        const std::string src(LabelValue(s.labels, e.args[3]->text));
        if (!e.regex->FullMatch(src, &groups)) continue;
        SetLabel(&s.labels, dst, e.regex->Expand(e.args[2]->text, groups));
      } else {
        std::string joined;
        for (size_t i = 3; i < e.args.size(); ++i) {
          if (i > 3) joined += e.args[2]->text;
          joined += LabelValue(s.labels, e.args[i]->text);
        }
        SetLabel(&s.labels, dst, std::move(joined));
      }
    }
    for (const Sample& s : v.vector) {
      if (!seen.emplace(LabelsToString(s.labels), true).second) {
        return InvalidInput(
            fmt::format("{}(): vector cannot contain metrics with the same "
                        "labelset {}",
                        e.text, LabelsToString(s.labels)));
      }
    }
    return v;
  }

  // count_values("label", v): per group, how many samples have each value (written as the
  // label `label`, Go's shortest decimal form).
  Value CountValues(const Expr& e, Vector in) {
    const std::string& value_label = e.args[0]->text;
    std::map<Labels, double> counts;
    for (Sample& s : in) {
      Labels l = std::move(s.labels);
      SetLabel(&l, value_label, FormatFloatF(s.value));
      Labels key;
      for (auto& kv : l) {
        if (kv.first == "__name__") continue;
        const bool listed = Contains(e.grouping, kv.first);
        if (e.without ? listed : (!listed && kv.first != value_label)) continue;
        key.push_back(std::move(kv));
      }
      counts[std::move(key)] += 1;
    }
    Value out;
    for (auto& [labels, n] : counts) out.vector.push_back({labels, n});
    return out;
  }

  Result<Value> Aggregate(const Expr& e) {
    ASSIGN_OR_RETURN(Value in, Run(*e.args.back()));
    if (e.text == "count_values") return CountValues(e, std::move(in.vector));
    double param = 0;
    if (e.args.size() > 1) {
      ASSIGN_OR_RETURN(Value p, Run(*e.args[0]));
      param = p.scalar;
    }
    const std::string& fn = e.text;
    std::map<Labels, std::vector<Sample*>> groups;
    for (Sample& s : in.vector) {
      Labels key;
      for (const auto& kv : s.labels) {
        if (kv.first == "__name__") continue;
        if (e.without == Contains(e.grouping, kv.first)) continue;
        key.push_back(kv);
      }
      groups[std::move(key)].push_back(&s);
    }
    Value out;
    if (fn == "topk" || fn == "bottomk") {
      // The k largest (smallest) samples of each group, as they are; NaN sorts last.
      const double k = std::floor(param);
      if (!(k >= 1)) return out;
      const bool top = fn == "topk";
      for (auto& [key, members] : groups) {
        std::stable_sort(members.begin(), members.end(), [top](const Sample* a, const Sample* b) {
          if (std::isnan(a->value)) return false;
          if (std::isnan(b->value)) return true;
          return top ? a->value > b->value : a->value < b->value;
        });
        const size_t n = std::min(members.size(), k >= 1e9 ? members.size() : size_t(k));
        for (size_t i = 0; i < n; ++i) out.vector.push_back(std::move(*members[i]));
      }
      return out;
    }
    for (auto& [key, members] : groups) {
      std::vector<double> xs;
      xs.reserve(members.size());
      for (const Sample* m : members) xs.push_back(m->value);
      const double v = AggregateValue(fn, param, std::move(xs));
      out.vector.push_back({key, v});
    }
    return out;
  }

  Result<Value> Binary(const Expr& e) {
    ASSIGN_OR_RETURN(Value l, Run(*e.lhs));
    ASSIGN_OR_RETURN(Value r, Run(*e.rhs));
    const bool cmp = IsComparison(e.op);
    if (l.type == ValueType::kScalar && r.type == ValueType::kScalar) {
      return Scalar(Apply(e.op, l.scalar, r.scalar));
    }
    if (IsSetOp(e.op)) return SetOp(e, std::move(l.vector), std::move(r.vector));
    // Drop the name for arithmetic and `bool`; a filtering comparison keeps the sample as is.
    const bool keep_name = cmp && !e.bool_mod;
    if (l.type == ValueType::kScalar || r.type == ValueType::kScalar) {
      const bool scalar_left = l.type == ValueType::kScalar;
      Vector& vec = scalar_left ? r.vector : l.vector;
      const double k = scalar_left ? l.scalar : r.scalar;
      Value out;
      for (Sample& s : vec) {
        double a = scalar_left ? k : s.value;
        double b = scalar_left ? s.value : k;
        double res = Apply(e.op, a, b);
        if (cmp && !e.bool_mod) {
          if (res == 0) continue;
          res = s.value;
        }
        out.vector.push_back(
            {keep_name ? std::move(s.labels) : DropName(std::move(s.labels)), res});
      }
      return out;
    }
    // The "one" side is indexed by signature; the other side is walked. For one-to-one both
    // sides must be unique per signature; for group_left/right only the "one" side.
    const bool one_to_many = e.card == Expr::Card::kOneToMany;
    Vector& many = one_to_many ? r.vector : l.vector;
    Vector& one = one_to_many ? l.vector : r.vector;
    std::unordered_map<std::string, const Sample*> index;
    for (const Sample& s : one) {
      auto [it, fresh] = index.emplace(Signature(s.labels, e), &s);
      if (!fresh) {
        return InvalidInput(fmt::format(
            "many-to-many matching not allowed: several series on the {} side of {} share the "
            "labels {}",
            one_to_many ? "left" : "right", BinOpName(e.op), LabelsToString(DropName(s.labels))));
      }
    }
    Value out;
    std::unordered_map<std::string, bool> seen;      // one-to-one: signatures used
    std::unordered_map<std::string, bool> out_seen;  // group_x: result label sets
    for (Sample& s : many) {
      std::string sig = Signature(s.labels, e);
      auto it = index.find(sig);
      if (it == index.end()) continue;
      const Sample& o = *it->second;
      // Operands in the expression's order: the left value is the left side's.
      const double lv = one_to_many ? o.value : s.value;
      const double rv = one_to_many ? s.value : o.value;
      double res = Apply(e.op, lv, rv);
      if (cmp && !e.bool_mod) {
        if (res == 0) continue;
        res = lv;
      }
      // As Prometheus, a left-side duplicate is an error only for what passes a filter.
      if (e.card == Expr::Card::kOneToOne && !seen.emplace(sig, true).second) {
        return InvalidInput(
            fmt::format("multiple matches for labels {}: many-to-one matching must be explicit "
                        "(group_left/group_right)",
                        LabelsToString(DropName(s.labels))));
      }
      // Result labels are the "many" side's (the left's for one-to-one), as Prometheus'
      // resultMetric: the name dropped unless a filtering comparison; one-to-one keeps only
      // the on() labels or drops the ignoring() ones; group_x copies its labels from the
      // "one" side (or removes them when that side lacks them).
      Labels labels = keep_name ? std::move(s.labels) : DropName(std::move(s.labels));
      if (e.card == Expr::Card::kOneToOne && e.matching) {
        labels.erase(
            std::remove_if(labels.begin(), labels.end(),
                           [&](const auto& kv) { return e.on != Contains(e.grouping, kv.first); }),
            labels.end());
      } else if (e.card != Expr::Card::kOneToOne) {
        for (const std::string& name : e.include) {
          labels.erase(std::remove_if(labels.begin(), labels.end(),
                                      [&](const auto& kv) { return kv.first == name; }),
                       labels.end());
          std::string_view v = LabelValue(o.labels, name);
          if (!v.empty()) labels.emplace_back(name, std::string(v));
        }
        std::sort(labels.begin(), labels.end());
        if (!out_seen.emplace(LabelsToString(labels), true).second) {
          return InvalidInput(fmt::format(
              "multiple matches for labels {}: grouping labels must ensure unique matches",
              LabelsToString(labels)));
        }
      }
      out.vector.push_back({std::move(labels), res});
    }
    return out;
  }

  Result<Value> SetOp(const Expr& e, Vector l, Vector r) {
    std::unordered_map<std::string, bool> rsigs;
    for (const Sample& s : r) rsigs.emplace(Signature(s.labels, e), true);
    Value out;
    if (e.op == BinOp::kOr) {
      std::unordered_map<std::string, bool> lsigs;
      for (Sample& s : l) {
        lsigs.emplace(Signature(s.labels, e), true);
        out.vector.push_back(std::move(s));
      }
      for (Sample& s : r) {
        if (!lsigs.count(Signature(s.labels, e))) out.vector.push_back(std::move(s));
      }
      return out;
    }
    const bool want = e.op == BinOp::kAnd;
    for (Sample& s : l) {
      if (rsigs.count(Signature(s.labels, e)) == static_cast<size_t>(want)) {
        out.vector.push_back(std::move(s));
      }
    }
    return out;
  }

  const SeriesStore& store_;
  int64_t t_;
  EvalContext range_;
  int64_t* budget_;                     // subquery steps left, shared with nested evaluations
  SelectionMemo::SeriesList selected_;  // Selected()'s answer without a memo
};

}  // namespace

Result<Value> Evaluate(const Expr& e, const SeriesStore& store, int64_t t_ms) {
  return Evaluate(e, store, t_ms, EvalContext{t_ms, t_ms, kDefaultSubqueryStepMs});
}

Result<Value> Evaluate(const Expr& e, const SeriesStore& store, int64_t t_ms, EvalContext range) {
  int64_t budget = kMaxSubqueryEvaluations;
  Eval ev(store, t_ms, range, &budget);
  return ev.Run(e);
}

Result<std::vector<RangeSeries>> EvaluateMatrix(const Expr& e, const SeriesStore& store,
                                                int64_t t_ms, EvalContext range) {
  int64_t budget = kMaxSubqueryEvaluations;
  Eval ev(store, t_ms, range, &budget);
  return ev.Matrix(e);
}

bool SelectorMatches(const SeriesStore::Series& s, const Expr& sel) {
  for (const Matcher& m : sel.matchers) {
    if (!m.Matches(LabelValue(s.labels, m.name))) return false;
  }
  return true;
}

namespace {

// A node's value at every step of a range query: a scalar per step, or rows (a series each,
// its labels computed once) with a value at the steps where the series is present. At each
// step, the present rows in row order are the vector Evaluate gives at that step, in its
// order, so aggregations add in the same order and answers are bit for bit the same.
struct Grid {
  bool scalar = false;
  std::vector<double> s;  // scalar: per step
  size_t n = 0;           // steps
  struct Row {
    Labels labels;
    size_t at = 0;  // its values are v[at, at + n), its presence flags has[at, at + n)
  };
  std::vector<Row> rows;
  // Every row's values in one buffer (not two allocations per row).
  std::vector<double> v;
  std::vector<uint8_t> has;

  double* V(const Row& r) { return v.data() + r.at; }
  uint8_t* Has(const Row& r) { return has.data() + r.at; }
  const double* V(const Row& r) const { return v.data() + r.at; }
  const uint8_t* Has(const Row& r) const { return has.data() + r.at; }
  // A row present at no step yet; V() and Has() of any row are valid until the next AddRow.
  Row& AddRow(Labels labels) {
    rows.push_back({std::move(labels), v.size()});
    v.resize(v.size() + n);
    has.resize(has.size() + n);
    return rows.back();
  }
  void DropLastRow() {
    rows.pop_back();
    v.resize(v.size() - n);
    has.resize(has.size() - n);
  }
  // Rows sorted by labels (stable: equal label sets keep their order).
  void SortRows() {
    auto less = [](const Row& a, const Row& b) { return a.labels < b.labels; };
    if (!std::is_sorted(rows.begin(), rows.end(), less)) {
      std::stable_sort(rows.begin(), rows.end(), less);
    }
  }
};

// Selectors the step evaluator reads: by their metric name only, so that every series they
// give has that name and dropping it cannot make two series equal.
bool PlainSelector(const Expr& e) {
  if (e.kind != Expr::Kind::kSelector || e.at != Expr::At::kNone || e.text.empty()) return false;
  return std::all_of(e.matchers.begin(), e.matchers.end(), [&](const Matcher& m) {
    return m.name != "__name__" || (m.op == Matcher::Op::kEq && m.value == e.text);
  });
}

bool IsNumber(const ExprPtr& e) { return e->kind == Expr::Kind::kNumber; }

// Whether every node of `e` is one StepEval evaluates over all steps at once; the others
// (subqueries, `@`, set operators, group_x, label functions...) go step by step. topk and
// bottomk only at the root: which series they keep changes from step to step, so their
// vector's order is not a row order.
bool StepEvaluable(const Expr& e, bool root) {
  static const std::unordered_set<std::string> kRangeFns = {"rate",
                                                            "increase",
                                                            "delta",
                                                            "irate",
                                                            "avg_over_time",
                                                            "sum_over_time",
                                                            "min_over_time",
                                                            "max_over_time",
                                                            "count_over_time",
                                                            "last_over_time",
                                                            "present_over_time",
                                                            "stddev_over_time",
                                                            "stdvar_over_time",
                                                            "quantile_over_time"};
  static const std::unordered_set<std::string> kAggs = {
      "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "quantile"};
  switch (e.kind) {
    case Expr::Kind::kNumber:
      return true;
    case Expr::Kind::kSelector:
      return e.range_ms == 0 && PlainSelector(e);
    case Expr::Kind::kNegate:
      return StepEvaluable(*e.args[0], false);
    case Expr::Kind::kCall:
      if (!e.args.empty() && e.args.back()->type == ValueType::kMatrix) {
        const Expr& sel = *e.args.back();
        return kRangeFns.count(e.text) > 0 && sel.range_ms > 0 && PlainSelector(sel) &&
               std::all_of(e.args.begin(), e.args.end() - 1, IsNumber);
      }
      return e.text == "histogram_quantile" && IsNumber(e.args[0]) &&
             StepEvaluable(*e.args[1], false);
    case Expr::Kind::kAggregate:
      if (!kAggs.count(e.text) && !(root && (e.text == "topk" || e.text == "bottomk"))) {
        return false;
      }
      return std::all_of(e.args.begin(), e.args.end() - 1, IsNumber) &&
             StepEvaluable(*e.args.back(), false);
    case Expr::Kind::kBinary:
      return !IsSetOp(e.op) && e.card == Expr::Card::kOneToOne && StepEvaluable(*e.lhs, false) &&
             StepEvaluable(*e.rhs, false);
    default:
      return false;
  }
}

class StepEval {
 public:
  StepEval(const SeriesStore& store, int64_t first, int64_t step, size_t n, EvalContext range)
      : store_(store), first_(first), step_(step), n_(n), range_(range) {}

  // False: the data asks for what only step by step gives (a selection over the cache's
  // budget, several series with one signature on a side of a binary operator).
  bool ok() const { return ok_; }

  Grid Run(const Expr& e) {
    if (!ok_) return {};
    switch (e.kind) {
      case Expr::Kind::kNumber: {
        Grid g = NewGrid();
        g.scalar = true;
        g.s.assign(n_, e.number);
        return g;
      }
      case Expr::Kind::kSelector:
        return Select(e);
      case Expr::Kind::kNegate: {
        Grid g = Run(*e.args[0]);
        for (double& x : g.s) x = -x;
        for (double& x : g.v) x = -x;
        for (Grid::Row& r : g.rows) r.labels = DropName(std::move(r.labels));
        return g;
      }
      case Expr::Kind::kCall:
        return e.text == "histogram_quantile" ? HistogramQuantile(e) : RangeFunc(e);
      case Expr::Kind::kAggregate:
        return Aggregate(e);
      case Expr::Kind::kBinary:
        return Binary(e);
      default:
        ok_ = false;
        return {};
    }
  }

 private:
  int64_t StepTime(size_t k) const { return first_ + static_cast<int64_t>(k) * step_; }

  Grid NewGrid() const {
    Grid g;
    g.n = n_;
    return g;
  }

  // The query's cache entry of `sel` covering every step's window (as Eval::Cached builds it).
  const SelectionCache::Entry* Entry(const Expr& sel, int64_t window) {
    if (range_.cache == nullptr) {
      ok_ = false;
      return nullptr;
    }
    const int64_t lo = range_.start_ms - sel.offset_ms - window;
    const int64_t hi = range_.end_ms - sel.offset_ms;
    const SelectionCache::Entry* c = range_.cache->Get(sel, store_, lo, hi);
    const int64_t last = StepTime(n_ - 1) - sel.offset_ms;
    if (c == nullptr || first_ - sel.offset_ms - window < c->lo || last > c->hi) {
      ok_ = false;
      return nullptr;
    }
    return c;
  }

  // Each row's newest sample within the lookback at each step, found by an index that only
  // moves forward across the steps.
  Grid Select(const Expr& e) {
    Grid g = NewGrid();
    const SelectionCache::Entry* c = Entry(e, kLookbackMs);
    if (c == nullptr) return g;
    for (const SelectionCache::Entry::Row& src : c->rows) {
      const Grid::Row& row = g.AddRow(src.labels);
      double* v = g.V(row);
      uint8_t* has = g.Has(row);
      bool any = false;
      size_t j = 0;
      for (size_t k = 0; k < n_; ++k) {
        const int64_t at = StepTime(k) - e.offset_ms;
        while (j < src.points.size() && src.points[j].t_ms <= at) ++j;
        if (j == 0) continue;
        const Point& p = src.points[j - 1];
        if (p.t_ms <= at - kLookbackMs || IsStaleMarker(p.v)) continue;
        v[k] = p.v;
        has[k] = 1;
        any = true;
      }
      if (!any) g.DropLastRow();
    }
    return g;
  }

  // A range function over a range selector: each row's window (at - range, at] is a span of
  // its points whose two ends move forward across the steps.
  Grid RangeFunc(const Expr& call) {
    Grid g = NewGrid();
    const Expr& sel = *call.args.back();
    const double param = call.args.size() > 1 ? call.args[0]->number : 0;
    const SelectionCache::Entry* c = Entry(sel, sel.range_ms);
    if (c == nullptr) return g;
    const bool keep_name = call.text == "last_over_time";
    std::vector<Point> pts;
    for (const SelectionCache::Entry::Row& src : c->rows) {
      pts.clear();
      for (const Point& p : src.points) {
        if (!IsStaleMarker(p.v)) pts.push_back(p);
      }
      const Grid::Row& row = g.AddRow(keep_name ? src.labels : DropName(src.labels));
      double* v = g.V(row);
      uint8_t* has = g.Has(row);
      bool any = false;
      size_t lo = 0, hi = 0;
      for (size_t k = 0; k < n_; ++k) {
        const int64_t at = StepTime(k) - sel.offset_ms;
        while (lo < pts.size() && pts[lo].t_ms <= at - sel.range_ms) ++lo;
        if (hi < lo) hi = lo;
        while (hi < pts.size() && pts[hi].t_ms <= at) ++hi;
        if (hi == lo) continue;
        const std::span<const Point> window(pts.data() + lo, hi - lo);
        if (!RangeValue(call.text, window, at, sel.range_ms, param, &v[k])) continue;
        has[k] = 1;
        any = true;
      }
      if (!any) g.DropLastRow();
    }
    g.SortRows();  // as Eval::RangeFunc sorts each step's vector by its labels
    return g;
  }

  Grid HistogramQuantile(const Expr& e) {
    const double q = e.args[0]->number;
    Grid in = Run(*e.args[1]);
    Grid g = NewGrid();
    if (!ok_) return g;
    // Per group (the labels but le and the name), its buckets: (row, upper bound).
    std::map<Labels, std::vector<std::pair<size_t, double>>> groups;
    for (size_t i = 0; i < in.rows.size(); ++i) {
      double bound = 0;
      Labels key;
      if (!BucketOf(in.rows[i].labels, &bound, &key)) continue;
      groups[std::move(key)].emplace_back(i, bound);
    }
    std::vector<std::pair<double, double>> buckets;
    for (auto& [key, members] : groups) {
      const Grid::Row& row = g.AddRow(key);
      double* v = g.V(row);
      uint8_t* has = g.Has(row);
      for (size_t k = 0; k < n_; ++k) {
        buckets.clear();
        for (const auto& [i, bound] : members) {
          if (in.Has(in.rows[i])[k]) buckets.emplace_back(bound, in.V(in.rows[i])[k]);
        }
        if (buckets.empty()) continue;
        v[k] = BucketQuantile(q, buckets);
        has[k] = 1;
      }
    }
    return g;
  }

  Grid Aggregate(const Expr& e) {
    Grid in = Run(*e.args.back());
    Grid g = NewGrid();
    if (!ok_) return g;
    const double param = e.args.size() > 1 ? e.args[0]->number : 0;
    const std::string& fn = e.text;
    std::map<Labels, std::vector<size_t>> groups;
    for (size_t i = 0; i < in.rows.size(); ++i) {
      Labels key;
      for (const auto& kv : in.rows[i].labels) {
        if (kv.first == "__name__") continue;
        if (e.without == Contains(e.grouping, kv.first)) continue;
        key.push_back(kv);
      }
      groups[std::move(key)].push_back(i);
    }
    if (fn == "topk" || fn == "bottomk") {
      // As Eval::Aggregate: per step and group, the k largest (smallest), NaN last.
      const double k = std::floor(param);
      if (!(k >= 1)) return g;
      const bool top = fn == "topk";
      for (Grid::Row& r : in.rows) g.AddRow(r.labels);
      std::vector<size_t> present;
      for (size_t step = 0; step < n_; ++step) {
        for (auto& [key, members] : groups) {
          present.clear();
          for (size_t i : members) {
            if (in.Has(in.rows[i])[step]) present.push_back(i);
          }
          auto value = [&](size_t i) { return in.V(in.rows[i])[step]; };
          std::stable_sort(present.begin(), present.end(), [&](size_t a, size_t b) {
            if (std::isnan(value(a))) return false;
            if (std::isnan(value(b))) return true;
            return top ? value(a) > value(b) : value(a) < value(b);
          });
          const size_t n = std::min(present.size(), k >= 1e9 ? present.size() : size_t(k));
          for (size_t j = 0; j < n; ++j) {
            g.V(g.rows[present[j]])[step] = value(present[j]);
            g.Has(g.rows[present[j]])[step] = 1;
          }
        }
      }
      return g;
    }
    std::vector<double> xs;
    std::vector<const double*> vs;
    std::vector<const uint8_t*> hs;
    for (auto& [key, members] : groups) {
      const Grid::Row& row = g.AddRow(key);
      double* v = g.V(row);
      uint8_t* has = g.Has(row);
      vs.clear();
      hs.clear();
      for (size_t i : members) {
        vs.push_back(in.V(in.rows[i]));
        hs.push_back(in.Has(in.rows[i]));
      }
      for (size_t k = 0; k < n_; ++k) {
        xs.clear();
        for (size_t m = 0; m < vs.size(); ++m) {
          if (hs[m][k]) xs.push_back(vs[m][k]);
        }
        if (xs.empty()) continue;
        v[k] = AggregateValue(fn, param, xs);
        has[k] = 1;
      }
    }
    return g;
  }

  Grid Binary(const Expr& e) {
    Grid l = Run(*e.lhs);
    Grid r = Run(*e.rhs);
    Grid g = NewGrid();
    if (!ok_) return g;
    const bool cmp = IsComparison(e.op);
    const bool filter = cmp && !e.bool_mod;
    if (l.scalar && r.scalar) {
      g.scalar = true;
      g.s.resize(n_);
      for (size_t k = 0; k < n_; ++k) g.s[k] = Apply(e.op, l.s[k], r.s[k]);
      return g;
    }
    if (l.scalar || r.scalar) {
      const bool scalar_left = l.scalar;
      Grid& vec = scalar_left ? r : l;
      const std::vector<double>& ks = scalar_left ? l.s : r.s;
      for (Grid::Row& src : vec.rows) {
        const Grid::Row& row =
            g.AddRow(filter ? std::move(src.labels) : DropName(std::move(src.labels)));
        double* v = g.V(row);
        uint8_t* has = g.Has(row);
        const double* sv = vec.V(src);
        const uint8_t* sh = vec.Has(src);
        for (size_t k = 0; k < n_; ++k) {
          if (!sh[k]) continue;
          double res = scalar_left ? Apply(e.op, ks[k], sv[k]) : Apply(e.op, sv[k], ks[k]);
          if (filter) {
            if (res == 0) continue;
            res = sv[k];
          }
          v[k] = res;
          has[k] = 1;
        }
      }
      return g;
    }
    // One-to-one: a signature held by two rows of a side may match twice at some step (an
    // error there, or not): step by step says which.
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < r.rows.size(); ++i) {
      if (!index.emplace(Signature(r.rows[i].labels, e), i).second) ok_ = false;
    }
    std::unordered_set<std::string> left;
    for (Grid::Row& src : l.rows) {
      std::string sig = Signature(src.labels, e);
      if (!left.insert(sig).second) ok_ = false;
      if (!ok_) return {};
      auto it = index.find(sig);
      if (it == index.end()) continue;
      const double* ov = r.V(r.rows[it->second]);
      const uint8_t* oh = r.Has(r.rows[it->second]);
      const double* sv = l.V(src);
      const uint8_t* sh = l.Has(src);
      Labels labels = filter ? std::move(src.labels) : DropName(std::move(src.labels));
      if (e.matching) {
        labels.erase(
            std::remove_if(labels.begin(), labels.end(),
                           [&](const auto& kv) { return e.on != Contains(e.grouping, kv.first); }),
            labels.end());
      }
      const Grid::Row& row = g.AddRow(std::move(labels));
      double* v = g.V(row);
      uint8_t* has = g.Has(row);
      for (size_t k = 0; k < n_; ++k) {
        if (!sh[k] || !oh[k]) continue;
        double res = Apply(e.op, sv[k], ov[k]);
        if (filter) {
          if (res == 0) continue;
          res = sv[k];
        }
        v[k] = res;
        has[k] = 1;
      }
    }
    return g;
  }

  const SeriesStore& store_;
  int64_t first_, step_;
  size_t n_;
  EvalContext range_;
  bool ok_ = true;
};

}  // namespace

std::optional<std::vector<RangeSeries>> EvaluateSteps(const Expr& e, const SeriesStore& store,
                                                      int64_t first, int64_t last, int64_t step,
                                                      EvalContext range) {
  if (step <= 0 || last < first || range.cache == nullptr || !StepEvaluable(e, true)) {
    return std::nullopt;
  }
  const size_t n = static_cast<size_t>((last - first) / step) + 1;
  StepEval ev(store, first, step, n, range);
  Grid g = ev.Run(e);
  if (!ev.ok()) return std::nullopt;
  if (g.scalar) {
    g.AddRow({});
    std::copy(g.s.begin(), g.s.end(), g.v.begin());
    std::fill(g.has.begin(), g.has.end(), 1);
  }
  std::vector<RangeSeries> out;
  for (Grid::Row& row : g.rows) {
    RangeSeries rs{std::move(row.labels), {}};
    const double* v = g.V(row);
    const uint8_t* has = g.Has(row);
    for (size_t k = 0; k < n; ++k) {
      if (has[k]) rs.points.push_back({first + static_cast<int64_t>(k) * step, v[k]});
    }
    if (!rs.points.empty()) out.push_back(std::move(rs));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const RangeSeries& a, const RangeSeries& b) { return a.labels < b.labels; });
  // Two series with one label set: step by step merges them in its own order.
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].labels == out[i - 1].labels) return std::nullopt;
  }
  return out;
}

}  // namespace slipway::promql
