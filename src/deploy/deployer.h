// Deployer: the deploy controller's front. It turns a deploy request into one JobRunner per
// service (deploy/job_runner.h), run one after another, and answers rollbacks. The strategies
// (deploy/strategy.h) decide; the runners carry their decisions out through two ports, Groups
// (the engine's instance groups) and Traffic (the proxy's weights):
//   blue-green  start the whole new set, wait until ready, run the smoke command, switch all
//               traffic at once, judge it for `monitor`, keep the old set warm for the
//               rollback window, then drain and stop it;
//   canary      the same start, then weight steps (5, 25, 50, 100 %) judged for
//               `step_duration` each;
//   rolling     replicas replaced in batches of update_config.parallelism, start-first or
//               stop-first, with delay, monitor and failure_action; a rollback restores the
//               old replicas as rollback_config says;
//   recreate    stop, then start (services without published ports).
// A breach of the analysis thresholds (deploy/analysis.h), a new set that never becomes ready,
// or a failing smoke command rolls back at once. A failing pre hook step (a command, or a
// built-in backup/migrate) aborts before anything starts. One deploy per service at a time; a
// rollback asked for while a deploy of the service runs rolls that deploy back.
//
// Ownership and threads: the daemon owns it; it borrows the groups, the release store and the
// traffic publisher. Every method and callback runs on the control loop's thread.
//
// A paused job (an operator's pause, or rolling's failure_action: pause) keeps its service
// busy: another deploy of it is refused until the job is resumed or rolled back. An
// operator's pause of a blue-green or canary job while it judged a step survives the daemon
// (SetPauseStore, RestorePaused): a restarted daemon holds it again, split as it was. Any
// other job the daemon held or ran when it died is retired (RetireInterrupted).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/deploy_strategy.h"
#include "config/project.h"
#include "deploy/groups.h"
#include "deploy/job_runner.h"
#include "deploy/releases.h"
#include "deploy/traffic.h"
#include "net/event_loop.h"
#include "store/store.h"

namespace slipway::deploy {

struct DeployRequest {
  config::Project project;            // freshly loaded; its specs are the new ones
  std::vector<std::string> services;  // empty = every running service whose spec changed
  std::string version;                // release label
  std::optional<config::DeployStrategy> strategy;  // overrides x-slipway.deploy.strategy
  std::map<std::string, std::string> env;          // added to the new spec's environment
  bool backup_before_migrate = true;  // a migrate step with pending migrations backs up first
  bool run_pre_hooks = true;          // false for rollbacks: the old schema work is done
  bool manual_rollback = false;       // set by Rollback(): the event says manual-rollback
  // service → the release's base_hash when it is not the hash of project's spec (a rollback
  // carries the base of the release it returns to).
  std::map<std::string, std::string> base_hashes;
};

// What a finished deploy or rollback tells its caller.
struct Outcome {
  Status status;  // OK, or Aborted("api: release 4 rolled back: ...") etc.
  nlohmann::json releases = nlohmann::json::array();
};

class Deployer {
 public:
  Deployer(net::EventLoop* loop, Groups* groups, ReleaseStore* releases, Traffic* traffic,
           std::map<std::string, std::string> base_env);
  ~Deployer();
  Deployer(const Deployer&) = delete;
  Deployer& operator=(const Deployer&) = delete;

  // Where built-in backup/migrate steps run; without one they fail with a message.
  void SetDatabaseStepRunner(DatabaseStepRunner runner) { db_steps_ = std::move(runner); }
  // Told (on the loop's thread) when a deploy or rollback ends; nullptr = nobody.
  void SetEventListener(std::function<void(const DeployEvent&)> l) { listener_ = std::move(l); }
  // Where deploys and rollbacks are counted (deploy/deploy_metrics.h); nullptr = nowhere.
  void SetMetrics(DeployMetrics* m) { metrics_ = m; }

  // The engine's release recorder: `up` starting a service records a succeeded release.
  int64_t RecordUp(const config::Service& spec, const std::string& spec_hash);

  // Deploys the services one after another; stops at the first that fails.
  void Deploy(DeployRequest req, std::function<void(Outcome)> done);
  // Back to release `to` of `service` (0 = the release before the running one). Instant when
  // that release's set is still warm; else a blue-green deploy of its spec. While a deploy of
  // the service runs, that deploy is rolled back instead and `done` gets its outcome.
  void Rollback(const std::string& service, int64_t to, std::function<void(Outcome)> done);

  // An operator's pause of the running deploy of `service`, and its resume (JobRunner::Pause
  // and Resume say what holds and what goes on). `who` asked, `why` says why: both go to the
  // progress lines, the job's transitions and the deploy-paused / deploy-resumed events.
  // FailedPrecondition, with a message that says why, when no deploy of the service is in
  // progress (naming how its last release ended) or the job cannot pause or resume now.
  Status Pause(const std::string& service, const std::string& who, const std::string& why);
  Status Resume(const std::string& service, const std::string& who, const std::string& why);
  // An operator's promote of the running deploy of `service` (JobRunner::Promote).
  Status Promote(const std::string& service, const std::string& who, const std::string& why);

  // Where paused jobs that a restart can restore are kept (the store's meta `deploy.paused`,
  // one JobRunner PausedJob per service); null (the default): nowhere.
  void SetPauseStore(store::Store* store) { pause_store_ = store; }
  // After a daemon restart, before RetireInterrupted: each saved paused job whose sets came
  // back (the old one primary, the new one beside it) and whose release is still running is
  // held again: its service is busy, its traffic split is published again, and `deploy
  // resume` or `rollback` act on it as before the restart. What cannot be restored is logged
  // and left to RetireInterrupted. `project` is the project the daemon loaded.
  void RestorePaused(const config::Project& project,
                     const std::function<void(const std::string&)>& log);
  // After a daemon restart: a deploy that was not restored does not survive its daemon (its
  // job, traffic plan and judgement died with it), so it is rolled back: every side group (a
  // deploy's new set, or an old set kept warm, which no daemon would retire now) is stopped,
  // the primary keeps all the traffic, and a release still marked running is marked failed.
  // Restored jobs keep their groups and releases. `log` gets one line each.
  void RetireInterrupted(const std::function<void(const std::string&)>& log);

  // Progress lines with seq > `after` (a CLI polls this while its deploy runs).
  nlohmann::json Progress(int64_t after) const;
  // The dashboard's live deploy view: {"jobs": [JobRunner::Live() of each running job],
  // "progress": the last `max_lines` progress lines}. Bounded whatever runs.
  nlohmann::json Live(size_t max_lines = 100) const;
  // Each running job's sets over the last second or so (JobRunner::SampleLive), by service;
  // the API puts them beside Live()'s jobs. One read of the counters per call and job.
  std::map<std::string, LiveNumbers> SampleLive();
  // Services with a deploy in progress.
  std::set<std::string> Busy() const { return busy_; }
  // The running job of `service` (nullptr when none), for tests and diagnostics.
  const JobRunner* Job(const std::string& service) const;
  // The states the last finished job of `service` went through (empty when none).
  std::vector<Transition> LastJobPath(const std::string& service) const;

 private:
  struct Batch;
  void Note(const std::string& service, int64_t release, const std::string& text);
  void RunNext(std::shared_ptr<Batch> batch);
  void OnGroupsChanged();
  // The running job of `service` for a pause or resume, or why there is none.
  Result<JobRunner*> ControlledJob(const std::string& verb, const std::string& service);
  // The ports every runner borrows (held: failure_action: pause's early answer, may be empty).
  JobPorts Ports(std::function<void(Status, const Release&)> held);
  // A runner's hold to keep (or, null, to forget) for a restart: written to the pause store.
  void SavePaused(const std::string& service, const PausedJob* job);

  net::EventLoop* loop_;
  Groups* groups_;
  ReleaseStore* releases_;
  Traffic* traffic_;
  std::map<std::string, std::string> base_env_;
  DatabaseStepRunner db_steps_;
  std::function<void(const DeployEvent&)> listener_;
  DeployMetrics* metrics_ = nullptr;
  std::set<std::string> busy_;
  std::map<std::string, std::unique_ptr<JobRunner>> jobs_;  // running, by service
  std::map<std::string, std::vector<Transition>> last_paths_;
  // Told when the running job of a service ends (rollbacks asked for during a deploy).
  std::map<std::string, std::vector<std::function<void(Outcome)>>> waiters_;
  // Specs of releases started by this daemon, for rollbacks to sets no longer running.
  std::map<std::string, std::map<int64_t, config::Service>> specs_;
  WarmSets warm_;
  store::Store* pause_store_ = nullptr;
  std::map<std::string, nlohmann::json> paused_;  // service → PausedJob::ToJson, as saved
  nlohmann::json progress_ = nlohmann::json::array();
  int64_t progress_seq_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::deploy
