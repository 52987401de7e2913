// LiveSets: what each set of a running deploy served over the last second or so (responses,
// 5xx, p95), for the dashboard's deploy view, beside the analysis' own window (which moves only
// when the analysis samples, seconds apart). Fed with the same cumulative per-set counters the
// analysis reads (Traffic::Stats), each time the live view asks (the event stream checks twice a
// second); the numbers are the difference between the newest read and the newest one at least
// kSpan older (or the oldest kept).
//
// Bounded: reads closer than kMinSpacing to the last kept one are not kept, reads older than
// kKeep are dropped, and at most kMaxSamples are held, however often the view is asked for.
//
// Plain logic fed with samples (tested without a proxy). One owner (the job runner), the
// control loop's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "base/clock.h"
#include "proxy/proxy_metrics.h"

namespace slipway::deploy {

// One set's responses over the live window.
struct LiveSetNumbers {
  uint64_t requests = 0;
  uint64_t errors_5xx = 0;
  double p95_ms = 0;                 // 0 without responses
  std::optional<double> error_rate;  // 5xx / responses; none without responses
};

// Both sets over the live window that ended at `at_ms` (wall clock, ms).
struct LiveNumbers {
  int64_t at_ms = 0;
  double window_s = 0;
  LiveSetNumbers new_set;
  LiveSetNumbers old_set;
};

class LiveSets {
 public:
  static constexpr Duration kMinSpacing{200};
  static constexpr Duration kSpan{1000};
  static constexpr Duration kKeep{5000};
  static constexpr size_t kMaxSamples = 32;

  // A read of both sets' cumulative counters at `t` (wall clock `wall_ms`).
  void Add(MonoTime t, int64_t wall_ms, const proxy::SetStats& new_set,
           const proxy::SetStats& old_set);
  // The numbers over the live window; none before two reads were kept.
  std::optional<LiveNumbers> Numbers() const;
  size_t size() const { return samples_.size(); }

 private:
  struct Sample {
    MonoTime t;
    int64_t wall_ms = 0;
    proxy::SetStats new_set;
    proxy::SetStats old_set;
  };
  std::deque<Sample> samples_;
};

}  // namespace slipway::deploy
