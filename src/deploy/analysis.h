// Analyzer: judges a new instance set from the proxy's own counters and the engine's view of its
// instances, over a sliding window. Breaches: 5xx rate above max_error_rate, p95 above
// max(max_p95, p95_factor × the old set's p95), a run of failed health probes, crashes or
// restarts. Rates and latency are judged only once the window holds min_requests responses.
//
// Plain logic fed with samples (time + cumulative stats), so it is tested without a proxy.
// One owner, one thread (the deploy controller on the control loop).
#pragma once

#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/clock.h"
#include "config/deploy_settings.h"
#include "deploy/groups.h"
#include "proxy/proxy_metrics.h"

namespace slipway::deploy {

// What a verdict used. The window figures are set once the window holds two samples.
struct VerdictNumbers {
  int instances = 0;
  int ready = 0;
  int restarts = 0;  // since judging began
  int crashed = 0;
  int failing_probes = 0;
  bool windowed = false;
  double window_s = 0;
  uint64_t requests = 0;
  uint64_t errors_5xx = 0;
  double p95_ms = 0;
  uint64_t old_requests = 0;
  uint64_t old_errors_5xx = 0;
  double old_p95_ms = 0;
  std::optional<double> error_rate;    // once min_requests responses are in the window
  std::optional<double> p95_limit_ms;  // idem
  nlohmann::json ToJson() const;
};

// Which rule a breach broke.
enum class BreachKind { kNone, kCrash, kHealth, kErrorRate, kLatency };

struct Verdict {
  bool breach = false;
  BreachKind kind = BreachKind::kNone;
  std::string reason;  // one line: "5xx rate 48.2% > 5.0% (241 of 500 requests)"
  VerdictNumbers numbers;
};

// Both sets' responses since judging began (for the release's numbers).
struct AnalysisTotals {
  uint64_t new_requests = 0;
  uint64_t new_5xx = 0;
  double new_p95_ms = 0;
  uint64_t old_requests = 0;
  uint64_t old_5xx = 0;
  double old_p95_ms = 0;
  nlohmann::json ToJson() const;
};

// Window figures of one set: responses, 5xx and p95 between two cumulative reads.
struct WindowStats {
  uint64_t requests = 0;
  uint64_t errors_5xx = 0;
  double p95_seconds = 0;
};
WindowStats Delta(const proxy::SetStats& older, const proxy::SetStats& newer);

class Analyzer {
 public:
  // `baseline_restarts`: the new set's restarts when judging began (instances may have
  // restarted while becoming healthy; only later ones count).
  Analyzer(config::DeployAnalysis a, int baseline_restarts = 0);

  // Adds a sample of both sets' cumulative counters; drops samples older than the window.
  void Add(MonoTime t, const proxy::SetStats& new_set, const proxy::SetStats& old_set);

  // The verdict now, from the window and the new group's state.
  Verdict Judge(const GroupView& group) const;

  // Totals since the first sample; nullopt before two samples.
  std::optional<AnalysisTotals> Totals() const;

 private:
  struct Sample {
    MonoTime t;
    proxy::SetStats new_set;
    proxy::SetStats old_set;
  };
  config::DeployAnalysis a_;
  int baseline_restarts_;
  std::deque<Sample> window_;
  std::optional<Sample> first_;
};

}  // namespace slipway::deploy
