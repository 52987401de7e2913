#include "proxy/balancer.h"

namespace slipway::proxy {

Balancer::Balancer(std::vector<Set> sets, BalancePolicy policy)
    : sets_(std::move(sets)), policy_(policy), current_(sets_.size(), 0), rr_(sets_.size(), 0) {}

void Balancer::SetTraffic(size_t s, uint32_t weight, bool draining) {
  if (s >= sets_.size()) return;
  sets_[s].weight = weight;
  sets_[s].draining = draining;
}

bool Balancer::SetAvailable(size_t s, MonoTime now, const BackendHealth* avoid) const {
  const Set& set = sets_[s];
  if (set.draining || set.weight == 0) return false;
  for (const BackendHealth* b : set.backends)
    if (b->IsUp(now) && b != avoid) return true;
  return false;
}

bool Balancer::AnyInRotation() const {
  for (const Set& set : sets_)
    if (!set.draining && set.weight > 0 && !set.backends.empty()) return true;
  return false;
}

int Balancer::PickInSet(size_t s, MonoTime now, const BackendHealth* avoid, bool strict_avoid) {
  const Set& set = sets_[s];
  const size_t n = set.backends.size();
  if (n == 0) return -1;
  if (policy_ == BalancePolicy::kLeastConnections) {
    int best = -1;
    // Start at the cursor so ties rotate instead of always hitting the first backend.
    uint32_t start = rr_[s]++;
    for (size_t k = 0; k < n; ++k) {
      size_t i = (start + k) % n;
      const BackendHealth* b = set.backends[i];
      if (!b->IsUp(now) || (strict_avoid && b == avoid)) continue;
      if (best < 0 || b->active < set.backends[best]->active) best = static_cast<int>(i);
    }
    return best;
  }
  for (size_t k = 0; k < n; ++k) {
    size_t i = rr_[s]++ % n;
    const BackendHealth* b = set.backends[i];
    if (b->IsUp(now) && !(strict_avoid && b == avoid)) return static_cast<int>(i);
  }
  return -1;
}

Balancer::Pick Balancer::Select(MonoTime now, int prefer_set, const BackendHealth* avoid) {
  // Two passes: first honour `avoid`, then accept it when nothing else is up.
  for (int pass = 0; pass < 2; ++pass) {
    const BackendHealth* skip = pass == 0 ? avoid : nullptr;
    if (prefer_set >= 0 && static_cast<size_t>(prefer_set) < sets_.size() &&
        SetAvailable(prefer_set, now, skip)) {
      int b = PickInSet(prefer_set, now, skip, skip != nullptr);
      if (b >= 0) return Pick{prefer_set, b};
    }
    int64_t total = 0;
    int best = -1;
    for (size_t s = 0; s < sets_.size(); ++s) {
      if (!SetAvailable(s, now, skip)) continue;
      current_[s] += sets_[s].weight;
      total += sets_[s].weight;
      if (best < 0 || current_[s] > current_[best]) best = static_cast<int>(s);
    }
    if (best >= 0) {
      current_[best] -= total;
      int b = PickInSet(best, now, skip, skip != nullptr);
      if (b >= 0) return Pick{best, b};
    }
  }
  // Every backend in rotation is marked down (panic): the marks are this worker's alone and
  // may be stale (a service that was still starting when a request came, a restart), so
  // trying one beats answering 503 until they expire. Marks are ignored for this pick.
  constexpr MonoTime kPanic = MonoTime::max();  // no down_until is later: all count as up
  if (now != kPanic && AnyInRotation()) return Select(kPanic, prefer_set, avoid);
  return Pick{};
}

}  // namespace slipway::proxy
