#include "backup/scheduler.h"

#include "base/clock.h"
#include "base/log.h"

namespace slipway::backup {

std::string_view ScheduleEventName(ScheduleEvent e) {
  switch (e) {
    case ScheduleEvent::kStarted:
      return "started";
    case ScheduleEvent::kSucceeded:
      return "succeeded";
    case ScheduleEvent::kFailed:
      return "failed";
    case ScheduleEvent::kMissed:
      return "missed";
    case ScheduleEvent::kSkipped:
      return "skipped";
  }
  return "unknown";
}
namespace {

std::string Utc(int64_t ms) { return FormatUtc(ms, "%Y-%m-%d %H:%M UTC"); }

}  // namespace

Scheduler::Scheduler(net::EventLoop* loop, store::Store* store, std::vector<ScheduledJob> jobs,
                     RunFn run, ReportFn report, bool catch_up)
    : loop_(loop),
      store_(store),
      run_(std::move(run)),
      report_(std::move(report)),
      catch_up_(catch_up) {
  for (ScheduledJob& j : jobs) {
    auto s = std::make_unique<JobState>();
    std::string name = j.name;
    s->job = std::move(j);
    jobs_[name] = std::move(s);
  }
}

Scheduler::~Scheduler() {
  alive_->store(false);
  for (auto& [name, s] : jobs_) {
    if (s->timer != 0) loop_->Cancel(s->timer);
    if (s->worker && s->worker->joinable()) s->worker->join();
  }
}

void Scheduler::Start() {
  const int64_t now = loop_->clock()->WallMillis();
  for (auto& [name, s] : jobs_) {
    if (store_ != nullptr) {
      auto last = store_->GetMeta(MetaKey(name));
      if (last.ok() && last->has_value()) {
        int64_t last_ms = std::stoll(**last);
        int missed = 0;
        int64_t first_missed = -1;
        for (int64_t due = s->job.cron.Next(last_ms); due > 0 && due <= now && missed < 10000;
             due = s->job.cron.Next(due)) {
          if (first_missed < 0) first_missed = due;
          ++missed;
        }
        if (missed > 0) {
          report_(name, ScheduleEvent::kMissed,
                  std::to_string(missed) + " scheduled run(s) of \"" + s->job.cron.text() +
                      "\" missed since " + Utc(first_missed) + " (last run " + Utc(last_ms) +
                      "); the daemon was not running" + (catch_up_ ? "; running one now" : ""));
          if (catch_up_) Launch(s.get(), now);
        }
      } else {
        // Baseline, so a later restart can tell which runs were missed.
        if (Status st = store_->SetMeta(MetaKey(name), std::to_string(now)); !st.ok()) {
          logging::Warn("backup", "cannot record the schedule's baseline: " + st.message(),
                        {{"schedule", name}});
        }
      }
    }
    Arm(s.get());
  }
}

int64_t Scheduler::NextDueMs(const std::string& job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? -1 : it->second->next_ms;
}

bool Scheduler::RunningForTest(const std::string& job) const {
  auto it = jobs_.find(job);
  return it != jobs_.end() && it->second->running;
}

bool Scheduler::AnyRunning() const {
  for (const auto& [name, s] : jobs_) {
    if (s->running) return true;
  }
  return false;
}

void Scheduler::Arm(JobState* s) {
  const int64_t now = loop_->clock()->WallMillis();
  s->next_ms = s->job.cron.Next(now);
  if (s->next_ms < 0) return;
  int64_t due = s->next_ms;
  s->timer = loop_->RunAfter(Duration(due - now), [this, s, due] { Fire(s, due); });
}

void Scheduler::Fire(JobState* s, int64_t due_ms) {
  s->timer = 0;
  if (s->running) {
    report_(s->job.name, ScheduleEvent::kSkipped,
            "run due " + Utc(due_ms) + " skipped: the previous run is still going");
  } else {
    Launch(s, due_ms);
  }
  Arm(s);
}

void Scheduler::Launch(JobState* s, int64_t due_ms) {
  if (s->worker && s->worker->joinable()) s->worker->join();
  s->running = true;
  report_(s->job.name, ScheduleEvent::kStarted, "run due " + Utc(due_ms));
  std::string name = s->job.name;
  auto alive = alive_;
  s->worker = std::make_unique<std::thread>([this, s, name, due_ms, alive] {
    Status st = run_(name);
    if (!alive->load()) return;
    loop_->Post([this, s, name, due_ms, st, alive] {
      if (!alive->load()) return;
      s->running = false;
      if (store_ != nullptr) {
        // Unrecorded, the run counts as missed at the next start (one extra catch-up run).
        if (Status m = store_->SetMeta(MetaKey(name), std::to_string(due_ms)); !m.ok()) {
          logging::Warn("backup", "cannot record the run: " + m.message(), {{"schedule", name}});
        }
      }
      report_(name, st.ok() ? ScheduleEvent::kSucceeded : ScheduleEvent::kFailed,
              st.ok() ? "run due " + Utc(due_ms) : st.message());
    });
  });
}

}  // namespace slipway::backup
