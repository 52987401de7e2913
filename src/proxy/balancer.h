// Balancer: picks the backend for one request of one route.
//
// Across instance sets: smooth weighted round-robin (the nginx algorithm), so a 90/10 split
// is exact over every 10 picks, not just on average. Within a set: round-robin or least
// connections. Backends marked down (passive health) and draining or zero-weight sets are
// skipped; a set with no backend up gives its share to the others. When every backend in
// rotation is marked down, the marks are ignored for the pick (panic mode, as Envoy's panic
// threshold at its extreme): they are one worker's guesses, and a 503 is certain.
//
// One Balancer per route per worker thread: it is mutable and unsynchronised, and only its
// worker may call it. BackendHealth objects are owned by the worker and outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/clock.h"

namespace slipway::proxy {

// Per-worker view of one backend address.
struct BackendHealth {
  int active = 0;         // requests of this worker in flight to it
  MonoTime down_until{};  // skipped until then (connect refused/reset)
  bool IsUp(MonoTime now) const { return down_until <= now; }
};

enum class BalancePolicy { kRoundRobin, kLeastConnections };

class Balancer {
 public:
  struct Set {
    uint32_t weight = 0;
    bool draining = false;
    std::vector<BackendHealth*> backends;
  };
  struct Pick {
    int set = -1;
    int backend = -1;
    bool ok() const { return set >= 0; }
  };

  Balancer(std::vector<Set> sets, BalancePolicy policy);

  // `prefer_set` (sticky) is used when it is in rotation and has a backend up; -1 = none.
  // `avoid` is skipped when another choice exists (a retry goes elsewhere).
  Pick Select(MonoTime now, int prefer_set = -1, const BackendHealth* avoid = nullptr);
  // A new weight and draining mark for set `s` (a route's traffic update): the round-robin and
  // weighted positions are kept, so the split goes on from where it was.
  void SetTraffic(size_t s, uint32_t weight, bool draining);
  size_t set_count() const { return sets_.size(); }

 private:
  int PickInSet(size_t s, MonoTime now, const BackendHealth* avoid, bool strict_avoid);
  bool SetAvailable(size_t s, MonoTime now, const BackendHealth* avoid) const;
  // Some non-draining, weighted set has a backend (up or not).
  bool AnyInRotation() const;

  std::vector<Set> sets_;
  BalancePolicy policy_;
  std::vector<int64_t> current_;  // smooth WRR state per set
  std::vector<uint32_t> rr_;      // round-robin cursor per set
};

}  // namespace slipway::proxy
