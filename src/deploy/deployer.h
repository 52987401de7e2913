// Deployer: the deploy controller. It replaces a running service's instances by a new release
// without losing requests, with one of four strategies:
//   blue-green  start the whole new set, wait until ready, run the smoke command, switch all
//               traffic at once, judge it for `monitor`, keep the old set warm for the rollback
//               window, then drain and stop it;
//   canary      the same start, then weight steps (5, 25, 50, 100 %) judged for
//               `step_duration` each;
//   rolling     replicas replaced in batches of update_config.parallelism, start-first or
//               stop-first, with delay, monitor and failure_action;
//   recreate    stop, then start (services without published ports).
// A breach of the analysis thresholds (deploy/analysis.h), a new set that never becomes ready,
// or a failing smoke command rolls back at once: traffic returns to the old set, the new one is
// drained and stopped, and the release is marked rolled-back with the reason and numbers. A
// failing pre hook step (a command, or a built-in backup/migrate) aborts before anything starts.
// One deploy per service at a time.
//
// Ownership and threads: the daemon owns it; it borrows the engine, the release store and the
// traffic publisher. Every method and callback runs on the control loop's thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/project.h"
#include "deploy/releases.h"
#include "deploy/traffic.h"
#include "engine/engine.h"
#include "net/event_loop.h"

namespace slipway::deploy {

struct DeployRequest {
  config::Project project;                 // freshly loaded; its specs are the new ones
  std::vector<std::string> services;       // empty = every running service whose spec changed
  std::string version;                     // release label
  std::string strategy;                    // overrides x-slipway.deploy.strategy when set
  std::map<std::string, std::string> env;  // added to the new spec's environment
  bool backup_before_migrate = true;       // a migrate step with pending migrations backs up first
  bool run_pre_hooks = true;               // false for rollbacks: the old schema work is done
  bool manual_rollback = false;            // set by Rollback(): the event says manual-rollback
  // service → the release's base_hash when it is not the hash of project's spec (a rollback
  // carries the base of the release it returns to).
  std::map<std::string, std::string> base_hashes;
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

// What a finished deploy or rollback tells its caller.
struct Outcome {
  Status status;  // OK, or Aborted("api: release 4 rolled back: ...") etc.
  nlohmann::json releases = nlohmann::json::array();
};

// What happened to a release, for notifications (SetEventListener). `kind` is one of
// "deployed", "rolled-back" (automatic), "failed", "manual-rollback".
struct DeployEvent {
  std::string service;
  int64_t release = 0;
  std::string version;
  std::string strategy;
  std::string kind;
  std::string reason;
  nlohmann::json numbers = nlohmann::json::object();
};

class Deployer {
 public:
  Deployer(net::EventLoop* loop, engine::Engine* engine, ReleaseStore* releases, Traffic* traffic,
           std::map<std::string, std::string> base_env);
  ~Deployer();
  Deployer(const Deployer&) = delete;
  Deployer& operator=(const Deployer&) = delete;

  // Where built-in backup/migrate steps run; without one they fail with a message.
  void SetDatabaseStepRunner(DatabaseStepRunner runner) { db_steps_ = std::move(runner); }
  // Told (on the loop's thread) when a deploy or rollback ends; nullptr = nobody.
  void SetEventListener(std::function<void(const DeployEvent&)> l) { listener_ = std::move(l); }

  // The engine's release recorder: `up` starting a service records a succeeded release.
  int64_t RecordUp(const config::Service& spec, const std::string& spec_hash);

  // Deploys the services one after another; stops at the first that fails.
  void Deploy(DeployRequest req, std::function<void(Outcome)> done);
  // Back to release `to` of `service` (0 = the release before the running one). Instant when
  // that release's set is still warm; else a blue-green deploy of its spec.
  void Rollback(const std::string& service, int64_t to, std::function<void(Outcome)> done);

  // Progress lines with seq > `after` (a CLI polls this while its deploy runs).
  nlohmann::json Progress(int64_t after) const;
  // Services with a deploy in progress.
  std::set<std::string> Busy() const { return busy_; }

 private:
  struct Job;
  void StartJob(std::shared_ptr<Job> job);
  void Note(Job& job, const std::string& text);
  void RunPreHook(std::shared_ptr<Job> job, size_t step);
  void StartNewSet(std::shared_ptr<Job> job);
  void WaitReadyFor(std::shared_ptr<Job> job, const std::string& set, int want,
                    std::function<void()> next);
  void RunSmoke(std::shared_ptr<Job> job);
  void Switch(std::shared_ptr<Job> job);
  void CanaryStep(std::shared_ptr<Job> job, size_t step);
  void Watch(std::shared_ptr<Job> job, Duration how_long, std::function<void()> next);
  void RollingBatch(std::shared_ptr<Job> job);
  void ContinueRolling(std::shared_ptr<Job> job);
  void Recreate(std::shared_ptr<Job> job);
  void Succeed(std::shared_ptr<Job> job);
  void Abandon(std::shared_ptr<Job> job, const std::string& reason, bool traffic_moved);
  void Finish(std::shared_ptr<Job> job, Status st, const std::string& status,
              const std::string& reason);
  void ScheduleRetire(const std::string& service, const std::string& set, Duration after,
                      Duration drain);
  TrafficPlan PlanFor(const Job& job, uint32_t new_weight) const;

  net::EventLoop* loop_;
  engine::Engine* engine_;
  ReleaseStore* releases_;
  Traffic* traffic_;
  std::map<std::string, std::string> base_env_;
  DatabaseStepRunner db_steps_;
  std::function<void(const DeployEvent&)> listener_;
  std::set<std::string> busy_;
  // Specs of releases started by this daemon, for rollbacks to sets no longer running.
  std::map<std::string, std::map<int64_t, config::Service>> specs_;
  // The old set kept warm after a switch, per service, and the timer that retires it.
  struct Warm {
    std::string set;
    int64_t release = 0;
    net::EventLoop::TimerId timer = 0;
    Duration drain{0};
  };
  std::map<std::string, Warm> warm_;
  std::map<std::string, int64_t> recreate_release_;  // release `up` must reuse (recreate)
  nlohmann::json progress_ = nlohmann::json::array();
  int64_t progress_seq_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::deploy
