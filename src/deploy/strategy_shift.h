// ShiftStrategy: what blue-green and canary share. Both start the whole new set beside the old
// one, run the smoke command, then move traffic in weight steps (blue-green: one step of 100 %),
// judging the new set for a while after each, and promote it keeping the old set warm. Their
// rollback is a traffic switch back to the old set, which is still running (so
// rollback_config does not apply), then the new set is drained and stopped.
//
// Internal to the strategies; one owner, the control loop's thread.
#pragma once

#include <optional>
#include <vector>

#include "deploy/strategy.h"

namespace slipway::deploy {

class ShiftStrategy : public Strategy {
 public:
  Decision Next(const Observation& obs) final;
  // Restorable between steps (not while rolling back): the step, started and moved.
  std::optional<StrategyPosition> Position() const final;
  bool Restore(const StrategyPosition& p) final;

 protected:
  // `in` is taken by reference so the other arguments may be read from it first.
  ShiftStrategy(StrategyInput&& in, std::vector<int> steps, Duration watch_each, bool sticky)
      : in_(std::move(in)), steps_(std::move(steps)), watch_each_(watch_each), sticky_(sticky) {}
  // The progress line once step `step` (from 0) is in place, `took_ms` after it was asked.
  virtual std::string StepNote(const Observation& obs, size_t step) const = 0;

  const StrategyInput in_;

 private:
  Decision Weights(size_t step) const;
  Decision RollbackNext(const Observation& obs);

  const std::vector<int> steps_;
  const Duration watch_each_;
  const bool sticky_;
  size_t step_ = 0;
  bool started_ = false;
  bool moved_ = false;  // some traffic went to the new set
  bool rolling_back_ = false;
  int clear_attempts_ = 0;
  std::string reason_;
};

}  // namespace slipway::deploy
