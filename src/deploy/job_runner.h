// JobRunner: one deploy of one service, as an explicit state machine. It records the release,
// runs the pre hooks, then asks its Strategy (deploy/strategy.h) for decisions and carries
// each out through the Groups and Traffic ports: start or resize a group and wait for its
// readiness (woken by the engine's change events, bounded by health_timeout), move weights,
// run the smoke command, judge the new set with the Analyzer for a while, promote, stop. What
// each step led to goes back to the strategy as an Observation. Every change of state is a
// Transition with its reason, kept in order and logged.
//
//   kPending → kPreHooks → { kStarting, kResizing, kSmokeTest, kShifting, kWatching, kWaiting,
//   kPromoting, kReplacing }* → kPostHook → kSucceeded
//   any working state → kRollingBack (a failure, a breach, a requested rollback) → kRolledBack
//                                                                               → kFailed
//   pre hooks or any working state ⇄ kPaused (an operator's pause and resume)
//   any working state or kRollingBack → kPaused (failure_action: pause) → back on resume
//   kPaused → kRollingBack (a rollback asked for while paused) | kFailed
//   kPending → kPaused (Restore: an operator's pause a restarted daemon holds again)
// CanTransition() is that table; any other move is a bug: Enter() logs it and counts it
// (invalid_transitions(), which the tests hold at 0), and still moves so no job sticks.
//
// Pause: the job holds where it is. Both sets keep running and the traffic keeps its current
// weights; the readiness deadline, the analysis and a delay stop, and the time they had left
// is kept; a step in flight (a resize, a command, a recreate) finishes first and its outcome
// is held. Resume continues the same step with the time it had left (or hands the held
// outcome to the strategy). A failure_action: pause of the strategy is the same hold, entered
// by the strategy: its deploy call is answered (failed, "paused") and the release is marked
// failed until a resume, which tells the strategy Happened::kResumed (rolling: the failed batch
// is accepted and the rollout goes on). A rollback asked for while paused rolls back from
// there (or, for a rollback that paused, continues that rollback). An operator's pause while
// a blue-green or canary step was judged is saved (JobPorts::paused, PausedJob) and survives
// the daemon: a restarted daemon holds the job again (Restore) with the split it had, and
// resume continues the step's analysis with the time it had left.
//
// Ownership and threads: the Deployer owns runners; a runner borrows the ports, which outlive
// it. Every method and callback runs on the control loop's thread. `done` runs once, from the
// call that finished the job; the owner may destroy the runner only after it returned.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/deploy_strategy.h"
#include "config/project.h"
#include "deploy/analysis.h"
#include "deploy/deploy_metrics.h"
#include "deploy/groups.h"
#include "deploy/live_sets.h"
#include "deploy/releases.h"
#include "deploy/strategy.h"
#include "deploy/traffic.h"
#include "net/event_loop.h"

namespace slipway::deploy {

enum class JobState {
  kPending,      // created, release not yet recorded
  kPreHooks,     // running hooks.pre steps
  kStarting,     // the new group starts; waiting until its instances are ready
  kResizing,     // a group grows (waiting for readiness) or shrinks (draining)
  kSmokeTest,    // the smoke command runs against the new set
  kShifting,     // traffic weights are being published
  kWatching,     // the analysis judges the new set
  kWaiting,      // a pause between steps (delay)
  kPromoting,    // the new group becomes primary
  kReplacing,    // recreate: the service is stopped and started with another spec
  kRollingBack,  // restoring the old release
  kPostHook,     // hooks.post runs after a success
  kSucceeded,    // terminal
  kRolledBack,   // terminal: the old release serves again
  kPaused,       // holding where it was: an operator's pause, or failure_action: pause
  kFailed,       // terminal
};
inline constexpr int kJobStateCount = static_cast<int>(JobState::kFailed) + 1;
std::string_view JobStateName(JobState s);
bool IsTerminal(JobState s);
// The job machine's table: whether `from` may move to `to`.
bool CanTransition(JobState from, JobState to);

struct Transition {
  JobState from = JobState::kPending;
  JobState to = JobState::kPending;
  std::string reason;
  MonoTime at{};
};

// The numbers a deploy measured; stored with the release (ToJson is the stored shape).
struct JobNumbers {
  std::optional<double> ready_ms;     // new set ready, from the job's start
  std::optional<double> cutover_ms;   // blue-green: the proxy's switch of all traffic
  std::optional<double> detect_ms;    // a breach, from the first traffic shift
  std::optional<double> rollback_ms;  // traffic back on the old set
  std::optional<double> total_ms;     // a success, from the job's start
  std::optional<int> failed_instances;
  std::optional<VerdictNumbers> analysis;  // the last verdict's
  bool judged = false;                     // an analysis ran (totals are recorded)
  std::optional<AnalysisTotals> totals;
  nlohmann::json ToJson() const;
};

enum class DeployEventKind {
  kDeployed,
  kRolledBack,
  kFailed,
  kManualRollback,
  kPaused,
  kResumed,
};
// "deployed", "rolled-back" (automatic), "failed", "manual-rollback", "deploy-paused",
// "deploy-resumed".
std::string_view DeployEventKindName(DeployEventKind k);

// What happened to a release, for notifications.
struct DeployEvent {
  std::string service;
  int64_t release = 0;
  std::string version;
  std::optional<config::DeployStrategy> strategy;  // the release's (Release::strategy)
  DeployEventKind kind = DeployEventKind::kDeployed;
  std::string reason;
  nlohmann::json numbers = nlohmann::json::object();
  std::string who;  // kPaused / kResumed: who asked ("" = the strategy's failure_action)
};

// Runs a built-in `backup` or `migrate` hook step (blocking database work) off the loop and
// calls `done` on the loop's thread with the outcome and a one-line summary.
struct DatabaseStepRequest {
  std::shared_ptr<const config::Project> project;  // as the deploy loaded it
  config::HookStep step;
  std::string service;
  bool backup_if_pending = true;  // migrate: take a verified backup first when work is pending
};
using DatabaseStepRunner = std::function<void(
    const DatabaseStepRequest& req, std::function<void(Status, const std::string& summary)> done)>;

// The old set kept warm after a switch, per service, and the timer that retires it. Shared by
// the jobs (a deploy retires what an earlier one kept) and manual rollbacks.
class WarmSets {
 public:
  struct Warm {
    std::string set;
    int64_t release = 0;
    net::EventLoop::TimerId timer = 0;
    Duration drain{0};
  };
  WarmSets(net::EventLoop* loop, Groups* groups) : loop_(loop), groups_(groups) {}
  ~WarmSets();
  // Keeps `set` for `window`, then drains and stops it.
  void Keep(const std::string& service, const std::string& set, int64_t release, Duration window,
            Duration drain);
  // Stops the service's warm set now (a newer release replaced it). Returns the stop's status.
  Status Retire(const std::string& service);
  // Forgets the warm set without stopping it (it became primary again).
  void Forget(const std::string& service);
  const Warm* Find(const std::string& service) const;

 private:
  net::EventLoop* loop_;
  Groups* groups_;
  std::map<std::string, Warm> warm_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// What a paused job leaves in the store (Deployer keeps it under the meta key
// `deploy.paused`), so that a daemon started after this one died holds it again
// (Deployer::RestorePaused): the release, both sets, where the strategy stood, the traffic
// split and the analysis time the hold kept, and who paused it and why. Only a job held while
// its strategy judged a step (blue-green, canary) is saved; others are retired as before.
struct PausedJob {
  std::string service;
  int64_t release = 0;
  config::DeployStrategy strategy = config::DeployStrategy::kCanary;
  std::string old_set;
  int64_t old_release = 0;
  std::string new_set;
  StrategyPosition position;
  std::optional<TrafficPlan> plan;  // the split in place (none: traffic had not moved)
  Duration watch_left{0};           // of the step's analysis
  std::string who;                  // who paused it
  std::string why;

  nlohmann::json ToJson() const;
  // Typed checks (a damaged store is not trusted): InvalidInput naming the first bad key.
  static Result<PausedJob> FromJson(const nlohmann::json& j);
};

// What a runner borrows.
struct JobPorts {
  net::EventLoop* loop = nullptr;
  Groups* groups = nullptr;
  Traffic* traffic = nullptr;
  ReleaseStore* releases = nullptr;
  WarmSets* warm = nullptr;
  const DatabaseStepRunner* db_steps = nullptr;  // may hold no function
  const std::map<std::string, std::string>* base_env = nullptr;
  std::function<void(const std::string& service, int64_t release, const std::string& text)> note;
  std::function<void(const DeployEvent&)> listener;  // may be empty
  // The strategy paused the job (failure_action: pause): the deploy's caller is answered with
  // this status now; the job holds until resumed or rolled back, and `done` runs at its end.
  std::function<void(Status, const Release&)> held;  // may be empty
  DeployMetrics* metrics = nullptr;                  // may be null
  // The job entered a hold it can be restored in after a restart (`job`), or left its hold
  // (nullptr): the Deployer keeps what is saved. May be empty.
  std::function<void(const std::string& service, const PausedJob* job)> paused;
};

struct JobInput {
  config::Service spec;      // the new release's definition
  config::Service old_spec;  // what runs now
  config::DeployStrategy strategy = config::DeployStrategy::kBlueGreen;
  config::DeploySettings ds;  // hooks.pre cleared for rollbacks
  Release release;            // to record (number assigned on start)
  std::shared_ptr<const config::Project> project;
  bool backup_before_migrate = true;
  bool manual_rollback = false;
};

class JobRunner {
 public:
  JobRunner(JobInput in, JobPorts ports, std::function<void(Status, const Release&)> done);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Records the release and begins. `done` may run before it returns.
  void Start();
  // Instead of Start(): the job `saved` that a previous daemon held, held again (paused,
  // traffic split as it was; Resume() continues the step's analysis with the time it had left,
  // a rollback rolls back from there). `release` is the stored release. FailedPrecondition
  // when it cannot be (its strategy cannot be put back there).
  Status Restore(const PausedJob& saved, const Release& release);
  // A rollback asked for while the deploy runs: the strategy rolls back at the next step (at
  // once when waiting). False when the job is already rolling back or done.
  bool RequestRollback(const std::string& reason);
  // An instance changed somewhere (Groups' listener): re-check what the job waits for.
  void OnGroupsChanged();
  // An operator's pause (`who` asked, `why`). At once when the job waits (readiness, analysis,
  // a delay); else once the step in flight finishes. FailedPrecondition, saying why, when the
  // job is rolling back, finished, or already paused or pausing.
  Status Pause(const std::string& who, const std::string& why);
  // Continues a paused job from the step where it held (a pause still pending is withdrawn).
  // FailedPrecondition when it is not paused.
  Status Resume(const std::string& who, const std::string& why);
  // An operator's promote (`who` asked, `why`): while a blue-green or canary job judges its
  // new set, the rest of the judging and of the canary steps is skipped and the new set
  // becomes primary with all the traffic (the old set kept warm as after any success).
  // FailedPrecondition, saying why, for another strategy or state.
  Status Promote(const std::string& who, const std::string& why);
  // A pause was asked for and the step in flight has not finished yet.
  bool pausing() const { return pausing_; }

  JobState state() const { return state_; }
  const std::vector<Transition>& transitions() const { return transitions_; }
  int invalid_transitions() const { return invalid_transitions_; }
  const JobNumbers& numbers() const { return numbers_; }
  const Release& release() const { return release_; }
  const std::string& service() const { return in_.spec.name; }
  // What the job is doing now, for the dashboard's live deploy view: state, both sets and
  // their traffic weights (percent), the last analysis window of each set, and the last
  // `max_transitions` state changes with their reasons (wall-clock ms).
  nlohmann::json Live(size_t max_transitions = 50) const;
  // Reads both sets' counters now (deploy/live_sets.h) and returns each set's numbers over the
  // last second or so; none while the job has no new set yet or is done, or before two reads.
  std::optional<LiveNumbers> SampleLive();

 private:
  // The percent of the service's traffic `set` gets now, read from what was last published.
  uint32_t Weight(const std::string& set) const;
  void Enter(JobState to, const std::string& reason);
  void Note(const std::string& text);
  void RunPreHook(size_t step);
  void Advance(Observation obs);
  void Proceed(Observation obs);
  void HoldNow();
  void EnterPaused();
  // Tells ports_.paused what a restart could restore of this hold (or that there is nothing).
  void SavePause();
  void Execute(const Decision& d);
  void Observe(Happened what);
  void FailStep(FailureKind kind, const std::string& why);
  // Why a rollback that this failure starts happens (the first failure decides).
  RollbackReason ReasonOf(FailureKind kind) const;
  void RecordMetrics(ReleaseStatus status);
  void WaitReady(const std::string& set, int want, Happened then, Duration timeout);
  void CheckReady();
  void BeginWatch(Duration how_long);
  void StartWait(Duration how_long);
  void Tick();
  void Promote(const Decision& d);
  void RunSmoke();
  void Succeed();
  void Finish(Status st, JobState terminal, ReleaseStatus status, const std::string& reason);
  void CancelTimer();
  Observation Base(Happened what) const;
  std::map<std::string, std::string> HookEnv() const;
  MonoTime Now() const { return ports_.loop->Now(); }

  JobInput in_;
  JobPorts ports_;
  std::function<void(Status, const Release&)> done_;
  std::unique_ptr<Strategy> strategy_;
  JobState state_ = JobState::kPending;
  std::vector<Transition> transitions_;
  int invalid_transitions_ = 0;
  Release release_;
  std::string old_set_;
  int64_t old_release_ = 0;
  std::string new_set_;
  bool traffic_moved_ = false;
  // The split last published (kSetWeights); none when the primary group takes everything:
  // before any weights moved, after a rollback cleared them, and after a promote.
  std::optional<TrafficPlan> plan_;
  bool promoted_ = false;  // the new set is the service's primary group now
  bool backed_up_all_ = false;
  std::set<std::string> backed_up_;
  std::optional<std::string> rollback_requested_;
  std::optional<RollbackReason> rollback_reason_;  // of the first failure
  BreachKind last_breach_ = BreachKind::kNone;
  MonoTime started_{};
  MonoTime switched_{};
  JobNumbers numbers_;
  std::unique_ptr<Analyzer> analyzer_;
  LiveSets live_sets_;  // what the live view read of both sets
  net::EventLoop::TimerId timer_ = 0;
  // What the job waits for, when it waits for readiness or judges.
  struct ReadyWait {
    std::string set;
    int want = 0;
    MonoTime deadline{};
    Happened then = Happened::kStarted;
  };
  std::optional<ReadyWait> ready_wait_;
  std::optional<MonoTime> watch_until_;
  bool waiting_timer_ = false;  // kWait: a plain delay is pending
  MonoTime wait_until_{};
  // A pause: who asked and why, and the state it held in.
  struct PauseInfo {
    std::string who;  // "" = the strategy (failure_action: pause)
    std::string why;
    JobState from = JobState::kPending;
    MonoTime at{};
  };
  std::optional<PauseInfo> pause_;
  bool pausing_ = false;  // asked; the step in flight has not finished
  // What a pause holds, given back on resume.
  struct Held {
    std::optional<Observation> obs;  // a step's outcome that arrived while pausing
    std::optional<ReadyWait> ready;  // a readiness wait, with `ready_left` of its deadline
    Duration ready_left{0};
    std::optional<Duration> watch_left;  // the analysis' time left
    std::optional<Duration> wait_left;   // a delay's time left
    bool strategy = false;               // failure_action: pause: the strategy gets kResumed
  };
  Held held_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::deploy
