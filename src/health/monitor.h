// HealthMonitor: the healthy/unhealthy state machine of one instance, as the Docker engine
// documents it.
//
// Start() (after each start of the instance) resets to kStarting. Until its first success the
// instance is probed fast: every start_interval when the file gives one, else every 0.5 s
// (never slower than `interval`); from the first success on, one interval after each probe
// completes. This is Slipway's one deliberate difference from the Docker engine, which waits a
// whole interval (30 s by default) before the first probe: a new instance takes traffic
// within about half a second of being ready. Failures still count at Docker's pace: inside
// start_period not at all, and after it at most one per `interval`, so an instance turns
// kUnhealthy no sooner than Docker would say so. A success makes the instance kHealthy at once
// (and ends the start period). `retries` consecutive counted failures make it kUnhealthy; any
// success resets the streak and makes it kHealthy.
// A healthcheck of kind kNone keeps the state at kNone and never probes. While kStarting, a
// failure that says the container is not there yet (ProbeResult::container_absent) does not
// count and restarts the start period: the clock starts with the container, not its client.
//
// on_change fires on probe-driven transitions only (not for Start()'s reset, which the
// caller makes itself), with the probe result that caused it.
//
// Ownership and threads: the caller owns the monitor; methods and callbacks run on the
// loop's thread. A probe in flight when Stop() is called or the monitor is destroyed finishes
// on its own (bounded by its timeout); its result is dropped. on_change may call Stop() or
// Start() but must not destroy the monitor.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "base/clock.h"
#include "config/project.h"
#include "health/probe.h"
#include "net/event_loop.h"

namespace slipway::health {

enum class HealthState { kNone, kStarting, kHealthy, kUnhealthy };  // kNone: no healthcheck
std::string_view HealthStateName(HealthState s);  // "none", "starting", "healthy", "unhealthy"

class HealthMonitor {
 public:
  using ChangeFn =
      std::function<void(HealthState old_state, HealthState new_state, const ProbeResult& last)>;
  // Runs one probe; must call its argument exactly once, later, on the loop.
  using ProberFn = std::function<void(std::function<void(ProbeResult)>)>;

  HealthMonitor(net::EventLoop* loop, config::Healthcheck hc, ProbeTarget target,
                ChangeFn on_change);
  // Same state machine with the caller's prober: the engine's runtime seam (engine/host.h),
  // or a fake one in tests driven by a FakeClock loop.
  static std::unique_ptr<HealthMonitor> WithProber(net::EventLoop* loop, config::Healthcheck hc,
                                                   ProberFn prober, ChangeFn on_change);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void Start();  // resets to kStarting (kNone stays kNone) and schedules the first probe
  // Goes on probing an instance that was already running under an earlier daemon: the state
  // is `known` (what that daemon last saw; kStarting behaves as Start()), the start period
  // counts as over, the first probe runs one interval later.
  void Resume(HealthState known);
  void Stop();  // no more probes, no more callbacks; the state is kept

  // How often a starting instance is probed (see above).
  static constexpr Duration kFastProbe{500};
  static Duration StartingInterval(const config::Healthcheck& hc);

  HealthState state() const { return state_; }
  const ProbeResult* last() const { return last_ ? &*last_ : nullptr; }
  int failing_streak() const { return streak_; }
  int probes_run() const { return probes_run_; }

 private:
  HealthMonitor(net::EventLoop* loop, config::Healthcheck hc, ProberFn prober, ChangeFn on_change);
  void Schedule();
  void RunOne();
  void OnResult(ProbeResult r);
  bool InStartPeriod() const;

  net::EventLoop* loop_;
  config::Healthcheck hc_;
  ProberFn prober_;
  ChangeFn on_change_;
  HealthState state_ = HealthState::kNone;
  std::optional<ProbeResult> last_;
  int streak_ = 0;
  int probes_run_ = 0;
  bool running_ = false;
  bool start_period_over_ = false;
  MonoTime started_{};
  MonoTime last_counted_{};  // when a failure last counted (or Start()): the interval's pace
  net::EventLoop::TimerId timer_ = 0;
  // Bumped by Start()/Stop()/destruction so results of older probes are dropped.
  std::shared_ptr<uint64_t> generation_;
};

}  // namespace slipway::health
