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

#include "http/websocket.h"
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

// ---------------------------------------------------------------- WebSockets (RFC 8441)

// One WebSocket frame (RFC 6455 5.2) with FIN set, masked with `mask` (4 bytes) when given, as
// a client's must be.
std::string WsFrame(uint8_t opcode, std::string_view payload, std::string_view mask = "") {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const int m = mask.empty() ? 0 : 0x80;
  const uint64_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(m | static_cast<int>(n));
  } else if (n < 65536) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xff);
  }
  if (mask.empty()) return f + std::string(payload);
  f += mask;
  for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

struct WsMessage {
  int opcode = 0;
  std::string payload;  // unmasked
  bool masked = false;
};

// Takes the complete frames at the start of `buf` off it.
std::vector<WsMessage> TakeFrames(std::string* buf) {
  std::vector<WsMessage> out;
  for (;;) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf->data());
    if (buf->size() < 2) return out;
    size_t pos = 2;
    uint64_t n = p[1] & 0x7f;
    if (n == 126) {
      if (buf->size() < 4) return out;
      n = (uint64_t{p[2]} << 8) | p[3];
      pos = 4;
    } else if (n == 127) {
      if (buf->size() < 10) return out;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
      pos = 10;
    }
    WsMessage m;
    m.opcode = p[0] & 0x0f;
    m.masked = (p[1] & 0x80) != 0;
    const size_t mask_at = pos;
    if (m.masked) pos += 4;
    if (buf->size() < pos + n) return out;
    m.payload = buf->substr(pos, n);
    if (m.masked)
      for (size_t i = 0; i < n; ++i)
        m.payload[i] = static_cast<char>(m.payload[i] ^ p[mask_at + i % 4]);
    buf->erase(0, pos + n);
    out.push_back(std::move(m));
  }
}

// What a WebSocket upstream saw.
struct WsLog {
  std::mutex mu;
  std::vector<std::string> heads;
  std::atomic<int> upgrades{0};
  std::atomic<int> closes{0};  // close frames echoed
  std::atomic<int> eofs{0};    // the proxy's FIN (or reset) read
  std::atomic<int> unmasked{0};
  std::string Head(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return i < heads.size() ? heads[i] : "";
  }
};

// The 101 a WebSocket server answers `h` with (RFC 6455 4.2.2): its accept value, and the
// first subprotocol asked for.
std::string Ws101(const Head& h) {
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      http::WebSocketAccept(h.Get("sec-websocket-key")) + "\r\n";
  const std::string proto = h.Get("sec-websocket-protocol");
  if (!proto.empty()) r += "Sec-WebSocket-Protocol: " + proto.substr(0, proto.find(',')) + "\r\n";
  return r + "\r\n";
}

// A WebSocket echo upstream: answers the handshake, then sends each masked frame back
// unmasked until a close frame (echoed, then the connection closes) or EOF. A request that
// asks for no upgrade gets "plain".
ScriptedUpstream::Serve WsEcho(WsLog* log) {
  return [log](int fd, const std::string& head, std::string* rest) {
    {
      std::lock_guard<std::mutex> lock(log->mu);
      log->heads.push_back(head);
    }
    const Head h = ParseHead(head);
    if (Lower(h.Get("upgrade")) != "websocket") {
      WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain");
      return;
    }
    log->upgrades++;
    if (!WriteAll(fd, Ws101(h))) return;
    std::string buf = *rest;
    char tmp[65536];
    for (int i = 0; i < 1000000; ++i) {
      for (WsMessage& m : TakeFrames(&buf)) {
        if (!m.masked) {
          log->unmasked++;
          return;
        }
        if (!WriteAll(fd, WsFrame(static_cast<uint8_t>(m.opcode), m.payload))) return;
        if (m.opcode == 8) {
          log->closes++;
          return;
        }
      }
      const ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) {
        log->eofs++;
        return;
      }
      buf.append(tmp, static_cast<size_t>(n));
    }
  };
}

// An extended CONNECT's header block for a WebSocket at `path`, then `extra`.
H2Client::Fields WsConnect(const std::string& path, const H2Client::Fields& extra = {},
                           const std::string& version = "13") {
  H2Client::Fields f = {{":method", "CONNECT"},   {":protocol", "websocket"},
                        {":scheme", "https"},     {":path", path},
                        {":authority", "a.test"}, {"sec-websocket-version", version}};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

// A client whose server SETTINGS have come: a :protocol may be sent only after it (RFC 8441 3).
std::unique_ptr<H2Client> WsClient(int port) {
  auto c = std::make_unique<H2Client>(port);
  if (!c->ok() || !c->Run([&] { return c->settings_received(); })) return nullptr;
  return c;
}

// Runs until stream `id` has its final HEADERS (or closed).
bool AwaitAnswer(H2Client* c, int32_t id) {
  return c->Run([&] { return !c->stream(id).blocks.empty() || c->stream(id).closed; });
}

// Sends `text` as a masked frame on `id` and runs until its echo is back.
bool Echoes(H2Client* c, int32_t id, const std::string& text, std::string* rx, int opcode = 1) {
  c->Write(id, WsFrame(static_cast<uint8_t>(opcode), text, "\x12\x34\x56\x78"));
  std::vector<WsMessage> got;
  const bool ok = c->Run([&] {
    rx->append(c->stream(id).body);
    c->stream(id).body.clear();
    for (WsMessage& m : TakeFrames(rx)) got.push_back(std::move(m));
    return !got.empty() || c->stream(id).closed;
  });
  return ok && got.size() == 1 && !got[0].masked && got[0].opcode == opcode &&
         got[0].payload == text;
}

TEST_F(H2Test, WebSocketAcceptIsRfc6455s) {
  EXPECT_EQ(http::WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const std::string a = http::NewWebSocketKey(), b = http::NewWebSocketKey();
  EXPECT_EQ(a.size(), 24u);  // 16 bytes, base64
  EXPECT_NE(a, b);
}

TEST_F(H2Test, TheServerAdvertisesExtendedConnect) {
  UpstreamServer up("a");
  Start({RouteTo(up.port())});
  H2Client c(port_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Run([&] { return c.settings_received(); }));
  EXPECT_EQ(c.RemoteSetting(NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL), 1u);
}

TEST_F(H2Test, AWebSocketOverExtendedConnectEchoesMaskedFrames) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id =
      c->Open(WsConnect("/chat?room=1", {{"sec-websocket-protocol", "chat, superchat"},
                                         {"sec-websocket-extensions", "x-test"},
                                         {"origin", "https://a.test"},
                                         {"cookie", "a=1"},
                                         {"cookie", "b=2"},
                                         {"sec-websocket-key", "client-made"}}));
  ASSERT_TRUE(AwaitAnswer(c.get(), id));
  const H2Client::Stream& s = c->stream(id);
  ASSERT_EQ(s.Status(0), "200") << s.body;
  EXPECT_FALSE(s.closed);
  EXPECT_FALSE(s.remote_end);
  EXPECT_EQ(s.Field(0, "sec-websocket-protocol"), "chat");
  EXPECT_EQ(s.Field(0, "sec-websocket-accept"), "");
  EXPECT_EQ(s.Field(0, "upgrade"), "");
  EXPECT_EQ(s.Field(0, "connection"), "");
  // The HTTP/1.1 handshake the upstream got (RFC 6455 4.1), through the ordinary path.
  const Head h = ParseHead(log.Head(0));
  EXPECT_EQ(h.start_line, "GET /chat?room=1 HTTP/1.1");
  EXPECT_EQ(h.Get("host"), "a.test");
  EXPECT_EQ(Lower(h.Get("upgrade")), "websocket");
  EXPECT_EQ(Lower(h.Get("connection")), "upgrade");
  EXPECT_EQ(h.Get("sec-websocket-version"), "13");
  EXPECT_EQ(h.Get("sec-websocket-key").size(), 24u);
  EXPECT_NE(h.Get("sec-websocket-key"), "client-made");
  EXPECT_EQ(h.Get("sec-websocket-protocol"), "chat, superchat");
  EXPECT_EQ(h.Get("sec-websocket-extensions"), "x-test");
  EXPECT_EQ(h.Get("origin"), "https://a.test");
  EXPECT_EQ(h.Get("cookie"), "a=1; b=2");
  EXPECT_EQ(h.Get("x-forwarded-proto"), "https");
  EXPECT_FALSE(h.Get("x-request-id").empty());
  EXPECT_EQ(log.Head(0).find(":protocol"), std::string::npos);
  // Frames both ways: text, binary across the 16-bit length, a ping.
  std::string rx;
  EXPECT_TRUE(Echoes(c.get(), id, "hello", &rx));
  EXPECT_TRUE(Echoes(c.get(), id, std::string(70000, 'b'), &rx, 2));
  EXPECT_TRUE(Echoes(c.get(), id, "ping", &rx, 9));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(Echoes(c.get(), id, "frame-" + std::to_string(i), &rx));
  // The closing handshake, and the client's END_STREAM: the upstream echoes the close and
  // ends, and so does the stream, cleanly.
  c->Write(id, WsFrame(8, "\x03\xe8", "abcd"));
  c->End(id);
  ASSERT_TRUE(c->RunUntilClosed({id}));
  EXPECT_EQ(s.error, 0u);
  EXPECT_TRUE(s.remote_end);
  std::string tail = rx + s.body;
  const std::vector<WsMessage> last = TakeFrames(&tail);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].opcode, 8);
  EXPECT_EQ(log.closes.load(), 1);
  EXPECT_EQ(log.unmasked.load(), 0);
  EXPECT_FALSE(c->eof());
}

TEST_F(H2Test, SeveralWebSocketsAndRequestsShareAConnection) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  std::vector<int32_t> ws, plain;
  for (int i = 0; i < 5; ++i) {
    ws.push_back(c->Open(WsConnect("/ws/" + std::to_string(i))));
    plain.push_back(c->Submit("GET", "/plain/" + std::to_string(i)));
  }
  ASSERT_TRUE(c->RunUntilClosed(plain));
  for (int32_t id : plain) {
    EXPECT_EQ(c->stream(id).Status(0), "200");
    EXPECT_EQ(c->stream(id).body, "plain");
  }
  for (int32_t id : ws) ASSERT_TRUE(AwaitAnswer(c.get(), id));
  std::vector<std::string> rx(ws.size());
  for (int round = 0; round < 3; ++round)
    for (size_t i = 0; i < ws.size(); ++i) {
      ASSERT_EQ(c->stream(ws[i]).Status(0), "200");
      EXPECT_TRUE(
          Echoes(c.get(), ws[i], "s" + std::to_string(i) + "r" + std::to_string(round), &rx[i]));
    }
  // A request between the open tunnels still gets its answer.
  const int32_t more = c->Submit("GET", "/later");
  ASSERT_TRUE(c->RunUntilClosed({more}));
  EXPECT_EQ(c->stream(more).body, "plain");
  for (int32_t id : ws) {
    c->Write(id, WsFrame(8, "", "abcd"));
    c->End(id);
  }
  ASSERT_TRUE(c->RunUntilClosed(ws));
  for (int32_t id : ws) EXPECT_EQ(c->stream(id).error, 0u);
  EXPECT_EQ(log.upgrades.load(), 5);
  EXPECT_EQ(log.closes.load(), 5);
}

TEST_F(H2Test, AWebSocketVersionOtherThan13Gets400) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t v8 = c->Open(WsConnect("/ws", {}, "8"));
  H2Client::Fields none = WsConnect("/ws");
  none.pop_back();  // no version at all
  const int32_t missing = c->Open(none);
  for (int32_t id : {v8, missing}) {
    ASSERT_TRUE(AwaitAnswer(c.get(), id));
    EXPECT_EQ(c->stream(id).Status(0), "400");
    EXPECT_EQ(c->stream(id).Field(0, "sec-websocket-version"), "13");
    c->End(id);
  }
  ASSERT_TRUE(c->RunUntilClosed({v8, missing}));
  EXPECT_EQ(c->stream(v8).body, "Sec-WebSocket-Version must be 13\n");
  EXPECT_EQ(up.requests(), 0);
}

TEST_F(H2Test, AnUpstreamRefusingTheUpgradeGivesItsAnswer) {
  ScriptedUpstream up([](int fd, const std::string&, std::string*) {
    WriteAll(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nX-Why: origin\r\n\r\nno way");
  });
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open(WsConnect("/ws"));
  ASSERT_TRUE(c->Run([&] { return c->stream(id).remote_end || c->stream(id).closed; }));
  const H2Client::Stream& s = c->stream(id);
  EXPECT_EQ(s.Status(0), "403");
  EXPECT_EQ(s.Field(0, "x-why"), "origin");
  EXPECT_EQ(s.body, "no way");
  EXPECT_EQ(s.error, 0u);
  // The answer is complete while the client's side is open: RST_STREAM(NO_ERROR) closes the
  // stream (RFC 9113 8.1) instead of leaving it half-closed for good.
  ASSERT_TRUE(c->Run([&] { return c->stream(id).closed; }, 3000));
  EXPECT_EQ(c->stream(id).error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
}

TEST_F(H2Test, AnAnswerEndingBeforeTheRequestClosesTheStreamWithNoError) {
  ScriptedUpstream up([](int fd, const std::string&, std::string*) {
    WriteAll(fd, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!");
  });
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  // An upload whose body the client is still sending when the answer comes.
  const int32_t id = c->Open(
      {{":method", "POST"}, {":scheme", "https"}, {":path", "/upload"}, {":authority", "a.test"}});
  c->Write(id, std::string(1000, 'x'));
  ASSERT_TRUE(c->Run([&] { return c->stream(id).closed; }, 5000));
  const H2Client::Stream& s = c->stream(id);
  EXPECT_EQ(s.Status(0), "413");
  EXPECT_EQ(s.body, "big!");
  EXPECT_TRUE(s.remote_end);
  EXPECT_EQ(s.error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  // The connection goes on serving.
  const int32_t next = c->Open(
      {{":method", "POST"}, {":scheme", "https"}, {":path", "/again"}, {":authority", "a.test"}});
  ASSERT_TRUE(c->Run([&] { return c->stream(next).closed; }, 5000));
  EXPECT_EQ(c->stream(next).Status(0), "413");
}

TEST_F(H2Test, AWrongSecWebSocketAcceptGets502AndClosesTheUpstream) {
  std::atomic<int> closed{0};
  ScriptedUpstream up([&](int fd, const std::string& head, std::string*) {
    const Head h = ParseHead(head);
    const std::string path = h.start_line.substr(4, h.start_line.find(' ', 4) - 4);
    std::string answer =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n";
    if (path == "/wrong")
      answer += "Sec-WebSocket-Accept: " + http::WebSocketAccept("other") + "\r\n";
    if (path == "/notws") {
      answer =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
          http::WebSocketAccept(h.Get("sec-websocket-key")) + "\r\n";
    }
    // /missing: no accept value at all.
    WriteAll(fd, answer + "\r\n" + WsFrame(1, "leak"));
    WaitForClose(fd);
    closed++;
  });
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  std::vector<int32_t> ids;
  for (const char* p : {"/wrong", "/missing", "/notws"}) ids.push_back(c->Open(WsConnect(p)));
  ASSERT_TRUE(c->Run([&] {
    for (int32_t id : ids)
      if (!c->stream(id).remote_end && !c->stream(id).closed) return false;
    return true;
  }));
  for (int32_t id : ids) {
    EXPECT_EQ(c->stream(id).Status(0), "502");
    EXPECT_EQ(c->stream(id).body.find("leak"), std::string::npos);
    EXPECT_EQ(c->stream(id).error, 0u);
  }
  EXPECT_EQ(c->stream(ids[0]).body,
            "upstream answered the WebSocket handshake with a wrong Sec-WebSocket-Accept\n");
  for (int i = 0; i < 500 && closed.load() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(closed.load(), 3);  // the proxy closed each upstream connection
}

TEST_F(H2Test, AClientResetClosesTheWebSocketsUpstream) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open(WsConnect("/ws"));
  ASSERT_TRUE(AwaitAnswer(c.get(), id));
  std::string rx;
  ASSERT_TRUE(Echoes(c.get(), id, "before", &rx));
  c->Reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(c->Send());
  ASSERT_TRUE(c->Run([&] { return log.eofs.load() == 1; }));
  EXPECT_EQ(log.closes.load(), 0);
  // The connection goes on.
  const int32_t next = c->Submit("GET", "/x");
  ASSERT_TRUE(c->RunUntilClosed({next}));
  EXPECT_EQ(c->stream(next).body, "plain");
}

TEST_F(H2Test, TheUpstreamClosingEndsTheStreamAndTheClientsEndHalfCloses) {
  ScriptedUpstream up([](int fd, const std::string& head, std::string* rest) {
    if (!WriteAll(fd, Ws101(ParseHead(head)))) return;
    // Reads to the proxy's FIN (the client's END_STREAM), then still answers: a half-close.
    std::string got = *rest;
    char tmp[4096];
    for (ssize_t n = 0; (n = read(fd, tmp, sizeof tmp)) > 0;) got.append(tmp, n);
    std::vector<WsMessage> frames = TakeFrames(&got);
    WriteAll(fd, WsFrame(1, "got " + std::to_string(frames.size())));
  });
  ScriptedUpstream closer([](int fd, const std::string& head, std::string*) {
    WriteAll(fd, Ws101(ParseHead(head)) + WsFrame(1, "bye"));
  });
  Start({RouteTo(up.port(), "/half"), RouteTo(closer.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t half = c->Open(WsConnect("/half"));
  const int32_t bye = c->Open(WsConnect("/bye"));
  ASSERT_TRUE(AwaitAnswer(c.get(), half));
  ASSERT_TRUE(c->Run([&] { return c->stream(bye).remote_end; }));
  EXPECT_EQ(c->stream(bye).Status(0), "200");
  std::string b = c->stream(bye).body;
  std::vector<WsMessage> frames = TakeFrames(&b);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload, "bye");
  EXPECT_FALSE(c->stream(bye).closed);  // our side is still open
  c->End(bye);
  c->Write(half, WsFrame(1, "one", "abcd") + WsFrame(1, "two", "abcd"));
  c->End(half);
  ASSERT_TRUE(c->RunUntilClosed({half, bye}))
      << c->stream(half).closed << c->stream(half).remote_end << c->stream(half).body.size() << " "
      << c->stream(bye).closed << c->stream(bye).remote_end;
  EXPECT_EQ(c->stream(bye).error, 0u);
  EXPECT_EQ(c->stream(half).error, 0u);
  std::string h = c->stream(half).body;
  frames = TakeFrames(&h);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload, "got 2");
}

TEST_F(H2Test, AnUpstreamResetResetsTheTunnelWithConnectError) {
  LoopbackListener l(4);
  ASSERT_TRUE(l.ok());
  std::thread server([&] {
    const int fd = accept4(l.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::string buf;
    if (ReadUntil(fd, &buf, "\r\n\r\n") && WriteAll(fd, Ws101(ParseHead(buf)))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      linger reset{1, 0};  // the close sends RST, not FIN
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    close(fd);
  });
  Start({RouteTo(l.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open(WsConnect("/ws"));
  const bool closed = c->RunUntilClosed({id});
  l.Shutdown();  // an accept that never came returns
  server.join();
  ASSERT_TRUE(closed);
  EXPECT_EQ(c->stream(id).Status(0), "200");
  EXPECT_FALSE(c->stream(id).remote_end);  // never a clean end
  EXPECT_EQ(c->stream(id).error, static_cast<uint32_t>(NGHTTP2_CONNECT_ERROR));
  EXPECT_FALSE(c->eof());
}

TEST_F(H2Test, AnIdleTunnelIsResetWithCancel) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  ProxyOptions opt;
  opt.tunnel_idle_timeout = Duration(300);
  Start({RouteTo(up.port())}, true, opt);
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open(WsConnect("/ws"));
  ASSERT_TRUE(AwaitAnswer(c.get(), id));
  std::string rx;
  ASSERT_TRUE(Echoes(c.get(), id, "once", &rx));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->RunUntilClosed({id}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(c->stream(id).error, static_cast<uint32_t>(NGHTTP2_CANCEL));
  ASSERT_TRUE(c->Run([&] { return log.eofs.load() == 1; }));
  EXPECT_FALSE(c->eof());
}

// Resident memory of this process (proxy included), KiB.
long RssKiB() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST_F(H2Test, ALargeWebSocketEchoIsPacedWithBoundedMemory) {
  // 1 MiB of varied bytes, sent 16 times each way.
  std::string block(1 << 20, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& ch : block) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ch = static_cast<char>(x);
  }
  constexpr int kDown = 64, kUp = 16;
  std::atomic<uint64_t> written{0}, read_up{0};
  ScriptedUpstream up([&](int fd, const std::string& head, std::string* rest) {
    if (!WriteAll(fd, Ws101(ParseHead(head)))) return;
    std::thread flood([&] {
      for (int i = 0; i < kDown; ++i) {
        if (!WriteAll(fd, block)) return;
        written += block.size();
      }
    });
    uint64_t n = rest->size();
    char tmp[65536];
    for (ssize_t k = 0; (k = read(fd, tmp, sizeof tmp)) > 0;) n += static_cast<uint64_t>(k);
    read_up = n;
    flood.join();
  });
  ProxyOptions opt;
  opt.max_buffer_bytes = 64 * 1024;
  Start({RouteTo(up.port())}, true, opt);
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open(WsConnect("/big"));
  c->stream(id).keep_body = false;
  ASSERT_TRUE(AwaitAnswer(c.get(), id));
  ASSERT_EQ(c->stream(id).Status(0), "200");
  for (int i = 0; i < kUp; ++i) c->Write(id, block);
  c->End(id);
  const long rss = RssKiB();
  // The client reads nothing for a while: the upstream's flood stops where the buffers are
  // full, far short of its 64 MiB, and the proxy holds no more than its bounds.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const uint64_t paused_written = written.load();
  EXPECT_LT(paused_written, uint64_t{kDown} << 20);
  const long growth = RssKiB() - rss;
  EXPECT_LT(growth, 16 * 1024) << "KiB";
  ASSERT_TRUE(c->RunUntilClosed({id}, 60000))
      << c->stream(id).body_bytes << " " << c->stream(id).req_off << " " << read_up.load() << " "
      << written.load() << " " << c->stream(id).remote_end;
  uint64_t want = 14695981039346656037ull;
  for (int i = 0; i < kDown; ++i)
    for (char ch : block) want = (want ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  EXPECT_EQ(c->stream(id).body_bytes, uint64_t{kDown} << 20);
  EXPECT_EQ(c->stream(id).body_hash, want);
  EXPECT_EQ(c->stream(id).error, 0u);
  EXPECT_EQ(read_up.load(), uint64_t{kUp} << 20);
  std::printf(
      "64 MiB down, 16 MiB up through a 64 KiB window: the upstream had written %llu KiB and "
      "RSS grown %ld KiB after 1.5 s of a client not reading\n",
      static_cast<unsigned long long>(paused_written >> 10), growth);
}

// Node's http2 client (a real RFC 8441 client: it waits for the server's SETTINGS before it
// sends :protocol) opens a WebSocket stream, sends a masked text frame and prints the echo.
TEST_F(H2Test, NodesHttp2ClientOpensAWebSocket) {
  if (RunCommand("node --version").empty()) GTEST_SKIP() << "node is not installed";
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  const std::string script = (dir_ / "ws.js").string();
  {
    std::ofstream f(script);
    f << R"JS(
const http2 = require('http2');
const port = process.argv[2];
const timer = setTimeout(() => { console.log('timeout'); process.exit(2); }, 10000);
const session = http2.connect('https://a.test:' + port, {
  rejectUnauthorized: false,
  createConnection: () => require('tls').connect({host: '127.0.0.1', port, servername: 'a.test',
                                                  ALPNProtocols: ['h2'], rejectUnauthorized: false}),
});
session.on('error', (e) => { console.log('session error ' + e.message); process.exit(1); });
session.on('remoteSettings', (settings) => {
  console.log('enableConnectProtocol=' + settings.enableConnectProtocol);
  const req = session.request({':method': 'CONNECT', ':protocol': 'websocket', ':path': '/node',
                               ':scheme': 'https', ':authority': 'a.test',
                               'sec-websocket-version': '13'});
  req.on('response', (h) => {
    console.log('status=' + h[':status']);
    const payload = Buffer.from('hello from node');
    const mask = Buffer.from([1, 2, 3, 4]);
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask,
                                 Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))]);
    req.write(frame);
  });
  let got = Buffer.alloc(0);
  req.on('data', (d) => {
    got = Buffer.concat([got, d]);
    if (got.length >= 2 && got.length >= 2 + (got[1] & 0x7f)) {
      console.log('echo=' + got.subarray(2, 2 + (got[1] & 0x7f)).toString());
      req.end();
    }
  });
  req.on('end', () => { console.log('end'); clearTimeout(timer); session.close(); });
  req.on('error', (e) => { console.log('stream error ' + e.message); process.exit(1); });
});
)JS";
  }
  const std::string out = RunCommand("node " + script + " " + std::to_string(port_) + " 2>&1");
  EXPECT_EQ(out, "enableConnectProtocol=true\nstatus=200\necho=hello from node\nend\n");
  EXPECT_EQ(log.upgrades.load(), 1);
}

// ------------------------------------------------------------ hostile extended CONNECTs

TEST_F(H2Test, DataBeforeThe200WaitsForTheTunnel) {
  WsLog log;
  std::atomic<int> early{-1};
  ScriptedUpstream up([&, echo = WsEcho(&log)](int fd, const std::string& head, std::string* rest) {
    // Nothing of the stream's DATA may reach the upstream before its 101.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    pollfd p{fd, POLLIN, 0};
    early = static_cast<int>(rest->size()) + poll(&p, 1, 0);
    echo(fd, head, rest);
  });
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open(WsConnect("/ws"));
  c->Write(id, WsFrame(1, "early", "abcd"));  // in the same flight as the HEADERS
  ASSERT_TRUE(c->Send());
  ASSERT_TRUE(AwaitAnswer(c.get(), id));
  EXPECT_EQ(c->stream(id).Status(0), "200");
  std::string rx;
  ASSERT_TRUE(c->Run([&] {
    rx = c->stream(id).body;
    return !TakeFrames(&rx).empty();
  }));
  rx = c->stream(id).body;
  const std::vector<WsMessage> got = TakeFrames(&rx);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "early");
  EXPECT_EQ(early.load(), 0);
}

TEST_F(H2Test, MalformedExtendedConnectsAreRefused) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  auto without = [](const std::string& name) {
    H2Client::Fields f = WsConnect("/ws");
    std::erase_if(f, [&](const auto& nv) { return nv.first == name; });
    return f;
  };
  // Malformed (RFC 8441 4, RFC 9113 8.2.2 and 8.3): nghttp2 resets them, PROTOCOL_ERROR.
  std::vector<int32_t> malformed = {
      c->Open(without(":path")),
      c->Open(without(":scheme")),
      c->Open(without(":authority")),
      c->Open(WsConnect("/ws", {{"connection", "upgrade"}})),
      c->Open(WsConnect("/ws", {{"upgrade", "websocket"}})),
      // :protocol on a GET.
      c->Open({{":method", "GET"},
               {":protocol", "websocket"},
               {":scheme", "https"},
               {":path", "/ws"},
               {":authority", "a.test"}}),
  };
  // Another protocol: 501 (RFC 8441 names none; RFC 9110 15.6.2). A head over the 64 KiB
  // limit: the parser's 431, as on HTTP/1.1.
  const int32_t other = c->Open({{":method", "CONNECT"},
                                 {":protocol", "connect-udp"},
                                 {":scheme", "https"},
                                 {":path", "/x"},
                                 {":authority", "a.test"}});
  const int32_t big =
      c->Open(WsConnect("/" + std::string(60000, 'p'), {{"x-pad", std::string(10000, 'x')}}));
  std::vector<int32_t> all = malformed;
  all.insert(all.end(), {other, big});
  ASSERT_TRUE(c->Run([&] {
    for (int32_t id : all)
      if (!c->stream(id).closed && !c->stream(id).remote_end) return false;
    return true;
  }));
  for (int32_t id : malformed) {
    EXPECT_TRUE(c->stream(id).blocks.empty()) << id;
    EXPECT_EQ(c->stream(id).error, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR)) << id;
  }
  EXPECT_EQ(c->stream(other).Status(0), "501");
  EXPECT_EQ(c->stream(big).Status(0), "431");
  EXPECT_EQ(up.requests(), 0);
  // The connection goes on, WebSockets included.
  EXPECT_FALSE(c->eof());
  const int32_t ok = c->Open(WsConnect("/ws"));
  ASSERT_TRUE(AwaitAnswer(c.get(), ok));
  EXPECT_EQ(c->stream(ok).Status(0), "200");
  // A 60000-byte :path with 90 KiB of fields: past twice the head limit, the stream is reset
  // before anything is parsed or sent upstream (a single field much past 64 KiB is one HPACK
  // does not carry).
  H2Client::Fields pad;
  for (int i = 0; i < 90; ++i)
    pad.emplace_back("x-pad-" + std::to_string(i), std::string(1000, 'x'));
  const int32_t huge = c->Open(WsConnect("/" + std::string(60000, 'p'), pad));
  ASSERT_TRUE(c->Run([&] { return c->stream(huge).closed; }));
  EXPECT_TRUE(c->stream(huge).blocks.empty());
  EXPECT_EQ(c->stream(huge).error, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_FALSE(c->eof());
  EXPECT_EQ(up.requests(), 1);  // `ok` alone
}

TEST_F(H2Test, APlainConnectIsStillRefused) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t id = c->Open({{":method", "CONNECT"}, {":authority", "b.test:443"}});
  ASSERT_TRUE(c->Run([&] { return c->stream(id).remote_end || c->stream(id).closed; }));
  EXPECT_EQ(c->stream(id).Status(0), "400");
  EXPECT_EQ(up.requests(), 0);
}

TEST_F(H2Test, AfterGoawayANewTunnelIsRefusedAndTheOpenOneRuns) {
  WsLog log;
  ScriptedUpstream up(WsEcho(&log));
  Start({RouteTo(up.port())});
  auto c = WsClient(port_);
  ASSERT_TRUE(c);
  const int32_t first = c->Open(WsConnect("/ws"));
  ASSERT_TRUE(AwaitAnswer(c.get(), first));
  ASSERT_EQ(c->stream(first).Status(0), "200");
  ASSERT_TRUE(proxy_->Drain(Proxy::DrainFor::kHandover).ok());
  pollfd p{c->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  const int32_t second = c->Open(WsConnect("/ws"));
  ASSERT_TRUE(c->Run([&] { return c->stream(second).closed; }));
  EXPECT_EQ(c->goaway_last(), first);
  EXPECT_TRUE(c->stream(second).blocks.empty());
  EXPECT_EQ(c->stream(second).error, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  // The open tunnel runs on through the drain, and its end closes the connection.
  std::string rx;
  EXPECT_TRUE(Echoes(c.get(), first, "still here", &rx));
  c->Write(first, WsFrame(8, "", "abcd"));
  c->End(first);
  ASSERT_TRUE(c->RunUntilClosed({first}));
  EXPECT_EQ(c->stream(first).error, 0u);
  EXPECT_TRUE(c->Run([&] { return c->eof(); }));
  EXPECT_EQ(proxy_->AwaitConnectionsClosed(Duration(10'000)), 0u);
  EXPECT_EQ(log.upgrades.load(), 1);
}

}  // namespace
}  // namespace slipway::proxy
