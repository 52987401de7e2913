#include "health/monitor.h"

#include <gtest/gtest.h>

#include <deque>

namespace slipway::health {
namespace {

// A loop on a FakeClock and a prober whose answers the test gives by hand.
class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = net::EventLoop::Create(&clock_);
    ASSERT_TRUE(l.ok());
    loop_ = std::move(l).value();
  }

  std::unique_ptr<HealthMonitor> Make(config::Healthcheck hc) {
    hc.kind = config::Healthcheck::Kind::kCmd;
    hc.test = {"unused"};
    return HealthMonitor::WithProber(
        loop_.get(), hc,
        [this](std::function<void(ProbeResult)> done) {
          probe_times_.push_back(clock_.Now());
          pending_.push_back(std::move(done));
        },
        [this](HealthState from, HealthState to, const ProbeResult& r) {
          changes_.emplace_back(from, to);
        });
  }

  void Advance(Duration d) {
    clock_.AdvanceForTest(d);
    loop_->RunOnce(Duration(0));
  }

  // Answers the oldest pending probe (the result arrives on the loop, as real probes do).
  void Answer(ProbeResult r) {
    ASSERT_FALSE(pending_.empty());
    auto fn = std::move(pending_.front());
    pending_.pop_front();
    loop_->Post([fn, r] { fn(r); });
    loop_->RunOnce(Duration(0));
  }
  void Answer(bool ok) { Answer(ProbeResult{ok, ok ? "fine" : "bad", Duration(1)}); }
  // As an exec into a container its engine has not started.
  void AnswerContainerAbsent() {
    ProbeResult r{false, "Error: no container with name or ID \"x\" found: no such container",
                  Duration(1)};
    r.container_absent = true;
    Answer(r);
  }

  FakeClock clock_;
  std::unique_ptr<net::EventLoop> loop_;
  std::deque<std::function<void(ProbeResult)>> pending_;
  std::vector<MonoTime> probe_times_;
  std::vector<std::pair<HealthState, HealthState>> changes_;
};

// start_interval_ms -1: the same as the interval (a steady probe rhythm from the start).
config::Healthcheck Hc(int interval_ms, int retries, int start_period_ms = 0,
                       int start_interval_ms = -1) {
  config::Healthcheck hc;
  hc.interval = Duration(interval_ms);
  hc.retries = retries;
  hc.start_period = Duration(start_period_ms);
  hc.start_interval = Duration(start_interval_ms < 0 ? interval_ms : start_interval_ms);
  return hc;
}

// Compose's defaults (interval 30 s, no start_interval written): a new instance is probed every
// 0.5 s until it answers, then every 30 s. Docker would wait 30 s for the first probe.
TEST_F(MonitorTest, AStartingInstanceIsProbedEveryHalfSecondUntilHealthy) {
  auto m = Make(Hc(/*interval=*/30'000, /*retries=*/3, /*start_period=*/0,
                   /*start_interval=*/5'000));
  m->Start();
  MonoTime t0 = clock_.Now();
  Advance(Duration(499));
  EXPECT_TRUE(pending_.empty());
  Advance(Duration(1));
  Answer(false);
  EXPECT_EQ(m->failing_streak(), 0) << "a fast probe's failure does not count yet";
  Advance(Duration(500));
  Answer(true);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
  EXPECT_EQ(probe_times_.back() - t0, Duration(1'000));
  Advance(Duration(29'999));
  EXPECT_TRUE(pending_.empty()) << "healthy: the interval again";
  Advance(Duration(1));
  EXPECT_EQ(pending_.size(), 1u);
  EXPECT_EQ(HealthMonitor::StartingInterval(Hc(200, 1, 0, 5'000)), Duration(200))
      << "never slower than the interval";
  EXPECT_EQ(HealthMonitor::StartingInterval(Hc(30'000, 1, 0, 2'000)), Duration(2'000))
      << "a start_interval the file gives is used";
}

// Fast probes never make an instance unhealthy sooner than Docker: failures count at most once
// per interval (here at 2 s and 4 s, as Docker's probes would).
TEST_F(MonitorTest, FastProbesCountFailuresAtTheIntervalsPace) {
  auto m = Make(Hc(/*interval=*/2'000, /*retries=*/2, 0, /*start_interval=*/5'000));
  m->Start();
  int probes = 0;
  while (m->state() == HealthState::kStarting && probes < 20) {
    Advance(Duration(500));
    ASSERT_EQ(pending_.size(), 1u);
    Answer(false);
    ++probes;
  }
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
  EXPECT_EQ(probes, 8) << "unhealthy at 4 s";
}

TEST_F(MonitorTest, FirstProbeWaitsOneIntervalAndProbesDoNotOverlap) {
  auto m = Make(Hc(1'000, 3));
  EXPECT_EQ(m->state(), HealthState::kNone);
  m->Start();
  EXPECT_EQ(m->state(), HealthState::kStarting);
  Advance(Duration(999));
  EXPECT_TRUE(pending_.empty());
  Advance(Duration(1));
  ASSERT_EQ(pending_.size(), 1u);
  Advance(Duration(5'000));  // the probe is slow: no second one meanwhile
  EXPECT_EQ(pending_.size(), 1u);
  Answer(false);
  EXPECT_EQ(m->failing_streak(), 1);
  EXPECT_EQ(m->state(), HealthState::kStarting);
}

TEST_F(MonitorTest, CountsConsecutiveFailuresAndRecovers) {
  auto m = Make(Hc(1'000, 3));
  m->Start();
  for (int i = 1; i <= 3; ++i) {
    Advance(Duration(1'000));
    ASSERT_EQ(pending_.size(), 1u) << i;
    Answer(false);
    EXPECT_EQ(m->failing_streak(), i);
  }
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0], std::make_pair(HealthState::kStarting, HealthState::kUnhealthy));
  EXPECT_EQ(m->last()->output, "bad");

  // The next probe waits an interval after the previous one completed.
  Advance(Duration(999));
  EXPECT_TRUE(pending_.empty());
  Advance(Duration(1));
  Answer(true);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
  EXPECT_EQ(m->failing_streak(), 0);
  EXPECT_EQ(changes_.back(), std::make_pair(HealthState::kUnhealthy, HealthState::kHealthy));

  // Two failures do not reach retries=3; a success resets the streak.
  Advance(Duration(1'000));
  Answer(false);
  Advance(Duration(1'000));
  Answer(false);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
  EXPECT_EQ(m->failing_streak(), 2);
  Advance(Duration(1'000));
  Answer(true);
  EXPECT_EQ(m->failing_streak(), 0);
  EXPECT_EQ(changes_.size(), 2u);  // only transitions are reported
  EXPECT_EQ(m->probes_run(), 7);
}

TEST_F(MonitorTest, StartPeriodUsesStartIntervalAndIgnoresFailures) {
  auto m = Make(Hc(/*interval=*/10'000, /*retries=*/1, /*start_period=*/5'000,
                   /*start_interval=*/1'000));
  m->Start();
  MonoTime t0 = clock_.Now();
  for (int i = 0; i < 3; ++i) {
    Advance(Duration(1'000));
    ASSERT_EQ(pending_.size(), 1u);
    Answer(false);
    EXPECT_EQ(m->state(), HealthState::kStarting);  // retries=1, yet not counted
    EXPECT_EQ(m->failing_streak(), 0);
  }
  EXPECT_EQ(probe_times_.back() - t0, Duration(3'000));
  // A success inside the start period: healthy at once, and the normal interval from now on.
  Advance(Duration(1'000));
  Answer(true);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
  Advance(Duration(1'000));
  EXPECT_TRUE(pending_.empty());
  Advance(Duration(9'000));
  ASSERT_EQ(pending_.size(), 1u);
  // Still inside the original start period's time, but after a success failures count.
  Answer(false);
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
}

TEST_F(MonitorTest, FailuresCountOnceTheStartPeriodIsOver) {
  auto m = Make(Hc(2'000, 2, /*start_period=*/3'000, /*start_interval=*/1'000));
  m->Start();
  Advance(Duration(1'000));
  Answer(false);  // t=1s: ignored
  Advance(Duration(1'000));
  Answer(false);  // t=2s: ignored
  Advance(Duration(1'000));
  Answer(false);  // t=3s: the period is over: counts
  EXPECT_EQ(m->failing_streak(), 1);
  EXPECT_EQ(m->state(), HealthState::kStarting);
  Advance(Duration(1'000));  // still starting: still the start interval
  Answer(false);             // t=4s: within an interval of the last counted failure
  EXPECT_EQ(m->failing_streak(), 1);
  Advance(Duration(1'000));
  Answer(false);  // t=5s: counts
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
}

// An image pull can keep `podman run` from creating the container for minutes: "no such
// container" answers while starting do not count, and the start period begins once the
// container answers. Ordinary failures still count (checked at the end).
TEST_F(MonitorTest, AContainerNotStartedYetIsNotCountedAndStartsTheClock) {
  auto m = Make(Hc(/*interval=*/1'000, /*retries=*/1, /*start_period=*/3'000,
                   /*start_interval=*/500));
  m->Start();
  for (int i = 0; i < 10; ++i) {  // 10 s of pulling: longer than the start period
    Advance(Duration(i == 0 ? 500 : 1'000));
    ASSERT_EQ(pending_.size(), 1u) << i;
    AnswerContainerAbsent();
    EXPECT_EQ(m->state(), HealthState::kStarting) << i;
    EXPECT_EQ(m->failing_streak(), 0);
  }
  EXPECT_TRUE(changes_.empty());
  // The container exists now: a start period (3 s, probes every 500 ms) begins at the last
  // absent answer, so failures in it do not count either.
  Advance(Duration(500));
  ASSERT_EQ(pending_.size(), 1u);
  Answer(false);
  EXPECT_EQ(m->state(), HealthState::kStarting);
  for (int i = 0; i < 6 && m->state() == HealthState::kStarting; ++i) {
    Advance(Duration(500));
    ASSERT_EQ(pending_.size(), 1u);
    Answer(false);
  }
  // Past the start period the same failure counts (retries=1): unhealthy.
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
}

TEST_F(MonitorTest, AContainerGoneAfterItWasHealthyCounts) {
  auto m = Make(Hc(1'000, 1));
  m->Start();
  Advance(Duration(1'000));
  Answer(true);
  ASSERT_EQ(m->state(), HealthState::kHealthy);
  Advance(Duration(1'000));
  AnswerContainerAbsent();
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
}

TEST_F(MonitorTest, StartResetsAndDropsTheProbeInFlight) {
  auto m = Make(Hc(1'000, 1));
  m->Start();
  Advance(Duration(1'000));
  Answer(false);
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
  Advance(Duration(1'000));
  ASSERT_EQ(pending_.size(), 1u);  // in flight
  m->Start();                      // the instance restarted
  EXPECT_EQ(m->state(), HealthState::kStarting);
  EXPECT_EQ(m->failing_streak(), 0);
  Answer(true);  // the old probe's result is dropped
  EXPECT_EQ(m->state(), HealthState::kStarting);
  Advance(Duration(1'000));
  Answer(true);
  EXPECT_EQ(m->state(), HealthState::kHealthy);

  size_t changes = changes_.size();
  Advance(Duration(1'000));
  m->Stop();
  Answer(false);  // dropped
  Advance(Duration(10'000));
  EXPECT_TRUE(pending_.empty());  // no more probes
  EXPECT_EQ(changes_.size(), changes);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
}

TEST_F(MonitorTest, ResultAfterDestructionIsIgnored) {
  auto m = Make(Hc(1'000, 1));
  m->Start();
  Advance(Duration(1'000));
  ASSERT_EQ(pending_.size(), 1u);
  m.reset();
  Answer(false);  // must not touch the destroyed monitor
  EXPECT_TRUE(changes_.empty());
}

TEST_F(MonitorTest, NoHealthcheckNeverProbes) {
  config::Healthcheck hc;  // kNone
  auto m = HealthMonitor::WithProber(
      loop_.get(), hc, [this](std::function<void(ProbeResult)> done) { pending_.push_back(done); },
      nullptr);
  m->Start();
  Advance(Duration(100'000));
  EXPECT_TRUE(pending_.empty());
  EXPECT_EQ(m->state(), HealthState::kNone);
  EXPECT_EQ(HealthStateName(m->state()), "none");
  EXPECT_EQ(HealthStateName(HealthState::kUnhealthy), "unhealthy");
}

// An instance adopted from a daemon that died keeps its health: no start period, no
// "starting" gap in which the proxy would drop it from the routes.
TEST_F(MonitorTest, ResumeKeepsAKnownStateAndCountsFailuresAtOnce) {
  auto m = Make(Hc(1'000, 2, /*start_period_ms=*/60'000, /*start_interval_ms=*/100));
  m->Resume(HealthState::kHealthy);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
  Advance(Duration(100));
  EXPECT_TRUE(pending_.empty()) << "the start interval does not apply";
  Advance(Duration(900));
  ASSERT_EQ(pending_.size(), 1u);
  Answer(false);
  EXPECT_EQ(m->failing_streak(), 1) << "the start period counts as over";
  Advance(Duration(1'000));
  Answer(false);
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
  EXPECT_TRUE(changes_.size() == 1u &&
              changes_[0] == std::make_pair(HealthState::kHealthy, HealthState::kUnhealthy));
}

TEST_F(MonitorTest, ResumeOfAStartingOrUnknownStateIsAStart) {
  auto m = Make(Hc(1'000, 2));
  m->Resume(HealthState::kStarting);
  EXPECT_EQ(m->state(), HealthState::kStarting);
  m->Resume(HealthState::kNone);
  EXPECT_EQ(m->state(), HealthState::kStarting);
  m->Resume(HealthState::kUnhealthy);
  EXPECT_EQ(m->state(), HealthState::kUnhealthy);
  Advance(Duration(1'000));
  Answer(true);
  EXPECT_EQ(m->state(), HealthState::kHealthy);
}

}  // namespace
}  // namespace slipway::health
