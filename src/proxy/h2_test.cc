// End-to-end tests of HTTP/2 on the proxy's HTTPS listeners (proxy/h2_conn.h): curl speaking
// h2 through the proxy to real upstream sockets, and a raw TLS client for hostile input.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "net/tls_context.h"
#include "net/tls_test_certs.h"
#include "proxy/h2_conn.h"
#include "proxy/proxy.h"
#include "proxy/test_upstream.h"

namespace slipway::proxy {
namespace {

using namespace testing;  // NOLINT

// Runs a shell command, returns its standard output.
std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

class H2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("slipway-h2-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    const net::testing::TestCert cert = net::testing::MakeTestCert({"a.test"});
    net::TlsServerContext::CertificatePaths paths{(dir_ / "a.pem").string(),
                                                  (dir_ / "a.key").string()};
    net::testing::WriteTestFile(paths.cert, cert.cert_pem);
    net::testing::WriteTestFile(paths.key, cert.key_pem);
    auto ctx = net::TlsServerContext::Create({paths}, nullptr, std::time(nullptr));
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    ctx_ = *ctx;
  }
  void TearDown() override {
    proxy_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Start(std::vector<Route> routes, bool http2 = true, ProxyOptions opt = {}) {
    if (opt.workers == 0) opt.workers = 2;
    registry_ = std::make_unique<telemetry::Registry>(Proxy::ShardsFor(opt.workers));
    auto p = Proxy::Create(opt, registry_.get());
    ASSERT_TRUE(p.ok()) << p.status().message();
    proxy_ = std::move(p).value();
    auto t = std::make_shared<RouteTable>();
    Listener l;
    l.host = "127.0.0.1";
    l.port = 0;
    l.tls = ctx_;
    l.http2 = http2;
    l.routes = std::move(routes);
    t->listeners.push_back(l);
    t->version = 1;
    ASSERT_TRUE(proxy_->Apply(t).ok());
    auto bound = proxy_->BoundPort("127.0.0.1", 0);
    ASSERT_TRUE(bound.ok());
    port_ = *bound;
  }
  static Route RouteTo(int port, const std::string& prefix = "/") {
    Route r;
    r.service = "web";
    r.path_prefix = prefix;
    InstanceSet s;
    s.name = "blue";
    s.weight = 100;
    s.backends.push_back(Backend{"127.0.0.1", port, "blue.0"});
    r.sets.push_back(s);
    return r;
  }
  std::string Url(const std::string& path) const {
    return "https://a.test:" + std::to_string(port_) + path;
  }
  // curl over h2 (-k: the test certificate is self-signed), through --resolve.
  std::string Curl(const std::string& args) const {
    return RunCommand("curl -sk --http2 --max-time 30 --resolve a.test:" + std::to_string(port_) +
                      ":127.0.0.1 " + args + " 2>&1");
  }

  std::filesystem::path dir_;
  std::shared_ptr<const net::TlsServerContext> ctx_;
  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<Proxy> proxy_;
  int port_ = 0;
};

TEST_F(H2Test, CurlGetsAnH2AnswerWithTheForwardedHeaders) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  std::string out = Curl("-D - -o /dev/null -w 'version=%{http_version}\\n' " + Url("/id"));
  EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
  EXPECT_NE(out.find("version=2"), std::string::npos) << out;
  EXPECT_NE(out.find("x-upstream: a"), std::string::npos) << out;
  EXPECT_EQ(out.find("connection:"), std::string::npos) << "connection-specific: " << out;
  const std::string head = Lower(up.last_head());
  EXPECT_NE(head.find("host: a.test:"), std::string::npos) << head;  // from :authority
  EXPECT_NE(head.find("x-forwarded-proto: https"), std::string::npos) << head;
  EXPECT_NE(head.find("x-forwarded-for: 127.0.0.1"), std::string::npos) << head;
  EXPECT_NE(head.find("x-request-id: "), std::string::npos) << head;
  EXPECT_EQ(head.find("connection: close"), std::string::npos) << head;
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_version}' " + Url("/none/x")), "2");
}

TEST_F(H2Test, OffByDefaultTheListenerStaysHttp11) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())}, /*http2=*/false);
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_version}' " + Url("/id")), "1.1");
}

TEST_F(H2Test, HundredParallelStreamsOnOneConnection) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  std::string args = "--parallel --parallel-max 100 -w '%{http_code} %{num_connects}\\n'";
  for (int i = 0; i < 100; ++i) args += " -o /dev/null " + Url("/slow?ms=50");
  std::string out = Curl(args);
  int ok = 0, connects = 0;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    if (line.rfind("200 ", 0) == 0) {
      ++ok;
      connects += std::atoi(line.c_str() + 4);
    }
    pos = end + 1;
  }
  EXPECT_EQ(ok, 100) << out;
  EXPECT_EQ(connects, 1) << "one connection carries every stream: " << out;
}

TEST_F(H2Test, LargeResponseAndPostBodiesStream) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code} %{size_download}' " + Url("/big?n=8000000")),
            "200 8000000");
  const std::string body = (dir_ / "body").string();
  {
    std::ofstream f(body, std::ios::binary);
    std::string block(1 << 16, 'y');
    for (int i = 0; i < 48; ++i) f << block;  // 3 MiB
  }
  EXPECT_EQ(Curl("--data-binary @" + body + " " + Url("/sink")), "3145728");
  // Unknown length (chunked upstream): curl sends no content-length for a stdin upload.
  EXPECT_EQ(Curl("-T - -X POST " + Url("/sink") + " < " + body), "3145728");
  EXPECT_EQ(Curl("--data-binary hello " + Url("/echo")), "hello");
}

TEST_F(H2Test, AFailingUpstreamGets502OnItsStreamOnly) {
  UpstreamServer up("a");
  int dead = 0;
  {
    UpstreamServer gone("gone");
    dead = gone.port();
  }
  Start({RouteTo(dead, "/bad"), RouteTo(up.port())});
  std::string out = Curl("--parallel -w '%{http_code} %{http_version}\\n' -o /dev/null " +
                         Url("/bad/x") + " -o /dev/null " + Url("/id"));
  EXPECT_NE(out.find("502 2"), std::string::npos) << out;
  EXPECT_NE(out.find("200 2"), std::string::npos) << out;
}

TEST_F(H2Test, DrainSendsGoawayFinishesTheStreamAndCloses) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  std::string out;
  std::thread client([&] { out = Curl("-w ' %{http_code}' " + Url("/slow?ms=800")); });
  for (int i = 0; i < 500 && up.requests() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(up.requests(), 1);
  ASSERT_TRUE(proxy_->Drain(Proxy::DrainFor::kHandover).ok());
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(10'000)), 0u);
  client.join();
  EXPECT_EQ(out, "a 200");
}

// Reads frames until the connection closes; true when one was GOAWAY with `code`.
bool SawGoaway(SSL* ssl, uint32_t code) {
  std::string buf;
  char tmp[4096];
  for (int i = 0; i < 1000; ++i) {
    int n = SSL_read(ssl, tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, n);
  }
  size_t pos = 0;
  while (pos + 9 <= buf.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf.data() + pos);
    const size_t len = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    if (p[3] == 0x7 && pos + 9 + len <= buf.size() && len >= 8) {
      const uint32_t got =
          (uint32_t{p[13]} << 24) | (uint32_t{p[14]} << 16) | (uint32_t{p[15]} << 8) | p[16];
      if (got == code) return true;
    }
    pos += 9 + len;
  }
  return false;
}

TEST_F(H2Test, AGarbagePrefaceGetsGoawayAndOtherConnectionsGoOn) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(cctx, nullptr);
  static const unsigned char kH2[] = "\x02h2";
  SSL_CTX_set_alpn_protos(cctx, kH2, sizeof kH2 - 1);
  auto hostile = [&](std::string_view bytes) {
    int fd = ConnectTo(port_);
    SSL* ssl = SSL_new(cctx);
    SSL_set_fd(ssl, fd);
    bool saw = false;
    if (SSL_connect(ssl) == 1) {
      const unsigned char* alpn = nullptr;
      unsigned int alpn_len = 0;
      SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "h2");
      SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
      saw = SawGoaway(ssl, 1);  // PROTOCOL_ERROR
    }
    SSL_free(ssl);
    close(fd);
    return saw;
  };
  // A client that keeps a connection open meanwhile.
  std::string slow;
  std::thread client([&] { slow = Curl("-w ' %{http_code}' " + Url("/slow?ms=600")); });
  EXPECT_TRUE(hostile("GET / HTTP/1.1\r\nHost: a\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  // A valid preface, then a frame on stream 0 that must not be there (DATA).
  EXPECT_TRUE(hostile(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                      std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9) +
                      std::string("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10)));
  SSL_CTX_free(cctx);
  client.join();
  EXPECT_EQ(slow, "a 200");
  EXPECT_EQ(Curl("-w ' %{http_version}' " + Url("/id")), "a 2");
}

TEST_F(H2Test, OversizedHeaderListIsRefusedLikeHttp11) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  // 80 KiB of one field: above the 64 KiB head limit, so 431 (or the stream is reset).
  const std::string big(80 * 1024, 'v');
  const std::string file = (dir_ / "hdr").string();
  {
    std::ofstream f(file);
    f << "X-Big: " << big << "\n";
  }
  std::string out = Curl("-o /dev/null -w '%{http_code}' -H @" + file + " " + Url("/id"));
  EXPECT_TRUE(out == "431" || out == "000") << out;
  EXPECT_EQ(up.requests(), 0);
  EXPECT_EQ(Curl("-w ' %{http_version}' " + Url("/id")), "a 2");
}

// An upstream that answers a head promising 100000 bytes, sends three, and closes.
class CutShortUpstream {
 public:
  CutShortUpstream() {
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(lfd_, 16);
    socklen_t len = sizeof a;
    getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int fd = accept(lfd_, nullptr, nullptr);
      if (fd < 0) return;
      std::string buf;
      if (ReadUntil(fd, &buf, "\r\n\r\n"))
        WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc");
      close(fd);
      fd = accept(lfd_, nullptr, nullptr);
      if (fd < 0) return;
      buf.clear();
      if (ReadUntil(fd, &buf, "\r\n\r\n"))
        WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc");
      close(fd);
    });
  }
  ~CutShortUpstream() {
    shutdown(lfd_, SHUT_RDWR);
    thread_.join();
    close(lfd_);
  }
  int port() const { return port_; }

 private:
  int lfd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(H2Test, AnUpstreamCutShortResetsTheStreamNotTheConnection) {
  UpstreamServer up("a");
  CutShortUpstream cut;
  Start({RouteTo(cut.port(), "/cut"), RouteTo(up.port())});
  // curl's exit status 92: "HTTP/2 stream was not closed cleanly" (RST_STREAM), not 0 (a cut
  // body taken for a whole one); the other stream on the same connection is answered in full.
  std::string out = Curl("--parallel -o /dev/null -w '%{http_code} %{size_download}\\n' " +
                         Url("/cut") + " -o /dev/null " + Url("/big?n=100000") + "; echo rc=$?");
  EXPECT_NE(out.find("200 100000"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=92"), std::string::npos) << out;
  // The same upstream over HTTP/1.1: the cut body ends the connection, and in time (the
  // upstream's FIN came with its last bytes, in one edge).
  std::string h1 = RunCommand(
      "curl -sk --http1.1 --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' --resolve "
      "a.test:" +
      std::to_string(port_) + ":127.0.0.1 " + Url("/cut") + "; echo ' rc='$?");
  EXPECT_EQ(h1, "200 3 rc=18\n") << "18: partial file";
}

TEST_F(H2Test, AnIdleConnectionGetsGoawayAndCloses) {
  UpstreamServer up("a");
  ProxyOptions opt;
  opt.idle_timeout = Duration(300);
  Start({RouteTo(up.port())}, true, opt);
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(cctx, nullptr);
  static const unsigned char kH2[] = "\x02h2";
  SSL_CTX_set_alpn_protos(cctx, kH2, sizeof kH2 - 1);
  int fd = ConnectTo(port_);
  SSL* ssl = SSL_new(cctx);
  SSL_set_fd(ssl, fd);
  ASSERT_EQ(SSL_connect(ssl), 1);
  const std::string preface = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                              std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  SSL_write(ssl, preface.data(), static_cast<int>(preface.size()));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(SawGoaway(ssl, 0));  // NO_ERROR, then the close
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(cctx);
  for (int i = 0; i < 500 && proxy_->OpenConnections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(proxy_->OpenConnections(), 0u);
}

}  // namespace
}  // namespace slipway::proxy
