// CancelSignal: a raise from another thread ends a wait at once and calls the wakers; a waker
// added after the raise runs at once; a removed one never runs; Reset lowers it.
#include "base/cancel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace slipway {
namespace {

using SteadyClock = std::chrono::steady_clock;

long long MsSince(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}

TEST(CancelSignalTest, ARaiseEndsAWaitAtOnce) {
  CancelSignal s;
  const auto start = SteadyClock::now();
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.Raise();
  });
  const bool raised = s.WaitFor(Duration(10'000));
  const long long took = MsSince(start);
  raiser.join();
  EXPECT_TRUE(raised);
  EXPECT_GE(took, 40);
  EXPECT_LT(took, 1'000) << "the wait ran to its slice or its end instead of waking";
}

TEST(CancelSignalTest, AWaitWithoutARaiseRunsItsTimeAndSaysSo) {
  CancelSignal s;
  const auto start = SteadyClock::now();
  EXPECT_FALSE(s.WaitFor(Duration(30)));
  EXPECT_GE(MsSince(start), 29);
  EXPECT_FALSE(s.raised());
}

TEST(CancelSignalTest, WakersRunOnRaiseAndAtOnceWhenAlreadyRaised) {
  CancelSignal s;
  std::atomic<int> first{0}, removed{0}, late{0};
  s.AddWaker([&] { ++first; });
  const uint64_t gone = s.AddWaker([&] { ++removed; });
  s.RemoveWaker(gone);
  EXPECT_EQ(first.load(), 0);
  s.Raise();
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(removed.load(), 0);
  s.AddWaker([&] { ++late; });
  EXPECT_EQ(late.load(), 1);
  EXPECT_TRUE(s.WaitFor(Duration(10'000)));  // raised: no wait at all
  s.Reset();
  EXPECT_FALSE(s.raised());
  EXPECT_FALSE(s.WaitFor(Duration(1)));
}

}  // namespace
}  // namespace slipway
