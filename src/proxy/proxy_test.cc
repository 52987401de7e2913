// End-to-end tests of the proxy over real loopback sockets, with in-process upstreams.
#include "proxy/proxy.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "acme/challenge.h"
#include "http/parser.h"
#include "net/tls_context.h"
#include "net/tls_test_certs.h"
#include "proxy/proxy_metrics.h"
#include "proxy/test_upstream.h"

namespace slipway::proxy {
namespace {

using namespace testing;  // NOLINT

InstanceSet MakeSet(const std::string& name, uint32_t weight, std::vector<int> ports) {
  InstanceSet s;
  s.name = name;
  s.weight = weight;
  int i = 0;
  for (int p : ports)
    s.backends.push_back(Backend{"127.0.0.1", p, name + "." + std::to_string(i++)});
  return s;
}

class ProxyTest : public ::testing::Test {
 protected:
  void StartProxy(ProxyOptions opt = {}) {
    if (opt.workers == 0) opt.workers = 2;
    registry_ = std::make_unique<telemetry::Registry>(Proxy::ShardsFor(opt.workers));
    auto p = Proxy::Create(opt, registry_.get());
    ASSERT_TRUE(p.ok()) << p.status().message();
    proxy_ = std::move(p).value();
  }
  // One listener on 127.0.0.1 (ephemeral port) with these routes.
  void ApplyRoutes(std::vector<Route> routes) {
    auto t = std::make_shared<RouteTable>();
    Listener l;
    l.host = "127.0.0.1";
    l.port = port_;
    l.routes = std::move(routes);
    t->listeners.push_back(l);
    t->version = ++version_;
    Status st = proxy_->Apply(t);
    ASSERT_TRUE(st.ok()) << st.message();
    auto bound = proxy_->BoundPort("127.0.0.1", port_);
    ASSERT_TRUE(bound.ok());
    if (port_ == 0) port_ = *bound;  // later tables name the port explicitly
    bound_ = *bound;
  }
  Route SimpleRoute(std::vector<InstanceSet> sets, std::string service = "web") {
    Route r;
    r.service = service;
    r.sets = std::move(sets);
    return r;
  }
  int Connect() {
    int fd = ConnectTo(bound_);
    EXPECT_GE(fd, 0);
    return fd;
  }
  ClientResponse Do(std::string_view req) {
    int fd = Connect();
    std::string buf;
    ClientResponse r = Exchange(fd, req, &buf);
    close(fd);
    return r;
  }

  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<Proxy> proxy_;
  int port_ = 0;
  int bound_ = 0;
  uint64_t version_ = 0;
};

TEST_F(ProxyTest, KeepAliveReuseAndForwardedHeaders) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int fd = Connect();
  std::string buf;
  for (int i = 0; i < 50; ++i) {
    ClientResponse r = Exchange(fd, Get("/id"), &buf);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "a");
    EXPECT_EQ(r.head.Get("x-seen-for"), "127.0.0.1");
    EXPECT_FALSE(r.head.Get("x-seen-id").empty());
    EXPECT_TRUE(r.head.Get("connection").empty());
  }
  ClientResponse r =
      Exchange(fd, Get("/id", "X-Request-Id: abc\r\nX-Forwarded-For: 10.0.0.1\r\n"), &buf);
  EXPECT_EQ(r.head.Get("x-seen-id"), "abc");
  EXPECT_EQ(r.head.Get("x-seen-for"), "10.0.0.1, 127.0.0.1");
  close(fd);
  EXPECT_EQ(up.accepts(), 1);  // one upstream connection served all 51 requests
  EXPECT_NE(up.last_head().find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_NE(up.last_head().find("X-Forwarded-Host: test\r\n"), std::string::npos);
}

TEST_F(ProxyTest, GeneratedRequestIdsAreUniqueAndWellFormed) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int fd = Connect();
  std::string buf;
  std::set<std::string> seen;
  // "<8 hex digits, per worker>-<worker index, 2>-<sequence, 12>"; the sequence counts up.
  const std::regex shape("[0-9a-f]{8}-[0-9a-f]{2}-[0-9a-f]{12}");
  std::string prefix;
  for (int i = 0; i < 20; ++i) {
    ClientResponse r = Exchange(fd, Get("/id"), &buf);
    ASSERT_TRUE(r.ok);
    std::string id(r.head.Get("x-seen-id"));
    EXPECT_TRUE(std::regex_match(id, shape)) << id;
    if (i == 0) prefix = id.substr(0, 12);
    EXPECT_EQ(id.substr(0, 12), prefix) << id;  // one worker, one prefix
    EXPECT_TRUE(seen.insert(id).second) << "repeated " << id;
  }
  close(fd);
}

TEST_F(ProxyTest, PipelinedRequestsAnsweredInOrder) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int fd = Connect();
  std::string all = Get("/slow?ms=20") + Get("/nothing") + Get("/health");
  ASSERT_TRUE(WriteAll(fd, all));
  std::string buf;
  ClientResponse r1 = Exchange(fd, "", &buf);
  ClientResponse r2 = Exchange(fd, "", &buf);
  ClientResponse r3 = Exchange(fd, "", &buf);
  EXPECT_EQ(r1.head.Get("x-seen-path"), "/slow?ms=20");
  EXPECT_EQ(r2.head.Get("x-seen-path"), "/nothing");
  EXPECT_EQ(r3.body, "ok");
  close(fd);
}

// Small answers written whole, large ones in parts behind them, a chunked one re-framed: on
// many connections at once, each with four requests in one write, every answer must arrive
// whole and in its request's order.
TEST_F(ProxyTest, PipelinedMixesOfSmallLargeAndChunkedAnswersArriveWholeAndInOrder) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  constexpr int kClients = 8;
  constexpr int kRounds = 15;
  // Larger than a socket write takes at once on a busy connection.
  const std::string big(40'000, 'x');
  std::atomic<int> bad{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      int fd = ConnectTo(bound_);
      if (fd < 0) {
        ++bad;
        return;
      }
      std::string buf;
      for (int i = 0; i < kRounds; ++i) {
        // Four requests in one write: the proxy answers them one after the other.
        std::string all = Get("/id") + Get("/big?n=40000") + Get("/chunked") + Get("/health");
        if (!WriteAll(fd, all)) {
          ++bad;
          break;
        }
        ClientResponse r1 = Exchange(fd, "", &buf);
        ClientResponse r2 = Exchange(fd, "", &buf);
        ClientResponse r3 = Exchange(fd, "", &buf);
        ClientResponse r4 = Exchange(fd, "", &buf);
        if (!r1.ok || r1.body != "a" || !r2.ok || r2.body != big || !r3.ok ||
            r3.body != "hello world" || !r4.ok || r4.body != "ok") {
          ++bad;
          break;
        }
      }
      close(fd);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(up.requests(), kClients * kRounds * 4);
}

TEST_F(ProxyTest, ChunkedBothWays) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int fd = Connect();
  std::string buf;
  ClientResponse r = Exchange(fd,
                              "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n",
                              &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "abcdefg");
  r = Exchange(fd, Get("/chunked"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.head.Get("transfer-encoding"), "chunked");
  EXPECT_EQ(r.body, "hello world");
  // An HTTP/1.0 client gets the chunked response decoded, delimited by the close.
  {
    int fd10 = Connect();
    std::string b10;
    ClientResponse r10 = Exchange(fd10, "GET /chunked HTTP/1.0\r\nHost: t\r\n\r\n", &b10);
    EXPECT_TRUE(r10.ok);
    EXPECT_EQ(r10.body, "hello world");
    EXPECT_TRUE(r10.head.Get("transfer-encoding").empty());
    EXPECT_EQ(r10.head.Get("connection"), "close");
    close(fd10);
  }
  // Still usable after both.
  r = Exchange(fd, Get("/id"), &buf);
  EXPECT_EQ(r.body, "a");
  close(fd);
}

long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

TEST_F(ProxyTest, OneGiBStreamedBothWaysWithBoundedMemory) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  constexpr uint64_t kSize = 1ull << 30;
  long rss_before = RssKiB();
  auto t0 = std::chrono::steady_clock::now();
  // Upload.
  {
    int fd = Connect();
    std::string head =
        "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n";
    ASSERT_TRUE(WriteAll(fd, head));
    std::string block(1 << 20, 'y');
    for (uint64_t sent = 0; sent < kSize; sent += block.size()) ASSERT_TRUE(WriteAll(fd, block));
    std::string buf;
    ClientResponse r = Exchange(fd, "", &buf);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::to_string(kSize));
    close(fd);
  }
  auto t1 = std::chrono::steady_clock::now();
  // Download, counted without keeping it.
  {
    int fd = Connect();
    ASSERT_TRUE(WriteAll(fd, Get("/big?n=" + std::to_string(kSize))));
    std::string buf;
    ASSERT_TRUE(ReadUntil(fd, &buf, "\r\n\r\n"));
    size_t end = buf.find("\r\n\r\n") + 4;
    Head h = ParseHead(buf.substr(0, end));
    buf.erase(0, end);
    uint64_t got = 0;
    ASSERT_TRUE(ReadBody(fd, h, &buf, false, [&](std::string_view p) { got += p.size(); }));
    EXPECT_EQ(got, kSize);
    close(fd);
  }
  auto t2 = std::chrono::steady_clock::now();
  long growth = RssKiB() - rss_before;
  std::printf("1 GiB upload %.2f s, download %.2f s, RSS growth %ld KiB\n",
              std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count(), growth);
  EXPECT_LT(growth, 32 * 1024);  // buffers are bounded, the body never accumulates
}

TEST_F(ProxyTest, WebSocketEcho) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int fd = Connect();
  std::string buf;
  ClientResponse r = Exchange(fd,
                              "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
                              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                              &buf);
  ASSERT_EQ(r.status, 101);
  EXPECT_EQ(Lower(r.head.Get("upgrade")), "websocket");
  for (int i = 0; i < 20; ++i) {
    std::string msg = "frame-" + std::to_string(i);
    ASSERT_TRUE(WriteAll(fd, msg));
    ASSERT_TRUE(ReadUntil(fd, &buf, msg));
    buf.clear();
  }
  close(fd);
}

TEST_F(ProxyTest, SlowlorisTimedOut) {
  UpstreamServer up("a");
  ProxyOptions opt;
  opt.head_timeout = Duration(300);
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int fd = Connect();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WriteAll(fd, "GET / HTTP/1.1\r\nHost: t\r\n"));
  std::string buf;
  // Keep trickling header bytes; the head deadline does not move.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    WriteAll(fd, "X-A: b\r\n");
  }
  ClientResponse r = Exchange(fd, "", &buf);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(PeerClosed(fd));
  EXPECT_LT(secs, 2.0);
  EXPECT_GE(secs, 0.25);
  close(fd);
}

TEST_F(ProxyTest, SmugglingAttemptsRejected) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  struct Case {
    const char* name;
    std::string req;
    int status;
  };
  std::vector<Case> cases = {
      {"CL+TE",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       400},
      {"two CL",
       "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
      {"TE not chunked last",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
      {"TE gzip", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"bad chunk size",
       "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
       400},
      {"obs fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n", 400},
      {"bare LF", "GET / HTTP/1.1\nHost: t\n\n", 400},
      {"bare CR", "GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
      {"bad header byte", std::string("GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01z\r\n\r\n"), 400},
      {"bad CL", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    int fd = Connect();
    std::string buf;
    ClientResponse r = Exchange(fd, c.req, &buf);
    EXPECT_EQ(r.status, c.status) << c.name;
    EXPECT_EQ(r.head.Get("connection"), "close") << c.name;
    EXPECT_TRUE(PeerClosed(fd)) << c.name;
    close(fd);
  }
  EXPECT_EQ(up.requests(), 0);  // nothing reached the upstream
}

TEST_F(ProxyTest, HeadAndBodyLimits) {
  UpstreamServer up("a");
  ProxyOptions opt;
  opt.limits.max_head_bytes = 2048;
  opt.limits.max_body_bytes = 1000;
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  ClientResponse r = Do(Get("/", "X-Big: " + std::string(4000, 'a') + "\r\n"));
  EXPECT_EQ(r.status, 431);
  r = Do("POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  // Chunked over the limit is caught while streaming.
  int fd = Connect();
  std::string buf;
  std::string req = "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "200\r\n" + std::string(512, 'z') + "\r\n";
  r = Exchange(fd, req, &buf);
  EXPECT_EQ(r.status, 413);
  close(fd);
}

TEST_F(ProxyTest, UpstreamDownGives502AndRetryUsesAnotherReplica) {
  StartProxy();
  int dead = ClosedPort();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {dead})})});
  ClientResponse r = Do(Get("/id"));
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("refused"), std::string::npos);

  // A fresh dead replica (the first one is now marked down and skipped) listed first, so the
  // first pick of each worker hits it and must be retried on the live one.
  UpstreamServer up("b");
  int dead2 = ClosedPort();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {dead2, up.port()})})});
  int fd = Connect();
  std::string buf;
  for (int i = 0; i < 20; ++i) {
    r = Exchange(fd, Get("/id"), &buf);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "b");
  }
  close(fd);
  const telemetry::Counter* retries = registry_->FindCounter(kRetries, {"web", "blue"});
  ASSERT_NE(retries, nullptr);
  EXPECT_GE(retries->Value(), 1u);
  // A POST is not retried.
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {dead})})});
  r = Do("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(r.status, 502);
}

// A set's only backend is tried again only on a listener that asks for it (the ingress's).
TEST_F(ProxyTest, SameBackendRetriedOnlyWhenTheListenerAsks) {
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {ClosedPort()})})});
  EXPECT_EQ(Do(Get("/id")).status, 502);
  const telemetry::Counter* retries = registry_->FindCounter(kRetries, {"web", "blue"});
  ASSERT_NE(retries, nullptr);
  EXPECT_EQ(retries->Value(), 0u);

  auto t = std::make_shared<RouteTable>();
  Listener l;
  l.host = "127.0.0.1";
  l.port = port_;
  l.retry_same_backend = true;
  l.routes = {SimpleRoute({MakeSet("blue", 100, {ClosedPort()})})};
  t->listeners.push_back(l);
  t->version = ++version_;
  ASSERT_TRUE(proxy_->Apply(t).ok());
  EXPECT_EQ(Do(Get("/id")).status, 502);
  EXPECT_EQ(retries->Value(), 1u);
}

TEST_F(ProxyTest, UpstreamResponseTimeoutGives504) {
  UpstreamServer up("a");
  ProxyOptions opt;
  opt.response_head_timeout = Duration(200);
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  ClientResponse r = Do(Get("/slow?ms=500"));
  EXPECT_EQ(r.status, 504);
}

TEST_F(ProxyTest, MaintenanceMode) {
  UpstreamServer up("a");
  StartProxy();
  Route route = SimpleRoute({MakeSet("blue", 100, {up.port()})});
  route.maintenance = true;
  route.maintenance_message = "Back at <5pm>";
  ApplyRoutes({route});
  ClientResponse r = Do(Get("/id", "Accept: text/html\r\n"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.head.Get("retry-after"), "30");
  EXPECT_NE(r.head.Get("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("Back at &lt;5pm&gt;"), std::string::npos);
  r = Do(Get("/id", "Accept: application/json\r\n"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.head.Get("content-type"), "application/json");
  EXPECT_NE(r.body.find("\"maintenance\""), std::string::npos);
  r = Do(Get("/health"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  route.maintenance = false;
  ApplyRoutes({route});
  EXPECT_EQ(Do(Get("/id")).status, 200);
}

TEST_F(ProxyTest, AcmeChallengesAnsweredBeforeRoutingAndTheRedirect) {
  UpstreamServer up("a");
  StartProxy();
  auto challenges = std::make_shared<acme::ChallengeTable>();
  ASSERT_TRUE(challenges->Present("app.test", "tok-1_A", "tok-1_A.thumbprint").ok());
  auto t = std::make_shared<RouteTable>();
  Listener l;
  l.host = "127.0.0.1";
  l.routes = {SimpleRoute({MakeSet("blue", 100, {up.port()})})};
  l.https_redirect_port = 8443;
  l.acme_challenges = challenges;
  t->listeners.push_back(l);
  t->version = ++version_;
  ASSERT_TRUE(proxy_->Apply(t).ok());
  auto bound = proxy_->BoundPort("127.0.0.1", 0);
  ASSERT_TRUE(bound.ok());
  bound_ = *bound;
  ClientResponse r = Do(Get("/.well-known/acme-challenge/tok-1_A"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "tok-1_A.thumbprint");
  EXPECT_EQ(r.head.Get("content-type"), "application/octet-stream");
  // Unknown tokens and other methods are not the app's either: 404, no redirect.
  EXPECT_EQ(Do(Get("/.well-known/acme-challenge/other")).status, 404);
  EXPECT_EQ(Do(Get("/.well-known/acme-challenge/")).status, 404);
  EXPECT_EQ(Do("POST /.well-known/acme-challenge/tok-1_A HTTP/1.1\r\nHost: x\r\n"
               "Content-Length: 0\r\n\r\n")
                .status,
            404);
  // Everything else still redirects.
  r = Do(Get("/id"));
  EXPECT_EQ(r.status, 308);
  challenges->CleanUp("tok-1_A");
  EXPECT_EQ(Do(Get("/.well-known/acme-challenge/tok-1_A")).status, 404);
}

TEST_F(ProxyTest, WeightsHonouredWithinTwoPercent) {
  UpstreamServer a1("blue"), a2("blue"), b1("green"), b2("green");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 90, {a1.port(), a2.port()}),
                            MakeSet("green", 10, {b1.port(), b2.port()})})});
  int fds[4];
  for (int& fd : fds) fd = Connect();
  std::string bufs[4];
  int green = 0;
  constexpr int kN = 10000;
  // Four client connections (spread over both workers), requests in lockstep.
  for (int i = 0; i < kN; ++i) {
    ClientResponse r = Exchange(fds[i % 4], Get("/id"), &bufs[i % 4]);
    ASSERT_EQ(r.status, 200);
    if (r.body == "green") ++green;
  }
  for (int fd : fds) close(fd);
  double share = static_cast<double>(green) / kN;
  EXPECT_NEAR(share, 0.10, 0.02);
  SetStats s = ReadSetStats(*registry_, "web", "green");
  EXPECT_EQ(s.requests, static_cast<uint64_t>(green));
  EXPECT_EQ(s.errors_5xx, 0u);
  EXPECT_GT(s.p99_seconds, 0);
}

TEST_F(ProxyTest, StickyCookie) {
  UpstreamServer a("blue"), b("green");
  StartProxy();
  Route route = SimpleRoute({MakeSet("blue", 50, {a.port()}), MakeSet("green", 50, {b.port()})});
  route.sticky_cookie = "slipway_set";
  ApplyRoutes({route});
  ClientResponse r = Do(Get("/id"));
  std::string cookie = r.head.Get("set-cookie");
  ASSERT_EQ(cookie.rfind("slipway_set=" + r.body, 0), 0u) << cookie;
  for (int i = 0; i < 10; ++i) {
    ClientResponse again = Do(Get("/id", "Cookie: a=1; slipway_set=" + r.body + "\r\n"));
    EXPECT_EQ(again.body, r.body);
    EXPECT_TRUE(again.head.Get("set-cookie").empty());
  }
}

TEST_F(ProxyTest, DrainingFinishesInFlightRequests) {
  UpstreamServer a("blue"), b("green");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {a.port()}), MakeSet("green", 0, {b.port()})})});
  int fd = Connect();
  std::string buf;
  ASSERT_EQ(Exchange(fd, Get("/id"), &buf).body, "blue");
  ASSERT_TRUE(WriteAll(fd, Get("/slow?ms=400")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // request is in flight
  InstanceSet blue = MakeSet("blue", 100, {a.port()});
  blue.draining = true;
  ApplyRoutes({SimpleRoute({blue, MakeSet("green", 100, {b.port()})})});
  ClientResponse r = Exchange(fd, "", &buf);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "blue");
  EXPECT_EQ(r.head.Get("connection"), "close");
  EXPECT_TRUE(PeerClosed(fd));
  close(fd);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Do(Get("/id")).body, "green");
}

// A one-service traffic update (a deploy's weight step) changes that service's routes in place:
// nothing is compiled or rebuilt, and every other route keeps its state (its balancer's
// position, its draining marks). A whole table, by contrast, builds every route again.
TEST_F(ProxyTest, RouteUpdateLeavesOtherRoutesStateAlone) {
  UpstreamServer w1("w1"), w2("w2"), w3("w3"), old("old"), api_blue("api-blue"),
      api_green("api-green");
  ProxyOptions opt;
  opt.workers = 1;  // one balancer per route: its position is observable
  StartProxy(opt);
  InstanceSet web_old = MakeSet("old", 100, {old.port()});
  web_old.draining = true;
  Route web = SimpleRoute({MakeSet("blue", 100, {w1.port(), w2.port(), w3.port()}), web_old});
  Route api = SimpleRoute(
      {MakeSet("blue", 100, {api_blue.port()}), MakeSet("green", 0, {api_green.port()})}, "api");
  api.path_prefix = "/api";
  ApplyRoutes({web, api});
  const std::string first = Do(Get("/id")).body;
  ASSERT_TRUE(first == "w1" || first == "w2" || first == "w3") << first;
  EXPECT_EQ(Do(Get("/api/id")).body, "api-blue");

  const ProxyWork before = proxy_->work();
  Route step = api;
  step.sets[0].weight = 0;
  step.sets[1].weight = 100;
  step.sticky_cookie = "slipway_set";
  step.path_prefix = "/ignored";  // only the traffic settings are taken
  ASSERT_TRUE(proxy_->UpdateRoute(step).ok());
  const ProxyWork after = proxy_->work();
  EXPECT_EQ(after.routes_compiled, before.routes_compiled);
  EXPECT_EQ(after.worker_routes_built, before.worker_routes_built);
  EXPECT_EQ(after.tables_applied, before.tables_applied);
  EXPECT_EQ(after.route_updates, before.route_updates + 1);
  EXPECT_EQ(after.worker_route_updates, before.worker_route_updates + 1);

  // The updated route follows its new weights and cookie.
  ClientResponse a = Do(Get("/api/id"));
  EXPECT_EQ(a.body, "api-green");
  EXPECT_EQ(a.head.Get("set-cookie").rfind("slipway_set=green", 0), 0u) << a.head.Get("set-cookie");
  // The other route's balancer went on from where it was, and its draining set stays out.
  auto next_of = [](const std::string& b) {
    return b == "w1" ? std::string("w2") : b == "w2" ? std::string("w3") : std::string("w1");
  };
  const std::string second = Do(Get("/id")).body;
  EXPECT_EQ(second, next_of(first));
  for (int i = 0; i < 6; ++i) EXPECT_NE(Do(Get("/id")).body, "old");
  // table() shows the update; the other route as it was.
  std::shared_ptr<const RouteTable> t = proxy_->table();
  ASSERT_EQ(t->listeners.size(), 1u);
  ASSERT_EQ(t->listeners[0].routes.size(), 2u);
  EXPECT_EQ(t->listeners[0].routes[1].sets[1].weight, 100u);
  EXPECT_EQ(t->listeners[0].routes[1].path_prefix, "/api");
  EXPECT_EQ(t->listeners[0].routes[1].sticky_cookie, "slipway_set");
  EXPECT_TRUE(t->listeners[0].routes[0].sets[1].draining);

  // A whole table builds every route again: web's balancer starts over.
  const std::string before_switch = Do(Get("/id")).body;
  step.path_prefix = "/api";
  ApplyRoutes({web, step});
  const ProxyWork full = proxy_->work();
  EXPECT_EQ(full.routes_compiled, after.routes_compiled + 2);
  EXPECT_EQ(full.worker_routes_built, after.worker_routes_built + 2);
  EXPECT_EQ(Do(Get("/id")).body, first) << "after " << before_switch;

  // An update whose sets differ from the table's is refused; so is an unknown service.
  Route grown = step;
  grown.sets[1].backends.push_back(Backend{"127.0.0.1", w1.port(), "green.1"});
  Status st = proxy_->UpdateRoute(grown);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.message();
  EXPECT_NE(st.message().find("instance sets of api changed"), std::string::npos);
  EXPECT_EQ(proxy_->UpdateRoute(SimpleRoute({}, "nope")).code(), StatusCode::kNotFound);
  EXPECT_EQ(Do(Get("/api/id")).body, "api-green");
}

// The work one weight change costs: a whole table (how the daemon published weights before)
// against a one-service route update, over a table of 40 services (80 routes: by host on one
// listener, by path on another), 4 workers. Prints both; the counters are exact.
TEST_F(ProxyTest, WeightChangeWorkWholeTableVersusRouteUpdate) {
  ProxyOptions opt;
  opt.workers = 4;
  StartProxy(opt);
  constexpr int kServices = 40;
  auto table = [&](uint32_t canary_weight) {
    auto t = std::make_shared<RouteTable>();
    Listener shared;
    shared.host = "127.0.0.1";
    shared.port = port_;
    for (int i = 0; i < kServices; ++i) {
      Route r = SimpleRoute({MakeSet("r1", 100 - (i == 0 ? canary_weight : 0), {30000 + i}),
                             MakeSet("r2", i == 0 ? canary_weight : 0, {31000 + i})},
                            "svc" + std::to_string(i));
      r.host = "svc" + std::to_string(i) + ".test";
      shared.routes.push_back(r);
    }
    t->listeners.push_back(shared);
    Listener paths;  // the same services by path on a second listener
    paths.host = "127.0.0.2";
    paths.port = 0;
    for (int i = 0; i < kServices; ++i) {
      Route r = shared.routes[i];
      r.host.clear();
      r.path_prefix = "/svc" + std::to_string(i);
      paths.routes.push_back(r);
    }
    t->listeners.push_back(paths);
    t->version = ++version_;
    return t;
  };
  ApplyRoutes({SimpleRoute({MakeSet("r1", 100, {30999})}, "warmup")});
  ASSERT_TRUE(proxy_->Apply(table(0)).ok());
  constexpr int kSteps = 20;
  auto timed = [&](const std::function<void(int)>& change) {
    const ProxyWork w0 = proxy_->work();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i <= kSteps; ++i) change(i);
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        kSteps;
    const ProxyWork w1 = proxy_->work();
    return std::make_pair(w1, std::make_pair(w0, us));
  };
  auto [whole_after, whole] = timed([&](int i) { ASSERT_TRUE(proxy_->Apply(table(i)).ok()); });
  auto [update_after, update] = timed([&](int i) {
    Route r = proxy_->table()->listeners[0].routes[0];
    r.sets[0].weight = 100 - i;
    r.sets[1].weight = i;
    ASSERT_TRUE(proxy_->UpdateRoute(r).ok());
  });
  const int routes =
      static_cast<int>(whole_after.routes_compiled - whole.first.routes_compiled) / kSteps;
  const int built =
      static_cast<int>(whole_after.worker_routes_built - whole.first.worker_routes_built) / kSteps;
  const int u_compiled =
      static_cast<int>(update_after.routes_compiled - update.first.routes_compiled);
  const int u_built =
      static_cast<int>(update_after.worker_routes_built - update.first.worker_routes_built);
  const int u_updated =
      static_cast<int>(update_after.worker_route_updates - update.first.worker_route_updates) /
      kSteps;
  std::printf(
      "per weight change: whole table: %d routes compiled, %d worker route states built, "
      "%.0f us; route update: %d compiled, %d built, %d worker route states updated in place, "
      "%.0f us\n",
      routes, built, whole.second, u_compiled, u_built, u_updated, update.second);
  const int table_routes = 2 * kServices;
  EXPECT_EQ(routes, table_routes);
  EXPECT_EQ(built, table_routes * opt.workers);
  EXPECT_EQ(u_compiled, 0);
  EXPECT_EQ(u_built, 0);
  EXPECT_EQ(u_updated, (table_routes / kServices) * opt.workers);  // svc0's routes only
}

TEST_F(ProxyTest, ApplyFailsCleanlyOnBindError) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  auto before = proxy_->table();
  auto t = std::make_shared<RouteTable>(*before);
  Listener taken;
  taken.host = "127.0.0.1";
  taken.port = up.port();  // in use by the upstream, without SO_REUSEPORT
  t->listeners.push_back(taken);
  Status st = proxy_->Apply(t);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(proxy_->table(), before);
  EXPECT_EQ(Do(Get("/id")).body, "a");
  // Invalid input is rejected too.
  auto bad = std::make_shared<RouteTable>(*before);
  bad->listeners.push_back(bad->listeners[0]);
  EXPECT_EQ(proxy_->Apply(bad).code(), StatusCode::kInvalidInput);
}

TEST_F(ProxyTest, RemovedListenerStopsAccepting) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int idle = Connect();
  std::string buf;
  ASSERT_EQ(Exchange(idle, Get("/id"), &buf).status, 200);
  ASSERT_TRUE(proxy_->Apply(std::make_shared<RouteTable>()).ok());
  EXPECT_TRUE(PeerClosed(idle));  // idle keep-alive connection closed
  close(idle);
  EXPECT_LT(ConnectTo(bound_), 0);
}

// Binds like a keeper: keeps its own copy of every socket it hands out, counts Release().
class KeepingSource : public ListenerSource {
 public:
  Result<std::vector<net::UniqueFd>> Acquire(const std::string& host, int port, int count,
                                             int* bound_port) override {
    std::vector<net::UniqueFd> out;
    for (int i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(net::UniqueFd fd, net::ListenTcp(host, port, 128, true));
      if (port == 0) {
        ASSIGN_OR_RETURN(port, net::LocalPort(fd.get()));
      }
      out.emplace_back(::dup(fd.get()));
      kept.push_back(std::move(fd));
    }
    *bound_port = port;
    return out;
  }
  void Release(const std::string&, int) override { ++released; }
  std::vector<net::UniqueFd> kept;
  int released = 0;
};

TEST_F(ProxyTest, DrainHandsTheListenersOverAndFinishesInFlightRequests) {
  UpstreamServer up("a");
  KeepingSource source;
  ProxyOptions opt;
  opt.listeners = &source;
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  int idle = Connect();
  std::string buf;
  ASSERT_EQ(Exchange(idle, Get("/id"), &buf).status, 200);
  int busy = Connect();
  ASSERT_TRUE(WriteAll(busy, Get("/slow?ms=400")));
  // Accepted, but its request comes only after the drain began: answered, not reset.
  int fresh = Connect();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // in flight, accepted
  EXPECT_EQ(proxy_->OpenConnections(), 3u);
  ASSERT_TRUE(proxy_->Drain().ok());
  EXPECT_EQ(source.released, 0) << "the sockets stay with the source for a successor";
  // An idle keep-alive connection is not cut: its next request is answered, then it closes.
  ClientResponse i = Exchange(idle, Get("/id"), &buf);
  EXPECT_EQ(i.status, 200);
  EXPECT_EQ(i.head.Get("connection"), "close");
  EXPECT_TRUE(PeerClosed(idle));
  close(idle);
  ClientResponse f = Exchange(fresh, Get("/id"), &buf);
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.head.Get("connection"), "close");
  close(fresh);
  ClientResponse r = Exchange(busy, "", &buf);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.head.Get("connection"), "close");
  close(busy);
  // A new connection is accepted by the kernel (the source's socket) and waits, unserved.
  int waiting = ConnectTo(bound_);
  EXPECT_GE(waiting, 0);
  for (int i = 0; i < 100 && proxy_->OpenConnections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(proxy_->OpenConnections(), 0u);
  EXPECT_EQ(proxy_->Apply(proxy_->table()).code(), StatusCode::kFailedPrecondition);
  if (waiting >= 0) close(waiting);
}

// The drain of a process that exits: a connection that sent nothing closes at once (it would
// hold the exit until its timeout), as an idle kept-alive one does; one with half a head is
// still served; the wait ends when the last connection closes, not on a poll's tick.
TEST_F(ProxyTest, ExitDrainClosesSilentConnectionsAndServesHalfSentHeads) {
  UpstreamServer up("a");
  KeepingSource source;
  ProxyOptions opt;
  opt.listeners = &source;
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  const int silent = Connect();
  const int idle = Connect();
  std::string buf;
  ASSERT_EQ(Exchange(idle, Get("/id"), &buf).status, 200);
  const int partial = Connect();
  ASSERT_TRUE(WriteAll(partial, "GET /id HTTP/1.1\r\nHo"));
  const int busy = Connect();
  ASSERT_TRUE(WriteAll(busy, Get("/slow?ms=300")));
  for (int i = 0; i < 500 && proxy_->OpenConnections() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(proxy_->OpenConnections(), 4u);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(proxy_->Drain(Proxy::DrainFor::kExit).ok());
  EXPECT_EQ(source.released, 1) << "nobody takes over: the source's copies go too";
  EXPECT_TRUE(PeerClosed(silent)) << "a connection that sent nothing is closed";
  EXPECT_TRUE(PeerClosed(idle)) << "an idle kept-alive connection is closed";
  close(silent);
  close(idle);
  ASSERT_TRUE(WriteAll(partial, "st: x\r\n\r\n"));
  ClientResponse p = Exchange(partial, "", &buf);
  EXPECT_EQ(p.status, 200) << "half a head is a request on its way";
  EXPECT_EQ(p.body, "a");
  EXPECT_EQ(p.head.Get("connection"), "close");
  close(partial);
  std::thread reader([&] {
    std::string b;
    ClientResponse r = Exchange(busy, "", &b);
    EXPECT_EQ(r.status, 200);
    close(busy);
  });
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(10'000)), 0u);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  reader.join();
  EXPECT_GE(took, 250) << "the slow request was in flight";
  EXPECT_LT(took, 5'000);
}

// On a TLS listener "received nothing" includes the handshake: a client that has not begun one
// is closed by an exit drain, one that has sent part of its ClientHello is not.
TEST_F(ProxyTest, ExitDrainClosesASilentTlsConnectionButNotAStartedHandshake) {
  UpstreamServer up("a");
  StartProxy();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("slipway-proxy-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const net::testing::TestCert cert = net::testing::MakeTestCert({"a.test"});
  net::TlsServerContext::CertificatePaths paths{(dir / "a.pem").string(), (dir / "a.key").string()};
  net::testing::WriteTestFile(paths.cert, cert.cert_pem);
  net::testing::WriteTestFile(paths.key, cert.key_pem);
  auto ctx = net::TlsServerContext::Create({paths}, nullptr, std::time(nullptr));
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  auto t = std::make_shared<RouteTable>();
  Listener l;
  l.host = "127.0.0.1";
  l.port = 0;
  l.tls = *ctx;
  l.routes = {SimpleRoute({MakeSet("blue", 100, {up.port()})})};
  t->listeners.push_back(l);
  t->version = ++version_;
  ASSERT_TRUE(proxy_->Apply(t).ok());
  auto bound = proxy_->BoundPort("127.0.0.1", 0);
  ASSERT_TRUE(bound.ok());
  const int silent = ConnectTo(*bound);
  const int started = ConnectTo(*bound);
  ASSERT_GE(silent, 0);
  ASSERT_GE(started, 0);
  ASSERT_TRUE(WriteAll(started, std::string_view("\x16\x03\x01\x00", 4)));  // a record's start
  for (int i = 0; i < 500 && proxy_->OpenConnections() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(proxy_->OpenConnections(), 2u);
  ASSERT_TRUE(proxy_->Drain(Proxy::DrainFor::kExit).ok());
  EXPECT_TRUE(PeerClosed(silent)) << "no handshake begun: closed";
  EXPECT_EQ(proxy_->OpenConnections(), 1u) << "a handshake under way is left to finish";
  close(silent);
  close(started);
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(5'000)), 0u);
}

TEST_F(ProxyTest, AwaitConnectionsClosedHonoursGiveUpAndTheTimeout) {
  UpstreamServer up("a");
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  const int busy = Connect();
  ASSERT_TRUE(WriteAll(busy, Get("/slow?ms=1500")));
  for (int i = 0; i < 500 && proxy_->OpenConnections() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(proxy_->Drain(Proxy::DrainFor::kExit).ok());
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
  };
  // The caller's fd (a signalfd in the ingress and the daemon; an eventfd here): give_up is
  // asked only when it turns readable, never in slices. A "no" (the daemon's SIGHUP) keeps the
  // wait going to its timeout; a "yes" ends it at once.
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto signal_in = [fd](int ms) {
    return std::thread([fd, ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      const uint64_t one = 1;
      EXPECT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    });
  };
  int asked = 0;
  bool answer = false;
  auto give_up = [&] {
    ++asked;
    uint64_t n = 0;
    EXPECT_EQ(::read(fd, &n, sizeof n), static_cast<ssize_t>(sizeof n));
    return answer;
  };
  auto start = std::chrono::steady_clock::now();
  std::thread hup = signal_in(50);
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(300), fd, give_up), 1u);
  hup.join();
  EXPECT_EQ(asked, 1) << "give_up was asked without its fd turning readable";
  EXPECT_GE(ms_since(start), 290);
  asked = 0;
  answer = true;
  start = std::chrono::steady_clock::now();
  std::thread term = signal_in(100);
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(10'000), fd, give_up), 1u);
  term.join();
  EXPECT_EQ(asked, 1);
  EXPECT_GE(ms_since(start), 90);
  EXPECT_LT(ms_since(start), 1'000) << "the fd did not wake the wait";
  ::close(fd);
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(200)), 1u);
  EXPECT_GE(ms_since(start), 190);
  EXPECT_LT(ms_since(start), 2'000);
  close(busy);
}

TEST_F(ProxyTest, RoutesByPathWithStripPrefix) {
  UpstreamServer web("web"), api("api");
  StartProxy();
  Route w = SimpleRoute({MakeSet("blue", 100, {web.port()})}, "web");
  Route a = SimpleRoute({MakeSet("blue", 100, {api.port()})}, "api");
  a.path_prefix = "/api";
  a.strip_prefix = true;
  ApplyRoutes({w, a});
  ClientResponse r = Do(Get("/api/id?x=1"));
  EXPECT_EQ(r.body, "api");
  EXPECT_EQ(r.head.Get("x-seen-path"), "/id?x=1");
  EXPECT_EQ(Do(Get("/id")).body, "web");
  std::string text = registry_->RenderPrometheus();
  EXPECT_NE(
      text.find("slipway_http_requests_total{route=\"api\",set=\"blue\",code_class=\"2xx\"} 1"),
      std::string::npos);
}

TEST_F(ProxyTest, IdleClientConnectionsAreSmall) {
  UpstreamServer up("a");
  ProxyOptions opt;
  opt.workers = 1;
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  constexpr int kConns = 3000;
  std::vector<int> fds;
  // Warm up allocator pools, then measure only the steady growth per connection.
  for (int i = 0; i < 100; ++i) fds.push_back(Connect());
  long before = RssKiB();
  for (int i = 0; i < kConns; ++i) {
    int fd = Connect();
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // Each connection has served one request, so its parser has seen a real head.
  std::string buf;
  for (int i = 0; i < kConns; ++i) {
    buf.clear();
    ASSERT_EQ(Exchange(fds[100 + i], Get("/id"), &buf).status, 200);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the worker accept all
  long after = RssKiB();
  double per_conn = (after - before) * 1024.0 / kConns;
  std::printf("RSS per idle client connection: %.0f bytes (client fds included)\n", per_conn);
  EXPECT_LT(per_conn, 4096);
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace slipway::proxy

namespace slipway::proxy {
namespace {

// The host's ingress shares one plain listener between sites: a route of a site with TLS
// redirects (ACME paths excepted), another site's route does not; and a project's listener
// behind the ingress passes on the ingress's X-Forwarded-Proto/Host.
TEST_F(ProxyTest, PerRouteRedirectAndTrustedForwardedHeaders) {
  UpstreamServer up("a");
  StartProxy();
  Route tls_site = SimpleRoute({MakeSet("blue", 100, {up.port()})}, "a");
  tls_site.host = "a.test";
  tls_site.https_redirect_port = 8443;
  Route plain_site = SimpleRoute({MakeSet("blue", 100, {up.port()})}, "b");
  plain_site.host = "b.test";
  ApplyRoutes({tls_site, plain_site});
  ClientResponse r = Do("GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\n\r\n");
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.head.Get("location"), "https://a.test:8443/x?y=1");
  r = Do("GET /.well-known/acme-challenge/t HTTP/1.1\r\nHost: a.test\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  r = Do("GET /id HTTP/1.1\r\nHost: b.test\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(up.last_head().find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  // A client's own X-Forwarded-Proto is not believed on an ordinary listener.
  r = Do("GET /id HTTP/1.1\r\nHost: b.test\r\nX-Forwarded-Proto: https\r\n\r\n");
  EXPECT_NE(up.last_head().find("X-Forwarded-Proto: http\r\n"), std::string::npos);

  auto t = std::make_shared<RouteTable>();
  Listener l;
  l.host = "127.0.0.1";
  l.port = port_;
  l.trust_forwarded = true;
  l.routes = {plain_site};
  t->listeners.push_back(l);
  t->version = ++version_;
  ASSERT_TRUE(proxy_->Apply(t).ok());
  r =
      Do("GET /id HTTP/1.1\r\nHost: b.test\r\nX-Forwarded-Proto: https\r\n"
         "X-Forwarded-Host: b.test:8443\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(up.last_head().find("X-Forwarded-Proto: https\r\n"), std::string::npos)
      << up.last_head();
  EXPECT_NE(up.last_head().find("X-Forwarded-Host: b.test:8443\r\n"), std::string::npos);
  EXPECT_NE(up.last_head().find("X-Forwarded-For: 10.1.1.1, 127.0.0.1\r\n"), std::string::npos);
  // Only http or https are passed on.
  r = Do("GET /id HTTP/1.1\r\nHost: b.test\r\nX-Forwarded-Proto: gopher\r\n\r\n");
  EXPECT_NE(up.last_head().find("X-Forwarded-Proto: http\r\n"), std::string::npos);
}

// Writes `pieces` to fd one by one, apart in time, so the proxy reads each on its own.
void WriteApart(int fd, const std::vector<std::string>& pieces) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (!WriteAll(fd, pieces[i])) return;
  }
}

// Reads a response head from fd (bytes past it stay in `buf`).
Head ReadHead(int fd, std::string* buf) {
  if (!ReadUntil(fd, buf, "\r\n\r\n")) return {};
  const size_t end = buf->find("\r\n\r\n") + 4;
  Head h = ParseHead(buf->substr(0, end));
  buf->erase(0, end);
  return h;
}

// Everything fd receives until the peer closes (bounded by the socket timeout).
std::string ReadToClose(int fd) {
  std::string all;
  char tmp[16384];
  for (int i = 0; i < 10000; ++i) {
    const ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) break;
    all.append(tmp, static_cast<size_t>(n));
  }
  return all;
}

// True when `body` holds a whole chunked message, its end included.
bool ChunkedComplete(std::string_view body) {
  http::ChunkedDecoder d;
  for (int i = 0; i < 100000 && !body.empty(); ++i) {
    const http::ChunkedDecoder::Step step = d.Decode(body);
    if (step.state == http::ChunkedDecoder::State::kDone) return true;
    if (step.state == http::ChunkedDecoder::State::kError || step.consumed == 0) return false;
    body.remove_prefix(step.consumed);
  }
  return false;
}

// The trailer sections the chunked answers of TrailerUpstream() end with, by path.
constexpr char kTrailersMixed[] =
    "X-Checksum: abc\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n";
constexpr char kTrailersForbiddenOnly[] = "Host: evil\r\nContent-Length: 5\r\n";

// Answers "/t" with "hello world" chunked and kTrailersMixed in one write, "/t-split" the same
// in pieces cut inside the trailer section, "/t-forbidden" with kTrailersForbiddenOnly cut
// between the final CR and LF, and anything else "ok" with a Content-Length.
ScriptedUpstream::Serve TrailerUpstream() {
  return KeepAlive([](int fd, const std::string& head, std::string*) {
    const std::string start =
        "HTTP/1.1 200 OK\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n";
    const std::string all = start + kTrailersMixed + "\r\n";
    if (head.starts_with("GET /t ")) {
      WriteAll(fd, all);
    } else if (head.starts_with("GET /t-split ")) {
      const size_t cut = all.find("ksum") + 2;  // inside the first trailer field
      const size_t cut2 = all.find("Host");
      WriteApart(fd, {all.substr(0, cut), all.substr(cut, cut2 - cut), all.substr(cut2)});
    } else if (head.starts_with("GET /t-forbidden ")) {
      WriteApart(fd, {start + kTrailersForbiddenOnly + "\r", "\n"});
    } else {
      WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
}

TEST_F(ProxyTest, ResponseTrailersReachTheClientWithoutForbiddenFields) {
  ScriptedUpstream up(TrailerUpstream());
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  const int fd = Connect();
  std::string buf;
  for (const char* path : {"/t", "/t-split", "/t-forbidden"}) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(WriteAll(fd, Get(path)));
    const Head h = ReadHead(fd, &buf);
    EXPECT_EQ(h.start_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(h.Get("transfer-encoding"), "chunked");
    std::string body, trailers;
    ASSERT_TRUE(ReadChunked(fd, &buf, &body, &trailers));
    EXPECT_EQ(body, "hello world");
    EXPECT_EQ(trailers, std::string_view(path) == "/t-forbidden" ? "" : "X-Checksum: abc\r\n");
    EXPECT_TRUE(buf.empty()) << buf;
    // The same client connection serves the next request.
    ClientResponse r = Exchange(fd, Get("/id"), &buf);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ok");
  }
  close(fd);
  EXPECT_EQ(up.requests(), 1);  // one upstream connection served all six
  // An HTTP/1.0 client gets the body decoded: no trailer section at all.
  const int fd10 = Connect();
  ASSERT_TRUE(WriteAll(fd10, "GET /t HTTP/1.0\r\nHost: t\r\n\r\n"));
  const std::string all = ReadToClose(fd10);
  close(fd10);
  ASSERT_NE(all.find("\r\n\r\n"), std::string::npos) << all;
  EXPECT_EQ(all.substr(all.find("\r\n\r\n") + 4), "hello world");
  EXPECT_EQ(all.find("X-Checksum: abc"), std::string::npos) << all;
}

TEST_F(ProxyTest, RequestTrailersReachTheUpstreamWithoutForbiddenFields) {
  std::atomic<int> complete{0};
  ScriptedUpstream up(KeepAlive(EchoBodyAndTrailers(&complete)));
  StartProxy();
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  const std::string head = "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string mixed = head + "5\r\nhello\r\n0\r\n" + kTrailersMixed + "\r\n";
  const int fd = Connect();
  std::string buf;
  // In one write.
  ClientResponse r = Exchange(fd, mixed, &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "chunked\nhello\nX-Checksum: abc\r\n");
  // In pieces cut inside the trailer section.
  const size_t cut = mixed.find("ksum") + 2;
  const size_t cut2 = mixed.find("Host: evil");
  WriteApart(fd, {mixed.substr(0, cut), mixed.substr(cut, cut2 - cut), mixed.substr(cut2)});
  r = Exchange(fd, "", &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "chunked\nhello\nX-Checksum: abc\r\n");
  // Forbidden fields alone: an empty trailer section, cut between its final CR and LF.
  WriteApart(fd, {head + "5\r\nhello\r\n0\r\n" + kTrailersForbiddenOnly + "\r", "\n"});
  r = Exchange(fd, "", &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "chunked\nhello\n");
  // Pipelined behind a request with trailers, a plain one is answered too.
  r = Exchange(fd, mixed + Get("/next"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "chunked\nhello\nX-Checksum: abc\r\n");
  r = Exchange(fd, "", &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "length\n\n");
  close(fd);
  EXPECT_EQ(complete.load(), 5);
}

TEST_F(ProxyTest, OversizedOrMalformedTrailersNeverForgeAnEnd) {
  std::atomic<int> complete{0};
  ScriptedUpstream echo(KeepAlive(EchoBodyAndTrailers(&complete)));
  ScriptedUpstream bad([](int fd, const std::string& head, std::string*) {
    std::string trailers = "X-Big: " + std::string(4000, 'a') + "\r\n";
    if (head.find(" /bad/colon ") != std::string::npos) trailers = "X-Checksum abc\r\n";
    if (head.find(" /bad/lf ") != std::string::npos) trailers = "X-Checksum: abc\n";
    WriteAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
                     trailers + "\r\n");
  });
  ProxyOptions opt;
  opt.limits.max_head_bytes = 2048;
  StartProxy(opt);
  Route bad_route = SimpleRoute({MakeSet("blue", 100, {bad.port()})}, "bad");
  bad_route.path_prefix = "/bad";
  ApplyRoutes({bad_route, SimpleRoute({MakeSet("blue", 100, {echo.port()})})});
  // Upstream to client: the client sees the body cut short, then the close.
  for (const char* path : {"/bad/big", "/bad/colon", "/bad/lf"}) {
    SCOPED_TRACE(path);
    const int fd = Connect();
    ASSERT_TRUE(WriteAll(fd, Get(path)));
    const std::string all = ReadToClose(fd);
    close(fd);
    const size_t end = all.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << all;
    EXPECT_TRUE(all.starts_with("HTTP/1.1 200 OK\r\n")) << all;
    EXPECT_FALSE(ChunkedComplete(std::string_view(all).substr(end + 4))) << all;
    // Nothing of the trailer section went on: the chunks up to the last one's line, then the close.
    EXPECT_EQ(all.substr(end + 4), "5\r\nhello\r\n0\r\n");
  }
  const telemetry::Counter* bad_responses =
      registry_->FindCounter(kUpstreamErrors, {"bad", "blue", "bad_response"});
  ASSERT_NE(bad_responses, nullptr);
  EXPECT_EQ(bad_responses->Value(), 3u);
  // Client to upstream: the client is answered 431 or 400 and closed; the upstream never reads
  // a whole body.
  const std::string head = "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::pair<std::string, int> cases[] = {
      {"X-Big: " + std::string(4000, 'a') + "\r\n\r\n", 431},
      {"X-Checksum abc\r\n\r\n", 400},
      {"X-Checksum: abc\n\r\n", 400}};
  for (const auto& [trailers, status] : cases) {
    const int fd = Connect();
    std::string buf;
    ClientResponse r = Exchange(fd, head + "5\r\nhello\r\n0\r\n" + trailers, &buf);
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.head.Get("connection"), "close");
    EXPECT_TRUE(PeerClosed(fd));
    close(fd);
  }
  EXPECT_EQ(complete.load(), 0);
}

TEST_F(ProxyTest, A101ToARequestWithoutUpgradeIsABadResponse) {
  // A keep-alive upstream: after its 101 it would read the next request on the same connection.
  std::atomic<int> heads{0};
  ScriptedUpstream up(KeepAlive([&heads](int fd, const std::string& head, std::string*) {
    heads++;
    if (head.starts_with("GET /switch ")) {
      WriteAll(fd,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n");
    } else {
      WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  }));
  ProxyOptions opt;
  opt.response_head_timeout = Duration(2000);  // what a 101 taken for an interim answer meets
  StartProxy(opt);
  ApplyRoutes({SimpleRoute({MakeSet("blue", 100, {up.port()})})});
  const int fd = Connect();
  std::string buf;
  ClientResponse r = Exchange(fd, Get("/switch"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream sent an invalid response\n");
  EXPECT_TRUE(r.head.Get("upgrade").empty());
  // The same client connection goes on; the answer comes over a new upstream connection.
  r = Exchange(fd, Get("/id"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  close(fd);
  EXPECT_EQ(heads.load(), 2);
  EXPECT_EQ(up.requests(), 2);  // two connections
  const telemetry::Counter* bad_responses =
      registry_->FindCounter(kUpstreamErrors, {"web", "blue", "bad_response"});
  ASSERT_NE(bad_responses, nullptr);
  EXPECT_EQ(bad_responses->Value(), 1u);
}

}  // namespace
}  // namespace slipway::proxy
