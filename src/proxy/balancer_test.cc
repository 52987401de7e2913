#include "proxy/balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace slipway::proxy {
namespace {

TEST(BalancerTest, SmoothWeightsAreExact) {
  BackendHealth a, b;
  Balancer bal({{90, false, {&a}}, {10, false, {&b}}}, BalancePolicy::kRoundRobin);
  MonoTime now{};
  int counts[2] = {0, 0};
  for (int i = 0; i < 1000; ++i) {
    auto p = bal.Select(now);
    ASSERT_TRUE(p.ok());
    counts[p.set]++;
  }
  EXPECT_EQ(counts[0], 900);
  EXPECT_EQ(counts[1], 100);
}

TEST(BalancerTest, SkipsDrainingZeroWeightAndDown) {
  BackendHealth a, b, c;
  Balancer bal({{50, true, {&a}}, {0, false, {&b}}, {50, false, {&c}}}, BalancePolicy::kRoundRobin);
  MonoTime now = MonoTime(std::chrono::seconds(100));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bal.Select(now).set, 2);
  c.down_until = now + std::chrono::seconds(1);
  // c is the only backend in rotation: marked down, it is still chosen (panic), never the
  // draining or zero-weight sets.
  EXPECT_EQ(bal.Select(now).set, 2);
  EXPECT_EQ(bal.Select(now + std::chrono::seconds(2)).set, 2);
  Balancer none({{50, true, {&a}}, {0, false, {&b}}}, BalancePolicy::kRoundRobin);
  EXPECT_FALSE(none.Select(now).ok());
  Balancer empty({{100, false, {}}}, BalancePolicy::kRoundRobin);
  EXPECT_FALSE(empty.Select(now).ok());
}

// Passive marks steer traffic to the backends still up; only when every backend is marked
// are the marks ignored, so one worker's stale marks never turn into a run of 503s.
TEST(BalancerTest, PanicWhenEveryBackendIsMarkedDown) {
  BackendHealth a, b;
  Balancer bal({{100, false, {&a, &b}}}, BalancePolicy::kRoundRobin);
  const MonoTime now = MonoTime(std::chrono::seconds(100));
  a.down_until = now + std::chrono::seconds(2);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bal.Select(now).backend, 1);
  b.down_until = now + std::chrono::seconds(2);
  std::map<int, int> seen;
  for (int i = 0; i < 6; ++i) seen[bal.Select(now).backend]++;
  EXPECT_EQ(seen[0], 3);
  EXPECT_EQ(seen[1], 3);
  // A retry avoiding `a` still goes to `b`, marked or not.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bal.Select(now, -1, &a).backend, 1);
  Balancer lc({{100, false, {&a, &b}}}, BalancePolicy::kLeastConnections);
  EXPECT_TRUE(lc.Select(now).ok());
}

TEST(BalancerTest, RoundRobinWithinSetAndAvoid) {
  BackendHealth a, b, c;
  Balancer bal({{100, false, {&a, &b, &c}}}, BalancePolicy::kRoundRobin);
  MonoTime now{};
  std::map<int, int> seen;
  for (int i = 0; i < 9; ++i) seen[bal.Select(now).backend]++;
  EXPECT_EQ(seen[0], 3);
  EXPECT_EQ(seen[1], 3);
  EXPECT_EQ(seen[2], 3);
  for (int i = 0; i < 6; ++i) EXPECT_NE(bal.Select(now, -1, &b).backend, 1);
  // Avoid is only a preference: a lone backend is still chosen.
  Balancer single({{100, false, {&a}}}, BalancePolicy::kRoundRobin);
  EXPECT_EQ(single.Select(now, -1, &a).backend, 0);
}

TEST(BalancerTest, LeastConnections) {
  BackendHealth a, b;
  a.active = 5;
  Balancer bal({{100, false, {&a, &b}}}, BalancePolicy::kLeastConnections);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bal.Select(MonoTime{}).backend, 1);
  b.active = 9;
  EXPECT_EQ(bal.Select(MonoTime{}).backend, 0);
}

TEST(BalancerTest, StickyPreference) {
  BackendHealth a, b;
  Balancer bal({{100, false, {&a}}, {0, false, {&b}}}, BalancePolicy::kRoundRobin);
  EXPECT_EQ(bal.Select(MonoTime{}, 0).set, 0);
  // A sticky set out of rotation (weight 0) is not honoured.
  EXPECT_EQ(bal.Select(MonoTime{}, 1).set, 0);
}

}  // namespace
}  // namespace slipway::proxy
