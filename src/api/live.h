// LiveStreams: the dashboard's live updates as Server-Sent Events (GET /api/v1/events/stream).
// Every `interval` the hub takes one snapshot per topic (`ps`: the rows as GET /api/v1/ps
// answers them; `deploy`: the running deploys and their last progress lines), serialises each
// once and sends it to every open stream as `event: <topic>` — only the topics that changed;
// a stream that has had nothing for `heartbeat` gets a comment line, so proxies and the
// browser keep it open and a dead peer is noticed.
//
// Bounded: at most `max_streams` streams (the next is answered 503), and each stream's queue
// is its connection's output buffer: a client that has not taken `max_buffered` bytes is sent
// one last `event: dropped` and closed (the page falls back to polling and reconnects), so a
// slow or stalled browser costs the daemon at most that much memory. The timer runs only while
// streams are open.
//
// Ownership: the route that serves the streams holds the hub (shared); timers and close
// callbacks hold it weakly. Threads: the control loop only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/reply.h"
#include "base/clock.h"
#include "base/status.h"

namespace slipway::net {
class EventLoop;
}

namespace slipway::api {

struct LiveOptions {
  size_t max_streams = 32;
  size_t max_buffered = 256 * 1024;
  Duration interval = Duration(1000);
  Duration heartbeat = Duration(15000);
};

// One kind of event on the stream: its name and what it says now.
struct LiveTopic {
  std::string event;  // the SSE event name: a word
  std::function<nlohmann::json()> snapshot;
};

class LiveStreams : public std::enable_shared_from_this<LiveStreams> {
 public:
  // `loop` nullptr: no timer (Tick() by hand, tests).
  LiveStreams(net::EventLoop* loop, LiveOptions options, std::vector<LiveTopic> topics,
              Clock* clock = Clock::Real());
  // One topic, `ps`.
  LiveStreams(net::EventLoop* loop, LiveOptions options, std::function<nlohmann::json()> snapshot,
              Clock* clock = Clock::Real());
  ~LiveStreams();
  LiveStreams(const LiveStreams&) = delete;
  LiveStreams& operator=(const LiveStreams&) = delete;

  // Starts an event stream on `reply` with the current snapshot; Unavailable (503) when
  // max_streams are open already.
  Status Open(Reply reply);
  // One round: a new snapshot to every stream if it changed, heartbeats, slow streams dropped.
  void Tick();
  size_t size() const { return streams_.size(); }
  int64_t dropped() const { return dropped_.load(); }

 private:
  struct Stream {
    Reply reply;
    MonoTime last_write;
  };
  // Writes `frame`; false (and the stream ended and removed) when the client is gone or slow.
  bool Write(uint64_t id, Stream& s, std::string_view frame);
  struct Topic {
    LiveTopic topic;
    std::string last_data;  // "" = not taken since the last stream closed
  };
  void Schedule();
  std::string Frame(const Topic& t) const;
  // Takes the topic's snapshot; true when it differs from the last one.
  bool Take(Topic& t);

  net::EventLoop* loop_;
  LiveOptions options_;
  std::vector<Topic> topics_;
  Clock* clock_;
  std::map<uint64_t, Stream> streams_;
  uint64_t next_id_ = 1;
  uint64_t timer_ = 0;  // 0: none pending
  int64_t event_id_ = 0;
  std::atomic<int64_t> dropped_{0};  // read by tests from another thread
};

}  // namespace slipway::api
