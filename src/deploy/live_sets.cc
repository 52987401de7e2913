#include "deploy/live_sets.h"

#include "deploy/analysis.h"

namespace slipway::deploy {

namespace {

LiveSetNumbers NumbersOf(const proxy::SetStats& older, const proxy::SetStats& newer) {
  const WindowStats w = Delta(older, newer);
  LiveSetNumbers n;
  n.requests = w.requests;
  n.errors_5xx = w.errors_5xx;
  n.p95_ms = w.p95_seconds * 1000.0;
  if (w.requests > 0) {
    n.error_rate = static_cast<double>(w.errors_5xx) / static_cast<double>(w.requests);
  }
  return n;
}

}  // namespace

void LiveSets::Add(MonoTime t, int64_t wall_ms, const proxy::SetStats& new_set,
                   const proxy::SetStats& old_set) {
  // Asked again at once (a poll beside the stream): the last read stands.
  if (!samples_.empty() && t - samples_.back().t < kMinSpacing) return;
  samples_.push_back({t, wall_ms, new_set, old_set});
  while (samples_.size() > kMaxSamples || (samples_.size() > 1 && t - samples_.front().t > kKeep)) {
    samples_.pop_front();
  }
}

std::optional<LiveNumbers> LiveSets::Numbers() const {
  if (samples_.size() < 2) return std::nullopt;
  const Sample& newest = samples_.back();
  // The newest read at least kSpan before the newest; the oldest kept when none is.
  const Sample* base = &samples_.front();
  for (auto it = samples_.rbegin() + 1; it != samples_.rend(); ++it) {
    if (newest.t - it->t >= kSpan) {
      base = &*it;
      break;
    }
  }
  LiveNumbers n;
  n.at_ms = newest.wall_ms;
  n.window_s = std::chrono::duration<double>(newest.t - base->t).count();
  n.new_set = NumbersOf(base->new_set, newest.new_set);
  n.old_set = NumbersOf(base->old_set, newest.old_set);
  return n;
}

}  // namespace slipway::deploy
