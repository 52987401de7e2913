#include "tlsclient/https_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "tlsclient/async_https.h"
#include "tlsclient/test_tls_server.h"

namespace slipway::tlsclient {
namespace {

TlsClientOptions CaOnly(std::string ca) {
  TlsClientOptions o;
  o.ca_file = std::move(ca);
  return o;
}

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(testing::TestPki::Make(dir_, &pki_)) << "openssl could not make the test PKI";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  HttpsRequest Post(int port, const std::string& path) {
    HttpsRequest r;
    r.method = "POST";
    r.url = "https://127.0.0.1:" + std::to_string(port) + path;
    r.body = R"({"text":"hello"})";
    r.headers.emplace_back("Content-Type", "application/json");
    r.timeout = Duration(5000);
    return r;
  }

  std::string dir_;
  testing::TestPki pki_;
};

TEST_F(HttpsClientTest, PostsToAServerSignedByTheConfiguredCa) {
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 200));
  HttpsClient client(CaOnly(pki_.ca));
  auto r = client.Do(Post(server.port(), "/hook/T0/secret-token"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  ASSERT_EQ(server.received().size(), 1u);
  const std::string got = server.received()[0];
  EXPECT_EQ(got.rfind("POST /hook/T0/secret-token HTTP/1.1\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\n{\"text\":\"hello\"}"), std::string::npos) << got;
  EXPECT_NE(got.find("User-Agent: slipway"), std::string::npos);
}

TEST_F(HttpsClientTest, WrongCaFailsInOneLineWithoutThePath) {
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 200));
  HttpsClient client(CaOnly(pki_.other_ca));
  auto r = client.Do(Post(server.port(), "/hook/T0/secret-token"));
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret-token"), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://127.0.0.1:" + std::to_string(server.port())), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("certificate"), std::string::npos) << msg;
  EXPECT_TRUE(server.received().empty());
}

TEST_F(HttpsClientTest, SystemStoreDoesNotTrustAPrivateCa) {
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 200));
  HttpsClient client;
  auto r = client.Do(Post(server.port(), "/x"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().message();
}

TEST_F(HttpsClientTest, ClientCertificateIsSentWhenConfigured) {
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 204, pki_.ca));
  HttpsClient without(CaOnly(pki_.ca));
  EXPECT_FALSE(without.Do(Post(server.port(), "/x")).ok());
  TlsClientOptions opts = CaOnly(pki_.ca);
  opts.client_cert = pki_.client_cert;
  opts.client_key = pki_.client_key;
  HttpsClient with(opts);
  auto r = with.Do(Post(server.port(), "/x"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 204);
}

TEST_F(HttpsClientTest, UnreadableFilesAndBadUrlsAreInvalidInput) {
  HttpsClient missing(CaOnly(dir_ + "/nope.pem"));
  auto r = missing.Do(Post(1, "/x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("nope.pem"), std::string::npos);

  TlsClientOptions half_opts;
  half_opts.client_cert = pki_.client_cert;
  HttpsClient half(half_opts);
  EXPECT_EQ(half.Validate().code(), StatusCode::kInvalidInput);

  HttpsClient plain;
  HttpsRequest bad;
  bad.url = "ftp://example.org/x";
  EXPECT_EQ(plain.Do(bad).status().code(), StatusCode::kInvalidInput);
}

TEST_F(HttpsClientTest, RefusedConnectionIsUnavailable) {
  // Bind and close a port so nothing listens there.
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 200));
  const int port = server.port();
  server.Stop();
  HttpsClient client(CaOnly(pki_.ca));
  auto r = client.Do(Post(port, "/tok"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().find("/tok"), std::string::npos) << r.status().message();
}

// A server that never answers (a listening socket nobody accepts from: the TLS hello waits
// for ever): a cancel raised 100 ms into the exchange ends it at once with kAborted, not at the
// progress callback's next call (once a second while nothing moves) nor at the timeout. Also
// an exchange cancelled before it starts never connects, and a cancel signal that is never
// raised changes nothing (the same request answered as without one).
TEST_F(HttpsClientTest, ACancelEndsAnExchangeWithASilentServerAtOnce) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  HttpsClient client(CaOnly(pki_.ca));
  HttpsRequest req = Post(ntohs(addr.sin_port), "/x");
  req.timeout = Duration(20'000);
  CancelSignal cancel;
  req.cancel = &cancel;
  std::thread raiser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.Raise();
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = client.Do(req);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  raiser.join();
  ::close(fd);
  std::printf("an exchange with a silent server cancelled after 100 ms ended after %lld ms\n",
              static_cast<long long>(took));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAborted) << r.status().message();
  EXPECT_EQ(r.status().message().find("/x"), std::string::npos) << "the path is not shown";
  EXPECT_LT(took, 400) << "the cancel was seen late";

  // Raised before the exchange: nothing is attempted.
  auto again = client.Do(req);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAborted);

  // Never raised: the exchange is what it is without one.
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 200));
  CancelSignal quiet;
  HttpsRequest ok = Post(server.port(), "/hook");
  ok.cancel = &quiet;
  auto answered = client.Do(ok);
  ASSERT_TRUE(answered.ok()) << answered.status().message();
  EXPECT_EQ(answered->status, 200);
  EXPECT_EQ(answered->body, "ok");
}

TEST(OriginOfTest, DropsUserInfoPathAndQuery) {
  EXPECT_EQ(OriginOf("https://u:p@hooks.slack.com/services/T/B/X?a=1"), "https://hooks.slack.com");
  EXPECT_EQ(OriginOf("https://[::1]:8443/x"), "https://[::1]:8443");
  EXPECT_EQ(OriginOf("http://h:1?token=x"), "http://h:1");
  EXPECT_EQ(OriginOf("garbage"), "(not a URL)");
}

TEST_F(HttpsClientTest, AsyncHttpsPostsResultsBack) {
  testing::TestTlsServer server;
  ASSERT_TRUE(server.Start(pki_, 200));
  std::promise<int> got;
  {
    AsyncHttps async([](std::function<void()> fn) { fn(); });
    async.Submit(HttpsClient(CaOnly(pki_.ca)), Post(server.port(), "/a"),
                 [&](Result<HttpsResponse> r) { got.set_value(r.ok() ? r->status : -1); });
    auto f = got.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(f.get(), 200);
  }
}

}  // namespace
}  // namespace slipway::tlsclient
