#include "health/monitor.h"

#include <algorithm>

namespace slipway::health {

std::string_view HealthStateName(HealthState s) {
  switch (s) {
    case HealthState::kNone:
      return "none";
    case HealthState::kStarting:
      return "starting";
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

HealthMonitor::HealthMonitor(net::EventLoop* loop, config::Healthcheck hc, ProbeTarget target,
                             ChangeFn on_change)
    : HealthMonitor(
          loop, hc,
          [loop, hc, target = std::move(target)](std::function<void(ProbeResult)> done) {
            RunProbe(loop, hc, target, std::move(done));
          },
          std::move(on_change)) {}

HealthMonitor::HealthMonitor(net::EventLoop* loop, config::Healthcheck hc, ProberFn prober,
                             ChangeFn on_change)
    : loop_(loop),
      hc_(std::move(hc)),
      prober_(std::move(prober)),
      on_change_(std::move(on_change)),
      generation_(std::make_shared<uint64_t>(0)) {}

std::unique_ptr<HealthMonitor> HealthMonitor::WithProber(net::EventLoop* loop,
                                                         config::Healthcheck hc, ProberFn prober,
                                                         ChangeFn on_change) {
  return std::unique_ptr<HealthMonitor>(
      new HealthMonitor(loop, std::move(hc), std::move(prober), std::move(on_change)));
}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  Stop();
  if (hc_.kind == config::Healthcheck::Kind::kNone) {
    state_ = HealthState::kNone;
    return;
  }
  state_ = HealthState::kStarting;
  streak_ = 0;
  started_ = loop_->Now();
  last_counted_ = started_;
  start_period_over_ = false;
  running_ = true;
  Schedule();
}

void HealthMonitor::Resume(HealthState known) {
  if (known != HealthState::kHealthy && known != HealthState::kUnhealthy) {
    Start();
    return;
  }
  Stop();
  if (hc_.kind == config::Healthcheck::Kind::kNone) {
    state_ = HealthState::kNone;
    return;
  }
  state_ = known;
  streak_ = known == HealthState::kUnhealthy ? std::max(hc_.retries, 1) : 0;
  started_ = loop_->Now();
  start_period_over_ = true;
  running_ = true;
  Schedule();
}

void HealthMonitor::Stop() {
  running_ = false;
  if (timer_) loop_->Cancel(timer_);
  timer_ = 0;
  ++*generation_;  // drops the result of a probe in flight
}

bool HealthMonitor::InStartPeriod() const {
  return !start_period_over_ && hc_.start_period > Duration(0) &&
         loop_->Now() - started_ < hc_.start_period;
}

namespace {
// Compose's default start_interval; a file that leaves it out reads as this value.
constexpr Duration kComposeDefaultStartInterval{5'000};
}  // namespace

Duration HealthMonitor::StartingInterval(const config::Healthcheck& hc) {
  Duration d = hc.start_interval > Duration(0) && hc.start_interval != kComposeDefaultStartInterval
                   ? hc.start_interval
                   : kFastProbe;
  return std::min(d, hc.interval);
}

void HealthMonitor::Schedule() {
  Duration delay = state_ == HealthState::kStarting ? StartingInterval(hc_) : hc_.interval;
  timer_ = loop_->RunAfter(delay, [this] {
    timer_ = 0;
    RunOne();
  });
}

void HealthMonitor::RunOne() {
  std::weak_ptr<uint64_t> weak = generation_;
  uint64_t gen = *generation_;
  prober_([this, weak, gen](ProbeResult r) {
    auto g = weak.lock();
    if (!g || *g != gen) return;  // stopped, restarted or destroyed meanwhile
    OnResult(std::move(r));
  });
}

void HealthMonitor::OnResult(ProbeResult r) {
  ++probes_run_;
  HealthState old = state_;
  if (!r.ok && r.container_absent && state_ == HealthState::kStarting) {
    // The engine has not started the container yet (an image pull can take minutes). As in the
    // Docker engine, the health clock, start period included, starts with the container.
    started_ = loop_->Now();
    last_counted_ = started_;
  } else if (r.ok) {
    streak_ = 0;
    state_ = HealthState::kHealthy;
    start_period_over_ = true;
  } else if (state_ == HealthState::kStarting && InStartPeriod()) {
    // Failures while the service is still starting up do not count.
  } else if (state_ == HealthState::kStarting && loop_->Now() - last_counted_ < hc_.interval) {
    // A fast probe of a starting instance: its failure counts only at the pace of `interval`,
    // so an instance turns unhealthy no sooner than Docker would say so.
  } else {
    last_counted_ = loop_->Now();
    ++streak_;
    if (streak_ >= std::max(hc_.retries, 1)) state_ = HealthState::kUnhealthy;
  }
  last_ = std::move(r);
  Schedule();  // before the callback, which may Stop() or Start()
  if (old != state_ && on_change_) on_change_(old, state_, *last_);
}

}  // namespace slipway::health
