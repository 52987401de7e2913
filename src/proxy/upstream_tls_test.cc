// The proxy's https:// upstreams over real loopback sockets: a keep-alive HTTPS upstream
// (OpenSSL, one thread per connection) with a throwaway PKI (tlsclient/test_tls_server.h).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "proxy/proxy.h"
#include "proxy/proxy_metrics.h"
#include "proxy/test_upstream.h"
#include "tlsclient/test_tls_server.h"

namespace slipway::proxy {
namespace {

using namespace testing;  // NOLINT
using tlsclient::testing::TestPki;

// An HTTPS/1.1 upstream with keep-alive: every request is answered 200 with the body
// "tls <path>" and the headers X-Sni (the name the client sent, "-" for none) and
// X-Seen-Proto (the request's X-Forwarded-Proto). Stop() closes every connection.
class TlsUpstream {
 public:
  bool Start(const TestPki& pki) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_, pki.server_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, pki.server_key.c_str(), SSL_FILETYPE_PEM) != 1)
      return false;
    if (!listener_.ok()) return false;
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return true;
  }
  ~TlsUpstream() { Stop(); }
  void Stop() {
    if (stop_.exchange(true)) return;
    listener_.Shutdown();
    if (accept_thread_.joinable()) accept_thread_.join();
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conn_threads_) t.join();
    listener_.Close();
    SSL_CTX_free(ctx_);
  }
  int port() const { return listener_.port(); }
  int accepts() const { return accepts_.load(); }
  int handshakes_failed() const { return failed_.load(); }

 private:
  void AcceptLoop() {
    // This server writes through OpenSSL's plain socket BIO (write(2)); a proxy that closed
    // first must make that EPIPE, not a SIGPIPE that kills the test binary. Blocked in this
    // thread and, inherited, its connection threads only: the proxy's own threads keep the
    // default action, so a SIGPIPE from the proxy's writes would still fail the test.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    for (int i = 0; i < 10000 && !stop_; ++i) {
      int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      SetTimeouts(fd, 5000);
      ++accepts_;
      std::lock_guard<std::mutex> l(mu_);
      open_.insert(fd);
      conn_threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ++failed_;
    } else {
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      std::string in;
      char buf[16384];
      for (int req = 0; req < 100000 && !stop_; ++req) {
        size_t end;
        while ((end = in.find("\r\n\r\n")) == std::string::npos) {
          int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) goto done;
          in.append(buf, n);
        }
        Head h = ParseHead(std::string_view(in).substr(0, end + 2));
        size_t body = h.Get("content-length").empty() ? 0 : std::stoul(h.Get("content-length"));
        while (in.size() < end + 4 + body) {
          int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) goto done;
          in.append(buf, n);
        }
        in.erase(0, end + 4 + body);
        std::string path = h.start_line.substr(h.start_line.find(' ') + 1);
        path = path.substr(0, path.find(' '));
        std::string text = "tls " + path;
        std::string out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(text.size()) +
                          "\r\nX-Sni: " + (sni ? sni : "-") +
                          "\r\nX-Seen-Proto: " + h.Get("x-forwarded-proto") + "\r\n\r\n" + text;
        if (SSL_write(ssl, out.data(), static_cast<int>(out.size())) <= 0) break;
      }
    }
  done:
    SSL_free(ssl);
    ERR_clear_error();
    {
      std::lock_guard<std::mutex> l(mu_);
      open_.erase(fd);
    }
    close(fd);
  }

  SSL_CTX* ctx_ = nullptr;
  LoopbackListener listener_{64};
  std::atomic<bool> stop_{false};
  std::atomic<int> accepts_{0};
  std::atomic<int> failed_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::set<int> open_;
  std::vector<std::thread> conn_threads_;
};

class UpstreamTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("slipway-upstream-tls-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(TestPki::Make(dir_.string(), &pki_)) << "the openssl command failed";
    ASSERT_TRUE(up_.Start(pki_));
    ProxyOptions opt;
    opt.workers = 1;  // one worker: one pool, so reuse is observable
    registry_ = std::make_unique<telemetry::Registry>(Proxy::ShardsFor(opt.workers));
    auto p = Proxy::Create(opt, registry_.get());
    ASSERT_TRUE(p.ok()) << p.status().message();
    proxy_ = std::move(p).value();
  }
  void TearDown() override {
    proxy_.reset();
    up_.Stop();
    std::filesystem::remove_all(dir_);
  }
  Route TlsRoute(int port, std::string ca, std::string server_name, std::string prefix = "/") {
    Route r;
    r.service = "secure";
    r.path_prefix = std::move(prefix);
    InstanceSet s;
    s.name = "blue";
    s.backends.push_back(Backend{"127.0.0.1", port, "secure.0"});
    r.sets.push_back(s);
    r.upstream_tls.enabled = true;
    r.upstream_tls.ca_file = std::move(ca);
    r.upstream_tls.server_name = std::move(server_name);
    return r;
  }
  Status Apply(std::vector<Route> routes) {
    auto t = std::make_shared<RouteTable>();
    Listener l;
    l.host = "127.0.0.1";
    l.port = port_;
    l.routes = std::move(routes);
    t->listeners.push_back(l);
    RETURN_IF_ERROR(proxy_->Apply(t));
    port_ = proxy_->BoundPort("127.0.0.1", port_).value();
    return Status::OK();
  }
  std::filesystem::path dir_;
  TestPki pki_;
  TlsUpstream up_;
  std::unique_ptr<telemetry::Registry> registry_;
  std::unique_ptr<Proxy> proxy_;
  int port_ = 0;
};

TEST_F(UpstreamTlsTest, VerifiedByAddressAndPooled) {
  ASSERT_TRUE(Apply({TlsRoute(up_.port(), pki_.ca, "")}).ok());
  int fd = ConnectTo(port_);
  ASSERT_GE(fd, 0);
  std::string buf;
  for (int i = 0; i < 20; ++i) {
    ClientResponse r = Exchange(fd, Get("/n" + std::to_string(i)), &buf);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "tls /n" + std::to_string(i));
    EXPECT_EQ(r.head.Get("x-sni"), "-");  // an IP address is never sent as SNI
    EXPECT_EQ(r.head.Get("x-seen-proto"), "http");
  }
  close(fd);
  EXPECT_EQ(up_.accepts(), 1);  // one TLS connection, kept alive, served all 20
  EXPECT_EQ(up_.handshakes_failed(), 0);
}

TEST_F(UpstreamTlsTest, ServerNameIsSentAndVerified) {
  ASSERT_TRUE(Apply({TlsRoute(up_.port(), pki_.ca, "localhost")}).ok());
  ClientResponse r;
  int fd = ConnectTo(port_);
  std::string buf;
  r = Exchange(fd, Get("/x"), &buf);
  close(fd);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.head.Get("x-sni"), "localhost");
}

TEST_F(UpstreamTlsTest, UntrustedCertificateIs502) {
  // Signed by a CA the route does not trust; then a name the certificate does not cover.
  for (auto [ca, name] : {std::pair{pki_.other_ca, std::string()},
                          std::pair{pki_.ca, std::string("wrong.example")}}) {
    ASSERT_TRUE(Apply({TlsRoute(up_.port(), ca, name)}).ok());
    int fd = ConnectTo(port_);
    std::string buf;
    ClientResponse r = Exchange(fd, Get("/x"), &buf);
    close(fd);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 502) << name;
    EXPECT_EQ(r.body, "upstream TLS handshake failed\n") << name;
  }
  EXPECT_NE(registry_->RenderPrometheus().find("kind=\"tls\""), std::string::npos);
}

TEST_F(UpstreamTlsTest, PlainAndTlsNeverShareAPool) {
  // One plain upstream reached by a plain route and by a TLS route: the plain route's idle
  // connection must not carry the TLS route's request (which fails: no TLS there).
  UpstreamServer plain("plain");
  Route p;
  p.service = "plain";
  p.path_prefix = "/plain";
  p.strip_prefix = true;  // the upstream's "/id" answers its name
  InstanceSet s;
  s.name = "blue";
  s.backends.push_back(Backend{"127.0.0.1", plain.port(), "plain.0"});
  p.sets.push_back(s);
  ASSERT_TRUE(Apply({p, TlsRoute(plain.port(), pki_.ca, "", "/tls")}).ok());
  int fd = ConnectTo(port_);
  std::string buf;
  ClientResponse r = Exchange(fd, Get("/plain/id"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  // The plain server waits for a request head that never comes: the handshake times out.
  r = Exchange(fd, Get("/tls/id"), &buf);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.body, "upstream connect timed out\n");
  close(fd);
  fd = ConnectTo(port_);
  buf.clear();
  r = Exchange(fd, Get("/plain/id"), &buf);
  close(fd);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "plain");
}

TEST_F(UpstreamTlsTest, UnreadableCaFileFailsTheApplyNamingIt) {
  Status st = Apply({TlsRoute(up_.port(), (dir_ / "missing.pem").string(), "")});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing.pem"), std::string::npos) << st.message();
  std::string garbage = (dir_ / "garbage.pem").string();
  std::FILE* f = std::fopen(garbage.c_str(), "w");
  std::fputs("not a certificate\n", f);
  std::fclose(f);
  st = Apply({TlsRoute(up_.port(), garbage, "")});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a PEM certificate bundle"), std::string::npos) << st.message();
  Route bad = TlsRoute(up_.port(), pki_.ca, "bad name\r\n");
  st = Apply({bad});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is not a host name"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace slipway::proxy
