// EventLoop: one epoll instance, its timers, and a queue of posted closures.
//
// Each loop belongs to one thread: the thread that calls Run(). Every method
// except Post() and Stop() must be called on that thread (or before Run()
// starts). Objects registered on a loop (fds, timers) live on that loop; work
// from another thread reaches them only through Post().
//
// Fd callbacks receive the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLHUP, ...).
// A callback may remove its own fd or any other fd and timer; removal takes
// effect at once (a removed fd receives no further events, even ones already
// returned by the same epoll_wait). Timers fire in deadline order; a timer
// callback may schedule or cancel timers.
//
// The loop does not own the fds it watches: closing them is the caller's job
// (Remove() first).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::net {

class EventLoop {
 public:
  using Callback = std::function<void()>;
  using IoCallback = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  // `clock` drives timers; it must outlive the loop. Defaults to the real clock.
  static Result<std::unique_ptr<EventLoop>> Create(Clock* clock = Clock::Real());
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts watching `fd` for `events` (EPOLLIN/EPOLLOUT/EPOLLET/...).
  Status Add(int fd, uint32_t events, IoCallback cb);
  Status Modify(int fd, uint32_t events);
  // Stops watching `fd`. No-op if it is not watched.
  void Remove(int fd);
  bool Watching(int fd) const;

  // Runs `cb` once, `delay` from now. Returns an id for Cancel().
  TimerId RunAfter(Duration delay, Callback cb);
  // Cancels a pending timer. No-op if it already fired or was cancelled.
  void Cancel(TimerId id);

  // Thread-safe: runs `cb` on the loop thread during a later iteration.
  void Post(Callback cb);
  // Thread-safe: makes Run() return after the current iteration.
  void Stop();

  // Runs until Stop(). Marks the calling thread as the loop's thread.
  void Run();
  // One iteration: waits at most `max_wait` for events (less if a timer is
  // due), dispatches them, fires due timers, runs posted closures.
  void RunOnce(Duration max_wait);

  MonoTime Now() const { return clock_->Now(); }
  Clock* clock() const { return clock_; }
  bool InLoopThread() const { return std::this_thread::get_id() == owner_; }

 private:
  EventLoop(Clock* clock, int epfd, int wakefd);

  struct Handler {
    uint32_t generation = 0;
    bool active = false;
    std::shared_ptr<IoCallback> cb;  // shared so a running callback survives Remove()
  };
  struct Timer {
    MonoTime deadline;
    TimerId id;
    bool operator>(const Timer& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };

  void FireTimers();
  void RunPosted();
  void Wake();

  Clock* clock_;
  int epfd_;
  int wakefd_;
  std::thread::id owner_;
  std::atomic<bool> stop_requested_{false};

  std::vector<Handler> handlers_;  // indexed by fd
  uint32_t next_generation_ = 1;

  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, Callback> timers_;  // pending ones only
  TimerId next_timer_id_ = 1;

  std::mutex post_mu_;
  std::vector<Callback> posted_;  // guarded by post_mu_
};

}  // namespace slipway::net
