#include "daemon/database_jobs.h"

#include <fmt/format.h>

#include <algorithm>

#include "backup/project_databases.h"
#include "base/log.h"

namespace slipway::daemon {

namespace {

constexpr char kEventService[] = "backups";

// A scheduled job: back up and verify, then apply retention. Runs on a scheduler thread.
Status ScheduledBackup(const config::Project& project, const std::filesystem::path& db_path,
                       const std::string& database, std::string* summary) {
  ASSIGN_OR_RETURN(auto dbs, backup::ResolveDatabases(project, database));
  ASSIGN_OR_RETURN(auto store, store::Store::Open(db_path, Clock::Real()));
  backup::Catalog catalog(store.get());
  backup::BackupOptions options = backup::BackupOptionsFor(project);
  ASSIGN_OR_RETURN(*summary, backup::BackupAndVerify(dbs.front(), &catalog, options));
  backup::RetentionPolicy policy = backup::RetentionFor(project);
  if (policy.keep_last != 0 || policy.hourly != 0 || policy.daily != 0 || policy.weekly != 0 ||
      policy.monthly != 0 || policy.yearly != 0) {
    ASSIGN_OR_RETURN(auto decisions, backup::Prune(&catalog, policy, database, false));
    int removed = 0;
    for (const auto& d : decisions) removed += d.keep ? 0 : 1;
    *summary += fmt::format("; retention removed {}", removed);
  }
  return Status::OK();
}

}  // namespace

DatabaseJobs::DatabaseJobs(net::EventLoop* loop, store::Store* store, std::filesystem::path db_path,
                           telemetry::Registry* registry)
    : loop_(loop), store_(store), db_path_(std::move(db_path)), registry_(registry) {
  worker_ = std::thread([this] { Worker(); });
}

DatabaseJobs::~DatabaseJobs() {
  scheduler_.reset();  // joins its threads
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void DatabaseJobs::Worker() {
  std::unique_ptr<store::Store> store;  // opened on first use, on this thread
  while (true) {
    std::function<void(store::Store*)> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    if (!store) {
      auto opened = store::Store::Open(db_path_, Clock::Real());
      if (opened.ok()) store = std::move(opened).value();
    }
    job(store.get());
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
}

bool DatabaseJobs::Busy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_ || !queue_.empty()) return true;
  }
  return scheduler_ && scheduler_->AnyRunning();
}

void DatabaseJobs::RunStep(const deploy::DatabaseStepRequest& req,
                           std::function<void(Status, const std::string&)> done) {
  auto finish = [this, done](Status st, std::string summary) {
    loop_->Post([done, st = std::move(st), summary = std::move(summary)] { done(st, summary); });
  };
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back([project = req.project, req, finish](store::Store* store) {
    if (store == nullptr) {
      finish(IoError("cannot open the state store for the backup catalog"), "");
      return;
    }
    auto dbs = backup::ResolveDatabases(*project, req.step.database);
    if (!dbs.ok()) {
      finish(dbs.status(), "");
      return;
    }
    backup::Catalog catalog(store);
    backup::BackupOptions options = backup::BackupOptionsFor(*project);
    std::string summary;
    for (const backup::ProjectDatabase& db : *dbs) {
      Result<std::string> one =
          req.step.kind == config::HookStep::Kind::kBackup
              ? backup::BackupAndVerify(db, &catalog, options)
              : backup::MigrateUp(db, req.backup_if_pending, &catalog, options);
      if (!one.ok()) {
        finish(one.status(), summary);
        return;
      }
      summary += (summary.empty() ? "" : "; ") + *one;
    }
    finish(Status::OK(), summary);
  });
  cv_.notify_one();
}

void DatabaseJobs::BackupNow(std::shared_ptr<const config::Project> project,
                             const std::string& database,
                             std::function<void(Status, std::string)> done) {
  auto finish = [this, done](Status st, std::string summary) {
    loop_->Post([done, st = std::move(st), summary = std::move(summary)] { done(st, summary); });
  };
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back([project, database, finish](store::Store* store) {
    if (store == nullptr) {
      finish(IoError("cannot open the state store for the backup catalog"), "");
      return;
    }
    auto dbs = backup::ResolveDatabases(*project, database);
    if (!dbs.ok()) {
      finish(dbs.status(), "");
      return;
    }
    backup::Catalog catalog(store);
    Result<std::string> summary =
        backup::BackupAndVerify(dbs->front(), &catalog, backup::BackupOptionsFor(*project));
    if (!summary.ok()) {
      finish(summary.status(), "");
      return;
    }
    finish(Status::OK(), *summary);
  });
  cv_.notify_one();
}

void DatabaseJobs::Verify(std::shared_ptr<const config::Project> project, int64_t id,
                          std::function<void(Status, std::string)> done) {
  auto finish = [this, done](Status st, std::string summary) {
    loop_->Post([done, st = std::move(st), summary = std::move(summary)] { done(st, summary); });
  };
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back([project, id, finish](store::Store* store) {
    if (store == nullptr) {
      finish(IoError("cannot open the state store for the backup catalog"), "");
      return;
    }
    backup::Catalog catalog(store);
    Result<backup::BackupRecord> rec = catalog.Get(id);
    if (!rec.ok()) {
      finish(rec.status(), "");
      return;
    }
    auto dbs = backup::ResolveDatabases(*project, rec->database);
    if (!dbs.ok()) {
      finish(dbs.status(), "");
      return;
    }
    const backup::ProjectDatabase& db = dbs->front();
    Result<backup::VerifyResult> v =
        backup::Verify(*rec, db.target, db.check, &catalog, backup::BackupOptionsFor(*project));
    if (!v.ok()) {
      finish(v.status(), "");
      return;
    }
    if (!v->ok) {
      finish(Aborted("backup " + std::to_string(id) + " failed verification: " + v->message), "");
      return;
    }
    finish(Status::OK(), v->message);
  });
  cv_.notify_one();
}

namespace {

// One database's status as the worker reads it (blocks: it connects, a tool runs).
nlohmann::json OneMigrationStatus(const backup::ProjectDatabase& db, store::Store* store) {
  using nlohmann::json;
  json row = {{"name", db.name}};
  if (db.tool.tool != config::MigrationTool::kNone) {
    std::unique_ptr<migrate::MigrationRunner> runner = backup::RunnerFor(db, store);
    Result<migrate::PendingReport> rep = runner->Pending();
    if (!rep.ok()) {
      row["error"] = rep.status().message();
      return row;
    }
    row["current"] = rep->current;
    row["pending"] = rep->items.size();
    row["pending_migrations"] = rep->items;
    return row;
  }
  auto m = migrate::Migrator::Open(db.target, db.migrate);
  if (!m.ok()) {
    row["error"] = m.status().message();
    return row;
  }
  Result<migrate::StatusReport> rep = (*m)->GetStatus();
  if (!rep.ok()) {
    row["error"] = rep.status().message();
    return row;
  }
  json migrations = json::array();
  for (const migrate::StatusRow& r : rep->rows) {
    migrations.push_back({{"version", r.version},
                          {"name", r.name},
                          {"state", std::string(migrate::StateName(r.state))},
                          {"applied_ms", r.applied ? r.applied->applied_ms : 0},
                          {"applied_by", r.applied ? r.applied->applied_by : ""}});
  }
  row["pending"] = rep->pending;
  row["blocked"] = rep->blocked;
  row["migrations"] = std::move(migrations);
  return row;
}

}  // namespace

void DatabaseJobs::MigrationStatus(std::shared_ptr<const config::Project> project,
                                   std::function<void(nlohmann::json)> done) {
  auto finish = [this, done](nlohmann::json out) {
    loop_->Post([done, out = std::move(out)] { done(out); });
  };
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back([project, finish](store::Store* store) {
    nlohmann::json out = nlohmann::json::array();
    if (project->databases.empty()) return finish(std::move(out));
    auto dbs = backup::ResolveDatabases(*project, "");
    if (!dbs.ok()) {
      out.push_back({{"name", ""}, {"error", dbs.status().message()}});
      return finish(std::move(out));
    }
    for (const backup::ProjectDatabase& db : *dbs) out.push_back(OneMigrationStatus(db, store));
    finish(std::move(out));
  });
  cv_.notify_one();
}

Status DatabaseJobs::StartSchedule(const config::Project& project) {
  const config::BackupsSettings& bs = project.backups;
  if (bs.schedule.empty() || project.databases.empty()) return Status::OK();
  ASSIGN_OR_RETURN(backup::CronExpr cron, backup::CronExpr::Parse(bs.schedule));
  std::vector<backup::ScheduledJob> jobs;
  for (const auto& [name, _] : project.databases) {
    if (!bs.databases.empty() &&
        std::find(bs.databases.begin(), bs.databases.end(), name) == bs.databases.end()) {
      continue;
    }
    jobs.push_back({name, cron});
  }
  scheduled_project_ = std::make_shared<const config::Project>(project);
  auto project_copy = scheduled_project_;
  std::filesystem::path db_path = db_path_;
  // The last summary of each job, written by the worker and read by the report on the loop.
  auto summaries = std::make_shared<std::map<std::string, std::string>>();
  auto mu = std::make_shared<std::mutex>();
  auto run = [project_copy, db_path, summaries, mu](const std::string& job) -> Status {
    std::string summary;
    Status st = ScheduledBackup(*project_copy, db_path, job, &summary);
    std::lock_guard<std::mutex> lock(*mu);
    (*summaries)[job] = summary;
    return st;
  };
  auto report = [this, summaries, mu](const std::string& job, backup::ScheduleEvent kind,
                                      const std::string& msg) {
    std::string text = msg;
    if (kind == backup::ScheduleEvent::kSucceeded) {
      std::lock_guard<std::mutex> lock(*mu);
      text = (*summaries)[job];
    }
    Record(job, kind, text);
  };
  scheduler_ =
      std::make_unique<backup::Scheduler>(loop_, store_, std::move(jobs), run, report, bs.catch_up);
  scheduler_->Start();
  return Status::OK();
}

void DatabaseJobs::Record(const std::string& database, backup::ScheduleEvent kind,
                          const std::string& msg) {
  using backup::ScheduleEvent;
  const std::string name(backup::ScheduleEventName(kind));
  store::Event ev;
  ev.service = kEventService;
  ev.kind = "backup-" + name;
  ev.message = database + (msg.empty() ? "" : ": " + msg);
  if (Status st = store_->AppendEvent(std::move(ev)); !st.ok()) {
    logging::Warn("daemon", "events: " + st.message());
  }
  if (kind == ScheduleEvent::kSucceeded) {
    registry_
        ->GetGauge("slipway_backup_last_success_timestamp_seconds",
                   "Unix time of the last verified scheduled backup.", {"database"}, {database})
        ->Set(0, Clock::Real()->WallMillis() / 1000);
  } else if (kind == ScheduleEvent::kFailed || kind == ScheduleEvent::kMissed ||
             kind == ScheduleEvent::kSkipped) {
    registry_
        ->GetCounter("slipway_backup_problems_total",
                     "Scheduled backups that failed, were missed while the daemon was down, or "
                     "were skipped because the previous one was still running.",
                     {"database", "kind"}, {database, name})
        ->Add(0);
  }
}

}  // namespace slipway::daemon
