// CancelSignal: a stop request one thread raises and another thread's blocking work wakes on
// at once (an ACME attempt's poll sleeps and its HTTP exchanges), instead of finding a flag at
// its next slice. Raise() sets the flag, wakes every WaitFor() and calls every registered
// waker (which interrupts a wait this class does not own: libcurl's poll, through
// curl_multi_wakeup). Reset() lowers it again (a manager started anew).
//
// Threads: every member from any thread. A waker runs on the raising thread, under the
// signal's lock: it must be quick and must not call back into the signal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "base/clock.h"

namespace slipway {

class CancelSignal {
 public:
  CancelSignal() = default;
  CancelSignal(const CancelSignal&) = delete;
  CancelSignal& operator=(const CancelSignal&) = delete;

  void Raise();
  void Reset();
  bool raised() const { return raised_.load(); }

  // Blocks for `d` or until raised, whichever comes first. Returns raised().
  bool WaitFor(Duration d) const;

  // Runs `wake` on every Raise() until removed; when already raised, at once (on this
  // thread). Returns the id for RemoveWaker, which returns only once no call of it is running.
  uint64_t AddWaker(std::function<void()> wake) const;
  void RemoveWaker(uint64_t id) const;

 private:
  std::atomic<bool> raised_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::map<uint64_t, std::function<void()>> wakers_;
  mutable uint64_t next_id_ = 0;
};

}  // namespace slipway
