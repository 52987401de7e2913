// TlsTransport: a Transport through OpenSSL (net/transport.h). A server transport starts from a
// TlsServerContext (net/tls_context.h), which it keeps alive: a reload that swaps the
// listener's context leaves connections already open on their own. A client transport (tests,
// the proxy's https:// upstreams) starts from a caller's SSL_CTX (net/tls_client_context.h).
//
// The fd is the caller's and stays open when the transport is destroyed. One thread: the
// fd's loop thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "net/tls_context.h"
#include "net/transport.h"

namespace slipway::net {

class TlsTransport final : public Transport {
 public:
  // Null when OpenSSL cannot allocate the connection.
  static std::unique_ptr<TlsTransport> Accept(std::shared_ptr<const TlsServerContext> ctx, int fd);
  // `ctx` must outlive the transport. `server_name` is sent as SNI when not empty.
  // `verify_name`, when not empty, is what the peer's certificate must cover: a DNS name, or an
  // IP literal matched against its IP addresses (the context must verify peers for it to
  // matter). Null when OpenSSL cannot allocate the connection or refuses the name.
  static std::unique_ptr<TlsTransport> Connect(SSL_CTX* ctx, int fd, std::string_view server_name,
                                               std::string_view verify_name = {});
  ~TlsTransport() override;

  IoResult Handshake() override;
  IoResult Read(char* buf, size_t len) override;
  IoResult Writev(const iovec* iov, int count) override;
  void ShutdownWrite() override;
  bool secure() const override { return true; }

  // After the handshake: "TLSv1.3", the ALPN protocol ("" when none), the SNI name the client
  // sent, whether the session was resumed.
  std::string version() const;
  std::string alpn() const;
  std::string server_name() const;
  bool resumed() const;

 private:
  TlsTransport(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  IoResult Fail(int ret);

  SSL* ssl_;
  int fd_;
  std::shared_ptr<const TlsServerContext> ctx_;
};

}  // namespace slipway::net
