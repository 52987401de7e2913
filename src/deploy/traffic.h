// Traffic: how the deploy controller moves requests between a service's instance sets and reads
// what each set served. The daemon implements it over the proxy (weights go into the routing
// table it publishes; stats come from the proxy's registry); tests may fake it.
//
// Threads: the control loop only.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/status.h"
#include "proxy/proxy_metrics.h"

namespace slipway::deploy {

struct SetWeight {
  uint32_t weight = 0;
  bool draining = false;
};

struct TrafficPlan {
  std::map<std::string, SetWeight> sets;  // by set name; sets not named get weight 0
  std::string sticky_cookie;              // "" = no stickiness
};

class Traffic {
 public:
  virtual ~Traffic() = default;
  // Publishes the plan for `service` and returns once every proxy worker routes by it (so the
  // caller can time a cutover). A service without published ports accepts any plan.
  virtual Status SetPlan(const std::string& service, TrafficPlan plan) = 0;
  // Back to the default: the primary set gets everything.
  virtual Status ClearPlan(const std::string& service) = 0;
  virtual proxy::SetStats Stats(const std::string& service, const std::string& set) const = 0;
};

}  // namespace slipway::deploy
