// Strategy: how one deploy strategy moves a service from its old release to a new one. It
// decides only: from a typed Observation (what the last decision led to, both groups'
// readiness, the analysis numbers, the time) it returns the next typed Decision, which the
// JobRunner (deploy/job_runner.h) carries out through the Groups and Traffic ports. It never
// touches a process, a timer or the proxy, so it is tested by feeding observations.
//
// A strategy decides its own rollback too: after it returned kRollBack, the runner is in its
// rolling-back state and asks for the steps that restore the old release, ending with
// kRolledBack (or kPause / kFail when the rollback itself cannot go on).
//
// A new strategy is one file (strategy_<name>.cc), one value of config::DeployStrategy with its
// name, and one line in strategy_registry.cc.
//
// One owner (its JobRunner), one thread (the control loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "config/deploy_settings.h"
#include "config/deploy_strategy.h"
#include "config/project.h"
#include "deploy/analysis.h"
#include "deploy/groups.h"

namespace slipway::deploy {

// What the last decision led to.
enum class Happened {
  kBegin,          // pre hooks done, nothing started yet
  kRollbackBegun,  // the runner entered rolling-back after kRollBack
  kStarted,        // kStart: the new group exists with `count` instances, all ready
  kResized,        // kResize: done (a grown group's instances are ready)
  kSmokePassed,    // kSmoke
  kWeightsSet,     // kSetWeights / kClearWeights (took_ms says how long)
  kWatched,        // kWatch: the duration passed without a breach
  kWaited,         // kWait
  kPromoted,       // kPromote
  kStopped,        // kStopNew (or at once when not waited for)
  kReplaced,       // kReplace: the service runs the spec asked for
  kFailed,         // the last decision failed: `failure` says why
  kResumed,        // after kPause: the operator resumed the job (its groups as they are now)
};

enum class FailureKind {
  kNone,
  kNotReady,   // a group never became ready (crash, health checks, timeout, gone)
  kBreach,     // the analysis judged the new set bad while it served
  kCommand,    // a smoke command failed
  kPort,       // Groups or Traffic refused (message from the port)
  kRequested,  // a rollback was asked for while the deploy ran
};

struct Observation {
  Happened what = Happened::kBegin;
  FailureKind failure_kind = FailureKind::kNone;
  std::string failure;  // kFailed: one line
  GroupView new_group;  // as it is now
  GroupView old_group;
  std::string new_set;
  std::string old_set;
  int64_t old_release = 0;
  double took_ms = 0;      // kWeightsSet: how long the proxy took to switch
  double last_p95_ms = 0;  // the new set's p95 in the last analysis window
  MonoTime now{};
  Duration elapsed{0};  // since the job started
};

struct Decision {
  enum class Kind {
    kStart,         // start the new group with `count` instances, wait until all are ready
    kResize,        // resize `set` to `count` (shrinking drains for `duration`), wait if growing
    kSetWeights,    // traffic: new set `new_weight`, old set `old_weight`
    kClearWeights,  // traffic: the primary set gets everything again
    kSmoke,         // run the smoke command against the new set
    kWatch,         // judge the new set for `duration` (a breach fails it)
    kWait,          // wait `duration`
    kPromote,       // the new group becomes primary; the old one is kept warm when `keep_warm`
    kStopNew,       // drain (`duration`) and stop the new group; `wait` for it or not
    kReplace,       // recreate: the service runs the new (`set` kNew) or old spec in place
    kRollBack,      // start rolling back because of `reason`
    kDone,          // success
    kRolledBack,    // the old release serves again; `reason` is why the deploy failed
    kPause,         // hold here, both sets as they are, until resumed (kResumed) or rolled back
    kFail,          // the release failed; `reason`
  };
  enum class Set { kNew, kOld };

  Kind kind = Kind::kDone;
  Set set = Set::kNew;
  int count = 0;
  Duration duration{0};
  uint32_t new_weight = 0;
  uint32_t old_weight = 0;
  bool sticky = false;     // kSetWeights: clients keep their set (canary's sticky cookie)
  bool cutover = false;    // kSetWeights: all traffic moves at once (measured as cutover_ms)
  bool keep_warm = false;  // kPromote
  bool wait = true;        // kStopNew
  bool abandoned = false;  // kRolledBack: no traffic had moved (the message says abandoned)
  std::string reason;
  std::string note;  // a progress line the runner prints as it carries the decision out
  std::optional<int> failed_instances;  // recorded in the release's numbers
};

const char* DecisionKindName(Decision::Kind k);

// compose's deploy.update_config / deploy.rollback_config, typed.
struct Rollout {
  int parallelism = 1;  // 0 = all at once
  Duration delay{0};
  config::FailureAction failure_action = config::FailureAction::kPause;
  Duration monitor{0};
  double max_failure_ratio = 0;
  config::UpdateOrder order = config::UpdateOrder::kStopFirst;
  bool given = false;  // differs from compose's defaults (a rollback_config the file sets)
};
Rollout RolloutOf(const config::UpdateConfig& u);

// What every strategy reads: the new and old specs, the deploy settings, and the new spec's
// update_config and rollback_config.
struct StrategyInput {
  config::Service spec;      // the new release's
  config::Service old_spec;  // what runs now
  config::DeploySettings ds;
  Rollout update;
  Rollout rollback;
};
StrategyInput MakeStrategyInput(const config::Service& spec, const config::Service& old_spec,
                                const config::DeploySettings& ds);

// Where a strategy stands, for a paused job restored after a daemon restart: the weight step
// it is at, whether the new group was started and whether traffic moved to it.
struct StrategyPosition {
  size_t step = 0;
  bool started = false;
  bool moved = false;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual config::DeployStrategy kind() const = 0;
  virtual Decision Next(const Observation& obs) = 0;
  // Where it stands now, when it can be restored there (nullopt: it cannot, and a paused job
  // of it is retired after a restart like any interrupted deploy).
  virtual std::optional<StrategyPosition> Position() const { return std::nullopt; }
  // Back to `p` (a restored job); false when it cannot be.
  virtual bool Restore(const StrategyPosition& p) { return false; }
};

std::unique_ptr<Strategy> MakeRecreate(StrategyInput in);
std::unique_ptr<Strategy> MakeRolling(StrategyInput in);
std::unique_ptr<Strategy> MakeBlueGreen(StrategyInput in);
std::unique_ptr<Strategy> MakeCanary(StrategyInput in);

// The registry: one line per strategy (strategy_registry.cc).
std::unique_ptr<Strategy> MakeStrategy(config::DeployStrategy kind, StrategyInput in);

}  // namespace slipway::deploy
