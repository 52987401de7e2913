// Test support (header-only, tests only): a throwaway PKI made with the openssl command and a
// tiny HTTPS server on 127.0.0.1 built on OpenSSL, answering every request with a fixed status
// and recording what it received.
//
// TestPki::Make writes a CA, a server certificate for 127.0.0.1/localhost signed by it, a
// client certificate signed by it, and an unrelated second CA into a folder. TestTlsServer
// serves on its own thread (one connection at a time, each bounded by 5 s of inactivity);
// Stop() or the destructor ends it. received() may be read from the test's thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slipway::tlsclient::testing {

struct TestPki {
  std::string dir, ca, ca_key, other_ca, server_cert, server_key, client_cert, client_key;

  // False when the openssl command failed.
  static bool Make(const std::string& dir, TestPki* out) {
    out->dir = dir;
    out->ca = dir + "/ca.pem";
    out->ca_key = dir + "/ca.key";
    out->other_ca = dir + "/other-ca.pem";
    out->server_cert = dir + "/server.pem";
    out->server_key = dir + "/server.key";
    out->client_cert = dir + "/client.pem";
    out->client_key = dir + "/client.key";
    const std::string q = "cd '" + dir + "' && ";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
    std::vector<std::string> cmds = {
        "openssl req -x509" + ec + "-keyout ca.key -out ca.pem -days 2 -subj /CN=TestCA",
        "openssl req -x509" + ec + "-keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=Other",
        "openssl req" + ec + "-keyout server.key -out server.csr -subj /CN=localhost",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext && openssl x509 -req "
        "-in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext "
        "-out server.pem",
        "openssl req" + ec + "-keyout client.key -out client.csr -subj /CN=client",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out client.pem",
    };
    for (const std::string& c : cmds) {
      if (std::system((q + c + " >/dev/null 2>&1").c_str()) != 0) return false;
    }
    return true;
  }
};

class TestTlsServer {
 public:
  // `client_ca` non-empty: a client certificate signed by it is required.
  bool Start(const TestPki& pki, int status, const std::string& client_ca = "") {
    status_ = status;
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_, pki.server_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, pki.server_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return false;
    }
    if (!client_ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, client_ca.c_str(), nullptr) != 1) return false;
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return false;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
    return true;
  }
  ~TestTlsServer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (ctx_) SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  int port() const { return port_; }
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }
  int handshakes_failed() const { return failed_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{5, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) {
        Handle(ssl);
      } else {
        ++failed_;
      }
      SSL_free(ssl);
      close(c);
    }
  }
  void Handle(SSL* ssl) {
    std::string in;
    char buf[4096];
    size_t need = std::string::npos;
    while (in.size() < need) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        size_t cl = 0;
        size_t at = in.find("Content-Length:");
        if (at == std::string::npos) at = in.find("content-length:");
        if (at != std::string::npos && at < end)
          cl = std::strtoul(in.c_str() + at + 15, nullptr, 10);
        need = end + 4 + cl;
      }
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      received_.push_back(in);
    }
    std::string out = "HTTP/1.1 " + std::to_string(status_) +
                      " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    SSL_write(ssl, out.data(), static_cast<int>(out.size()));
    SSL_shutdown(ssl);
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  int status_ = 200;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> received_;
};

}  // namespace slipway::tlsclient::testing
