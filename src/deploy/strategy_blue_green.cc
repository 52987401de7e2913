// blue-green: the whole new set starts, the smoke command runs, all traffic switches at once,
// the new set is judged for `monitor`, then promoted; the old set stays warm for
// `rollback_window` so a manual rollback is a traffic switch too.
#include <fmt/format.h>

#include "deploy/strategy_shift.h"

namespace slipway::deploy {

namespace {

class BlueGreen final : public ShiftStrategy {
 public:
  explicit BlueGreen(StrategyInput in)
      : ShiftStrategy(std::move(in), {100}, in.ds.monitor, /*sticky=*/false) {}
  config::DeployStrategy kind() const override { return config::DeployStrategy::kBlueGreen; }

 private:
  std::string StepNote(const Observation& obs, size_t) const override {
    return fmt::format("switched all traffic from {} to {} in {:.2f} ms", obs.old_set, obs.new_set,
                       obs.took_ms);
  }
};

}  // namespace

std::unique_ptr<Strategy> MakeBlueGreen(StrategyInput in) {
  return std::make_unique<BlueGreen>(std::move(in));
}

}  // namespace slipway::deploy
