// Prometheus' HTTP query API over the daemon's series store, so Grafana's Prometheus data
// source, promtool and `slipway query` can read what Slipway scrapes and evaluates:
//   GET|POST /api/v1/query          query, time                → vector | scalar | matrix
//   GET|POST /api/v1/query_range    query, start, end, step    → matrix
//   GET|POST /api/v1/series         match[]..., start, end     → [labels...]
//   GET|POST /api/v1/labels         [match[]...], start, end   → [names...]
//   GET      /api/v1/label/{name}/values                        → [values...]
//   GET      /api/v1/targets        the scrape targets and their last scrape
// Access: that of GET /metrics (public unless x-slipway.api.public_metrics is false, then the
// read token): the same metrics, and Prometheus' clients (promtool) send no token.
// Parameters come from the query string or, for POST, a form body (what Prometheus' clients
// send first). Answers and errors have Prometheus' shapes: {"status":"success","data":...},
// {"status":"error","errorType":"bad_data","error":"..."} with 400 for bad parameters and
// expressions, 422 "execution" for an expression that fails on the data, 503 "timeout".
// Bounds: 11,000 points per series in a range query (as Prometheus), 5,000,000 points in one
// answer, and the query's `timeout` (default and at most 2 minutes) checked between steps.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <unordered_set>

#include "api/routes.h"
#include "net/event_loop.h"
#include "promql/evaluator.h"
#include "promql/exposition.h"
#include "promql/parser.h"
#include "promql/series_store.h"

namespace slipway::api {

namespace {

using nlohmann::json;

constexpr int64_t kMaxPointsPerSeries = 11'000;
constexpr size_t kMaxPoints = 5'000'000;
constexpr int64_t kMaxTimeoutMs = 120'000;

// The request's parameters: the query string, then a POST's form body; repeated keys kept.
struct Params {
  std::multimap<std::string, std::string> values;
  std::string error;  // a malformed encoding; answered as bad_data by the handler

  static Result<Params> Parse(const RouteCall& call) {
    Params p;
    p.Add(call.request.Query());
    if (call.request.method == "POST") {
      const std::string* ct = call.request.Header("content-type");
      if (ct && ct->rfind("application/x-www-form-urlencoded", 0) == 0) {
        p.Add(call.request.body);
      } else if (!call.request.body.empty()) {
        p.error = "a POST body must be a form (application/x-www-form-urlencoded)";
      }
    }
    return p;
  }

  void Add(std::string_view text) {
    while (!text.empty()) {
      size_t amp = text.find('&');
      std::string_view pair = text.substr(0, amp);
      text.remove_prefix(amp == std::string_view::npos ? text.size() : amp + 1);
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      auto k = PercentDecode(pair.substr(0, eq), true);
      auto v = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!k.ok() || !v.ok()) {
        error = "malformed parameter encoding";
        continue;
      }
      values.emplace(std::move(*k), std::move(*v));
    }
  }

  const std::string* Get(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() ? nullptr : &it->second;
  }
  std::vector<std::string> All(const std::string& k) const {
    std::vector<std::string> out;
    for (auto [it, end] = values.equal_range(k); it != end; ++it) out.push_back(it->second);
    return out;
  }
};

struct ApiError {
  int status;
  std::string type;
  std::string message;
};

// Prometheus' error shape, with the "exit" every admin API error carries (api/reply.h): the
// caller's bad input (400) is exit 2.
void Fail(const Reply& reply, const ApiError& e) {
  reply.Json(e.status, {{"status", "error"},
                        {"errorType", e.type},
                        {"error", e.message},
                        {"exit", e.status == 400 ? 2 : 1}});
}
ApiError BadData(std::string m) { return {400, "bad_data", std::move(m)}; }

void Success(const Reply& reply, json data) {
  reply.Json(200, {{"status", "success"}, {"data", std::move(data)}});
}

// Go's strconv.FormatFloat(v, 'f', -1, 64), what Prometheus writes sample values with.
std::string FormatSample(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

json TimeJson(int64_t t_ms) { return static_cast<double>(t_ms) / 1000.0; }

json LabelsJson(const promql::Labels& l) {
  json m = json::object();
  for (const auto& [k, v] : l) m[k] = v;
  return m;
}

// Unix seconds (fractions allowed) or RFC 3339.
bool ParseTime(const std::string& s, int64_t* out_ms) {
  if (s.empty() || s.size() > 64) return false;
  double secs = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
  if (ec == std::errc() && p == s.data() + s.size()) {
    if (!std::isfinite(secs) || std::fabs(secs) > 1e13) return false;
    *out_ms = static_cast<int64_t>(std::llround(secs * 1000));
    return true;
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  std::string_view rest(s.c_str() + consumed);
  if (!rest.empty() && rest[0] == '.') {
    rest.remove_prefix(1);
    int64_t frac = 0, scale = 1000;
    size_t digits = 0;
    while (!rest.empty() && rest[0] >= '0' && rest[0] <= '9' && digits < 9) {
      frac = frac * 10 + (rest[0] - '0');
      scale *= 10;
      rest.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) return false;
    ms += frac * 1000 / (scale / 1000);
  }
  if (rest == "Z") {
    *out_ms = ms;
    return true;
  }
  int oh = 0, om = 0;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
      std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
    const int64_t off = (oh * 3600 + om * 60) * int64_t{1000};
    *out_ms = rest[0] == '+' ? ms - off : ms + off;
    return true;
  }
  return false;
}

// Seconds (fractions allowed) or a PromQL duration.
bool ParseStep(const std::string& s, int64_t* out_ms) {
  double secs = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
  if (!s.empty() && ec == std::errc() && p == s.data() + s.size()) {
    if (!std::isfinite(secs) || std::fabs(secs) > 1e12) return false;
    *out_ms = static_cast<int64_t>(std::llround(secs * 1000));
    return true;
  }
  int64_t d = promql::ParsePromDuration(s);
  if (d < 0) return false;
  *out_ms = d;
  return true;
}

bool TimeParam(const Params& p, const std::string& key, int64_t fallback, int64_t* out,
               ApiError* err) {
  const std::string* v = p.Get(key);
  if (!v) {
    *out = fallback;
    return true;
  }
  if (!ParseTime(*v, out)) {
    *err =
        BadData(fmt::format("invalid parameter \"{}\": cannot parse \"{:.64}\" to a valid "
                            "timestamp",
                            key, *v));
    return false;
  }
  return true;
}

Result<promql::ExprPtr> ParseQuery(const Params& p, ApiError* err) {
  const std::string* q = p.Get("query");
  if (!q || q->empty()) {
    *err = BadData(
        "invalid parameter \"query\": unknown position: parse error: no expression "
        "found in input");
    return InvalidInput(err->message);
  }
  if (q->size() > 64 * 1024) {
    *err = BadData("invalid parameter \"query\": longer than 64 KiB");
    return InvalidInput(err->message);
  }
  auto e = promql::Parse(*q);
  if (!e.ok()) {
    *err = BadData("invalid parameter \"query\": " + e.status().message());
    return e.status();
  }
  return e;
}

bool Timeout(const Params& p, int64_t* ms, ApiError* err) {
  *ms = kMaxTimeoutMs;
  if (const std::string* t = p.Get("timeout")) {
    if (!ParseStep(*t, ms) || *ms <= 0) {
      *err =
          BadData(fmt::format("invalid parameter \"timeout\": cannot parse \"{:.64}\" to a "
                              "valid duration",
                              *t));
      return false;
    }
    *ms = std::min(*ms, kMaxTimeoutMs);
  }
  return true;
}

ApiError ExecError(const Status& s) { return {422, "execution", s.message()}; }

// Appends one point of a range answer, `[t,"v"]`, as nlohmann writes it: `time` is the step's
// TimeJson() text, the value a string (digits, sign, point, "NaN", "+Inf": nothing to escape).
void AppendPoint(std::string* values, const std::string& time, double v) {
  if (!values->empty()) *values += ',';
  *values += '[';
  *values += time;
  *values += ",\"";
  if (std::isfinite(v)) {
    char buf[400];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    values->append(buf, r.ptr);
  } else {
    *values += FormatSample(v);
  }
  *values += "\"]";
}

// The matrix of a range selector or subquery at t (an instant query of `up[5m]`).
Result<json> RangeSelection(const promql::Expr& e, const promql::SeriesStore& store, int64_t t,
                            int64_t subquery_step_ms) {
  ASSIGN_OR_RETURN(std::vector<promql::RangeSeries> rows,
                   promql::EvaluateMatrix(e, store, t, {t, t, subquery_step_ms}));
  json result = json::array();
  for (promql::RangeSeries& r : rows) {
    json values = json::array();
    for (const promql::Point& pt : r.points) {
      values.push_back({TimeJson(pt.t_ms), FormatSample(pt.v)});
    }
    result.push_back({{"metric", LabelsJson(r.labels)}, {"values", std::move(values)}});
  }
  return result;
}

// Selectors of match[] (at least one); each must be a plain instant selector.
bool Matchers(const Params& p, bool required, std::vector<promql::ExprPtr>* out, ApiError* err) {
  std::vector<std::string> ms = p.All("match[]");
  if (ms.empty() && required) {
    *err = BadData("no match[] parameter provided");
    return false;
  }
  for (const std::string& m : ms) {
    auto e = promql::Parse(m);
    if (!e.ok() || (*e)->kind != promql::Expr::Kind::kSelector || (*e)->range_ms != 0) {
      *err = BadData(
          fmt::format("invalid parameter \"match[]\": {}",
                      e.ok() ? "expected an instant vector selector" : e.status().message()));
      return false;
    }
    bool non_empty = false;
    for (const promql::Matcher& mm : (*e)->matchers) {
      if (!mm.Matches("")) non_empty = true;
    }
    if (!non_empty) {
      *err = BadData(
          "invalid parameter \"match[]\": match[] must contain at least one "
          "non-empty matcher");
      return false;
    }
    out->push_back(std::move(e).value());
  }
  return true;
}

// Series matching any selector (all when none) with a sample in [start, end]; each selector
// reads only the series of its metric name, as the evaluator does.
std::vector<const promql::SeriesStore::Series*> Select(const promql::SeriesStore& store,
                                                       const std::vector<promql::ExprPtr>& sels,
                                                       int64_t start, int64_t end) {
  auto in_range = [&](const promql::SeriesStore::Series* s) {
    return s->last_t >= start && s->first_t() <= end;
  };
  std::vector<const promql::SeriesStore::Series*> out;
  if (sels.empty()) {
    for (const promql::SeriesStore::Series* s : store.ByName("")) {
      if (in_range(s)) out.push_back(s);
    }
    return out;
  }
  std::unordered_set<const promql::SeriesStore::Series*> seen;
  for (const promql::ExprPtr& e : sels) {
    for (const promql::SeriesStore::Series* s : store.ByName(e->text)) {
      if (in_range(s) && promql::SelectorMatches(*s, *e) && seen.insert(s).second) {
        out.push_back(s);
      }
    }
  }
  return out;
}

// A range query in progress: evaluated a slice of steps at a time so that a long query (up to
// 11,000 steps and a 2 minute timeout) never holds the control loop for more than a slice;
// the proxy's route updates, health checks and other requests run between slices. The steps
// share one SelectionCache: each selector's series are matched and decoded once, by the step
// that first reads them, so the answer is the store as of that step even when scrapes land
// between slices (as Prometheus' querier reads a snapshot). Expressions the step evaluator
// takes (promql::EvaluateSteps: selectors, range functions, aggregations, one-to-one
// arithmetic) are evaluated kStepsAtOnce steps at a time, the others one step at a time.
struct RangeQuery {
  promql::ExprPtr expr;
  int64_t start = 0, t = 0, end = 0, step = 0;
  int64_t subquery_step = promql::kDefaultSubqueryStepMs;  // of `x[5m:]`
  std::chrono::steady_clock::time_point deadline;
  // Per series, its points as JSON text: `[t,"v"],[t,"v"]` (the answer is written directly).
  std::map<promql::Labels, std::string> series;
  size_t points = 0;
  Reply reply;
  std::unique_ptr<promql::SelectionCache> cache;
  bool at_once = true;  // evaluate kStepsAtOnce steps at a time while the query allows it
};

constexpr auto kRangeSlice = std::chrono::milliseconds(5);
// Steps evaluated in one promql::EvaluateSteps: its per-series work (labels, groups) is done
// once per that many steps, and a slice's length stays bounded.
constexpr int64_t kStepsAtOnce = 64;

void EvaluateRange(std::shared_ptr<RangeQuery> q, const promql::SeriesStore* store,
                   net::EventLoop* loop) {
  const auto slice_end = std::chrono::steady_clock::now() + kRangeSlice;
  for (; q->t <= q->end; q->t += q->step) {
    const auto now = std::chrono::steady_clock::now();
    if (now > q->deadline) {
      return Fail(q->reply, {503, "timeout", "query timed out in expression evaluation"});
    }
    if (loop != nullptr && now > slice_end) {
      loop->Post(
          [q = std::move(q), store, loop]() mutable { EvaluateRange(std::move(q), store, loop); });
      return;
    }
    const promql::EvalContext ctx{q->start, q->end, q->subquery_step, q->cache.get()};
    if (q->at_once) {
      // Up to kStepsAtOnce steps in one evaluation; step by step when the query needs it.
      const int64_t last = std::min(q->end, q->t + (kStepsAtOnce - 1) * q->step);
      auto rows = promql::EvaluateSteps(*q->expr, *store, q->t, last, q->step, ctx);
      if (rows.has_value()) {
        std::vector<std::string> times;  // the chunk's step times as JSON numbers
        for (int64_t t = q->t; t <= last; t += q->step) times.push_back(TimeJson(t).dump());
        for (promql::RangeSeries& r : *rows) {
          std::string& values = q->series[r.labels];
          for (const promql::Point& p : r.points) {
            AppendPoint(&values, times[static_cast<size_t>((p.t_ms - q->t) / q->step)], p.v);
          }
          q->points += r.points.size();
        }
        if (q->points > kMaxPoints) {
          return Fail(q->reply, {422, "execution",
                                 "query processing would load too many samples into memory in "
                                 "query execution"});
        }
        q->t = last;  // the loop's increment moves past it
        continue;
      }
      q->at_once = false;
    }
    auto v = promql::Evaluate(*q->expr, *store, q->t, ctx);
    if (!v.ok()) return Fail(q->reply, ExecError(v.status()));
    if (v->type == promql::ValueType::kScalar) v->vector.push_back({{}, v->scalar});
    const std::string time = TimeJson(q->t).dump();
    for (promql::Sample& s : v->vector) AppendPoint(&q->series[s.labels], time, s.value);
    q->points += v->vector.size();
    if (q->points > kMaxPoints) {
      return Fail(q->reply, {422, "execution",
                             "query processing would load too many samples into memory in query "
                             "execution"});
    }
  }
  // What Success() writes for {"resultType": "matrix", "result": [...]} (keys in nlohmann's
  // order), without a json value per point.
  std::string body = R"({"data":{"result":[)";
  for (auto& [labels, values] : q->series) {
    if (body.back() == '}') body += ',';
    body += R"({"metric":)";
    body += LabelsJson(labels).dump(-1, ' ', false, json::error_handler_t::replace);
    body += R"(,"values":[)";
    body += values;
    body += "]}";
  }
  body += R"(],"resultType":"matrix"},"status":"success"})";
  q->reply.Send(JsonTextResponse(200, std::move(body)));
}

}  // namespace

void RegisterQueryRoutes(Router& r, const RouteDeps& d) {
  const promql::SeriesStore* store = d.series;
  if (store == nullptr) return;
  Clock* clock = Clock::Real();
  // The same metrics /metrics exposes (and the services' own): the same access.
  const Access access = d.public_metrics ? Access::kPublic : Access::kRead;

  const int64_t sub_step = d.subquery_step_ms;
  auto instant = [store, clock, sub_step](Params p, Reply reply) {
    ApiError err{};
    if (!p.error.empty()) return Fail(reply, BadData(p.error));
    auto expr = ParseQuery(p, &err);
    if (!expr.ok()) return Fail(reply, err);
    int64_t t = 0, timeout = 0;
    if (!TimeParam(p, "time", clock->WallMillis(), &t, &err) || !Timeout(p, &timeout, &err)) {
      return Fail(reply, err);
    }
    const promql::Expr& e = **expr;
    if (e.type == promql::ValueType::kMatrix) {
      auto m = RangeSelection(e, *store, t, sub_step);
      if (!m.ok()) return Fail(reply, ExecError(m.status()));
      return Success(reply, {{"resultType", "matrix"}, {"result", std::move(m).value()}});
    }
    if (e.type == promql::ValueType::kString) {
      return Success(reply, {{"resultType", "string"}, {"result", {TimeJson(t), e.text}}});
    }
    auto v = promql::Evaluate(e, *store, t, {t, t, sub_step});
    if (!v.ok()) return Fail(reply, ExecError(v.status()));
    if (v->type == promql::ValueType::kScalar) {
      return Success(
          reply, {{"resultType", "scalar"}, {"result", {TimeJson(t), FormatSample(v->scalar)}}});
    }
    json result = json::array();
    for (const promql::Sample& s : v->vector) {
      result.push_back(
          {{"metric", LabelsJson(s.labels)}, {"value", {TimeJson(t), FormatSample(s.value)}}});
    }
    Success(reply, {{"resultType", "vector"}, {"result", std::move(result)}});
  };

  auto range = [store, loop = d.loop, sub_step](Params p, Reply reply) {
    ApiError err{};
    if (!p.error.empty()) return Fail(reply, BadData(p.error));
    auto expr = ParseQuery(p, &err);
    if (!expr.ok()) return Fail(reply, err);
    int64_t start = 0, end = 0, step = 0, timeout = 0;
    for (const char* k : {"start", "end", "step"}) {
      if (!p.Get(k))
        return Fail(reply, BadData(fmt::format("invalid parameter \"{}\": missing", k)));
    }
    if (!TimeParam(p, "start", 0, &start, &err) || !TimeParam(p, "end", 0, &end, &err) ||
        !Timeout(p, &timeout, &err)) {
      return Fail(reply, err);
    }
    if (end < start) {
      return Fail(reply, BadData("invalid parameter \"end\": end timestamp must not be before "
                                 "start time"));
    }
    if (!ParseStep(*p.Get("step"), &step)) {
      return Fail(reply, BadData(fmt::format("invalid parameter \"step\": cannot parse \"{:.64}\" "
                                             "to a valid duration",
                                             *p.Get("step"))));
    }
    if (step <= 0) {
      return Fail(reply, BadData("invalid parameter \"step\": zero or negative query resolution "
                                 "step widths are not accepted. Try a positive integer"));
    }
    if ((end - start) / step >= kMaxPointsPerSeries) {
      return Fail(reply, BadData("exceeded maximum resolution of 11,000 points per timeseries. "
                                 "Try decreasing the query resolution (?step=XX)"));
    }
    const promql::Expr& e = **expr;
    if (e.type != promql::ValueType::kVector && e.type != promql::ValueType::kScalar) {
      return Fail(reply, BadData(fmt::format("invalid parameter \"query\": invalid expression "
                                             "type \"{}\" for range query, must be Scalar or "
                                             "instant Vector",
                                             e.type == promql::ValueType::kMatrix
                                                 ? "range vector"
                                                 : promql::ValueTypeName(e.type))));
    }
    auto q = std::make_shared<RangeQuery>(
        RangeQuery{std::move(expr).value(),
                   start,
                   start,
                   end,
                   step,
                   sub_step,
                   std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout),
                   {},
                   0,
                   reply,
                   std::make_unique<promql::SelectionCache>()});
    EvaluateRange(std::move(q), store, loop);
  };

  auto series = [store](Params p, Reply reply) {
    ApiError err{};
    if (!p.error.empty()) return Fail(reply, BadData(p.error));
    std::vector<promql::ExprPtr> sels;
    int64_t start = 0, end = 0;
    if (!Matchers(p, true, &sels, &err) || !TimeParam(p, "start", INT64_MIN, &start, &err) ||
        !TimeParam(p, "end", INT64_MAX, &end, &err)) {
      return Fail(reply, err);
    }
    std::vector<promql::Labels> rows;
    for (const auto* s : Select(*store, sels, start, end)) rows.push_back(s->labels);
    std::sort(rows.begin(), rows.end());
    json data = json::array();
    for (const promql::Labels& l : rows) data.push_back(LabelsJson(l));
    Success(reply, std::move(data));
  };

  auto labels = [store](Params p, Reply reply) {
    ApiError err{};
    if (!p.error.empty()) return Fail(reply, BadData(p.error));
    std::vector<promql::ExprPtr> sels;
    int64_t start = 0, end = 0;
    if (!Matchers(p, false, &sels, &err) || !TimeParam(p, "start", INT64_MIN, &start, &err) ||
        !TimeParam(p, "end", INT64_MAX, &end, &err)) {
      return Fail(reply, err);
    }
    std::set<std::string> names;
    for (const auto* s : Select(*store, sels, start, end)) {
      for (const auto& [k, v] : s->labels) names.insert(k);
    }
    Success(reply, json(std::vector<std::string>(names.begin(), names.end())));
  };

  for (Method m : {Method::kGet, Method::kPost}) {
    const size_t body = m == Method::kPost ? kSmallBody : kNoBody;
    r.Add<Params>({m, "/api/v1/query", access, body}, instant);
    r.Add<Params>({m, "/api/v1/query_range", access, body}, range);
    r.Add<Params>({m, "/api/v1/series", access, body}, series);
    r.Add<Params>({m, "/api/v1/labels", access, body}, labels);
  }
  struct ValuesReq {
    Params p;
    std::string name;
  };
  r.Add(
      {Method::kGet, "/api/v1/label/{name}/values", access},
      [](const RouteCall& c) -> Result<ValuesReq> {
        ASSIGN_OR_RETURN(Params p, Params::Parse(c));
        return ValuesReq{std::move(p), std::string(c.Param("name"))};
      },
      [store](ValuesReq req, Reply reply) {
        ApiError err{};
        const Params& p = req.p;
        if (!p.error.empty()) return Fail(reply, BadData(p.error));
        if (req.name != "__name__" && !promql::IsLabelName(req.name)) {
          return Fail(reply, BadData(fmt::format("invalid label name: \"{:.128}\"", req.name)));
        }
        std::vector<promql::ExprPtr> sels;
        int64_t start = 0, end = 0;
        if (!Matchers(p, false, &sels, &err) || !TimeParam(p, "start", INT64_MIN, &start, &err) ||
            !TimeParam(p, "end", INT64_MAX, &end, &err)) {
          return Fail(reply, err);
        }
        std::set<std::string> values;
        for (const auto* s : Select(*store, sels, start, end)) {
          std::string_view v = promql::LabelValue(s->labels, req.name);
          if (!v.empty()) values.emplace(v);
        }
        Success(reply, json(std::vector<std::string>(values.begin(), values.end())));
      });
  if (d.targets) {
    auto targets = d.targets;
    r.Add<NoInput>({Method::kGet, "/api/v1/targets", access},
                   [targets](NoInput, Reply reply) { Success(reply, targets()); });
  }
}

}  // namespace slipway::api
