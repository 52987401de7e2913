#include "deploy/live_sets.h"

#include <gtest/gtest.h>

#include "deploy/test_set_stats.h"

namespace slipway::deploy {
namespace {

MonoTime T(int ms) { return MonoTime(std::chrono::milliseconds(ms)); }

TEST(LiveSetsTest, NothingBeforeTwoReads) {
  LiveSets live;
  EXPECT_FALSE(live.Numbers());
  live.Add(T(0), 1000, TestSetStats(10, 0, 0.004), TestSetStats(10, 0, 0.004));
  EXPECT_FALSE(live.Numbers());
}

// Two reads half a second apart: the numbers are what each set served between them.
TEST(LiveSetsTest, EachSetBetweenTwoReads) {
  LiveSets live;
  live.Add(T(0), 1000, TestSetStats(100, 0, 0.004), TestSetStats(400, 4, 0.004));
  live.Add(T(500), 1500, TestSetStats(150, 25, 0.3), TestSetStats(500, 5, 0.004));
  auto n = live.Numbers();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->at_ms, 1500);
  EXPECT_DOUBLE_EQ(n->window_s, 0.5);
  EXPECT_EQ(n->new_set.requests, 50u);
  EXPECT_EQ(n->new_set.errors_5xx, 25u);
  ASSERT_TRUE(n->new_set.error_rate);
  EXPECT_DOUBLE_EQ(*n->new_set.error_rate, 0.5);
  EXPECT_GT(n->new_set.p95_ms, 100);  // all of the window's responses took 300 ms
  EXPECT_EQ(n->old_set.requests, 100u);
  EXPECT_EQ(n->old_set.errors_5xx, 1u);
  EXPECT_LE(n->old_set.p95_ms, 5);
}

// Read twice a second, the window is the last second or so, not everything since the start:
// a version that turns bad shows at the next read.
TEST(LiveSetsTest, TheWindowFollowsTheLastSecond) {
  LiveSets live;
  uint64_t req = 0;
  uint64_t err = 0;
  for (int ms = 0; ms <= 10'000; ms += 500) {
    req += 50;
    if (ms > 9'000) err += 50;  // every response fails from here on
    live.Add(T(ms), ms, TestSetStats(req, err, 0.004), TestSetStats(req, 0, 0.004));
  }
  auto n = live.Numbers();
  ASSERT_TRUE(n);
  EXPECT_GE(n->window_s, 1.0);
  EXPECT_LT(n->window_s, 1.5);
  ASSERT_TRUE(n->new_set.error_rate);
  EXPECT_DOUBLE_EQ(*n->new_set.error_rate, 1.0) << "only the failing second is in the window";
  ASSERT_TRUE(n->old_set.error_rate);
  EXPECT_DOUBLE_EQ(*n->old_set.error_rate, 0.0);
  EXPECT_LE(live.size(), LiveSets::kMaxSamples);
}

// Asked for far more often than twice a second (a poll beside every stream), it keeps few reads
// and its window does not shrink to nothing.
TEST(LiveSetsTest, BoundedHoweverOftenItIsAsked) {
  LiveSets live;
  for (int ms = 0; ms <= 60'000; ms += 1) {
    live.Add(T(ms), ms, TestSetStats(ms, 0, 0.004), TestSetStats(ms, 0, 0.004));
  }
  EXPECT_LE(live.size(), LiveSets::kMaxSamples);
  EXPECT_LE(live.size(), static_cast<size_t>(LiveSets::kKeep / LiveSets::kMinSpacing) + 1);
  auto n = live.Numbers();
  ASSERT_TRUE(n);
  EXPECT_GE(n->window_s, 1.0);
  EXPECT_LE(n->window_s, 1.0 + 0.2);
}

// After a gap (nobody watched) the old reads are dropped; the window is the newest two.
TEST(LiveSetsTest, OldReadsAreDropped) {
  LiveSets live;
  live.Add(T(0), 0, TestSetStats(10, 0, 0.004), TestSetStats(10, 0, 0.004));
  live.Add(T(500), 500, TestSetStats(20, 0, 0.004), TestSetStats(20, 0, 0.004));
  live.Add(T(60'000), 60'000, TestSetStats(1000, 10, 0.004), TestSetStats(30, 0, 0.004));
  EXPECT_EQ(live.size(), 1u);
  EXPECT_FALSE(live.Numbers());
  live.Add(T(60'500), 60'500, TestSetStats(1100, 20, 0.004), TestSetStats(40, 0, 0.004));
  auto n = live.Numbers();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->new_set.requests, 100u);
  EXPECT_EQ(n->new_set.errors_5xx, 10u);
}

// Counters that went down (a set's counters restarted) give zeroes, not wrapped numbers.
TEST(LiveSetsTest, CountersThatWentDownGiveNoHugeNumbers) {
  LiveSets live;
  live.Add(T(0), 0, TestSetStats(1000, 10, 0.004), TestSetStats(10, 0, 0.004));
  live.Add(T(500), 500, TestSetStats(5, 1, 0.004), TestSetStats(20, 0, 0.004));
  auto n = live.Numbers();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->new_set.requests, 0u);
  EXPECT_EQ(n->new_set.errors_5xx, 0u);
  EXPECT_FALSE(n->new_set.error_rate);
}

}  // namespace
}  // namespace slipway::deploy
