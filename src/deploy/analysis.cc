#include "deploy/analysis.h"

#include <fmt/format.h>

#include <algorithm>

namespace slipway::deploy {

using nlohmann::json;

WindowStats Delta(const proxy::SetStats& older, const proxy::SetStats& newer) {
  WindowStats w;
  w.requests = newer.requests >= older.requests ? newer.requests - older.requests : 0;
  w.errors_5xx = newer.errors_5xx >= older.errors_5xx ? newer.errors_5xx - older.errors_5xx : 0;
  telemetry::HistogramSnapshot d = newer.latency;
  if (older.latency.buckets.size() == d.buckets.size()) {
    for (size_t i = 0; i < d.buckets.size(); ++i) {
      d.buckets[i] =
          d.buckets[i] >= older.latency.buckets[i] ? d.buckets[i] - older.latency.buckets[i] : 0;
    }
    d.count = d.count >= older.latency.count ? d.count - older.latency.count : 0;
    d.sum -= older.latency.sum;
  }
  w.p95_seconds = d.count > 0 ? d.Quantile(0.95) : 0;
  return w;
}

Analyzer::Analyzer(config::DeployAnalysis a, int baseline_restarts)
    : a_(a), baseline_restarts_(baseline_restarts) {}

void Analyzer::Add(MonoTime t, const proxy::SetStats& new_set, const proxy::SetStats& old_set) {
  Sample s{t, new_set, old_set};
  if (!first_) first_ = s;
  window_.push_back(std::move(s));
  // Keep one sample at or before the window's start, so the delta covers the whole window.
  while (window_.size() > 2 && t - window_[1].t >= a_.window) window_.pop_front();
}

json VerdictNumbers::ToJson() const {
  json j = {{"instances", instances},
            {"ready", ready},
            {"restarts", restarts},
            {"crashed", crashed},
            {"failing_probes", failing_probes}};
  if (windowed) {
    j["window_s"] = window_s;
    j["requests"] = requests;
    j["errors_5xx"] = errors_5xx;
    j["p95_ms"] = p95_ms;
    j["old_requests"] = old_requests;
    j["old_errors_5xx"] = old_errors_5xx;
    j["old_p95_ms"] = old_p95_ms;
  }
  if (error_rate) j["error_rate"] = *error_rate;
  if (p95_limit_ms) j["p95_limit_ms"] = *p95_limit_ms;
  return j;
}

json AnalysisTotals::ToJson() const {
  return {{"new_requests", new_requests}, {"new_5xx", new_5xx}, {"new_p95_ms", new_p95_ms},
          {"old_requests", old_requests}, {"old_5xx", old_5xx}, {"old_p95_ms", old_p95_ms}};
}

Verdict Analyzer::Judge(const GroupView& g) const {
  Verdict v;
  v.numbers.instances = g.instances;
  v.numbers.ready = g.ready;
  v.numbers.restarts = g.restarts - baseline_restarts_;
  v.numbers.crashed = g.crashed;
  v.numbers.failing_probes = g.max_failing_streak;
  if (g.crashed > 0 || g.restarts > baseline_restarts_) {
    v.breach = true;
    v.kind = BreachKind::kCrash;
    v.reason = g.problem.empty()
                   ? fmt::format("{} restart(s) of the new set", g.restarts - baseline_restarts_)
                   : "crashed: " + g.problem;
    return v;
  }
  if (g.max_failing_streak >= a_.health_failures || g.unhealthy > 0) {
    v.breach = true;
    v.kind = BreachKind::kHealth;
    v.reason = fmt::format("{} consecutive health-check failures{}", g.max_failing_streak,
                           g.problem.empty() ? "" : " (" + g.problem + ")");
    return v;
  }
  if (window_.size() < 2) return v;
  WindowStats n = Delta(window_.front().new_set, window_.back().new_set);
  WindowStats o = Delta(window_.front().old_set, window_.back().old_set);
  double window_s = std::chrono::duration<double>(window_.back().t - window_.front().t).count();
  v.numbers.windowed = true;
  v.numbers.window_s = window_s;
  v.numbers.requests = n.requests;
  v.numbers.errors_5xx = n.errors_5xx;
  v.numbers.p95_ms = n.p95_seconds * 1000;
  v.numbers.old_requests = o.requests;
  v.numbers.old_errors_5xx = o.errors_5xx;
  v.numbers.old_p95_ms = o.p95_seconds * 1000;
  if (n.requests < static_cast<uint64_t>(a_.min_requests) || n.requests == 0) return v;
  double rate = static_cast<double>(n.errors_5xx) / static_cast<double>(n.requests);
  v.numbers.error_rate = rate;
  if (rate > a_.max_error_rate) {
    v.breach = true;
    v.kind = BreachKind::kErrorRate;
    v.reason = fmt::format("5xx rate {:.1f}% > {:.1f}% ({} of {} requests in {:.1f} s)", rate * 100,
                           a_.max_error_rate * 100, n.errors_5xx, n.requests, window_s);
    return v;
  }
  double limit = std::chrono::duration<double>(a_.max_p95).count();
  if (o.requests >= static_cast<uint64_t>(std::max(1, a_.min_requests))) {
    limit = std::max(limit, a_.p95_factor * o.p95_seconds);
  }
  v.numbers.p95_limit_ms = limit * 1000;
  if (n.p95_seconds > limit) {
    v.breach = true;
    v.kind = BreachKind::kLatency;
    v.reason = fmt::format("p95 latency {:.0f} ms > {:.0f} ms ({} requests in {:.1f} s)",
                           n.p95_seconds * 1000, limit * 1000, n.requests, window_s);
  }
  return v;
}

std::optional<AnalysisTotals> Analyzer::Totals() const {
  if (!first_ || window_.empty()) return std::nullopt;
  WindowStats n = Delta(first_->new_set, window_.back().new_set);
  WindowStats o = Delta(first_->old_set, window_.back().old_set);
  AnalysisTotals t;
  t.new_requests = n.requests;
  t.new_5xx = n.errors_5xx;
  t.new_p95_ms = n.p95_seconds * 1000;
  t.old_requests = o.requests;
  t.old_5xx = o.errors_5xx;
  t.old_p95_ms = o.p95_seconds * 1000;
  return t;
}

}  // namespace slipway::deploy
