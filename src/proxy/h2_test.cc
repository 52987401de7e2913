// End-to-end tests of HTTP/2 on the proxy's HTTPS listeners (proxy/h2_conn.h): curl speaking
// h2 through the proxy to real upstream sockets, an nghttp2 client session where a test must
// see frames (interim HEADERS, trailers, RST_STREAM, GOAWAY), and a raw TLS client for hostile
// input.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/tls_context.h"
#include "net/tls_test_certs.h"
#include "proxy/h2_conn.h"
#include "proxy/proxy.h"
#include "proxy/test_h2_client.h"
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

// Blocks until the peer closes `fd` (an upstream that never answers).
void WaitForClose(int fd) {
  char tmp[4096];
  while (read(fd, tmp, sizeof tmp) > 0) {
  }
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
    l.sni_pins_service = sni_pins_service_;
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
  bool sni_pins_service_ = false;  // Listener::sni_pins_service of the next Start()
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

// One TLS listener for two sites, as the host's ingress has: h2 is offered by SNI name (a.test
// only), and a request for the other site's name on a connection made for one (HTTP/2
// coalescing, or an HTTP/1.1 Host unlike the SNI) gets 421 and never reaches the other site.
TEST_F(H2Test, SniNamesPickH2AndPinTheConnectionToTheirService) {
  UpstreamServer up_a("a"), up_b("b");
  const net::testing::TestCert cert = net::testing::MakeTestCert({"a.test", "b.test", "c.test"});
  net::TlsServerContext::CertificatePaths paths{(dir_ / "ab.pem").string(),
                                                (dir_ / "ab.key").string()};
  net::testing::WriteTestFile(paths.cert, cert.cert_pem);
  net::testing::WriteTestFile(paths.key, cert.key_pem);
  auto ctx = net::TlsServerContext::Create({paths}, nullptr, std::time(nullptr),
                                           {{"a.test", true}, {"b.test", false}});
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  ctx_ = *ctx;
  sni_pins_service_ = true;
  Route ra = RouteTo(up_a.port());
  ra.service = "a";
  ra.host = "a.test";
  Route rb = RouteTo(up_b.port());
  rb.service = "b";
  rb.host = "b.test";
  Start({ra, rb}, /*http2=*/false);
  const std::string port = std::to_string(port_);
  auto curl = [&](const std::string& name, const std::string& args) {
    return RunCommand("curl -sk --max-time 30 --resolve " + name + ":" + port + ":127.0.0.1 " +
                      args + " https://" + name + ":" + port + "/id 2>&1");
  };
  const std::string fmt = "-w ' %{http_code} %{http_version}'";
  EXPECT_EQ(curl("a.test", "--http2 " + fmt), "a 200 2");
  EXPECT_EQ(curl("b.test", "--http2 " + fmt), "b 200 1.1");
  // HTTP/1.1 with a Host unlike the SNI name, either way, and an SNI name no route has.
  const std::string misdirected = "this connection is not for this host name: open one for it\n";
  EXPECT_EQ(curl("a.test", "--http1.1 -H 'Host: b.test' " + fmt), misdirected + " 421 1.1");
  EXPECT_EQ(curl("b.test", "--http1.1 -H 'Host: a.test' " + fmt), misdirected + " 421 1.1");
  EXPECT_EQ(curl("c.test", "--http1.1 -H 'Host: a.test' " + fmt), misdirected + " 421 1.1");
  // Without SNI (an IP literal) the Host alone routes, as before.
  EXPECT_EQ(RunCommand("curl -sk --max-time 30 -H 'Host: b.test' -w ' %{http_version}' "
                       "https://127.0.0.1:" +
                       port + "/id 2>&1"),
            "b 1.1");

  // HTTP/2 on a connection made for a.test: b.test's name (in any case, with a port) is
  // misdirected on its stream only; the connection goes on serving a.test.
  const int b_before = up_b.requests();
  H2Client c(port_, "a.test");
  ASSERT_TRUE(c.ok());
  std::vector<int32_t> ids;
  for (const std::string authority : {"b.test", "B.Test:443", "c.test", "a.test"}) {
    c.set_authority(authority);
    ids.push_back(c.Submit("GET", "/id"));
  }
  ASSERT_TRUE(c.RunUntilClosed(ids));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.stream(ids[i]).Status(0), i == 2 ? "404" : "421") << i;
    EXPECT_EQ(c.stream(ids[i]).error, 0u) << i;
  }
  EXPECT_EQ(c.stream(ids[0]).body, misdirected);
  EXPECT_EQ(c.stream(ids[3]).Status(0), "200");
  EXPECT_EQ(c.stream(ids[3]).body, "a");
  EXPECT_EQ(up_b.requests(), b_before);  // nothing of it reached b
  // b.test is not offered h2.
  H2Client plain(port_, "b.test");
  EXPECT_FALSE(plain.ok());
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
ScriptedUpstream::Serve CutShort() {
  return [](int fd, const std::string&, std::string*) {
    WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc");
  };
}

TEST_F(H2Test, AnUpstreamCutShortResetsTheStreamNotTheConnection) {
  UpstreamServer up("a");
  ScriptedUpstream cut(CutShort());
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

TEST_F(H2Test, AfterGoawayANewStreamIsRefusedAndTheOpenOneFinishes) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const int32_t first = c.Submit("GET", "/slow?ms=600");
  ASSERT_TRUE(c.Run([&] { return up.requests() == 1; }));
  ASSERT_TRUE(proxy_->Drain(Proxy::DrainFor::kHandover).ok());
  // The GOAWAY is on its way before the client opens its next stream: wait for its bytes
  // without reading them, so the HEADERS below cross it.
  pollfd p{c.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  const int32_t second = c.Submit("GET", "/id");
  ASSERT_TRUE(c.Send());
  ASSERT_TRUE(c.RunUntilClosed({first, second}));
  EXPECT_EQ(c.goaway_last(), first);
  EXPECT_EQ(c.stream(first).Status(0), "200");
  EXPECT_EQ(c.stream(first).body, "a");
  EXPECT_EQ(c.stream(first).error, 0u);
  // Above the GOAWAY's last stream id: never processed, so the client may retry it elsewhere.
  EXPECT_GT(second, c.goaway_last());
  EXPECT_TRUE(c.stream(second).blocks.empty());
  EXPECT_EQ(c.stream(second).error, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_EQ(up.requests(), 1);
  EXPECT_TRUE(c.Run([&] { return c.eof(); }));
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(10'000)), 0u);
}

TEST_F(H2Test, A504OnOneStreamWhileAnotherSucceeds) {
  UpstreamServer up("a");
  ScriptedUpstream hang([](int fd, const std::string&, std::string*) { WaitForClose(fd); });
  ProxyOptions opt;
  opt.response_head_timeout = Duration(300);
  Start({RouteTo(hang.port(), "/hang"), RouteTo(up.port())}, true, opt);
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const auto start = std::chrono::steady_clock::now();
  const int32_t slow = c.Submit("GET", "/hang");
  const int32_t fast = c.Submit("GET", "/slow?ms=100");
  ASSERT_TRUE(c.RunUntilClosed({slow, fast}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(c.stream(slow).Status(0), "504");
  EXPECT_EQ(c.stream(slow).body, "upstream response timed out\n");
  EXPECT_EQ(c.stream(slow).error, 0u);
  EXPECT_EQ(c.stream(fast).Status(0), "200");
  EXPECT_EQ(c.stream(fast).body, "a");
  EXPECT_EQ(hang.requests(), 1);
  // The connection goes on.
  const int32_t next = c.Submit("GET", "/id");
  ASSERT_TRUE(c.RunUntilClosed({next}));
  EXPECT_EQ(c.stream(next).Status(0), "200");
  EXPECT_FALSE(c.eof());
}

// The status of each HEADERS frame a stream received, in order ("100 200").
std::string Statuses(const H2Client::Stream& s) {
  std::string out;
  for (size_t i = 0; i < s.blocks.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += s.Status(i).empty() ? "trailers" : s.Status(i);
  }
  return out;
}

TEST_F(H2Test, ExpectContinueGetsTheUpstreams100BeforeTheBodyIsSent) {
  ScriptedUpstream up([](int fd, const std::string& head, std::string* rest) {
    const Head h = ParseHead(head);
    if (Lower(h.Get("expect")) != "100-continue") return;
    WriteAll(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    std::string body;
    if (!ReadBody(fd, h, rest, false, [&](std::string_view p) { body.append(p); })) return;
    WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                     body);
  });
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  // The body waits for the 100: the upstream answers 100 to the head alone.
  const int32_t id = c.Submit("POST", "/up", {{"expect", "100-continue"}, {"content-length", "5"}},
                              "hello", {}, /*hold=*/true);
  ASSERT_TRUE(c.Run([&] { return !c.stream(id).blocks.empty(); }));
  EXPECT_EQ(Statuses(c.stream(id)), "100");
  EXPECT_FALSE(c.stream(id).closed);
  c.Release(id);
  ASSERT_TRUE(c.RunUntilClosed({id}));
  EXPECT_EQ(Statuses(c.stream(id)), "100 200");
  EXPECT_EQ(c.stream(id).body, "hello");
  EXPECT_EQ(c.stream(id).error, 0u);
}

TEST_F(H2Test, EarlyHintsAreForwardedAnd101Never) {
  ScriptedUpstream up([](int fd, const std::string&, std::string*) {
    WriteAll(fd, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
    // A 101 to a request that asked for no upgrade (none can over HTTP/2): a bad response, as
    // on HTTP/1.1; what follows it is not taken for the answer.
    WriteAll(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n");
    WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const int32_t id = c.Submit("GET", "/page");
  ASSERT_TRUE(c.RunUntilClosed({id}));
  const H2Client::Stream& s = c.stream(id);
  EXPECT_EQ(Statuses(s), "103 502");
  EXPECT_EQ(s.Field(0, "link"), "</style.css>; rel=preload");
  EXPECT_EQ(s.Field(0, "connection"), "");
  EXPECT_EQ(s.body, "upstream sent an invalid response\n");
  EXPECT_EQ(s.error, 0u);  // a 1xx with END_STREAM would be a PROTOCOL_ERROR at the client
  // curl sees the same.
  const std::string out = Curl("-D - " + Url("/page"));
  EXPECT_NE(out.find("HTTP/2 103"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP/2 502"), std::string::npos) << out;
  EXPECT_EQ(out.find("101"), std::string::npos) << out;
}

TEST_F(H2Test, AFloodOfInterimAnswersIsBounded) {
  // 36 interim answers, two per write, apart in time so the proxy's HTTP/1.1 side reads a
  // few at a time (more than 16 in one read is a 502 there).
  ScriptedUpstream up([](int fd, const std::string&, std::string*) {
    for (int i = 0; i < 18; ++i) {
      if (!WriteAll(fd,
                    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    "HTTP/1.1 100 Continue\r\n\r\n"))
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const int32_t id = c.Submit("GET", "/flood");
  ASSERT_TRUE(c.RunUntilClosed({id}));
  const H2Client::Stream& s = c.stream(id);
  ASSERT_FALSE(s.blocks.empty());
  const std::string final_status = s.Status(s.blocks.size() - 1);
  const size_t interim = s.blocks.size() - 1;
  EXPECT_LE(interim, static_cast<size_t>(H2Conn::kMaxInterimResponses)) << Statuses(s);
  if (final_status == "200") {
    // Every one crossed the HTTP/1.1 side: the stream forwarded the first 8 only.
    EXPECT_EQ(interim, static_cast<size_t>(H2Conn::kMaxInterimResponses)) << Statuses(s);
    EXPECT_EQ(s.body, "ok");
  } else {
    EXPECT_EQ(final_status, "502") << Statuses(s);
  }
  EXPECT_EQ(s.error, 0u);
  // The connection goes on.
  const int32_t next = c.Submit("GET", "/flood");
  ASSERT_TRUE(c.RunUntilClosed({next}));
  EXPECT_EQ(c.stream(next).error, 0u);
  EXPECT_FALSE(c.eof());
}

TEST_F(H2Test, RequestTrailersGoUpstreamChunkedWithoutForbiddenFields) {
  std::atomic<int> complete{0};
  ScriptedUpstream up(EchoBodyAndTrailers(&complete));
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const H2Client::Fields trailers = {{"x-checksum", "abc"},
                                     {"grpc-timeout", "1S"},
                                     {"content-type", "text/evil"},
                                     {"authorization", "Bearer no"}};
  const int32_t chunked = c.Submit("POST", "/up", {}, "hello", trailers);
  // With a Content-Length the upstream message has no trailer section: they are dropped.
  const int32_t length = c.Submit("POST", "/up", {{"content-length", "5"}}, "hello", trailers);
  ASSERT_TRUE(c.RunUntilClosed({chunked, length}));
  EXPECT_EQ(c.stream(chunked).Status(0), "200");
  EXPECT_EQ(c.stream(chunked).body, "chunked\nhello\nx-checksum: abc\r\ngrpc-timeout: 1S\r\n");
  EXPECT_EQ(c.stream(length).Status(0), "200");
  EXPECT_EQ(c.stream(length).body, "length\nhello\n");
  EXPECT_EQ(complete.load(), 2);
}

TEST_F(H2Test, ResponseTrailersBecomeATrailingHeadersFrame) {
  ScriptedUpstream up([](int fd, const std::string& head, std::string*) {
    const bool empty = head.find(" /empty ") != std::string::npos;
    WriteAll(fd, std::string("HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\n"
                             "Trailer: grpc-status, grpc-message\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n") +
                     (empty ? "" : "5\r\nhello\r\n") +
                     "0\r\nGrpc-Status: 0\r\ngrpc-message: fine\r\nContent-Length: 9\r\n"
                     "Set-Cookie: a=b\r\n\r\n");
  });
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const int32_t id = c.Submit("POST", "/svc/Method", {{"te", "trailers"}}, "x");
  const int32_t empty = c.Submit("GET", "/empty");  // a trailers-only answer
  ASSERT_TRUE(c.RunUntilClosed({id, empty}));
  for (int32_t sid : {id, empty}) {
    const H2Client::Stream& s = c.stream(sid);
    EXPECT_EQ(Statuses(s), "200 trailers");
    EXPECT_EQ(s.Field(1, "grpc-status"), "0");  // lower-cased, as HTTP/2 requires
    EXPECT_EQ(s.Field(1, "grpc-message"), "fine");
    EXPECT_EQ(s.Field(1, "content-length"), "");
    EXPECT_EQ(s.Field(1, "set-cookie"), "");
    EXPECT_EQ(s.blocks[1].size(), 2u);
    EXPECT_EQ(s.error, 0u);
  }
  EXPECT_EQ(c.stream(id).body, "hello");
  EXPECT_EQ(c.stream(empty).body, "");
}

TEST_F(H2Test, HostileRequestTrailersResetTheirStreamOnly) {
  std::atomic<int> complete{0};
  ScriptedUpstream up(EchoBodyAndTrailers(&complete));
  UpstreamServer other("a");
  Start({RouteTo(up.port(), "/up"), RouteTo(other.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  // Over the 64 KiB head limit in bytes, and over its 100 fields in count.
  H2Client::Fields big, many;
  for (int i = 0; i < 80; ++i)
    big.emplace_back("x-big-" + std::to_string(i), std::string(1000, 'v'));
  for (int i = 0; i < 150; ++i) many.emplace_back("x-n-" + std::to_string(i), "1");
  const int32_t too_big = c.Submit("POST", "/up", {}, "hello", big);
  const int32_t too_many = c.Submit("POST", "/up", {}, "hello", many);
  // A pseudo-header in trailers is malformed (RFC 9113 8.1).
  const int32_t pseudo = c.Submit("POST", "/up", {}, "hello", {{":path", "/admin"}});
  // Framing in trailers: nghttp2 refuses it as malformed too.
  const int32_t framing = c.Submit("POST", "/up", {}, "hello", {{"content-length", "99"}});
  ASSERT_TRUE(c.RunUntilClosed({too_big, too_many, pseudo, framing}));
  EXPECT_EQ(c.stream(too_big).error, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(c.stream(too_many).error, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(c.stream(pseudo).error, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(c.stream(framing).error, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  for (int32_t sid : {too_big, too_many, pseudo, framing})
    EXPECT_EQ(c.stream(sid).body.find("chunked"), std::string::npos) << c.stream(sid).body;
  // The connection goes on, and no upstream took a cut body for a whole one.
  const int32_t next = c.Submit("GET", "/id");
  ASSERT_TRUE(c.RunUntilClosed({next}));
  EXPECT_EQ(c.stream(next).body, "a");
  EXPECT_FALSE(c.eof());
  EXPECT_EQ(complete.load(), 0);
}

TEST_F(H2Test, OversizedResponseTrailersResetTheStream) {
  ScriptedUpstream up([](int fd, const std::string&, std::string*) {
    std::string t;
    for (int i = 0; i < 80; ++i)
      t += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
    WriteAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + t +
                     "\r\n");
  });
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  const int32_t id = c.Submit("GET", "/x");
  ASSERT_TRUE(c.RunUntilClosed({id}));
  // Never a clean end without them.
  EXPECT_NE(c.stream(id).error, 0u) << Statuses(c.stream(id));
  EXPECT_FALSE(c.eof());
}

}  // namespace
}  // namespace slipway::proxy
