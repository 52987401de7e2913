// recreate: the service is stopped, then started with the new definition (services without
// published ports, whose instances cannot run side by side). When the new release does not
// come up, the old definition is started again in its place.
#include <fmt/format.h>

#include "deploy/strategy.h"

namespace slipway::deploy {

namespace {

class Recreate final : public Strategy {
 public:
  explicit Recreate(StrategyInput in) : in_(std::move(in)) {}
  config::DeployStrategy kind() const override { return config::DeployStrategy::kRecreate; }

  Decision Next(const Observation& obs) override {
    Decision d;
    if (!rolling_back_) {
      switch (obs.what) {
        case Happened::kBegin:
          d.kind = Decision::Kind::kReplace;
          d.set = Decision::Set::kNew;
          d.note = "recreate: stopping " + obs.old_set;
          return d;
        case Happened::kReplaced:
          d.kind = Decision::Kind::kDone;
          return d;
        case Happened::kFailed:
          rolling_back_ = true;
          reason_ = obs.failure.substr(0, obs.failure.find('\n'));
          d.kind = Decision::Kind::kRollBack;
          d.reason = reason_;
          return d;
        default:
          break;
      }
    } else {
      switch (obs.what) {
        case Happened::kRollbackBegun:
          d.kind = Decision::Kind::kReplace;
          d.set = Decision::Set::kOld;
          d.note = fmt::format("recreate failed, restoring r{}: {}", obs.old_release, reason_);
          return d;
        case Happened::kReplaced:
          d.kind = Decision::Kind::kRolledBack;
          d.reason = reason_;
          return d;
        case Happened::kFailed:
          d.kind = Decision::Kind::kFail;
          d.reason = fmt::format("{}; restoring r{} failed too: {}", reason_, obs.old_release,
                                 obs.failure.substr(0, obs.failure.find('\n')));
          return d;
        default:
          break;
      }
    }
    d.kind = Decision::Kind::kFail;
    d.reason = "unexpected step in recreate";
    return d;
  }

 private:
  const StrategyInput in_;
  bool rolling_back_ = false;
  std::string reason_;
};

}  // namespace

std::unique_ptr<Strategy> MakeRecreate(StrategyInput in) {
  return std::make_unique<Recreate>(std::move(in));
}

}  // namespace slipway::deploy
