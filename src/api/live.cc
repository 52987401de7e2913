#include "api/live.h"

#include <fmt/format.h>

#include "net/event_loop.h"

namespace slipway::api {

LiveStreams::LiveStreams(net::EventLoop* loop, LiveOptions options, std::vector<LiveTopic> topics,
                         Clock* clock)
    : loop_(loop), options_(options), clock_(clock) {
  for (auto& t : topics) topics_.push_back({std::move(t), std::string()});
}

LiveStreams::LiveStreams(net::EventLoop* loop, LiveOptions options,
                         std::function<nlohmann::json()> snapshot, Clock* clock)
    : LiveStreams(loop, options, std::vector<LiveTopic>{{"ps", std::move(snapshot)}}, clock) {}

LiveStreams::~LiveStreams() {
  if (loop_ && timer_) loop_->Cancel(timer_);
  for (auto& [id, s] : streams_) s.reply.writer().End();
}

std::string LiveStreams::Frame(const Topic& t) const {
  return fmt::format("id: {}\nevent: {}\ndata: {}\n\n", event_id_, t.topic.event, t.last_data);
}

bool LiveStreams::Take(Topic& t) {
  std::string data =
      t.topic.snapshot().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (data == t.last_data) return false;
  t.last_data = std::move(data);
  ++event_id_;
  return true;
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
  // The browser reconnects after `retry` ms if the stream breaks; then the current snapshots.
  std::string first = "retry: 2000\n\n";
  for (Topic& t : topics_) {
    if (t.last_data.empty()) Take(t);
    first += Frame(t);
  }
  if (!Write(id, s, first)) return Status::OK();
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
    for (Topic& t : topics_) t.last_data.clear();
    return;
  }
  // Only the topics that changed, in one write per stream.
  std::string frame;
  for (Topic& t : topics_) {
    if (Take(t)) frame += Frame(t);
  }
  const bool changed = !frame.empty();
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
