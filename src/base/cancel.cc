#include "base/cancel.h"

namespace slipway {

void CancelSignal::Raise() {
  std::lock_guard<std::mutex> lock(mu_);
  raised_.store(true);
  cv_.notify_all();
  for (auto& [id, wake] : wakers_) wake();
}

void CancelSignal::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  raised_.store(false);
}

bool CancelSignal::WaitFor(Duration d) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return raised_.load(); });
  return raised_.load();
}

uint64_t CancelSignal::AddWaker(std::function<void()> wake) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (raised_.load()) wake();
  const uint64_t id = ++next_id_;
  wakers_.emplace(id, std::move(wake));
  return id;
}

void CancelSignal::RemoveWaker(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);  // Raise() calls wakers under it: none runs after this
  wakers_.erase(id);
}

}  // namespace slipway
