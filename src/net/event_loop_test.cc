#include "net/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>

namespace slipway::net {
namespace {

std::unique_ptr<EventLoop> MakeLoop(Clock* clock = Clock::Real()) {
  auto loop = EventLoop::Create(clock);
  EXPECT_TRUE(loop.ok());
  return std::move(loop).value();
}

TEST(EventLoopTest, TimersFireInDeadlineOrder) {
  FakeClock clock;
  auto loop = MakeLoop(&clock);
  std::vector<int> order;
  loop->RunAfter(Duration(30), [&] { order.push_back(30); });
  loop->RunAfter(Duration(10), [&] { order.push_back(10); });
  auto cancelled = loop->RunAfter(Duration(20), [&] { order.push_back(20); });
  loop->Cancel(cancelled);
  loop->RunOnce(Duration(0));
  EXPECT_TRUE(order.empty());
  clock.AdvanceForTest(Duration(15));
  loop->RunOnce(Duration(0));
  EXPECT_EQ(order, std::vector<int>({10}));
  clock.AdvanceForTest(Duration(100));
  loop->RunOnce(Duration(0));
  EXPECT_EQ(order, std::vector<int>({10, 30}));
}

TEST(EventLoopTest, FdReadableDispatchesAndRemoveStopsEvents) {
  auto loop = MakeLoop();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  int calls = 0;
  ASSERT_TRUE(loop->Add(p[0], EPOLLIN,
                        [&](uint32_t ev) {
                          EXPECT_TRUE(ev & EPOLLIN);
                          ++calls;
                          loop->Remove(p[0]);  // removing oneself inside the callback is allowed
                        })
                  .ok());
  EXPECT_FALSE(loop->Add(p[0], EPOLLIN, [](uint32_t) {}).ok()) << "double add must fail";
  ASSERT_EQ(write(p[1], "x", 1), 1);
  loop->RunOnce(Duration(100));
  loop->RunOnce(Duration(0));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(loop->Watching(p[0]));
  close(p[0]);
  close(p[1]);
}

TEST(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  auto loop = MakeLoop();
  std::thread::id ran_on;
  std::thread runner([&] { loop->Run(); });
  // Run() records its thread; the closure must run there.
  loop->Post([&] {
    ran_on = std::this_thread::get_id();
    loop->Stop();
  });
  std::thread::id runner_id = runner.get_id();
  runner.join();
  EXPECT_EQ(ran_on, runner_id);
}

TEST(EventLoopTest, TimerMayScheduleAnotherTimer) {
  FakeClock clock;
  auto loop = MakeLoop(&clock);
  int fired = 0;
  loop->RunAfter(Duration(5), [&] {
    ++fired;
    loop->RunAfter(Duration(5), [&] { ++fired; });
  });
  clock.AdvanceForTest(Duration(5));
  loop->RunOnce(Duration(0));
  EXPECT_EQ(fired, 1);
  clock.AdvanceForTest(Duration(5));
  loop->RunOnce(Duration(0));
  EXPECT_EQ(fired, 2);
}

}  // namespace
}  // namespace slipway::net
