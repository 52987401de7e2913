// DatabaseJobs: the daemon's database work that must not run on the control loop: the
// built-in `backup` / `migrate` deploy hook steps and the scheduled backups of
// `x-slipway.backups.schedule` (with retention applied after each scheduled backup).
//
// Deploy steps run one at a time on a worker thread, in the order asked; each outcome is
// posted back to the loop. Scheduled backups run on backup::Scheduler's threads. Workers
// open their own connection to the state store (SQLite WAL allows it); events and metrics
// are written from the loop. Outcomes are recorded as events of the pseudo-service "backups"
// and as metrics (slipway_backup_last_success_timestamp_seconds, ..._failures_total).
// Backups and verifies asked through the API (POST /api/v1/backups, .../{id}/verify) run on
// the same worker as deploy steps, in the order asked.
//
// Owned by the daemon; construct, call and destroy on the loop's thread. The destructor
// waits for a running step to finish.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/scheduler.h"
#include "config/project.h"
#include "deploy/deployer.h"
#include "net/event_loop.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace slipway::daemon {

class DatabaseJobs {
 public:
  // `store` is the loop's connection (events, schedule state); `db_path` is opened again by
  // workers. `registry` receives the backup metrics.
  DatabaseJobs(net::EventLoop* loop, store::Store* store, std::filesystem::path db_path,
               telemetry::Registry* registry);
  ~DatabaseJobs();
  DatabaseJobs(const DatabaseJobs&) = delete;
  DatabaseJobs& operator=(const DatabaseJobs&) = delete;

  // Arms the backup schedule of `project` (none when it has no schedule or no database).
  Status StartSchedule(const config::Project& project);

  // True while a deploy step is queued or runs, or a scheduled backup runs: a daemon
  // handover waits for none of them, so it is refused meanwhile.
  bool Busy();

  // deploy::DatabaseStepRunner for the project the deploy loaded.
  void RunStep(const deploy::DatabaseStepRequest& req,
               std::function<void(Status, const std::string&)> done);

  // A verified backup of `database` of `project` now; `done` on the loop with a summary.
  void BackupNow(std::shared_ptr<const config::Project> project, const std::string& database,
                 std::function<void(Status, std::string)> done);
  // Restores catalogued backup `id` into a scratch database and checks it (the catalog
  // records the outcome); `done` on the loop. A failed check is an Aborted status.
  void Verify(std::shared_ptr<const config::Project> project, int64_t id,
              std::function<void(Status, std::string)> done);
  // Each database's migration status (GET /api/v1/migrations), one object per database in
  // name order: the built-in runner's migrations with their states, or what a tool reports
  // pending; a database that cannot be asked has {"error": ...} instead. `done` on the loop.
  void MigrationStatus(std::shared_ptr<const config::Project> project,
                       std::function<void(nlohmann::json)> done);

 private:
  void Worker();
  void Record(const std::string& database, backup::ScheduleEvent kind, const std::string& msg);

  net::EventLoop* loop_;
  store::Store* store_;
  std::filesystem::path db_path_;
  telemetry::Registry* registry_;
  std::unique_ptr<backup::Scheduler> scheduler_;
  std::shared_ptr<const config::Project> scheduled_project_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void(store::Store*)>> queue_;  // guarded by mu_
  bool stopping_ = false;                                 // guarded by mu_
  bool running_ = false;                                  // guarded by mu_: a step runs
  std::thread worker_;
};

}  // namespace slipway::daemon
