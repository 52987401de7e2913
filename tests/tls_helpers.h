// TLS helpers for the end-to-end tests: one blocking HTTPS client connection over OpenSSL
// that speaks just enough HTTP/1.1 (keep-alive GETs with a Content-Length answer) to tell
// which certificate a server presents and what it answers.
//
// Header-only; used by the integration_tests binary only. A TlsClient owns its SSL_CTX, SSL
// and socket; one thread at a time.
#pragma once

#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace slipway::testing {

// Verifies the server against `ca_file` when given (without one, any certificate is taken:
// the reload test tells certificates apart by serial number, as they share a name). A read
// waits at most `recv_timeout`.
class TlsClient {
 public:
  explicit TlsClient(const std::string& ca_file,
                     std::chrono::seconds recv_timeout = std::chrono::seconds(10))
      : recv_timeout_(recv_timeout) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient() {
    Close();
    SSL_CTX_free(ctx_);
  }

  // Connects to 127.0.0.1:port with `sni` as the server name (sent and verified).
  bool Connect(int port, const std::string& sni) {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(recv_timeout_.count()), 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, sni.c_str());
    SSL_set1_host(ssl_, sni.c_str());
    host_ = sni;
    return SSL_connect(ssl_) == 1;
  }

  // GET `path` on the open connection (keep-alive); the status, 0 on any failure.
  // closed() then tells whether the server said Connection: close.
  int Get(const std::string& path, std::string* body = nullptr) {
    if (!ssl_) return 0;
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\n\r\n";
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return 0;
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos, want = 0;
    while (head_end == std::string::npos || in.size() < head_end + 4 + want) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return 0;
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        size_t cl = in.find("Content-Length: ");
        if (cl == std::string::npos || cl > head_end) return 0;
        want = std::stoul(in.substr(cl + 16));
      }
    }
    closed_ = in.find("Connection: close") < head_end;
    if (body) *body = in.substr(head_end + 4, want);
    return std::atoi(in.substr(9, 3).c_str());
  }
  bool closed() const { return closed_; }

  // The served certificate's serial number, as hex ("" without one).
  std::string PeerSerial() {
    X509* x = SSL_get1_peer_certificate(ssl_);
    if (!x) return "";
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(x), nullptr);
    char* hex = BN_bn2hex(bn);
    std::string s = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return s;
  }

  void Close() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::chrono::seconds recv_timeout_;
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string host_;
  bool closed_ = false;
};

}  // namespace slipway::testing
