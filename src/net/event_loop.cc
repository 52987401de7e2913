#include "net/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace slipway::net {

namespace {
constexpr uint64_t kWakeTag = ~uint64_t{0};
}

Result<std::unique_ptr<EventLoop>> EventLoop::Create(Clock* clock) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return ErrnoError("epoll_create1", errno);
  int wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) {
    int err = errno;
    close(epfd);
    return ErrnoError("eventfd", err);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) {
    int err = errno;
    close(epfd);
    close(wakefd);
    return ErrnoError("epoll_ctl(eventfd)", err);
  }
  return std::unique_ptr<EventLoop>(new EventLoop(clock, epfd, wakefd));
}

EventLoop::EventLoop(Clock* clock, int epfd, int wakefd)
    : clock_(clock), epfd_(epfd), wakefd_(wakefd), owner_(std::this_thread::get_id()) {}

EventLoop::~EventLoop() {
  close(wakefd_);
  close(epfd_);
}

Status EventLoop::Add(int fd, uint32_t events, IoCallback cb) {
  SLIPWAY_CHECK(fd >= 0);
  if (static_cast<size_t>(fd) >= handlers_.size()) handlers_.resize(fd + 1);
  Handler& h = handlers_[fd];
  if (h.active) return AlreadyExists("fd already watched");
  uint32_t gen = next_generation_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (uint64_t{gen} << 32) | static_cast<uint32_t>(fd);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return ErrnoError("epoll_ctl(ADD)", errno);
  h.generation = gen;
  h.active = true;
  h.cb = std::make_shared<IoCallback>(std::move(cb));
  return Status::OK();
}

Status EventLoop::Modify(int fd, uint32_t events) {
  if (!Watching(fd)) return NotFound("fd not watched");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (uint64_t{handlers_[fd].generation} << 32) | static_cast<uint32_t>(fd);
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) return ErrnoError("epoll_ctl(MOD)", errno);
  return Status::OK();
}

void EventLoop::Remove(int fd) {
  if (!Watching(fd)) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  Handler& h = handlers_[fd];
  h.active = false;
  h.generation = 0;
  h.cb.reset();  // the dispatcher holds its own reference while a callback runs
}

bool EventLoop::Watching(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < handlers_.size() && handlers_[fd].active;
}

EventLoop::TimerId EventLoop::RunAfter(Duration delay, Callback cb) {
  TimerId id = next_timer_id_++;
  timer_heap_.push(Timer{clock_->Now() + std::max(delay, Duration(0)), id});
  timers_.emplace(id, std::move(cb));
  return id;
}

void EventLoop::Cancel(TimerId id) { timers_.erase(id); }

void EventLoop::Post(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(cb));
  }
  Wake();
}

void EventLoop::Stop() {
  stop_requested_.store(true);
  Wake();
}

void EventLoop::Wake() {
  uint64_t one = 1;
  ssize_t n = write(wakefd_, &one, sizeof one);
  (void)n;  // EAGAIN means a wake-up is already pending
}

void EventLoop::Run() {
  owner_ = std::this_thread::get_id();
  while (!stop_requested_.load()) RunOnce(Duration(10'000));
  stop_requested_.store(false);
}

void EventLoop::RunOnce(Duration max_wait) {
  // Skip cancelled timers at the top so they do not shorten the wait.
  while (!timer_heap_.empty() && !timers_.count(timer_heap_.top().id)) timer_heap_.pop();
  Duration wait = max_wait;
  if (!timer_heap_.empty()) {
    auto until = std::chrono::duration_cast<Duration>(timer_heap_.top().deadline - clock_->Now());
    // Round up so a timer due in 0.4 ms does not spin.
    wait = std::clamp(until + Duration(until.count() > 0 ? 1 : 0), Duration(0), max_wait);
  }
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    if (!posted_.empty()) wait = Duration(0);
  }

  epoll_event events[128];
  int n = epoll_wait(epfd_, events, 128, static_cast<int>(wait.count()));
  if (n < 0 && errno != EINTR) SLIPWAY_CHECK(false && "epoll_wait failed");
  for (int i = 0; i < n; ++i) {
    uint64_t tag = events[i].data.u64;
    if (tag == kWakeTag) {
      uint64_t v;
      while (read(wakefd_, &v, sizeof v) > 0) {
      }
      continue;
    }
    int fd = static_cast<int>(tag & 0xffffffffu);
    uint32_t gen = static_cast<uint32_t>(tag >> 32);
    if (static_cast<size_t>(fd) >= handlers_.size()) continue;
    Handler& h = handlers_[fd];
    if (!h.active || h.generation != gen) continue;  // removed (or replaced) meanwhile
    std::shared_ptr<IoCallback> cb = h.cb;           // survives the callback's own Remove()
    (*cb)(events[i].events);
  }
  FireTimers();
  RunPosted();
}

void EventLoop::FireTimers() {
  MonoTime now = clock_->Now();
  while (!timer_heap_.empty() && timer_heap_.top().deadline <= now) {
    TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    Callback cb = std::move(it->second);
    timers_.erase(it);
    cb();
  }
}

void EventLoop::RunPosted() {
  std::vector<Callback> batch;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    batch.swap(posted_);
  }
  for (auto& cb : batch) cb();
}

}  // namespace slipway::net
