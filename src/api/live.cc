#include "api/live.h"

#include <fmt/format.h>

#include <vector>

#include "net/event_loop.h"

namespace slipway::api {

LiveStreams::LiveStreams(net::EventLoop* loop, LiveOptions options,
                         std::function<nlohmann::json()> snapshot, Clock* clock)
    : loop_(loop), options_(options), snapshot_(std::move(snapshot)), clock_(clock) {}

LiveStreams::~LiveStreams() {
  if (loop_ && timer_) loop_->Cancel(timer_);
  for (auto& [id, s] : streams_) s.reply.writer().End();
}

std::string LiveStreams::Frame() {
  return fmt::format("id: {}\nevent: ps\ndata: {}\n\n", event_id_, last_data_);
}

Status LiveStreams::Open(Reply reply) {
  if (streams_.size() >= options_.max_streams) {
    return Unavailable(fmt::format("at most {} live streams are open (the page polls instead)",
                                   options_.max_streams));
  }
  http::ResponseWriter& w = reply.writer();
  w.StartStream(200, {{"Content-Type", "text/event-stream"},
                      {"Cache-Control", "no-store"},
                      {"X-Accel-Buffering", "no"}});
  const uint64_t id = next_id_++;
  Stream& s = streams_.emplace(id, Stream{reply, clock_->Now()}).first->second;
  std::weak_ptr<LiveStreams> weak = weak_from_this();
  w.OnClose([weak, id] {
    if (auto hub = weak.lock()) hub->streams_.erase(id);
  });
  // The browser reconnects after `retry` ms if the stream breaks; then the current snapshot.
  if (last_data_.empty()) {
    last_data_ = snapshot_().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    ++event_id_;
  }
  if (!Write(id, s, "retry: 2000\n\n" + Frame())) return Status::OK();
  Schedule();
  return Status::OK();
}

bool LiveStreams::Write(uint64_t id, Stream& s, std::string_view frame) {
  http::ResponseWriter& w = s.reply.writer();
  if (w.buffered_bytes() > options_.max_buffered) {
    // Its queue is full: one last word, then the connection ends.
    w.Write("event: dropped\ndata: {\"reason\":\"the client fell behind\"}\n\n");
    w.End();
    ++dropped_;
    streams_.erase(id);
    return false;
  }
  if (!w.Write(frame)) {
    streams_.erase(id);
    return false;
  }
  s.last_write = clock_->Now();
  return true;
}

void LiveStreams::Tick() {
  if (streams_.empty()) {
    last_data_.clear();
    return;
  }
  std::string data = snapshot_().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const bool changed = data != last_data_;
  if (changed) {
    last_data_ = std::move(data);
    ++event_id_;
  }
  const std::string frame = changed ? Frame() : std::string();
  const MonoTime now = clock_->Now();
  std::vector<uint64_t> ids;
  for (const auto& [id, s] : streams_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = streams_.find(id);
    if (it == streams_.end()) continue;
    if (changed) {
      Write(id, it->second, frame);
    } else if (now - it->second.last_write >= options_.heartbeat) {
      Write(id, it->second, ": keep-alive\n\n");
    }
  }
}

void LiveStreams::Schedule() {
  if (!loop_ || timer_ || streams_.empty()) return;
  std::weak_ptr<LiveStreams> weak = weak_from_this();
  timer_ = loop_->RunAfter(options_.interval, [weak] {
    auto hub = weak.lock();
    if (!hub) return;
    hub->timer_ = 0;
    hub->Tick();
    hub->Schedule();
  });
}

}  // namespace slipway::api
