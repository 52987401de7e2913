#include "backup/scheduler.h"

#include <gtest/gtest.h>

#include <mutex>

#include "migrate/test_files.h"

namespace slipway::backup {
namespace {

using migrate::testing::TempDir;

struct Event {
  std::string job, kind, msg;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create(&clock_);
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    auto s = store::Store::Open(dir_.path() / "state.db", &clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
  }

  std::unique_ptr<Scheduler> Make(const std::string& cron, bool catch_up = true) {
    std::vector<ScheduledJob> jobs = {{"main", *CronExpr::Parse(cron)}};
    return std::make_unique<Scheduler>(
        loop_.get(), store_.get(), jobs,
        [this](const std::string& job) {
          runs_.fetch_add(1);
          return Status::OK();
        },
        [this](const std::string& job, ScheduleEvent kind, const std::string& msg) {
          events_.push_back({job, std::string(ScheduleEventName(kind)), msg});
        },
        catch_up);
  }

  // Runs the loop until an event of `kind` arrives (bounded).
  bool WaitFor(const std::string& kind, size_t count = 1) {
    for (int i = 0; i < 500; ++i) {
      size_t n = 0;
      for (const auto& e : events_) n += e.kind == kind ? 1 : 0;
      if (n >= count) return true;
      loop_->RunOnce(Duration(10));
    }
    return false;
  }

  // 2024-01-01 00:30:00 UTC.
  FakeClock clock_{1'704'069'000'000};
  TempDir dir_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<store::Store> store_;
  std::atomic<int> runs_{0};
  std::vector<Event> events_;
};

TEST_F(SchedulerTest, RunsWhenDueAndRecordsTheRun) {
  auto s = Make("0 * * * *");
  s->Start();
  EXPECT_EQ(s->NextDueMs("main"), 1'704'070'800'000);  // 01:00
  EXPECT_TRUE(events_.empty());
  clock_.AdvanceForTest(Duration(29 * 60 * 1000));
  loop_->RunOnce(Duration(0));
  EXPECT_EQ(runs_.load(), 0);
  clock_.AdvanceForTest(Duration(60 * 1000));
  ASSERT_TRUE(WaitFor("succeeded"));
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_EQ(events_[0].kind, "started");
  EXPECT_NE(events_[0].msg.find("2024-01-01 01:00 UTC"), std::string::npos);
  EXPECT_EQ(**store_->GetMeta("backup.schedule.main.last_ms"), "1704070800000");
  EXPECT_EQ(s->NextDueMs("main"), 1'704'074'400'000);  // 02:00
}

TEST_F(SchedulerTest, MissedRunsAreReportedAndCaughtUp) {
  // The last run was at 21:00 the day before; hourly runs at 22, 23, 00 were missed.
  ASSERT_TRUE(store_->SetMeta("backup.schedule.main.last_ms", "1704056400000").ok());
  auto s = Make("0 * * * *");
  s->Start();
  ASSERT_FALSE(events_.empty());
  EXPECT_EQ(events_[0].kind, "missed");
  EXPECT_NE(events_[0].msg.find("3 scheduled run(s)"), std::string::npos) << events_[0].msg;
  EXPECT_NE(events_[0].msg.find("since 2023-12-31 22:00 UTC"), std::string::npos) << events_[0].msg;
  ASSERT_TRUE(WaitFor("succeeded"));
  EXPECT_EQ(runs_.load(), 1);
}

TEST_F(SchedulerTest, NoCatchUpWhenDisabledAndFirstStartSetsBaseline) {
  auto s = Make("0 * * * *", false);
  s->Start();
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(**store_->GetMeta("backup.schedule.main.last_ms"), "1704069000000");
  s.reset();
  clock_.AdvanceForTest(Duration(3 * 3600 * 1000));
  auto s2 = Make("0 * * * *", false);
  s2->Start();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, "missed");
  loop_->RunOnce(Duration(0));
  EXPECT_EQ(runs_.load(), 0);
}

}  // namespace
}  // namespace slipway::backup
