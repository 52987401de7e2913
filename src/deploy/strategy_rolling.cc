// rolling: replicas are replaced in batches of update_config.parallelism (0 = all at once),
// start-first (the new batch is ready before the old one leaves) or stop-first (capacity dips
// by a batch), with `delay` between batches and `monitor` judging each. A failed batch is
// tolerated up to max_failure_ratio of the replicas; beyond it failure_action decides: pause
// (hold where it is until the operator resumes or rolls back), continue (replace every replica
// anyway) or rollback. Resumed after such a pause, the failed batch is accepted as it is now
// (as continue would have) and the rollout goes on; a rollback that paused goes on likewise.
//
// A rollback restores the old replicas as rollback_config says (compose's semantics:
// parallelism, delay, order, monitor, failure_action pause|continue, max_failure_ratio); a
// service without rollback_config gets every old replica back at once, the fastest return.
#include <fmt/format.h>

#include <algorithm>

#include "deploy/strategy.h"

namespace slipway::deploy {

namespace {

constexpr int kClearAttempts = 3;
constexpr Duration kClearRetry{100};

class Rolling final : public Strategy {
 public:
  explicit Rolling(StrategyInput in)
      : in_(std::move(in)),
        uc_(in_.update),
        rc_(in_.rollback),
        n_(in_.spec.replicas),
        old_n_(in_.old_spec.replicas) {}
  config::DeployStrategy kind() const override { return config::DeployStrategy::kRolling; }

  Decision Next(const Observation& obs) override {
    if (obs.what == Happened::kFailed) return rolling_back_ ? RollbackFailed(obs) : Failed(obs);
    if (obs.what == Happened::kResumed) return rolling_back_ ? RollbackResumed() : Resumed(obs);
    if (rolling_back_) return RollbackNext(obs);
    switch (phase_) {
      case Phase::kBegin:
        phase_ = Phase::kStartEmpty;
        return Resize(Decision::Kind::kStart, Decision::Set::kNew, 0);
      case Phase::kStartEmpty:
        return NextBatch(obs);
      // start-first: grow the new set, weigh, shrink the old one.
      case Phase::kGrowNew:
        phase_ = Phase::kWeighGrown;
        return Weigh(target_, old_target_);
      case Phase::kWeighGrown:
        phase_ = Phase::kShrinkOld;
        return Resize(Decision::Kind::kResize, Decision::Set::kOld, old_target_, in_.ds.drain);
      case Phase::kShrinkOld:
        return Settle();
      // stop-first: weigh, shrink the old set, grow the new one, weigh again.
      case Phase::kWeighBeforeStop:
        phase_ = Phase::kStopOld;
        return Resize(Decision::Kind::kResize, Decision::Set::kOld, old_target_, in_.ds.drain);
      case Phase::kStopOld:
        phase_ = Phase::kGrowAfterStop;
        return Resize(Decision::Kind::kResize, Decision::Set::kNew, target_);
      case Phase::kGrowAfterStop:
        phase_ = Phase::kWeighAfterStop;
        return Weigh(target_, old_target_);
      case Phase::kWeighAfterStop:
        return Settle();
      case Phase::kDelay: {
        phase_ = Phase::kMonitor;
        Decision d;
        d.kind = Decision::Kind::kWatch;
        d.duration = std::max(uc_.monitor, in_.ds.analysis.interval);
        return d;
      }
      case Phase::kMonitor:
        return NextBatch(obs);
      // A tolerated failure: shrink the old set as if the batch had succeeded, go on.
      case Phase::kContinueWeigh:
        phase_ = Phase::kContinueShrink;
        return Resize(Decision::Kind::kResize, Decision::Set::kOld, old_target_, in_.ds.drain);
      case Phase::kContinueShrink: {
        phase_ = Phase::kContinueDelay;
        Decision d;
        d.kind = Decision::Kind::kWait;
        d.duration = uc_.delay;
        return d;
      }
      case Phase::kContinueDelay:
        return NextBatch(obs);
      case Phase::kPromote: {
        Decision d;
        // failure_action: continue replaces every replica whatever happens, as compose
        // defines it; but a release none of whose replicas is ready is not a success,
        // whatever the setting: say so rather than report a deploy that took the service
        // down as done.
        if (obs.new_group.instances > 0 && obs.new_group.ready == 0) {
          d.kind = Decision::Kind::kFail;
          d.reason = fmt::format(
              "none of the {} new replicas is ready (failure_action: {}); nothing was rolled "
              "back",
              obs.new_group.instances, config::FailureActionName(uc_.failure_action));
          d.note = d.reason;
          d.failed_instances = failed_instances_;
          return d;
        }
        d.kind = Decision::Kind::kDone;
        return d;
      }
    }
    return Fail("unexpected step in rolling");
  }

 private:
  enum class Phase {
    kBegin,
    kStartEmpty,
    kGrowNew,
    kWeighGrown,
    kShrinkOld,
    kWeighBeforeStop,
    kStopOld,
    kGrowAfterStop,
    kWeighAfterStop,
    kDelay,
    kMonitor,
    kContinueWeigh,
    kContinueShrink,
    kContinueDelay,
    kPromote,
  };
  enum class RbPhase {
    kGrowOld,
    kWeighGrown,
    kShrinkNew,
    kStopNew,
    kGrowAfterStop,
    kWeighAfterStop,
    kDelay,
    kMonitor,
    kClear,
    kStop
  };

  static Decision Resize(Decision::Kind kind, Decision::Set set, int count,
                         Duration drain = Duration(0)) {
    Decision d;
    d.kind = kind;
    d.set = set;
    d.count = count;
    d.duration = drain;
    return d;
  }
  static Decision Weigh(int new_count, int old_count) {
    Decision d;
    d.kind = Decision::Kind::kSetWeights;
    d.new_weight = static_cast<uint32_t>(std::max(0, new_count)) * 10;
    d.old_weight = static_cast<uint32_t>(std::max(0, old_count)) * 10;
    return d;
  }
  static Decision Fail(std::string reason) {
    Decision d;
    d.kind = Decision::Kind::kFail;
    d.reason = std::move(reason);
    return d;
  }

  int Batch(const Rollout& u, int total) const {
    return u.parallelism <= 0 ? std::max(1, total) : u.parallelism;
  }

  Decision NextBatch(const Observation& obs) {
    const GroupView& ng = obs.new_group;
    if (ng.instances >= n_) {
      phase_ = Phase::kPromote;
      Decision d;
      d.kind = Decision::Kind::kPromote;
      d.keep_warm = false;  // the old set has no instances left
      d.failed_instances = failed_instances_;
      return d;
    }
    target_ = std::min(n_, ng.instances + Batch(uc_, n_));
    old_target_ = std::max(0, old_n_ - target_);
    Decision d;
    const std::string note =
        fmt::format("rolling: {} of {} replaced, next batch to {} ({})", ng.instances, n_, target_,
                    config::UpdateOrderName(uc_.order));
    if (uc_.order == config::UpdateOrder::kStartFirst) {
      phase_ = Phase::kGrowNew;
      d = Resize(Decision::Kind::kResize, Decision::Set::kNew, target_);
    } else {
      phase_ = Phase::kWeighBeforeStop;
      d = Weigh(ng.ready, old_target_);  // capacity dips by a batch while it is replaced
    }
    d.note = note;
    return d;
  }

  Decision Settle() {
    phase_ = Phase::kDelay;
    Decision d;
    d.kind = Decision::Kind::kWait;
    d.duration = uc_.delay;
    return d;
  }

  // As compose's update_config defines it: failures up to max_failure_ratio of the replicas
  // are tolerated; beyond it, failure_action decides (continue goes on anyway).
  Decision Failed(const Observation& obs) {
    const std::string& reason = obs.failure;
    if (phase_ == Phase::kStartEmpty && obs.failure_kind == FailureKind::kPort) {
      return Fail(reason);  // the new group could not even be created: nothing to undo
    }
    if (phase_ == Phase::kContinueWeigh || phase_ == Phase::kContinueShrink ||
        phase_ == Phase::kContinueDelay) {
      return Fail(reason);  // going on past a failure failed itself
    }
    const GroupView& ng = obs.new_group;
    const int failed = std::max(0, ng.instances - ng.ready);
    const double ratio = static_cast<double>(failed) / std::max(1, n_);
    const bool go_on = uc_.failure_action == config::FailureAction::kContinue ||
                       (failed > 0 && ratio <= uc_.max_failure_ratio);
    if (go_on && obs.failure_kind != FailureKind::kRequested) {
      failed_instances_ = failed;
      phase_ = Phase::kContinueWeigh;
      old_target_ = std::max(0, old_n_ - ng.instances);
      Decision d = Weigh(ng.ready, old_target_);
      d.failed_instances = failed;
      d.note = uc_.failure_action == config::FailureAction::kContinue
                   ? "continuing (failure_action: continue) despite: " + reason
                   : fmt::format(
                         "tolerating {} failed of {} replicas ({:.0f}% <= "
                         "max_failure_ratio {:.0f}%): {}",
                         failed, n_, ratio * 100, uc_.max_failure_ratio * 100, reason);
      return d;
    }
    if (uc_.failure_action == config::FailureAction::kPause &&
        obs.failure_kind != FailureKind::kRequested) {
      Decision d;
      d.kind = Decision::Kind::kPause;
      d.reason = reason;
      d.note = "paused: " + reason;
      return d;
    }
    // rollback (and continue, which has nothing left to continue with after a breach)
    rolling_back_ = true;
    reason_ = reason;
    Decision d;
    d.kind = Decision::Kind::kRollBack;
    d.reason = reason;
    d.note = "rolling back: " + reason;
    return d;
  }

  // After failure_action: pause, the operator resumed: the batch is taken as it is now.
  Decision Resumed(const Observation& obs) {
    const GroupView& ng = obs.new_group;
    const int failed = std::max(0, ng.instances - ng.ready);
    if (failed > 0) failed_instances_ = failed;
    phase_ = Phase::kContinueWeigh;
    old_target_ = std::max(0, old_n_ - ng.instances);
    Decision d = Weigh(ng.ready, old_target_);
    d.failed_instances = failed_instances_;
    d.note = failed > 0 ? fmt::format("resumed: going on with {} of {} new replicas not ready",
                                      failed, ng.instances)
                        : "resumed: the new replicas are ready; going on";
    return d;
  }

  // A rollback that paused (rollback_config failure_action: pause) goes on.
  Decision RollbackResumed() {
    rb_ = RbPhase::kShrinkNew;  // next: delay, monitor, next batch
    Decision d = RollbackNext(Observation{});
    d.note = "rollback resumed: " + reason_;
    return d;
  }

  Decision RbBatch(const Observation& obs) {
    const GroupView& og = obs.old_group;
    if (og.instances >= old_n_) return Clear();
    const int restore = Batch(rc_, old_n_);
    rb_target_ = std::min(old_n_, og.instances + restore);
    rb_new_target_ = std::max(0, obs.new_group.instances - (rb_target_ - og.instances));
    Decision d;
    if (rc_.order == config::UpdateOrder::kStartFirst) {
      rb_ = RbPhase::kGrowOld;
      d = Resize(Decision::Kind::kResize, Decision::Set::kOld, rb_target_);
    } else {
      rb_ = RbPhase::kStopNew;
      d = Resize(Decision::Kind::kResize, Decision::Set::kNew, rb_new_target_, in_.ds.drain);
    }
    d.note = fmt::format("rollback: {} of {} old replicas back, next batch to {} ({})",
                         og.instances, old_n_, rb_target_, config::UpdateOrderName(rc_.order));
    return d;
  }

  Decision Clear() {
    rb_ = RbPhase::kClear;
    ++clear_attempts_;
    Decision d;
    d.kind = Decision::Kind::kClearWeights;
    return d;
  }

  Decision RollbackNext(const Observation& obs) {
    if (obs.what == Happened::kRollbackBegun) {
      if (!rc_.given) {
        // Every old replica back at once, then all traffic to them.
        rb_ = RbPhase::kGrowOld;
        rb_all_at_once_ = true;
        return Resize(Decision::Kind::kResize, Decision::Set::kOld, old_n_);
      }
      return RbBatch(obs);
    }
    switch (rb_) {
      case RbPhase::kGrowOld:
        if (rb_all_at_once_) return Clear();
        rb_ = RbPhase::kWeighGrown;
        return Weigh(rb_new_target_, rb_target_);
      case RbPhase::kWeighGrown:
        rb_ = RbPhase::kShrinkNew;
        return Resize(Decision::Kind::kResize, Decision::Set::kNew, rb_new_target_, in_.ds.drain);
      case RbPhase::kStopNew:
        rb_ = RbPhase::kGrowAfterStop;
        return Resize(Decision::Kind::kResize, Decision::Set::kOld, rb_target_);
      case RbPhase::kGrowAfterStop:
        rb_ = RbPhase::kWeighAfterStop;
        return Weigh(rb_new_target_, rb_target_);
      case RbPhase::kShrinkNew:
      case RbPhase::kWeighAfterStop: {
        rb_ = RbPhase::kDelay;
        Decision d;
        d.kind = Decision::Kind::kWait;
        d.duration = rc_.delay;
        return d;
      }
      case RbPhase::kDelay: {
        rb_ = RbPhase::kMonitor;
        Decision d;
        d.kind = Decision::Kind::kWait;
        d.duration = rc_.monitor;
        return d;
      }
      case RbPhase::kMonitor: {
        // rollback_config.monitor: the restored replicas must stay up meanwhile.
        const GroupView& og = obs.old_group;
        if (og.crashed > 0 || og.unhealthy > 0) {
          Observation failed = obs;
          failed.what = Happened::kFailed;
          failed.failure_kind = FailureKind::kNotReady;
          failed.failure = fmt::format("{} failed while monitored: {}", obs.old_set,
                                       og.problem.empty() ? "unhealthy" : og.problem);
          return RollbackFailed(failed);
        }
        return RbBatch(obs);
      }
      case RbPhase::kClear:
        if (obs.what == Happened::kWaited) return Clear();  // a retry after a failed clear
        {
          rb_ = RbPhase::kStop;
          Decision d;
          d.kind = Decision::Kind::kStopNew;
          d.duration = in_.ds.drain;
          d.wait = false;
          return d;
        }
      case RbPhase::kStop: {
        Decision d;
        d.kind = Decision::Kind::kRolledBack;
        d.reason = reason_;
        return d;
      }
    }
    return Fail("unexpected step while rolling back: " + reason_);
  }

  Decision RollbackFailed(const Observation& obs) {
    if (rb_ == RbPhase::kClear && obs.failure_kind == FailureKind::kPort &&
        clear_attempts_ < kClearAttempts) {
      Decision d;
      d.kind = Decision::Kind::kWait;
      d.duration = kClearRetry;
      d.note =
          fmt::format("moving traffic back to {} failed ({}); retrying", obs.old_set, obs.failure);
      return d;
    }
    if (rc_.given && rb_ != RbPhase::kClear && rb_ != RbPhase::kStop) {
      // rollback_config's own failure_action and max_failure_ratio.
      const GroupView& og = obs.old_group;
      const int failed = std::max(0, og.instances - og.ready);
      const double ratio = static_cast<double>(failed) / std::max(1, old_n_);
      if (rc_.failure_action == config::FailureAction::kContinue ||
          (failed > 0 && ratio <= rc_.max_failure_ratio)) {
        rb_ = RbPhase::kShrinkNew;  // next: delay, monitor, next batch
        Decision d = RollbackNext(Observation{});
        d.note = fmt::format("rollback: going on (rollback_config) despite: {}", obs.failure);
        return d;
      }
      Decision d;
      d.kind = Decision::Kind::kPause;
      d.reason = fmt::format("rollback paused ({}): {}", reason_, obs.failure);
      d.note = d.reason;
      return d;
    }
    return Fail(fmt::format("rolling back ({}) failed: {}", reason_, obs.failure));
  }

  const StrategyInput in_;
  const Rollout uc_;
  const Rollout rc_;
  const int n_;
  const int old_n_;
  Phase phase_ = Phase::kBegin;
  int target_ = 0;
  int old_target_ = 0;
  std::optional<int> failed_instances_;
  bool rolling_back_ = false;
  bool rb_all_at_once_ = false;
  RbPhase rb_ = RbPhase::kGrowOld;
  int rb_target_ = 0;
  int rb_new_target_ = 0;
  int clear_attempts_ = 0;
  std::string reason_;
};

}  // namespace

std::unique_ptr<Strategy> MakeRolling(StrategyInput in) {
  return std::make_unique<Rolling>(std::move(in));
}

}  // namespace slipway::deploy
