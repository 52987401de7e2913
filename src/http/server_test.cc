#include "http/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "http/client.h"
#include "http/serializer.h"

namespace slipway::http {
namespace {

using namespace std::chrono_literals;

// A server on 127.0.0.1:0 whose loop runs on its own thread; the test talks over real sockets.
class Served {
 public:
  Served(Handler h, ServerOptions opt = {}) {
    loop_ = std::move(net::EventLoop::Create()).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    SLIPWAY_CHECK(fd.ok());
    port_ = net::LocalPort(fd->get()).value();
    server_ = std::move(HttpServer::Create(loop_.get(), std::move(fd).value(), std::move(h), opt))
                  .value();
    thread_ = std::thread([this] { loop_->Run(); });
  }
  ~Served() {
    loop_->Stop();
    thread_.join();
    server_.reset();
  }
  int port() const { return port_; }
  net::EventLoop* loop() { return loop_.get(); }

 private:
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

// A blocking test client with a 5 s receive bound.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = std::move(net::ConnectTcp("127.0.0.1", port)).value();
    SLIPWAY_CHECK(net::SetNonBlocking(fd_.get(), false).ok());
    timeval tv{5, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void Send(std::string_view s) {
    ASSERT_EQ(::send(fd_.get(), s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  // Reads one response (status, body); status -1 on EOF/timeout.
  std::pair<int, std::string> Read(std::string_view method = "GET") {
    ResponseParser p;
    p.SetRequestMethod(method);
    while (true) {
      ParseStatus st = p.Parse(buf_);
      if (st == ParseStatus::kError) return {-2, ""};
      if (st == ParseStatus::kHeadComplete) break;
      if (!Fill()) return {-1, ""};
    }
    int status = p.status_code();
    last_headers_.clear();
    for (auto& h : p.headers()) last_headers_.emplace_back(h.name, h.value);
    BodyReader body;
    body.Start(p.body_kind(), p.content_length());
    buf_.erase(0, p.head_size());
    std::string out;
    while (!body.done()) {
      auto s = body.Decode(buf_);
      out.append(s.data);
      buf_.erase(0, s.consumed);
      if (s.state == BodyReader::State::kError) return {-3, out};
      if (body.done()) break;
      if (s.consumed == 0 && !Fill()) {
        if (body.Finish() == BodyReader::State::kDone) break;
        return {-1, out};
      }
    }
    return {status, out};
  }
  bool AtEof() {  // true when the server closed (within the bound)
    return buf_.empty() && !Fill();
  }
  const HeaderList& headers() const { return last_headers_; }
  void Close() { fd_.Reset(); }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  net::UniqueFd fd_;
  std::string buf_;
  HeaderList last_headers_;
};

void Echo(const Request& req, ResponseWriter w) {
  Response r = Response::Text(200, req.method + " " + req.target + " " + req.body);
  w.Send(std::move(r));
}

TEST(HttpServerTest, KeepAliveServesSeveralRequests) {
  Served s(Echo);
  RawConn c(s.port());
  for (int i = 0; i < 3; ++i) {
    c.Send("GET /k" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n");
    auto [status, body] = c.Read();
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body, "GET /k" + std::to_string(i) + " ");
  }
  c.Send("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(c.Read().second, "POST /p abc");
}

TEST(HttpServerTest, PipelinedAnsweredInOrderEvenWhenHandlersFinishOutOfOrder) {
  net::EventLoop* loop = nullptr;
  Served* sp = nullptr;
  Served s([&](const Request& req, ResponseWriter w) {
    // /1 answers last, /3 first.
    int n = req.target.back() - '0';
    auto holder = std::make_shared<ResponseWriter>(std::move(w));
    std::string target = req.target;
    loop->RunAfter(Duration((4 - n) * 30),
                   [holder, target] { holder->Send(Response::Text(200, target)); });
  });
  sp = &s;
  loop = sp->loop();
  RawConn c(s.port());
  c.Send(
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(c.Read().second, "/1");
  EXPECT_EQ(c.Read().second, "/2");
  EXPECT_EQ(c.Read().second, "/3");
  EXPECT_TRUE(c.AtEof());
}

TEST(HttpServerTest, SmugglingAttemptRejectedAndClosed) {
  std::atomic<int> calls{0};
  Served s([&](const Request& req, ResponseWriter w) {
    ++calls;
    Echo(req, std::move(w));
  });
  RawConn c(s.port());
  c.Send(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.Read().first, 400);
  EXPECT_TRUE(c.AtEof());
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, LimitsGive431And413) {
  ServerOptions opt;
  opt.limits.max_head_bytes = 1024;
  opt.limits.max_body_bytes = 100;
  Served s(Echo, opt);
  {
    RawConn c(s.port());
    c.Send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    EXPECT_EQ(c.Read().first, 431);
  }
  {
    RawConn c(s.port());
    c.Send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n");
    EXPECT_EQ(c.Read().first, 413);
  }
  {
    RawConn c(s.port());
    c.Send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" +
           std::string(101, 'x') + "\r\n0\r\n\r\n");
    EXPECT_EQ(c.Read().first, 413);
  }
}

TEST(HttpServerTest, UnansweredWriterSends500AndHttp10Closes) {
  Served s([](const Request& req, ResponseWriter w) {
    if (req.target == "/drop") return;  // writer destroyed without an answer
    Echo(req, std::move(w));
  });
  RawConn c(s.port());
  c.Send("GET /drop HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.Read().first, 500);
  c.Send("GET /x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.Read().first, 200);
  EXPECT_TRUE(c.AtEof());
}

TEST(HttpServerTest, ClientGoneBeforeAsyncAnswerIsHarmless) {
  std::shared_ptr<ResponseWriter> held;
  std::atomic<bool> got{false}, closed_cb{false}, connected_after{true}, write_after{true};
  net::EventLoop* loop = nullptr;
  Served s([&](const Request&, ResponseWriter w) {
    held = std::make_shared<ResponseWriter>(std::move(w));
    held->OnClose([&] { closed_cb = true; });
    got = true;
  });
  loop = s.loop();
  {
    RawConn c(s.port());
    c.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!got && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_TRUE(got);
  }  // client closes
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!closed_cb && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(closed_cb);
  std::atomic<bool> done{false};
  loop->Post([&] {
    connected_after = held->connected();
    held->Send(Response::Text(200, "late"));  // no-op, no crash
    write_after = held->Write("x");
    held.reset();
    done = true;
  });
  deadline = std::chrono::steady_clock::now() + 5s;
  while (!done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(done);
  EXPECT_FALSE(connected_after);
  EXPECT_FALSE(write_after);
}

TEST(HttpServerTest, RequestTimeout408AndIdleTimeoutClose) {
  ServerOptions opt;
  opt.request_timeout = Duration(150);
  opt.idle_timeout = Duration(150);
  Served s(Echo, opt);
  {
    RawConn c(s.port());
    auto start = std::chrono::steady_clock::now();
    c.Send("GET / HTTP/1.1\r\nHost: h\r\n");  // head never finishes
    EXPECT_EQ(c.Read().first, 408);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
  {
    RawConn c(s.port());
    c.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(c.Read().first, 200);
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.AtEof());  // closed by the idle timeout, not by the 5 s receive bound
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
}

TEST(HttpServerTest, ExpectContinue) {
  Served s(Echo);
  RawConn c(s.port());
  c.Send("PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(c.Read().first, 100);
  c.Send("data");
  EXPECT_EQ(c.Read().second, "PUT /u data");
}

TEST(HttpServerTest, StreamingAndHead) {
  net::EventLoop* loop = nullptr;
  Served s([&](const Request& req, ResponseWriter w) {
    if (req.target == "/stream") {
      auto holder = std::make_shared<ResponseWriter>(std::move(w));
      holder->StartStream(200, {{"Content-Type", "text/plain"}});
      holder->Write("one\n");
      loop->RunAfter(Duration(20), [holder] {
        holder->Write("two\n");
        holder->End();
      });
      return;
    }
    w.Send(Response::Text(200, "0123456789"));
  });
  loop = s.loop();
  RawConn c(s.port());
  c.Send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.Read().second, "one\ntwo\n");
  EXPECT_EQ(*FindHeader(c.headers(), "transfer-encoding"), "chunked");
  c.Send("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n");
  auto [status, body] = c.Read("HEAD");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, "");
  EXPECT_EQ(*FindHeader(c.headers(), "content-length"), "10");
  c.Send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");  // still in sync after HEAD
  EXPECT_EQ(c.Read().second, "0123456789");
}

TEST(HttpServerTest, LargeResponseWithBackPressure) {
  std::string big(8 << 20, 'z');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  Served s([&](const Request&, ResponseWriter w) { w.Send(Response::Text(200, big)); });
  RawConn c(s.port());
  c.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  std::this_thread::sleep_for(50ms);  // let the server hit EAGAIN and wait for EPOLLOUT
  auto r1 = c.Read();
  auto r2 = c.Read();
  EXPECT_EQ(r1.first, 200);
  EXPECT_TRUE(r1.second == big);
  EXPECT_TRUE(r2.second == big);
}

TEST(HttpServerTest, UnixSocketWithClient) {
  auto loop = std::move(net::EventLoop::Create()).value();
  std::string path = "/tmp/slipway-http-test-" + std::to_string(getpid()) + ".sock";
  auto fd = net::ListenUnix(path);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  auto server = std::move(HttpServer::Create(loop.get(), std::move(fd).value(), Echo)).value();
  std::optional<Result<ClientResponse>> got;
  Request req;
  req.method = "POST";
  req.target = "/u";
  req.body = "over unix";
  Endpoint ep;
  ep.unix_path = path;
  FetchAsync(loop.get(), ep, req, Duration(5000), [&](Result<ClientResponse> r) { got = r; });
  for (int i = 0; i < 500 && !got; ++i) loop->RunOnce(Duration(10));
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status().message();
  EXPECT_EQ((*got)->status, 200);
  EXPECT_EQ((*got)->body, "POST /u over unix");
  server.reset();
  ::unlink(path.c_str());
}

TEST(HttpServerTest, HeadCheckRefusesBeforeTheBodyIsRead) {
  std::atomic<int> handled{0};
  ServerOptions opt;
  opt.head_check = [](const Request& head) {
    HeadVerdict v;
    if (head.target == "/deny") v.reject = Response::Text(401, "no\n");
    if (head.target == "/small") v.max_body = 4;
    return v;
  };
  Served s(
      [&](const Request& req, ResponseWriter w) {
        ++handled;
        w.Send(Response::Text(200, req.body));
      },
      opt);
  {
    // A 60 MB body is announced and never sent: the answer comes from the head alone.
    RawConn c(s.port());
    c.Send("POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\n");
    auto [status, body] = c.Read();
    EXPECT_EQ(status, 401);
    EXPECT_EQ(body, "no\n");
    EXPECT_TRUE(c.AtEof());
  }
  {
    RawConn c(s.port());
    c.Send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    EXPECT_EQ(c.Read().first, 413);
  }
  {
    // Chunked bodies have no length up front: counted as they arrive.
    RawConn c(s.port());
    c.Send(
        "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
    EXPECT_EQ(c.Read().first, 413);
  }
  {
    RawConn c(s.port());
    c.Send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd");
    auto [status, body] = c.Read();
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body, "abcd");
  }
  EXPECT_EQ(handled.load(), 1);
}

}  // namespace
}  // namespace slipway::http
