// canary: the whole new set starts, the smoke command runs, then traffic moves in the weight
// steps of `steps` (5, 25, 50, 100 % by default), each judged for `step_duration`; clients
// keep their set by the sticky cookie when one is named. Promoted after the last step.
#include <fmt/format.h>

#include "deploy/strategy_shift.h"

namespace slipway::deploy {

namespace {

class Canary final : public ShiftStrategy {
 public:
  explicit Canary(StrategyInput in)
      : ShiftStrategy(std::move(in), in.ds.steps, in.ds.step_duration,
                      /*sticky=*/!in.ds.sticky_cookie.empty()) {}
  config::DeployStrategy kind() const override { return config::DeployStrategy::kCanary; }

 private:
  std::string StepNote(const Observation& obs, size_t step) const override {
    return fmt::format("canary step {}/{}: {}% to {} ({:.2f} ms)", step + 1, in_.ds.steps.size(),
                       in_.ds.steps[step], obs.new_set, obs.took_ms);
  }
};

}  // namespace

std::unique_ptr<Strategy> MakeCanary(StrategyInput in) {
  return std::make_unique<Canary>(std::move(in));
}

}  // namespace slipway::deploy
