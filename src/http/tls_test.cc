// HttpServer and the HTTP client over TLS (net::TlsTransport): verified and unverified
// clients, a wrong CA, a wrong name, IP names, a clear-text request on the TLS port, a TLS
// client on a clear port, a stalled handshake, a large answer, a certificate swap.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <optional>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "net/socket.h"
#include "net/tls_test_certs.h"

namespace slipway::http {
namespace {

using net::testing::MakeTestCert;
using net::testing::TestCert;
using net::testing::WriteTestFile;

class HttpTls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-http-tls-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    loop_ = std::move(net::EventLoop::Create()).value();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Writes a certificate pair named `stem` and returns its paths.
  net::TlsServerContext::CertificatePaths Cert(const std::string& stem,
                                               const std::vector<std::string>& names) {
    TestCert c = MakeTestCert(names);
    std::string cert = (dir_ / (stem + ".pem")).string();
    std::string key = (dir_ / (stem + ".key")).string();
    WriteTestFile(cert, c.cert_pem);
    WriteTestFile(key, c.key_pem);
    return {cert, key};
  }
  std::shared_ptr<const net::TlsServerContext> Context(
      const net::TlsServerContext::CertificatePaths& p) {
    auto ctx =
        net::TlsServerContext::Create({p}, std::make_shared<net::TicketKeys>(), std::time(nullptr));
    SLIPWAY_CHECK(ctx.ok());
    return std::move(ctx).value();
  }
  void Serve(std::shared_ptr<const net::TlsServerContext> tls,
             Duration request_timeout = Duration(10000)) {
    auto fd = net::ListenTcp("127.0.0.1", 0);
    SLIPWAY_CHECK(fd.ok());
    port_ = net::LocalPort(fd->get()).value();
    ServerOptions opt;
    opt.tls = std::move(tls);
    opt.request_timeout = request_timeout;
    server_ = std::move(HttpServer::Create(
                            loop_.get(), std::move(fd).value(),
                            [this](const Request& req, ResponseWriter w) {
                              ++requests_;
                              if (req.Path() == "/big") {
                                w.Send(Response::Text(200, std::string(3 << 20, 'x')));
                                return;
                              }
                              w.Send(Response::Text(200, "hello " + req.target));
                            },
                            opt))
                  .value();
  }
  Endpoint Ep(const std::string& ca_file, bool verify, const std::string& name = "") {
    Endpoint ep;
    ep.host = "127.0.0.1";
    ep.port = port_;
    auto ctx = net::TlsClientContext::Create({ca_file, verify});
    SLIPWAY_CHECK(ctx.ok());
    ep.tls = std::move(ctx).value();
    ep.tls_name = name;
    return ep;
  }
  Result<ClientResponse> Get(const Endpoint& ep, const std::string& target = "/x") {
    Request req;
    req.target = target;
    std::optional<Result<ClientResponse>> got;
    FetchAsync(loop_.get(), ep, req, Duration(5000),
               [&](Result<ClientResponse> r) { got = std::move(r); });
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!got && std::chrono::steady_clock::now() < end) loop_->RunOnce(Duration(10));
    if (!got) return DeadlineExceeded("test: no answer");
    return std::move(*got);
  }
  // Runs the loop (the server) while `client` runs on another thread.
  template <typename Fn>
  auto WhileServing(Fn client) {
    std::atomic<bool> done{false};
    decltype(client()) out{};
    std::thread t([&] {
      out = client();
      done = true;
    });
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!done && std::chrono::steady_clock::now() < end) loop_->RunOnce(Duration(10));
    t.join();
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  int requests_ = 0;
};

TEST_F(HttpTls, VerifiedClientGetsAnAnswerByNameAndByIp) {
  auto pair = Cert("a", {"api.test", "IP:127.0.0.1"});
  Serve(Context(pair));
  auto r = Get(Ep(pair.cert, true, "api.test"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello /x");
  r = Get(Ep(pair.cert, true));  // the host, 127.0.0.1, against the IP name
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "hello /x");
}

TEST_F(HttpTls, WrongCaOrWrongNameFailsTheHandshakeWithTheReason) {
  auto pair = Cert("a", {"api.test"});
  auto other = Cert("b", {"api.test"});
  Serve(Context(pair));
  auto r = Get(Ep(other.cert, true, "api.test"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS handshake failed: certificate verify failed"),
            std::string::npos)
      << r.status().message();
  r = Get(Ep(pair.cert, true, "other.test"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos)
      << r.status().message();
  r = Get(Ep(pair.cert, true));  // 127.0.0.1: the certificate names no IP
  ASSERT_FALSE(r.ok());
  // The system store does not know a self-signed certificate either.
  r = Get(Ep("", true, "api.test"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(requests_, 0);
  // Unverified: encrypted, any certificate.
  r = Get(Ep("", false));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTls, ClearTextRequestOnTheTlsPortIsClosedAndTheServerGoesOn) {
  auto pair = Cert("a", {"api.test"});
  Serve(Context(pair));
  Endpoint plain;
  plain.host = "127.0.0.1";
  plain.port = port_;
  auto r = Get(plain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().message();
  EXPECT_EQ(requests_, 0);
  EXPECT_EQ(server_->connection_count(), 0u);
  r = Get(Ep(pair.cert, true, "api.test"));
  ASSERT_TRUE(r.ok()) << r.status().message();
}

TEST_F(HttpTls, TlsClientOnAClearPortFailsTheHandshake) {
  Serve(nullptr);
  auto r = Get(Ep("", false));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("TLS handshake failed"), std::string::npos)
      << r.status().message();
}

TEST_F(HttpTls, StalledHandshakeIsDroppedAfterTheRequestTimeout) {
  auto pair = Cert("a", {"api.test"});
  Serve(Context(pair), Duration(200));
  auto fd = net::ConnectTcp("127.0.0.1", port_);
  ASSERT_TRUE(fd.ok());
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->connection_count() == 0 && std::chrono::steady_clock::now() < end) {
    loop_->RunOnce(Duration(10));
  }
  ASSERT_EQ(server_->connection_count(), 1u);
  while (server_->connection_count() > 0 && std::chrono::steady_clock::now() < end) {
    loop_->RunOnce(Duration(10));
  }
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST_F(HttpTls, LargeAnswerCrossesPartialWrites) {
  auto pair = Cert("a", {"api.test"});
  Serve(Context(pair));
  auto r = Get(Ep(pair.cert, true, "api.test"), "/big");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.size(), 3u << 20);
  // The blocking client too (its own loop), from another thread.
  Endpoint ep = Ep(pair.cert, true, "api.test");
  size_t size = WhileServing([&] {
    Request req;
    req.target = "/big";
    auto b = Fetch(ep, req, Duration(10'000));
    return b.ok() ? b->body.size() : size_t{0};
  });
  EXPECT_EQ(size, 3u << 20);
}

TEST_F(HttpTls, BothTlsVersionsAndOnlyThem) {
  auto pair = Cert("a", {"api.test"});
  Serve(Context(pair));
  auto handshake = [&](int min, int max) {
    return WhileServing([&] {
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_security_level(ctx, 0);
      SSL_CTX_set_min_proto_version(ctx, min);
      SSL_CTX_set_max_proto_version(ctx, max);
      std::string version;
      int f = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      timeval tv{5, 0};
      setsockopt(f, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (connect(f, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, f);
        if (SSL_connect(ssl) == 1) version = SSL_get_version(ssl);
        SSL_free(ssl);
      }
      close(f);
      SSL_CTX_free(ctx);
      return version;
    });
  };
  EXPECT_EQ(handshake(TLS1_2_VERSION, TLS1_2_VERSION), "TLSv1.2");
  EXPECT_EQ(handshake(TLS1_3_VERSION, TLS1_3_VERSION), "TLSv1.3");
  EXPECT_EQ(handshake(TLS1_VERSION, TLS1_1_VERSION), "");
}

TEST_F(HttpTls, SetTlsServesTheNewCertificateToNewConnections) {
  auto a = Cert("a", {"api.test"});
  auto b = Cert("b", {"api.test"});
  Serve(Context(a));
  ASSERT_TRUE(Get(Ep(a.cert, true, "api.test")).ok());
  server_->SetTls(Context(b));
  EXPECT_FALSE(Get(Ep(a.cert, true, "api.test")).ok());
  auto r = Get(Ep(b.cert, true, "api.test"));
  ASSERT_TRUE(r.ok()) << r.status().message();
}

TEST(TlsClientContext, CaFileErrorsAreOneLine) {
  auto missing = net::TlsClientContext::Create({"/nonexistent/ca.pem", true});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(missing.status().message().find("/nonexistent/ca.pem: cannot read"), std::string::npos);
  std::string junk = std::filesystem::temp_directory_path() /
                     ("slipway-junk-ca-" + std::to_string(getpid()) + ".pem");
  WriteTestFile(junk, "not a certificate\n");
  auto bad = net::TlsClientContext::Create({junk, true});
  std::filesystem::remove(junk);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a PEM certificate bundle"), std::string::npos)
      << bad.status().message();
  EXPECT_EQ(bad.status().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace slipway::http
