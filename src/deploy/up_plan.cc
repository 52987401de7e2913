#include "deploy/up_plan.h"

#include <algorithm>

#include "engine/spec_hash.h"

namespace slipway::deploy {

UpPlan PlanUp(config::Project file, const std::vector<DeployedService>& deployed,
              const std::vector<std::string>& requested) {
  UpPlan plan;
  for (const DeployedService& d : deployed) {
    auto it = file.services.find(d.name);
    if (it == file.services.end()) continue;
    const bool asked = requested.empty() ||
                       std::find(requested.begin(), requested.end(), d.name) != requested.end();
    const bool unchanged = !d.base_hash.empty() && engine::SpecHash(it->second) == d.base_hash;
    if (unchanged || !asked) {
      plan.keep.push_back(d.name);
    } else {
      plan.deploy.push_back(d.name);
    }
    // Either way the engine sees what runs: kept, or replaced by the deploy, not by Up().
    it->second = d.running;
  }
  plan.project = std::move(file);
  return plan;
}

}  // namespace slipway::deploy
