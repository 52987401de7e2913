#include "daemon/traffic_rates.h"

namespace slipway::daemon {

void TrafficRates::Sample(MonoTime now, const std::map<std::string, TrafficCounts>& totals) {
  for (auto it = history_.begin(); it != history_.end();) {
    it = totals.count(it->first) ? std::next(it) : history_.erase(it);
  }
  for (const auto& [service, counts] : totals) {
    std::deque<Point>& h = history_[service];
    if (!h.empty() && (counts.requests < h.back().counts.requests ||
                       counts.errors_5xx < h.back().counts.errors_5xx)) {
      h.clear();
    }
    h.push_back({now, counts});
    // Keep one point at or beyond the window's start as the baseline.
    while (h.size() > 2 && now - h[1].at >= window_) h.pop_front();
  }
}

TrafficRate TrafficRates::RateOf(const std::string& service) const {
  TrafficRate r;
  auto it = history_.find(service);
  if (it == history_.end() || it->second.size() < 2) return r;
  const Point& first = it->second.front();
  const Point& last = it->second.back();
  double seconds = std::chrono::duration<double>(last.at - first.at).count();
  if (seconds <= 0) return r;
  uint64_t requests = last.counts.requests - first.counts.requests;
  uint64_t errors = last.counts.errors_5xx - first.counts.errors_5xx;
  r.known = true;
  r.requests_per_second = static_cast<double>(requests) / seconds;
  r.error_ratio = requests == 0 ? 0 : static_cast<double>(errors) / static_cast<double>(requests);
  return r;
}

}  // namespace slipway::daemon
