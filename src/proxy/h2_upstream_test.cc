// HTTP/2 to upstreams (proxy/h2_upstream.h) over real loopback sockets, against Node's http2
// module as the server (testdata/h2_upstream_server.js): h2c with prior knowledge, TLS with
// ALPN h2, trailers to HTTP/1.1 and HTTP/2 clients, multiplexing, resets, GOAWAY, limits,
// WebSockets as extended CONNECTs (RFC 8441).
#include "proxy/h2_upstream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <thread>

#include "net/test_node_server.h"
#include "net/tls_context.h"
#include "net/tls_test_certs.h"
#include "proxy/proxy.h"
#include "proxy/test_h2_client.h"
#include "proxy/test_upstream.h"
#include "tlsclient/test_tls_server.h"

namespace slipway::proxy {
namespace {

using namespace testing;  // NOLINT
using tlsclient::testing::TestPki;

// testdata/h2_upstream_server.js under node, killed (by its pid) when destroyed.
class NodeServer : public net::testing::NodeServer {
 public:
  NodeServer()
      : net::testing::NodeServer(std::string(SLIPWAY_SOURCE_DIR) +
                                 "/src/proxy/testdata/h2_upstream_server.js") {}
};

class H2UpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-h2up-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    proxy_.reset();
    node_.Stop();
    std::filesystem::remove_all(dir_);
  }
  void StartNode(const std::vector<std::string>& args) {
    ASSERT_TRUE(node_.Start(args)) << "node did not start";
  }
  static Route H2Route(int port) {
    Route r;
    r.service = "grpc";
    InstanceSet s;
    s.name = "blue";
    s.backends.push_back(Backend{"127.0.0.1", port, "grpc.0"});
    r.sets.push_back(s);
    r.upstream_protocol = UpstreamProtocol::kH2;
    return r;
  }
  // A plain listener (or a TLS one offering h2 with `tls`) with `route`.
  void StartProxy(const Route& route, bool tls = false, ProxyOptions opt = {}) {
    opt.workers = 1;  // one worker: its sessions are the upstream connections counted
    registry_ = std::make_unique<telemetry::Registry>(Proxy::ShardsFor(opt.workers));
    auto p = Proxy::Create(opt, registry_.get());
    ASSERT_TRUE(p.ok()) << p.status().message();
    proxy_ = std::move(p).value();
    auto t = std::make_shared<RouteTable>();
    Listener l;
    l.host = "127.0.0.1";
    l.port = 0;
    if (tls) {
      const net::testing::TestCert cert = net::testing::MakeTestCert({"a.test"});
      net::TlsServerContext::CertificatePaths paths{(dir_ / "a.pem").string(),
                                                    (dir_ / "a.key").string()};
      net::testing::WriteTestFile(paths.cert, cert.cert_pem);
      net::testing::WriteTestFile(paths.key, cert.key_pem);
      auto ctx = net::TlsServerContext::Create({paths}, nullptr, std::time(nullptr));
      ASSERT_TRUE(ctx.ok()) << ctx.status().message();
      l.tls = *ctx;
      l.http2 = true;
    }
    l.routes.push_back(route);
    t->listeners.push_back(l);
    t->version = 1;
    ASSERT_TRUE(proxy_->Apply(t).ok());
    port_ = proxy_->BoundPort("127.0.0.1", 0).value();
  }
  ClientResponse Call(const std::string& request) {
    int fd = ConnectTo(port_);
    std::string buf;
    ClientResponse r = Exchange(fd, request, &buf);
    close(fd);
    return r;
  }
  // `clients` threads each send `each` requests, request(i, k), on one keep-alive connection
  // (a new one after a failed exchange) or, without `keep_alive`, each on a connection of its
  // own. One is served when the answer is a 200 whose body is expect(i, k). Returns how many
  // were not; bounded by the count (every exchange has the client's read timeout).
  int Load(int clients, int each, bool keep_alive,
           const std::function<std::string(int, int)>& request,
           const std::function<std::string(int, int)>& expect) {
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
      threads.emplace_back([&, i] {
        int fd = keep_alive ? ConnectTo(port_) : -1;
        std::string buf;
        for (int k = 0; k < each; ++k) {
          ClientResponse r = keep_alive ? Exchange(fd, request(i, k), &buf) : Call(request(i, k));
          if (r.ok && r.status == 200 && r.body == expect(i, k)) continue;
          ++bad;
          if (keep_alive) {
            close(fd);
            fd = ConnectTo(port_);
            buf.clear();
          }
        }
        if (fd >= 0) close(fd);
      });
    }
    for (auto& t : threads) t.join();
    return bad.load();
  }
  std::string Stats() { return Call(Get("/stats")).body; }
  static int StatOf(const std::string& stats, const std::string& name) {
    const size_t at = stats.find(name + "=");
    return at == std::string::npos ? -1 : std::atoi(stats.c_str() + at + name.size() + 1);
  }

  // The fixture's /stats through an HTTP/2 client (the listener speaks TLS).
  static std::string StatsOver(H2Client* c) {
    const int32_t id = c->Submit("GET", "/stats");
    if (id <= 0 || !c->RunUntilClosed({id})) return "";
    return c->stream(id).body;
  }
  // `stat` in the fixture's /stats (through `c` when given) once it reached `want`, or its
  // value 5 s on.
  int AwaitStat(const std::string& stat, int want, H2Client* c = nullptr) {
    int v = -1;
    for (int i = 0; i < 100; ++i) {
      v = StatOf(c ? StatsOver(c) : Stats(), stat);
      if (v >= want) return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return v;
  }

  std::filesystem::path dir_;
  NodeServer node_;
  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<Proxy> proxy_;
  int port_ = 0;
};

TEST_F(H2UpstreamTest, CleartextGetAndPostWithBodiesBothWays) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r = Exchange(fd, Get("/echo"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.head.Get("x-seen-method"), "GET");
  EXPECT_EQ(r.head.Get("x-seen-scheme"), "http");
  EXPECT_EQ(r.head.Get("x-seen-authority"), "test");  // Host became :authority
  EXPECT_EQ(r.head.Get("x-seen-xff"), "127.0.0.1");   // the proxy's fields go along
  EXPECT_EQ(r.body, "");
  // Bodies from one client read to many, over the stream windows (flow control both ways),
  // on the same connection; a byte out of place shows where.
  for (size_t size : {10, 1000, 70000, 300000, 1 << 20}) {
    std::string big(size, 'x');
    for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
    r = Exchange(fd,
                 "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                     std::to_string(big.size()) + "\r\n\r\n" + big,
                 &buf);
    ASSERT_TRUE(r.ok) << size;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.head.Get("x-seen-method"), "POST");
    size_t same = 0;
    while (same < std::min(r.body.size(), big.size()) && r.body[same] == big[same]) ++same;
    EXPECT_EQ(same, big.size()) << size << ": " << r.body.substr(0, 40);
    EXPECT_EQ(r.body.size(), big.size());
  }
  // A chunked request body with a trailer: DATA frames, then a trailing HEADERS frame.
  r = Exchange(fd,
               "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Req-Trailer: yes\r\n\r\n",
               &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.head.Get("x-seen-trailer"), "yes");
  close(fd);
  EXPECT_EQ(StatOf(Stats(), "sessions"), 1);  // one upstream connection carried them all
}

TEST_F(H2UpstreamTest, ConcurrentRequestsAreMultiplexed) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  constexpr int kClients = 24;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      ClientResponse r = Call(Get("/slow/300?" + std::to_string(i)));
      if (r.ok && r.status == 200 && r.body == "/slow/300?" + std::to_string(i)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients);
  const int sessions = StatOf(Stats(), "sessions");
  EXPECT_GE(sessions, 1);
  EXPECT_LE(sessions, static_cast<int>(H2UpSession::kMaxSessions));
  EXPECT_LT(sessions, kClients);
}

TEST_F(H2UpstreamTest, RequestsOverTheServersStreamLimitWait) {
  StartNode({"h2c", "2"});  // SETTINGS_MAX_CONCURRENT_STREAMS 2
  StartProxy(H2Route(node_.port()));
  // A first request, so the session knows the server's limit before the burst (before its
  // SETTINGS a session takes up to 100 requests, which then wait there).
  ASSERT_EQ(Call(Get("/echo")).status, 200);
  constexpr int kClients = 16;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      ClientResponse r = Call(Get("/slow/200?" + std::to_string(i)));
      if (r.ok && r.status == 200 && r.body == "/slow/200?" + std::to_string(i)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients);
  const std::string stats = Stats();
  // More sessions, up to the bound, then requests queue: never over the server's limit.
  EXPECT_EQ(StatOf(stats, "sessions"), static_cast<int>(H2UpSession::kMaxSessions)) << stats;
  EXPECT_LE(StatOf(stats, "maxactive"), 2) << stats;
}

TEST_F(H2UpstreamTest, TrailersReachAnHttp11ClientAsChunkedTrailers) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  ASSERT_TRUE(WriteAll(fd,
                       "POST /grpc HTTP/1.1\r\nHost: test\r\nContent-Type: application/grpc\r\n"
                       "Content-Length: 5\r\n\r\nworld"));
  std::string buf;
  ASSERT_TRUE(ReadUntil(fd, &buf, "\r\n\r\n"));
  const size_t end = buf.find("\r\n\r\n") + 4;
  Head h = ParseHead(buf.substr(0, end));
  buf.erase(0, end);
  EXPECT_EQ(h.start_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(Lower(h.Get("transfer-encoding")), "chunked");
  std::string body, trailers;
  ASSERT_TRUE(ReadChunked(fd, &buf, &body, &trailers));
  close(fd);
  EXPECT_EQ(body, "hello world");
  EXPECT_NE(trailers.find("grpc-status: 0\r\n"), std::string::npos) << trailers;
  EXPECT_NE(trailers.find("grpc-message: fine\r\n"), std::string::npos) << trailers;
  // gRPC's "te: trailers" reached the server although TE is hop-by-hop for HTTP/1.1.
  EXPECT_NE(trailers.find("x-seen-te: trailers\r\n"), std::string::npos) << trailers;
}

TEST_F(H2UpstreamTest, TrailersReachAnHttp2ClientAsTrailingHeaders) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()), /*tls=*/true);
  H2Client c(port_, "a.test");
  ASSERT_TRUE(c.ok());
  c.set_authority("a.test");
  const int32_t id = c.Submit("POST", "/grpc", {{"content-type", "application/grpc"}}, "h2");
  ASSERT_GT(id, 0);
  ASSERT_TRUE(c.RunUntilClosed({id}));
  H2Client::Stream& s = c.stream(id);
  EXPECT_EQ(s.error, 0u);
  ASSERT_EQ(s.blocks.size(), 2u);
  EXPECT_EQ(s.Status(0), "200");
  EXPECT_EQ(s.body, "hello h2");
  EXPECT_EQ(s.Field(1, "grpc-status"), "0");
  EXPECT_EQ(s.Field(1, "grpc-message"), "fine");
  // And the other way: the client's trailing HEADERS reach the server as one (through the
  // chunked HTTP/1.1 form in between).
  const int32_t echo = c.Submit("POST", "/echo", {}, "body", {{"x-req-trailer", "yes"}});
  ASSERT_GT(echo, 0);
  ASSERT_TRUE(c.RunUntilClosed({echo}));
  H2Client::Stream& e = c.stream(echo);
  EXPECT_EQ(e.error, 0u);
  EXPECT_EQ(e.Status(0), "200");
  EXPECT_EQ(e.Field(0, "x-seen-trailer"), "yes");
  EXPECT_EQ(e.body, "body");
}

TEST_F(H2UpstreamTest, HttpsUpstreamNegotiatesH2) {
  TestPki pki;
  ASSERT_TRUE(TestPki::Make(dir_.string(), &pki)) << "the openssl command failed";
  StartNode({"h2", pki.server_cert, pki.server_key});
  Route r = H2Route(node_.port());
  r.upstream_tls.enabled = true;
  r.upstream_tls.ca_file = pki.ca;
  StartProxy(r);
  for (int i = 0; i < 3; ++i) {
    ClientResponse resp = Call(Get("/echo"));
    ASSERT_TRUE(resp.ok);
    EXPECT_EQ(resp.status, 200);
    EXPECT_EQ(resp.head.Get("x-seen-scheme"), "https");
  }
  EXPECT_EQ(StatOf(Stats(), "sessions"), 1);
}

TEST_F(H2UpstreamTest, HttpsUpstreamNotPickingH2Is502) {
  TestPki pki;
  ASSERT_TRUE(TestPki::Make(dir_.string(), &pki)) << "the openssl command failed";
  StartNode({"tls-h1", pki.server_cert, pki.server_key});
  Route r = H2Route(node_.port());
  r.upstream_tls.enabled = true;
  r.upstream_tls.ca_file = pki.ca;
  StartProxy(r);
  ClientResponse resp = Call(Get("/echo"));
  ASSERT_TRUE(resp.ok);
  EXPECT_EQ(resp.status, 502);
  EXPECT_NE(registry_->RenderPrometheus().find("kind=\"tls\""), std::string::npos);
}

TEST_F(H2UpstreamTest, Http11OnlyServerIs502NotAHang) {
  UpstreamServer h1("h1");
  ProxyOptions opt;
  opt.connect_timeout = Duration(1000);
  StartProxy(H2Route(h1.port()), false, opt);
  const auto t0 = std::chrono::steady_clock::now();
  ClientResponse r = Call(Get("/id"));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(H2UpstreamTest, SilentServerIs502AfterTheConnectTimeout) {
  // Connections complete in the kernel's backlog and nothing is ever sent: no SETTINGS.
  LoopbackListener silent(16);
  ASSERT_TRUE(silent.ok());
  ProxyOptions opt;
  opt.connect_timeout = Duration(500);
  StartProxy(H2Route(silent.port()), false, opt);
  const auto t0 = std::chrono::steady_clock::now();
  ClientResponse r = Call(Get("/x"));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream sent an invalid response\n");
  EXPECT_GE(took, std::chrono::milliseconds(400));
  EXPECT_LT(took, std::chrono::seconds(5));
  // A port nobody listens on: refused, as over HTTP/1.1.
  proxy_.reset();  // before the registry it writes to is replaced
  StartProxy(H2Route(ClosedPort()), false, opt);
  r = Call(Get("/x"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream refused the connection\n");
}

TEST_F(H2UpstreamTest, ResetStreamIs502AndTheSessionGoesOn) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  ClientResponse r = Call(Get("/rst"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  r = Call("POST /rst HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  r = Call(Get("/echo"));  // the backend was not marked down; the session still serves
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(StatOf(Stats(), "sessions"), 1);
  EXPECT_NE(registry_->RenderPrometheus().find("kind=\"reset\""), std::string::npos);
}

TEST_F(H2UpstreamTest, ConnectionLostBeforeTheAnswerIs502) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  ClientResponse r = Call(Get("/echo"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  // The server drops the connection with the request unanswered (resent once: as a lost
  // keep-alive connection's, then 502).
  r = Call("POST /die HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nab");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream closed the connection before a response\n");
}

TEST_F(H2UpstreamTest, CloseArrivingWithTheLastBytesIs502NotAHang) {
  // A raw server: its SETTINGS, then (once the request is in) a SETTINGS ACK and its FIN at
  // once, so both arrive on one readiness edge.
  LoopbackListener raw(4);
  ASSERT_TRUE(raw.ok());
  std::thread server([&] {
    const int fd = accept4(raw.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    SetTimeouts(fd, 5000);
    static const char kSettings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    static const char kSettingsAck[] = {0, 0, 0, 4, 1, 0, 0, 0, 0};
    (void)!write(fd, kSettings, sizeof kSettings);
    std::string in;
    char buf[4096];
    // The preface (24), the client's SETTINGS and WINDOW_UPDATE, then HEADERS: bounded wait.
    for (int i = 0; i < 50 && in.size() < 24 + 9 + 12 + 13 + 9 + 20; ++i) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    (void)!write(fd, kSettingsAck, sizeof kSettingsAck);
    close(fd);
  });
  StartProxy(H2Route(raw.port()));
  const auto t0 = std::chrono::steady_clock::now();
  ClientResponse r = Call(Get("/x"));
  const auto took = std::chrono::steady_clock::now() - t0;
  server.join();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream closed the connection before a response\n");
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(H2UpstreamTest, ResetMidAnswerCutsTheClientConnection) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  constexpr size_t kTotal = 32 << 20;
  int fd = ConnectTo(port_);
  ASSERT_TRUE(WriteAll(fd, Get("/cut/" + std::to_string(kTotal))));
  // Not read until the reset came: it finds the proxy holding answer bytes for this client.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = std::chrono::steady_clock::now();
  std::string buf;
  ASSERT_TRUE(ReadUntil(fd, &buf, "\r\n\r\n"));
  buf.erase(0, buf.find("\r\n\r\n") + 4);
  std::string body, trailers;
  // The body stops short and the connection closes: never an end the server did not send,
  // never a hang.
  EXPECT_FALSE(ReadChunked(fd, &buf, &body, &trailers));
  close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_LT(body.size(), kTotal);
  EXPECT_NE(registry_->RenderPrometheus().find("kind=\"reset\"} 1"), std::string::npos);
}

TEST_F(H2UpstreamTest, OversizedResponseHeaderBlockIs502) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  ClientResponse r = Call(Get("/big-head"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream sent an invalid response\n");
  r = Call(Get("/echo"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
}

TEST_F(H2UpstreamTest, IdleSessionClosesAfterTheIdleTimeout) {
  StartNode({"h2c"});
  ProxyOptions opt;
  opt.idle_timeout = Duration(300);
  StartProxy(H2Route(node_.port()), false, opt);
  // A client in the middle of a request head keeps the worker's sweep running.
  int holder = ConnectTo(port_);
  ASSERT_TRUE(WriteAll(holder, "GET /x HTTP/1.1\r\n"));
  ClientResponse r = Call(Get("/echo"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const std::string stats = Stats();  // on a new session: the first one closed
  close(holder);
  EXPECT_EQ(StatOf(stats, "sessions"), 2) << stats;
  EXPECT_EQ(StatOf(stats, "closed"), 1) << stats;
}

TEST_F(H2UpstreamTest, ASlowClientStopsTheUpstreamByFlowControl) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  constexpr size_t kTotal = 64 << 20;  // far over what the sockets' buffers can hold
  int fd = ConnectTo(port_);
  ASSERT_TRUE(WriteAll(fd, Get("/big/" + std::to_string(kTotal))));
  // Nothing read for 1.5 s: the server noted, 1 s in, how far it got.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::string stats = Stats();
  std::string buf;
  ClientResponse r = Exchange(fd, "", &buf);
  close(fd);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), kTotal);
  const int sent = StatOf(stats, "bigsent");
  EXPECT_GT(sent, 0) << stats;
  // The proxy acknowledges DATA only as the client takes it: what the server got out is the
  // stream's window and the sockets' buffers (about 5 MiB here), not the whole answer (with
  // nghttp2's automatic window updates it was all of it, held in the proxy's memory).
  EXPECT_LT(sent, static_cast<int>(kTotal / 2)) << stats;
}

TEST_F(H2UpstreamTest, GoawayMidLoadFailsNoIdempotentRequest) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  // Fewer requests in flight (8) than the server serves per session before its GOAWAY (10):
  // a request refused by one GOAWAY is retried on a session that will not refuse it.
  EXPECT_EQ(Load(
                8, 12, true, [](int, int) { return Get("/ga/30"); },
                [](int, int) { return std::string("/ga/30"); }),
            0);
  const std::string stats = Stats();
  EXPECT_GE(StatOf(stats, "goaways"), 3) << stats;
  EXPECT_GE(StatOf(stats, "sessions"), 3) << stats;
}

// RFC 9113 8.7: a stream the server refused was not processed, so it is resent whatever its
// method, with its body, as long as the request fits the replay copy.
uint64_t Retries(const telemetry::Registry& reg) {
  const telemetry::Counter* c = reg.FindCounter(kRetries, {"grpc", "blue"});
  return c ? c->Value() : 0;
}

// A POST of `body` (Content-Length) to `path`.
std::string Post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

std::string Pattern(size_t size, int seed) {
  std::string s(size, 'x');
  for (size_t i = 0; i < s.size(); i += 5) s[i] = static_cast<char>('a' + (i / 5 + seed) % 26);
  return s;
}

TEST_F(H2UpstreamTest, RefusedPostIsResentWithItsBody) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  const std::string body = Pattern(20000, 1);
  ClientResponse r =
      Call("POST /echo HTTP/1.1\r\nHost: test\r\nX-Refuse: post\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 80);
  EXPECT_EQ(r.head.Get("x-seen-method"), "POST");
  EXPECT_TRUE(r.body == body) << r.body.size();
  EXPECT_EQ(Retries(*registry_), 1u);
  // A chunked body with a trailer: framed again from its first byte, the trailer again last.
  r = Call(
      "POST /echo HTTP/1.1\r\nHost: test\r\nX-Refuse: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Req-Trailer: yes\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.head.Get("x-seen-trailer"), "yes");
  EXPECT_EQ(Retries(*registry_), 2u);
  const std::string stats = Stats();
  EXPECT_EQ(StatOf(stats, "refused"), 2) << stats;
  EXPECT_EQ(StatOf(stats, "sessions"), 1) << stats;  // a bare refusal leaves the session usable
}

TEST_F(H2UpstreamTest, GoawayMidLoadFailsNoPostWithABody) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  // As GoawayMidLoadFailsNoIdempotentRequest, with POSTs ClientConn's rules never resend.
  constexpr int kEach = 12;
  auto body = [](int i, int k) { return Pattern(3000 + static_cast<size_t>(k), i * kEach + k); };
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Load(
                8, kEach, true, [&](int i, int k) { return Post("/ga/30", body(i, k)); }, body),
            0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  const std::string stats = Stats();
  EXPECT_GE(StatOf(stats, "goaways"), 3) << stats;
  EXPECT_GE(Retries(*registry_), 1u);  // requests were in flight above a GOAWAY's last id
}

TEST_F(H2UpstreamTest, RefusedPostOverTheReplayLimitIs502) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  const std::string body = Pattern(H2UpStream::kMaxReplayBody + 1, 2);
  ClientResponse r = Call("POST /echo HTTP/1.1\r\nHost: test\r\nX-Refuse: big\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream closed the connection before a response\n");
  EXPECT_EQ(Retries(*registry_), 0u);
  EXPECT_EQ(StatOf(Stats(), "refused"), 1);
}

TEST_F(H2UpstreamTest, ResetWithAnotherCodeIsNotResent) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  ClientResponse r = Call("POST /rst HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(Retries(*registry_), 0u);
  EXPECT_EQ(StatOf(Stats(), "rsts"), 1);  // INTERNAL_ERROR: maybe processed, sent once
}

TEST_F(H2UpstreamTest, ServerRefusingEveryAttemptIs502AfterTheResends) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  const auto t0 = std::chrono::steady_clock::now();
  ClientResponse r = Call(
      "POST /echo HTTP/1.1\r\nHost: test\r\nX-Refuse: all\r\nX-Refuse-Count: 100\r\n"
      "Content-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(r.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.body, "upstream closed the connection before a response\n");
  EXPECT_EQ(Retries(*registry_), static_cast<uint64_t>(H2UpStream::kMaxResends));
  EXPECT_EQ(StatOf(Stats(), "refused"), 1 + H2UpStream::kMaxResends);
}

TEST_F(H2UpstreamTest, RefusedRequestFindingTheBackendGoneFails) {
  StartNode({"h2c"});
  StartProxy(H2Route(node_.port()));
  ASSERT_EQ(Call(Get("/echo")).status, 200);
  // The server stops listening and GOAWAYs below this stream: the resend needs a new
  // connection, which is refused.
  const auto t0 = std::chrono::steady_clock::now();
  ClientResponse r =
      Call("POST /echo HTTP/1.1\r\nHost: test\r\nX-Refuse-Gone: 1\r\nContent-Length: 2\r\n\r\nab");
  ASSERT_TRUE(r.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_TRUE(r.status == 502 || r.status == 503) << r.status;
  EXPECT_EQ(Retries(*registry_), 1u);
  // The proxy goes on answering.
  r = Call(Get("/echo"));
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.status == 502 || r.status == 503) << r.status;
}

TEST_F(H2UpstreamTest, RequestsQueuedForAStreamWhenAGoawayComesAreResent) {
  StartNode({"h2c", "2"});  // SETTINGS_MAX_CONCURRENT_STREAMS 2: requests queue in nghttp2
  StartProxy(H2Route(node_.port()));
  ASSERT_EQ(Call(Get("/echo")).status, 200);  // the server's limit is known from here on
  // More POSTs than the sessions' streams: those queued on a session when its GOAWAY comes
  // were never sent (nghttp2 reports them not sent), and are resent on another.
  constexpr int kEach = 3;
  auto body = [](int i, int k) { return Pattern(500, i * kEach + k); };
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Load(
                24, kEach, false, [&](int i, int k) { return Post("/ga/50", body(i, k)); }, body),
            0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  const std::string stats = Stats();
  EXPECT_GE(StatOf(stats, "goaways"), 2) << stats;
  EXPECT_LE(StatOf(stats, "maxactive"), 2) << stats;
  EXPECT_GE(Retries(*registry_), 1u);
}

// ------------------------------------------------ WebSockets to h2 upstreams (RFC 8441)

// RFC 6455 1.3's example key and the accept value it must be answered with.
constexpr char kWsKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr char kWsAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// An HTTP/1.1 WebSocket handshake for `path` (RFC 6455 4.1), then `extra` fields.
std::string WsHandshake(const std::string& path, const std::string& extra = "") {
  return "GET " + path +
         " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         kWsKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n";
}

// Reads exactly `n` bytes (false on EOF, error or the socket's timeout).
bool ReadExactly(int fd, std::string* buf, size_t n) {
  char tmp[65536];
  for (int i = 0; i < 1000000 && buf->size() < n; ++i) {
    const ssize_t got = read(fd, tmp, std::min(sizeof tmp, n - buf->size()));
    if (got <= 0) return false;
    buf->append(tmp, static_cast<size_t>(got));
  }
  return buf->size() == n;
}

// One write of each size through the tunnel, each read back whole and equal before the next
// (`buf` holds bytes already read past the handshake).
void ExpectEchoes(int fd, std::string* buf, std::initializer_list<size_t> sizes) {
  for (size_t size : sizes) {
    const std::string msg(size, static_cast<char>('a' + size % 26));
    ASSERT_TRUE(WriteAll(fd, msg)) << size;
    std::string echo = *buf;
    buf->clear();
    ASSERT_TRUE(ReadExactly(fd, &echo, size)) << size;
    EXPECT_EQ(echo, msg) << size;
  }
}

// A tunnel's bulk traffic: `total` bytes in writes of `piece` bytes, every 4096th byte marking
// its piece ('A' + piece number % 26), the rest 'x'. The writer runs on a thread of its own and
// counts what the socket took in `written`; ReadPattern reads them back (bounded by the socket's
// read timeout) and says whether every byte came in order.
constexpr size_t kMark = 4096;
std::thread WritePattern(int fd, size_t total, size_t piece, std::atomic<size_t>* written) {
  return std::thread([fd, total, piece, written] {
    std::string bytes(piece, 'x');
    for (size_t off = 0; off < total; off += piece) {
      for (size_t i = 0; i < piece; i += kMark) {
        bytes[i] = static_cast<char>('A' + (off / piece) % 26);
      }
      if (!WriteAll(fd, bytes)) return;
      *written += piece;
    }
  });
}
bool ReadPattern(int fd, size_t total, size_t piece, size_t* got) {
  bool same = true;
  char tmp[65536];
  *got = 0;
  while (*got < total) {
    const ssize_t n = read(fd, tmp, std::min(sizeof tmp, total - *got));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      const size_t at = *got + static_cast<size_t>(i);
      const char want = at % kMark == 0 ? static_cast<char>('A' + (at / piece) % 26) : 'x';
      if (tmp[i] != want) same = false;
    }
    *got += static_cast<size_t>(n);
  }
  return same && *got == total;
}

TEST_F(H2UpstreamTest, WebSocketFromAnHttp11ClientIsAnExtendedConnectUpstream) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r =
      Exchange(fd,
               WsHandshake("/chat?room=1",
                           "Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: https://a.test\r\n"),
               &buf);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 101) << r.head.start_line;
  EXPECT_EQ(Lower(r.head.Get("upgrade")), "websocket");
  EXPECT_EQ(Lower(r.head.Get("connection")), "upgrade");
  EXPECT_EQ(r.head.Get("sec-websocket-accept"), kWsAccept);
  EXPECT_EQ(r.head.Get("sec-websocket-protocol"), "chat");
  // What the server saw: an extended CONNECT carrying the handshake's fields but the key.
  EXPECT_EQ(r.head.Get("x-seen-method"), "CONNECT");
  EXPECT_EQ(r.head.Get("x-seen-protocol"), "websocket");
  EXPECT_EQ(r.head.Get("x-seen-path"), "/chat?room=1");
  EXPECT_EQ(r.head.Get("x-seen-authority"), "test");
  EXPECT_EQ(r.head.Get("x-seen-key"), "-");
  EXPECT_EQ(r.head.Get("x-seen-upgrade"), "-");
  EXPECT_EQ(r.head.Get("x-seen-version"), "13");
  EXPECT_EQ(r.head.Get("x-seen-origin"), "https://a.test");
  // Writes of several sizes come back as sent.
  ExpectEchoes(fd, &buf, {1, 5, 100, 16385, 70000});
  // 64 MiB written while nothing is read for 1.5 s: the writer stalls (flow control on both
  // streams' directions and the sockets' buffers bound what waits), then all of it comes back.
  constexpr size_t kTotal = 64 << 20;
  constexpr size_t kPiece = 1 << 20;
  std::atomic<size_t> written{0};
  std::thread writer = WritePattern(fd, kTotal, kPiece, &written);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const size_t stalled_at = written.load();
  RecordProperty("written_while_not_reading", std::to_string(stalled_at));
  size_t got = 0;
  EXPECT_TRUE(ReadPattern(fd, kTotal, kPiece, &got)) << got;
  writer.join();
  EXPECT_EQ(written.load(), kTotal);
  EXPECT_LT(stalled_at, kTotal / 2);
  // A last write, then the client's FIN: the proxy closes the client cleanly (an HTTP/1.1
  // tunnel ends with either side's close) and cancels the stream.
  ASSERT_TRUE(WriteAll(fd, "bye"));
  std::string last;
  ASSERT_TRUE(ReadExactly(fd, &last, 3));
  EXPECT_EQ(last, "bye");
  shutdown(fd, SHUT_WR);
  char c;
  EXPECT_EQ(read(fd, &c, 1), 0);  // EOF, not a reset
  close(fd);
  EXPECT_EQ(AwaitStat("wscancel", 1), 1);
  const std::string stats = Stats();
  EXPECT_EQ(StatOf(stats, "wsconnects"), 1) << stats;
  EXPECT_EQ(StatOf(stats, "sessions"), 1) << stats;
}

TEST_F(H2UpstreamTest, WebSocketFromAnHttp2ClientReachesAnH2Upstream) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()), /*tls=*/true);
  H2Client c(port_, "a.test");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Run([&] { return c.settings_received(); }));
  const int32_t id = c.Open({{":method", "CONNECT"},
                             {":protocol", "websocket"},
                             {":scheme", "https"},
                             {":path", "/ws"},
                             {":authority", "a.test"},
                             {"sec-websocket-version", "13"},
                             {"sec-websocket-protocol", "chat"}});
  ASSERT_GT(id, 0);
  ASSERT_TRUE(c.Run([&] { return !c.stream(id).blocks.empty() || c.stream(id).closed; }));
  H2Client::Stream& s = c.stream(id);
  ASSERT_EQ(s.Status(0), "200") << s.body;
  EXPECT_EQ(s.Field(0, "sec-websocket-protocol"), "chat");
  EXPECT_EQ(s.Field(0, "x-seen-method"), "CONNECT");
  EXPECT_EQ(s.Field(0, "x-seen-protocol"), "websocket");
  EXPECT_EQ(s.Field(0, "x-seen-key"), "-");
  EXPECT_EQ(s.Field(0, "sec-websocket-accept"), "");
  // Bytes both ways, over the windows (h2 -> HTTP/1.1 inside the proxy -> h2).
  for (size_t size : {5, 70000, 300000}) {
    const std::string msg(size, static_cast<char>('a' + size % 26));
    c.Write(id, msg);
    ASSERT_TRUE(c.Run([&] { return s.body.size() >= size || s.closed; })) << size;
    EXPECT_EQ(s.body, msg) << size;
    s.body.clear();
  }
  // The client's END_STREAM reaches the server, whose own END_STREAM ends the stream cleanly.
  c.End(id);
  ASSERT_TRUE(c.RunUntilClosed({id}));
  EXPECT_EQ(s.error, 0u);
  EXPECT_TRUE(s.remote_end);
  EXPECT_FALSE(c.eof());
  EXPECT_EQ(AwaitStat("wsclean", 1, &c), 1);
  EXPECT_EQ(StatOf(StatsOver(&c), "wscancel"), 0);
}

TEST_F(H2UpstreamTest, BytesSentWithTheHandshakeGoThroughTheTunnel) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  // A client that does not wait for the 101: its first bytes come with the handshake.
  ClientResponse r = Exchange(fd, WsHandshake("/ws") + "early", &buf);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 101);
  ASSERT_TRUE(ReadExactly(fd, &buf, 5));
  EXPECT_EQ(buf, "early");
  close(fd);
}

TEST_F(H2UpstreamTest, WebSocketToAServerWithoutExtendedConnectIs501) {
  StartNode({"h2c"});  // its SETTINGS do not enable the extended CONNECT
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  const auto t0 = std::chrono::steady_clock::now();
  ClientResponse r = Exchange(fd, WsHandshake("/ws"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(r.body, "the upstream does not accept WebSockets over HTTP/2\n");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // Nothing was sent, and the connection serves on.
  r = Exchange(fd, Get("/echo"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  close(fd);
  EXPECT_EQ(StatOf(Stats(), "wsconnects"), 0);
}

TEST_F(H2UpstreamTest, MalformedWebSocketHandshakesToAnH2Upstream) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  // No key: no accept value could be made.
  ClientResponse r = Call(
      "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "a WebSocket handshake needs a Sec-WebSocket-Key\n");
  // Upgrade without Connection: upgrade, and an upgrade to something else: plain requests.
  r = Call("GET /echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nSec-WebSocket-Key: " +
           std::string(kWsKey) + "\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.head.Get("x-seen-method"), "GET");
  r = Call("GET /echo HTTP/1.1\r\nHost: test\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  // A POST asking for a WebSocket with a body is no handshake either.
  r = Call(
      "POST /echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " +
      std::string(kWsKey) + "\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "abc");
  // An oversized handshake head is refused by the client side's limits, as any request.
  r = Call(WsHandshake("/ws", "X-Big: " + std::string(100000, 'b') + "\r\n"));
  EXPECT_TRUE(!r.ok || r.status == 431 || r.status == 400) << r.status;
  EXPECT_EQ(StatOf(Stats(), "wsconnects"), 0);
}

TEST_F(H2UpstreamTest, ServerResetMidTunnelClosesTheClient) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r = Exchange(fd, WsHandshake("/ws-rst"), &buf);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 101);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WriteAll(fd, "x"));
  EXPECT_TRUE(PeerClosed(fd));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  close(fd);
  const std::string stats = Stats();
  EXPECT_EQ(StatOf(stats, "wsother"), 1) << stats;
  EXPECT_EQ(StatOf(stats, "sessions"), 1) << stats;  // the session goes on
}

TEST_F(H2UpstreamTest, RefusedWebSocketIsResentBeforeAnyTunnelByte) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  // Refused (REFUSED_STREAM) before its answer: no tunnel byte went, so it goes again.
  ClientResponse r = Exchange(fd, WsHandshake("/ws", "X-Refuse: ws\r\n"), &buf);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 101);
  EXPECT_EQ(r.head.Get("sec-websocket-accept"), kWsAccept);
  ASSERT_TRUE(WriteAll(fd, "again"));
  std::string echo = buf;
  ASSERT_TRUE(ReadExactly(fd, &echo, 5));
  EXPECT_EQ(echo, "again");
  close(fd);
  const std::string stats = Stats();
  EXPECT_EQ(StatOf(stats, "refused"), 1) << stats;
  EXPECT_EQ(StatOf(stats, "wsconnects"), 1) << stats;  // the refused one is not counted
}

TEST_F(H2UpstreamTest, ServerResetMidTunnelResetsAnHttp2ClientsStream) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()), /*tls=*/true);
  H2Client c(port_, "a.test");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Run([&] { return c.settings_received(); }));
  const int32_t id = c.Open({{":method", "CONNECT"},
                             {":protocol", "websocket"},
                             {":scheme", "https"},
                             {":path", "/ws-rst"},
                             {":authority", "a.test"},
                             {"sec-websocket-version", "13"}});
  ASSERT_TRUE(c.Run([&] { return !c.stream(id).blocks.empty() || c.stream(id).closed; }));
  ASSERT_EQ(c.stream(id).Status(0), "200");
  c.Write(id, "x");
  ASSERT_TRUE(c.RunUntilClosed({id}, 5000)) << StatsOver(&c) << " body=" << c.stream(id).body.size()
                                            << " end=" << c.stream(id).remote_end;
  // A reset, never a clean end the server did not send; the connection goes on.
  EXPECT_NE(c.stream(id).error, 0u);
  EXPECT_FALSE(c.stream(id).remote_end);
  EXPECT_FALSE(c.eof());
  EXPECT_EQ(StatOf(StatsOver(&c), "wsother"), 1);
}

TEST_F(H2UpstreamTest, ClientGoneResetsTheTunnelStream) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r = Exchange(fd, WsHandshake("/ws"), &buf);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 101);
  ASSERT_TRUE(WriteAll(fd, "ping"));
  std::string echo;
  ASSERT_TRUE(ReadExactly(fd, &echo, 4));
  close(fd);  // gone without a word
  EXPECT_EQ(AwaitStat("wscancel", 1), 1);
  // An HTTP/2 client's RST_STREAM does the same.
  proxy_.reset();
  StartProxy(H2Route(node_.port()), /*tls=*/true);
  H2Client c(port_, "a.test");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Run([&] { return c.settings_received(); }));
  const int32_t id = c.Open({{":method", "CONNECT"},
                             {":protocol", "websocket"},
                             {":scheme", "https"},
                             {":path", "/ws"},
                             {":authority", "a.test"},
                             {"sec-websocket-version", "13"}});
  ASSERT_TRUE(c.Run([&] { return !c.stream(id).blocks.empty() || c.stream(id).closed; }));
  ASSERT_EQ(c.stream(id).Status(0), "200");
  c.Reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(c.Send());
  EXPECT_EQ(AwaitStat("wscancel", 2, &c), 2);
  EXPECT_EQ(StatOf(StatsOver(&c), "wsclean"), 0);
}

TEST_F(H2UpstreamTest, ServerRefusingTheWebSocketAnswersAsAResponse) {
  StartNode({"h2c-ws"});
  StartProxy(H2Route(node_.port()));
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r = Exchange(fd, WsHandshake("/ws-forbidden"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.head.Get("x-why"), "origin");
  EXPECT_EQ(r.head.Get("sec-websocket-accept"), "");
  EXPECT_EQ(r.body, "no way");
  // The connection serves on.
  r = Exchange(fd, Get("/echo"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  close(fd);
}

TEST_F(H2UpstreamTest, WebSocketToATlsH2Upstream) {
  TestPki pki;
  ASSERT_TRUE(TestPki::Make(dir_.string(), &pki)) << "the openssl command failed";
  StartNode({"h2-ws", pki.server_cert, pki.server_key});
  Route route = H2Route(node_.port());
  route.upstream_tls.enabled = true;
  route.upstream_tls.ca_file = pki.ca;
  StartProxy(route);
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r = Exchange(fd, WsHandshake("/chat"), &buf);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.status, 101) << r.head.start_line << r.body;
  EXPECT_EQ(r.head.Get("sec-websocket-accept"), kWsAccept);
  EXPECT_EQ(r.head.Get("x-seen-protocol"), "websocket");
  // Sizes around TLS records (16 KiB) and the streams' windows (64 KiB) echo as sent.
  ExpectEchoes(fd, &buf, {1, 16383, 16385, 70000});
  // 8 MiB written by one thread and read by this one: every byte comes back in order through
  // both TLS legs, with flow control taking turns (bounded by the socket's read timeout).
  constexpr size_t kTotal = 8 << 20;
  constexpr size_t kPiece = 256 << 10;
  std::atomic<size_t> written{0};
  std::thread writer = WritePattern(fd, kTotal, kPiece, &written);
  size_t got = 0;
  EXPECT_TRUE(ReadPattern(fd, kTotal, kPiece, &got)) << got;
  writer.join();
  EXPECT_EQ(written.load(), kTotal);
  // The client's FIN ends the tunnel cleanly on both legs.
  shutdown(fd, SHUT_WR);
  char c;
  EXPECT_EQ(read(fd, &c, 1), 0);
  close(fd);
  EXPECT_EQ(AwaitStat("wscancel", 1), 1);
  const std::string stats = Stats();
  EXPECT_EQ(StatOf(stats, "wsconnects"), 1) << stats;
  EXPECT_EQ(StatOf(stats, "sessions"), 1) << stats;
}

}  // namespace
}  // namespace slipway::proxy
