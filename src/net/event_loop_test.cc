#include "net/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

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

TEST(EventLoopTest, BatchEndRunsAfterTheBatchsEventsAndItsLeftoverWorkDoesNotWait) {
  FakeClock clock;
  auto loop = MakeLoop(&clock);
  int p[2];
  int q[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(pipe(q), 0);
  std::vector<std::string> order;
  auto drain = [](int fd) {
    char b[8];
    while (read(fd, b, sizeof b) == static_cast<ssize_t>(sizeof b)) {
    }
  };
  ASSERT_TRUE(loop->Add(p[0], EPOLLIN,
                        [&](uint32_t) {
                          drain(p[0]);
                          order.emplace_back("p");
                        })
                  .ok());
  ASSERT_TRUE(loop->Add(q[0], EPOLLIN,
                        [&](uint32_t) {
                          drain(q[0]);
                          order.emplace_back("q");
                        })
                  .ok());
  int leftover = 2;  // the hook reports work left twice, then none
  loop->SetBatchEnd([&] {
    order.emplace_back("end");
    return leftover-- > 0;
  });
  ASSERT_EQ(write(p[1], "x", 1), 1);
  ASSERT_EQ(write(q[1], "x", 1), 1);
  loop->RunOnce(Duration(1000));
  // Both fds' events came in one batch: the hook ran once, after both.
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order.back(), "end");
  // Work left: the next iterations do not wait (a 60 s wait would hang the test), until the
  // hook says it is done.
  loop->RunOnce(Duration(60'000));
  loop->RunOnce(Duration(60'000));
  EXPECT_EQ(order.size(), 5u);
  EXPECT_EQ(leftover, -1);
  loop->SetBatchEnd(nullptr);
  loop->RunOnce(Duration(0));
  EXPECT_EQ(order.size(), 5u) << "no hook, no call";
  for (int fd : {p[0], p[1], q[0], q[1]}) close(fd);
}

}  // namespace
}  // namespace slipway::net
