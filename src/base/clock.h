// Clock: the seam through which every module reads time, so tests can drive it.
//
// Monotonic time (steady_clock) measures intervals and schedules timers; wall
// time (Unix milliseconds) is only for records a person reads (events, logs).
// RealClock is stateless and safe from any thread. FakeClock is for tests: it
// moves only when the test calls Advance(); safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace slipway {

using MonoTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
  virtual int64_t WallMillis() const = 0;  // Unix epoch milliseconds

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// Unix milliseconds as UTC text in a strftime format ("%Y-%m-%d %H:%M:%SZ"), for people.
std::string FormatUtc(int64_t unix_ms, const char* strftime_format);

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_start_ms = 1'700'000'000'000) : wall_(wall_start_ms) {}
  MonoTime Now() const override { return MonoTime(std::chrono::milliseconds(mono_.load())); }
  int64_t WallMillis() const override { return wall_.load(); }
  void AdvanceForTest(Duration d) {
    mono_ += d.count();
    wall_ += d.count();
  }

 private:
  std::atomic<int64_t> mono_{1'000'000};
  std::atomic<int64_t> wall_;
};

}  // namespace slipway
