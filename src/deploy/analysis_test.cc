#include "deploy/analysis.h"

#include <gtest/gtest.h>

#include "deploy/test_set_stats.h"

namespace slipway::deploy {
namespace {

GroupView Healthy() {
  GroupView g;
  g.exists = true;
  g.instances = g.ready = 2;
  return g;
}

MonoTime T(int ms) { return MonoTime(std::chrono::milliseconds(ms)); }

config::DeployAnalysis Defaults() {
  config::DeployAnalysis a;
  a.min_requests = 20;
  a.window = Duration(5'000);
  return a;
}

TEST(AnalysisTest, HealthySetPasses) {
  Analyzer an(Defaults());
  an.Add(T(0), TestSetStats(0, 0, 0.002), TestSetStats(1000, 0, 0.002));
  an.Add(T(1000), TestSetStats(500, 2, 0.002), TestSetStats(1000, 0, 0.002));
  Verdict v = an.Judge(Healthy());
  EXPECT_FALSE(v.breach) << v.reason;
  EXPECT_EQ(v.numbers.requests, 500);
  EXPECT_EQ(v.numbers.errors_5xx, 2);
}

TEST(AnalysisTest, ErrorRateBreachesOnlyAboveMinRequests) {
  Analyzer an(Defaults());
  an.Add(T(0), TestSetStats(0, 0, 0.002), TestSetStats(0, 0, 0.002));
  an.Add(T(200), TestSetStats(10, 5, 0.002), TestSetStats(0, 0, 0.002));
  EXPECT_FALSE(an.Judge(Healthy()).breach);  // 10 < min_requests
  an.Add(T(400), TestSetStats(100, 48, 0.002), TestSetStats(0, 0, 0.002));
  Verdict v = an.Judge(Healthy());
  EXPECT_TRUE(v.breach);
  EXPECT_EQ(v.reason.rfind("5xx rate 48.0% > 5.0% (48 of 100 requests", 0), 0u) << v.reason;
}

TEST(AnalysisTest, WindowSlides) {
  Analyzer an(Defaults());
  an.Add(T(0), TestSetStats(0, 0, 0.002), TestSetStats(0, 0, 0.002));
  an.Add(T(1000), TestSetStats(100, 50, 0.002), TestSetStats(0, 0, 0.002));  // a bad burst
  for (int t = 2000; t <= 9000; t += 1000) {
    an.Add(T(t), TestSetStats(100 + static_cast<uint64_t>(t / 10), 50, 0.002),
           TestSetStats(0, 0, 0.002));
  }
  // The burst left the 5 s window: 500 good requests remain.
  Verdict v = an.Judge(Healthy());
  EXPECT_FALSE(v.breach) << v.reason;
  EXPECT_EQ(v.numbers.errors_5xx, 0);
}

TEST(AnalysisTest, LatencyAbsoluteAndRelative) {
  {
    Analyzer an(Defaults());
    an.Add(T(0), TestSetStats(0, 0, 0.002), TestSetStats(0, 0, 0.002));
    an.Add(T(1000), TestSetStats(50, 0, 2.0), TestSetStats(50, 0, 0.002));
    Verdict v = an.Judge(Healthy());
    EXPECT_TRUE(v.breach);
    EXPECT_NE(v.reason.find("p95 latency"), std::string::npos) << v.reason;
  }
  {
    // Old set is slow too (0.8 s): 0.9 s is within 2x, and under the 1 s floor anyway.
    Analyzer an(Defaults());
    an.Add(T(0), TestSetStats(0, 0, 0.002), TestSetStats(0, 0, 0.002));
    an.Add(T(1000), TestSetStats(50, 0, 0.9), TestSetStats(50, 0, 0.8));
    EXPECT_FALSE(an.Judge(Healthy()).breach);
  }
}

TEST(AnalysisTest, HealthAndCrashes) {
  Analyzer an(Defaults(), /*baseline_restarts=*/1);
  GroupView g = Healthy();
  g.restarts = 1;  // before judging began: ignored
  EXPECT_FALSE(an.Judge(g).breach);
  g.max_failing_streak = 3;
  Verdict v = an.Judge(g);
  EXPECT_TRUE(v.breach);
  EXPECT_EQ(v.reason.rfind("3 consecutive health-check failures", 0), 0u) << v.reason;
  g.max_failing_streak = 0;
  g.crashed = 1;
  g.problem = "api.1 exited with code 3";
  EXPECT_EQ(an.Judge(g).reason, "crashed: api.1 exited with code 3");
}

}  // namespace
}  // namespace slipway::deploy
