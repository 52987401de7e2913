// Scheduler: runs backup jobs on cron schedules from the daemon's control loop.
//
// Each job has a cron expression (UTC). The scheduler arms one EventLoop timer
// per job for its next due minute. When it fires, the job's work runs on a
// worker thread (a backup blocks for as long as pg_dump does; the control loop
// must not), and its outcome is posted back to the loop, reported and recorded
// in the store's meta (`backup.schedule.<job>.last_ms`). A run still going when
// the next is due is reported as skipped.
//
// Missed runs: on Start(), a job whose last recorded run is older than a due
// time (the daemon was down) is reported as "missed" with the count and time,
// then run once at once to catch up (unless catch_up is off).
//
// Owned by the daemon; Start(), the destructor and the callbacks' reporting
// happen on the loop thread. `run` is called on the worker thread and must not
// use the loop's Store (open another connection; SQLite's WAL allows it).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backup/cron.h"
#include "base/status.h"
#include "net/event_loop.h"
#include "store/store.h"

namespace slipway::backup {

struct ScheduledJob {
  std::string name;  // e.g. the database name
  CronExpr cron;
};

// What the scheduler reports of a job.
enum class ScheduleEvent { kStarted, kSucceeded, kFailed, kMissed, kSkipped };
// "started", "succeeded", "failed", "missed", "skipped": the event log's and metrics' text.
std::string_view ScheduleEventName(ScheduleEvent e);

class Scheduler {
 public:
  using RunFn = std::function<Status(const std::string& job)>;
  using ReportFn =
      std::function<void(const std::string& job, ScheduleEvent kind, const std::string& msg)>;

  // `store` may be null (nothing persisted, no missed-run detection).
  Scheduler(net::EventLoop* loop, store::Store* store, std::vector<ScheduledJob> jobs, RunFn run,
            ReportFn report, bool catch_up = true);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void Start();
  // Unix ms of the job's next due run (-1 when unknown).
  int64_t NextDueMs(const std::string& job) const;
  bool RunningForTest(const std::string& job) const;
  // Whether any job's run is under way (loop thread).
  bool AnyRunning() const;

 private:
  struct JobState {
    ScheduledJob job;
    int64_t next_ms = -1;
    net::EventLoop::TimerId timer = 0;
    bool running = false;
    std::unique_ptr<std::thread> worker;
  };

  void Arm(JobState* s);
  void Fire(JobState* s, int64_t due_ms);
  void Launch(JobState* s, int64_t due_ms);
  std::string MetaKey(const std::string& job) const {
    return "backup.schedule." + job + ".last_ms";
  }

  net::EventLoop* loop_;
  store::Store* store_;
  RunFn run_;
  ReportFn report_;
  bool catch_up_;
  std::map<std::string, std::unique_ptr<JobState>> jobs_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace slipway::backup
