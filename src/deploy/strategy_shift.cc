#include "deploy/strategy_shift.h"

#include <fmt/format.h>

#include <algorithm>

namespace slipway::deploy {

namespace {

// Traffic could not be moved back: tried this often, `kClearRetry` apart, before the job fails.
constexpr int kClearAttempts = 3;
constexpr Duration kClearRetry{100};

}  // namespace

Decision ShiftStrategy::Weights(size_t step) const {
  Decision d;
  d.kind = Decision::Kind::kSetWeights;
  const uint32_t w = static_cast<uint32_t>(std::clamp(steps_[step], 0, 100));
  d.new_weight = w;
  d.old_weight = 100 - w;
  d.sticky = sticky_;
  d.cutover = steps_.size() == 1;
  return d;
}

std::optional<StrategyPosition> ShiftStrategy::Position() const {
  if (rolling_back_) return std::nullopt;
  return StrategyPosition{step_, started_, moved_};
}

bool ShiftStrategy::Restore(const StrategyPosition& p) {
  if (rolling_back_ || p.step >= steps_.size()) return false;
  step_ = p.step;
  started_ = p.started;
  moved_ = p.moved;
  return true;
}

Decision ShiftStrategy::Next(const Observation& obs) {
  if (rolling_back_) return RollbackNext(obs);
  Decision d;
  switch (obs.what) {
    case Happened::kBegin:
      d.kind = Decision::Kind::kStart;
      d.count = in_.spec.replicas;
      d.note = fmt::format("starting {} instance(s) of {}", in_.spec.replicas, obs.new_set);
      return d;
    case Happened::kStarted:
      started_ = true;
      if (!in_.ds.smoke.empty()) {
        d.kind = Decision::Kind::kSmoke;
        return d;
      }
      return Weights(0);
    case Happened::kSmokePassed:
      return Weights(0);
    case Happened::kWeightsSet:
      moved_ = true;
      d.kind = Decision::Kind::kWatch;
      d.duration = watch_each_;
      d.note = StepNote(obs, step_);
      return d;
    case Happened::kWatched:
      if (++step_ < steps_.size()) return Weights(step_);
      d.kind = Decision::Kind::kPromote;
      d.keep_warm = true;
      return d;
    case Happened::kPromoted:
      d.kind = Decision::Kind::kDone;
      return d;
    case Happened::kFailed:
      if (!started_ && obs.failure_kind == FailureKind::kPort) {
        d.kind = Decision::Kind::kFail;  // the new group could not even be created
        d.reason = obs.failure;
        return d;
      }
      rolling_back_ = true;
      reason_ = obs.failure;
      d.kind = Decision::Kind::kRollBack;
      d.reason = obs.failure;
      return d;
    default:
      break;
  }
  d.kind = Decision::Kind::kFail;
  d.reason = fmt::format("unexpected step in {}", config::DeployStrategyName(kind()));
  return d;
}

Decision ShiftStrategy::RollbackNext(const Observation& obs) {
  Decision d;
  switch (obs.what) {
    case Happened::kRollbackBegun:
    case Happened::kWaited:
      if (moved_) {
        d.kind = Decision::Kind::kClearWeights;  // the old set is still primary: all back to it
        ++clear_attempts_;
        return d;
      }
      d.kind = Decision::Kind::kStopNew;
      d.duration = Duration(0);
      d.note = fmt::format("abandoned: {}; traffic on {}", reason_, obs.old_set);
      return d;
    case Happened::kWeightsSet: {
      d.kind = Decision::Kind::kStopNew;
      // Requests already sent to the new set finish before it stops: wait out slow ones too.
      d.duration = std::max(
          in_.ds.drain, Duration(static_cast<int64_t>(std::min(30'000.0, 2 * obs.last_p95_ms))));
      d.note = fmt::format("rolled back: {}; traffic on {} again in {:.2f} ms", reason_,
                           obs.old_set, obs.took_ms);
      return d;
    }
    case Happened::kStopped:
      d.kind = Decision::Kind::kRolledBack;
      d.reason = reason_;
      d.abandoned = !moved_;
      return d;
    case Happened::kFailed:
      if (obs.failure_kind == FailureKind::kPort && clear_attempts_ < kClearAttempts) {
        d.kind = Decision::Kind::kWait;
        d.duration = kClearRetry;
        d.note = fmt::format("moving traffic back to {} failed ({}); retrying", obs.old_set,
                             obs.failure);
        return d;
      }
      d.kind = Decision::Kind::kFail;
      d.reason = fmt::format("rolling back ({}) failed: {}", reason_, obs.failure);
      return d;
    default:
      break;
  }
  d.kind = Decision::Kind::kFail;
  d.reason = "unexpected step while rolling back: " + reason_;
  return d;
}

}  // namespace slipway::deploy
