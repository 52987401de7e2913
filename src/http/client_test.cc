#include "http/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "http/server.h"

namespace slipway::http {
namespace {

using namespace std::chrono_literals;

struct LoopServer {
  std::unique_ptr<net::EventLoop> loop = std::move(net::EventLoop::Create()).value();
  std::unique_ptr<HttpServer> server;
  int port = 0;
  void Start(Handler h) {
    auto fd = net::ListenTcp("127.0.0.1", 0);
    SLIPWAY_CHECK(fd.ok());
    port = net::LocalPort(fd->get()).value();
    server = std::move(HttpServer::Create(loop.get(), std::move(fd).value(), std::move(h))).value();
  }
  template <typename Pred>
  bool RunUntil(Pred p, Duration bound = Duration(5000)) {
    auto end = std::chrono::steady_clock::now() + bound;
    while (!p() && std::chrono::steady_clock::now() < end) loop->RunOnce(Duration(10));
    return p();
  }
};

TEST(ClientTest, FetchAsyncOverTcp) {
  LoopServer s;
  s.Start([](const Request& req, ResponseWriter w) {
    Response r = Response::Text(201, "got " + req.body);
    r.headers.emplace_back("X-Host", req.Header("host") ? *req.Header("host") : "");
    w.Send(std::move(r));
  });
  Request req;
  req.method = "POST";
  req.target = "/x";
  req.body = "abc";
  std::optional<Result<ClientResponse>> got;
  bool sync = true;
  FetchAsync(s.loop.get(), Endpoint{"127.0.0.1", s.port, "", nullptr, ""}, req, Duration(5000),
             [&](Result<ClientResponse> r) {
               EXPECT_FALSE(sync);
               got = std::move(r);
             });
  sync = false;
  ASSERT_TRUE(s.RunUntil([&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok()) << got->status().message();
  EXPECT_EQ((*got)->status, 201);
  EXPECT_EQ((*got)->body, "got abc");
  EXPECT_EQ(*(*got)->Header("x-host"), "127.0.0.1:" + std::to_string(s.port));
}

TEST(ClientTest, ConnectRefusedIsUnavailableAndAsync) {
  LoopServer s;
  auto fd = net::ListenTcp("127.0.0.1", 0);
  int port = net::LocalPort(fd->get()).value();
  fd->Reset();  // nothing listens there now
  std::optional<Result<ClientResponse>> got;
  FetchAsync(s.loop.get(), Endpoint{"127.0.0.1", port, "", nullptr, ""}, Request{}, Duration(2000),
             [&](Result<ClientResponse> r) { got = std::move(r); });
  EXPECT_FALSE(got.has_value());
  ASSERT_TRUE(s.RunUntil([&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->status().code(), StatusCode::kUnavailable);
}

TEST(ClientTest, TimeoutFires) {
  LoopServer s;
  std::vector<ResponseWriter> parked;  // never answered while the test runs
  s.Start([&](const Request&, ResponseWriter w) { parked.push_back(std::move(w)); });
  std::optional<Result<ClientResponse>> got;
  auto start = std::chrono::steady_clock::now();
  FetchAsync(s.loop.get(), Endpoint{"127.0.0.1", s.port, "", nullptr, ""}, Request{}, Duration(100),
             [&](Result<ClientResponse> r) { got = std::move(r); });
  ASSERT_TRUE(s.RunUntil([&] { return got.has_value(); }));
  EXPECT_EQ(got->status().code(), StatusCode::kDeadlineExceeded);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 2s);
  parked.clear();
}

// Blocking Fetch runs its own loop, so the server gets a thread.
class ThreadServer {
 public:
  explicit ThreadServer(Handler h) {
    s_.Start(std::move(h));
    t_ = std::thread([this] { s_.loop->Run(); });
  }
  ~ThreadServer() {
    s_.loop->Stop();
    t_.join();
  }
  int port() const { return s_.port; }
  net::EventLoop* loop() { return s_.loop.get(); }

 private:
  LoopServer s_;
  std::thread t_;
};

TEST(ClientTest, BlockingFetchAndStreaming) {
  net::EventLoop* loop = nullptr;
  ThreadServer ts([&](const Request& req, ResponseWriter w) {
    if (req.target != "/follow") {
      w.Send(Response::Text(200, "plain"));
      return;
    }
    auto holder = std::make_shared<ResponseWriter>(std::move(w));
    holder->StartStream(200, {});
    auto n = std::make_shared<int>(0);
    auto tick = std::make_shared<std::function<void()>>();
    // The pending timer owns the next tick; the tick holds itself weakly. A tick holding
    // itself was a cycle that outlived the server when it stopped before the client left
    // (LeakSanitizer reported it).
    std::weak_ptr<std::function<void()>> self = tick;
    *tick = [holder, n, self, &loop] {
      if (!holder->Write("line " + std::to_string(++*n) + "\n")) return;  // client gone
      loop->RunAfter(Duration(5), [next = self.lock()] {
        if (next) (*next)();
      });
    };
    (*tick)();
  });
  loop = ts.loop();
  Endpoint ep{"localhost", ts.port(), "", nullptr, ""};
  Request get;
  auto r = Fetch(ep, get, Duration(5000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "plain");

  Request follow;
  follow.target = "/follow";
  std::string seen;
  int chunks = 0;
  auto s = Fetch(ep, follow, Duration(2000), [&](std::string_view d) {
    seen.append(d);
    return ++chunks < 5;
  });
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->status, 200);
  EXPECT_TRUE(s->body.empty());
  EXPECT_EQ(seen.substr(0, 14), "line 1\nline 2\n");
  EXPECT_EQ(chunks, 5);
}

// A streaming call answered with an error gets the error whole, with its status, and the
// stream's reader never sees it (the CLI printed `{"error": ...}` as a log line, exit 0); an
// error body past 64 KiB fails the call instead of growing without bound.
TEST(ClientTest, AStreamAnsweredWithAnErrorReturnsItInsteadOfStreamingIt) {
  ThreadServer ts([&](const Request& req, ResponseWriter w) {
    if (req.target == "/huge") {
      w.Send(Response::Text(500, std::string(100 * 1024, 'x')));
      return;
    }
    w.Send(Response::Text(400, R"({"error":"tail: expected an integer","exit":2})",
                          "application/json"));
  });
  Endpoint ep{"localhost", ts.port(), "", nullptr, ""};
  Request req;
  req.target = "/logs?tail=-5";
  int chunks = 0;
  auto r = Fetch(ep, req, Duration(5000), [&](std::string_view) {
    ++chunks;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, R"({"error":"tail: expected an integer","exit":2})");
  EXPECT_EQ(chunks, 0);

  req.target = "/huge";
  r = Fetch(ep, req, Duration(5000), [&](std::string_view) {
    ++chunks;
    return true;
  });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("larger than 65536 bytes"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(chunks, 0);
}

}  // namespace
}  // namespace slipway::http
