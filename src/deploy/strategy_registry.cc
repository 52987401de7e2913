// The registry of strategies: one line each. Their names are config::DeployStrategies().
#include "deploy/strategy.h"

namespace slipway::deploy {

std::unique_ptr<Strategy> MakeStrategy(config::DeployStrategy kind, StrategyInput in) {
  switch (kind) {
    case config::DeployStrategy::kBlueGreen:
      return MakeBlueGreen(std::move(in));
    case config::DeployStrategy::kCanary:
      return MakeCanary(std::move(in));
    case config::DeployStrategy::kRolling:
      return MakeRolling(std::move(in));
    case config::DeployStrategy::kRecreate:
      return MakeRecreate(std::move(in));
  }
  return nullptr;
}

Rollout RolloutOf(const config::UpdateConfig& u) {
  Rollout r;
  r.parallelism = u.parallelism;
  r.delay = u.delay;
  r.failure_action = u.failure_action;
  r.monitor = u.monitor;
  r.max_failure_ratio = u.max_failure_ratio;
  r.order = u.order;
  const config::UpdateConfig d;
  r.given = u.parallelism != d.parallelism || u.delay != d.delay ||
            u.failure_action != d.failure_action || u.monitor != d.monitor ||
            u.max_failure_ratio != d.max_failure_ratio || u.order != d.order;
  return r;
}

StrategyInput MakeStrategyInput(const config::Service& spec, const config::Service& old_spec,
                                const config::DeploySettings& ds) {
  StrategyInput in;
  in.spec = spec;
  in.old_spec = old_spec;
  in.ds = ds;
  in.update = RolloutOf(spec.update_config);
  in.rollback = RolloutOf(spec.rollback_config);
  return in;
}

const char* DecisionKindName(Decision::Kind k) {
  switch (k) {
    case Decision::Kind::kStart:
      return "start";
    case Decision::Kind::kResize:
      return "resize";
    case Decision::Kind::kSetWeights:
      return "set-weights";
    case Decision::Kind::kClearWeights:
      return "clear-weights";
    case Decision::Kind::kSmoke:
      return "smoke";
    case Decision::Kind::kWatch:
      return "watch";
    case Decision::Kind::kWait:
      return "wait";
    case Decision::Kind::kPromote:
      return "promote";
    case Decision::Kind::kStopNew:
      return "stop-new";
    case Decision::Kind::kReplace:
      return "replace";
    case Decision::Kind::kRollBack:
      return "roll-back";
    case Decision::Kind::kDone:
      return "done";
    case Decision::Kind::kRolledBack:
      return "rolled-back";
    case Decision::Kind::kPause:
      return "pause";
    case Decision::Kind::kFail:
      return "fail";
  }
  return "?";
}

}  // namespace slipway::deploy
