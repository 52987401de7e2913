// The live stream over a real listener: the first snapshot at once, changes as they come,
// heartbeats when nothing changes, a cap on open streams, and a stalled client dropped with a
// final event instead of buffering without end.
#include "api/live.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "api/router.h"
#include "api/router_test_server.h"
#include "net/socket.h"

namespace slipway::api {
namespace {

class LiveTest : public ::testing::Test {
 protected:
  // `topics`: a second topic, `deploy` (m_), besides `ps`.
  void Start(LiveOptions o, bool topics = false) {
    auto ps = [this] {
      return nlohmann::json{{"n", n_.load()}, {"pad", std::string(pad_.load(), 'x')}};
    };
    if (topics) {
      hub_ = std::make_shared<LiveStreams>(
          server_.loop(), o,
          std::vector<LiveTopic>{{"ps", ps}, {"deploy", [this] {
                                                return nlohmann::json{{"m", m_.load()}};
                                              }}});
    } else {
      hub_ = std::make_shared<LiveStreams>(server_.loop(), o, ps);
    }
    router_ = std::make_unique<Router>(RouterOptions{});
    router_->Add<NoInput>({Method::kGet, "/s", Access::kRead}, [this](NoInput, Reply reply) {
      Status st = hub_->Open(reply);
      if (!st.ok()) reply.Error(st);
    });
    ASSERT_TRUE(server_.Start(router_.get()).ok());
  }
  void TearDown() override {
    server_.Stop();
    hub_.reset();  // after the server's connections, before the loop goes
  }

  // A connected socket that asked for the stream; `rcvbuf` small to stall it.
  net::UniqueFd Open(int rcvbuf = 0) {
    net::UniqueFd fd = std::move(net::ConnectTcp("127.0.0.1", server_.port())).value();
    EXPECT_TRUE(net::SetNonBlocking(fd.get(), false).ok());
    if (rcvbuf) setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    EXPECT_EQ(::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(req.size()));
    return fd;
  }
  // Reads until `want` shows up (or 5 s of silence / the end); everything read.
  static std::string ReadUntil(int fd, std::string_view want, std::string* got) {
    char buf[65536];
    size_t from = 0;  // searched up to here already: a stalled stream's backlog is megabytes
    for (int i = 0; i < 100000; ++i) {
      if (got->find(want, from) != std::string::npos) break;
      from = got->size() > want.size() ? got->size() - want.size() : 0;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got->append(buf, n);
    }
    return *got;
  }

  std::atomic<int> n_{0};
  std::atomic<int> m_{0};
  std::atomic<size_t> pad_{0};
  RouterTestServer server_;  // its loop outlives hub_ and router_
  std::shared_ptr<LiveStreams> hub_;
  std::unique_ptr<Router> router_;
};

TEST_F(LiveTest, SnapshotAtOnceThenChangesThenHeartbeats) {
  Start({.max_streams = 4,
         .max_buffered = 1 << 20,
         .interval = Duration(30),
         .heartbeat = Duration(200)});
  net::UniqueFd fd = Open();
  std::string got;
  ReadUntil(fd.get(), "data: {\"n\":0", &got);
  EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got;
  EXPECT_NE(got.find("event: ps\n"), std::string::npos) << got;
  n_ = 1;
  ReadUntil(fd.get(), "data: {\"n\":1", &got);
  EXPECT_NE(got.find("data: {\"n\":1"), std::string::npos) << got;
  ReadUntil(fd.get(), ": keep-alive", &got);
  EXPECT_NE(got.find(": keep-alive"), std::string::npos) << got;
}

TEST_F(LiveTest, EachTopicIsItsOwnEventSentOnlyWhenItChanged) {
  Start({.max_streams = 4,
         .max_buffered = 1 << 20,
         .interval = Duration(20),
         .heartbeat = Duration(10000)},
        true);
  net::UniqueFd fd = Open();
  std::string got;
  ReadUntil(fd.get(), "event: deploy\ndata: {\"m\":0}", &got);
  EXPECT_NE(got.find("event: ps\ndata: {\"n\":0"), std::string::npos) << got;
  // Only `deploy` changes: one more deploy event, no second ps event.
  m_ = 1;
  ReadUntil(fd.get(), "event: deploy\ndata: {\"m\":1}", &got);
  EXPECT_NE(got.find("data: {\"m\":1}"), std::string::npos) << got;
  n_ = 1;
  ReadUntil(fd.get(), "event: ps\ndata: {\"n\":1", &got);
  const auto count = [&](std::string_view what) {
    size_t n = 0;
    for (size_t at = got.find(what); at != std::string::npos; at = got.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("event: ps\n"), 2u) << got;
  EXPECT_EQ(count("event: deploy\n"), 2u) << got;
}

TEST_F(LiveTest, TheNumberOfStreamsIsCapped) {
  Start({.max_streams = 2,
         .max_buffered = 1 << 20,
         .interval = Duration(50),
         .heartbeat = Duration(1000)});
  net::UniqueFd a = Open(), b = Open();
  std::string ga, gb, gc;
  ReadUntil(a.get(), "event: ps", &ga);
  ReadUntil(b.get(), "event: ps", &gb);
  net::UniqueFd c = Open();
  ReadUntil(c.get(), "\r\n\r\n", &gc);
  EXPECT_TRUE(gc.starts_with("HTTP/1.1 503")) << gc;
  EXPECT_NE(gc.find("live streams"), std::string::npos) << gc;
  // One leaves: another may come.
  a.Reset();
  bool admitted = false;
  for (int i = 0; i < 100 && !admitted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    net::UniqueFd d = Open();
    std::string gd;
    ReadUntil(d.get(), "\r\n\r\n", &gd);
    admitted = gd.starts_with("HTTP/1.1 200");
  }
  EXPECT_TRUE(admitted);
}

TEST_F(LiveTest, AStalledClientIsDroppedWithAFinalEvent) {
  Start({.max_streams = 4,
         .max_buffered = 64 * 1024,
         .interval = Duration(10),
         .heartbeat = Duration(1000)});
  pad_ = 32 * 1024;
  net::UniqueFd fd = Open();
  // It reads nothing while the snapshot changes every round.
  for (int i = 0; i < 1000 && hub_->dropped() == 0; ++i) {
    n_ = i + 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(hub_->dropped(), 1);
  std::string got;
  ReadUntil(fd.get(), "event: dropped", &got);
  EXPECT_NE(got.find("event: dropped"), std::string::npos);
}

}  // namespace
}  // namespace slipway::api
