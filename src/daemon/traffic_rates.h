// TrafficRates: per-service request rate and 5xx share over a sliding window, for `slipway
// ps`. The daemon samples the proxy's cumulative counters (summed over a service's instance
// sets) every few seconds; rates are differences between the newest sample and the oldest
// one still inside the window. A total that goes down (a retired set's counters no longer
// summed) restarts that service's history instead of producing a negative rate.
//
// Plain object owned by the daemon; control loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "base/clock.h"

namespace slipway::daemon {

struct TrafficCounts {
  uint64_t requests = 0;
  uint64_t errors_5xx = 0;
};

struct TrafficRate {
  double requests_per_second = 0;
  double error_ratio = 0;  // 5xx / all, 0 without requests
  bool known = false;      // false until two samples span some time
};

class TrafficRates {
 public:
  explicit TrafficRates(Duration window = Duration(10'000)) : window_(window) {}

  void Sample(MonoTime now, const std::map<std::string, TrafficCounts>& totals);
  TrafficRate RateOf(const std::string& service) const;

 private:
  struct Point {
    MonoTime at;
    TrafficCounts counts;
  };
  Duration window_;
  std::map<std::string, std::deque<Point>> history_;
};

}  // namespace slipway::daemon
