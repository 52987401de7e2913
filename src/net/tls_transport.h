// TlsTransport: a Transport through OpenSSL (net/transport.h). A server transport starts from a
// TlsServerContext (net/tls_context.h), which it keeps alive: a reload that swaps the
// listener's context leaves connections already open on their own. A client transport starts
// from a caller's SSL_CTX (tests), or from a TlsClientContext (net/tls_client_context.h), which
// it keeps alive and which decides whether the peer's certificate is verified, and for which
// name.
//
// The fd is the caller's and stays open when the transport is destroyed. One thread: the
// fd's loop thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "net/tls_client_context.h"
#include "net/tls_context.h"
#include "net/transport.h"

namespace slipway::net {

class TlsTransport final : public Transport {
 public:
  // Null when OpenSSL cannot allocate the connection.
  // `offer_h2`: ALPN may pick "h2" (net::OfferH2).
  static std::unique_ptr<TlsTransport> Accept(std::shared_ptr<const TlsServerContext> ctx, int fd,
                                              bool offer_h2 = false);
  // `ctx` must outlive the transport. `server_name` is sent as SNI when not empty.
  static std::unique_ptr<TlsTransport> Connect(SSL_CTX* ctx, int fd, std::string_view server_name);
  // `name` is the server's name as the caller knows it: sent as SNI unless it is an IP
  // literal, and, when the context verifies, the name the certificate must cover.
  static std::unique_ptr<TlsTransport> Connect(std::shared_ptr<const TlsClientContext> ctx, int fd,
                                               const std::string& name);
  ~TlsTransport() override;
  // Client, before the handshake: ALPN offers "h2" alone (an HTTP/2 upstream). False when
  // OpenSSL refused it.
  bool OfferH2Only();

  IoResult Handshake() override;
  IoResult Read(char* buf, size_t len) override;
  IoResult Writev(const iovec* iov, int count) override;
  void ShutdownWrite() override;
  bool secure() const override { return true; }

  // After the handshake: "TLSv1.3", the ALPN protocol ("" when none), the SNI name the client
  // sent, whether the session was resumed.
  std::string version() const;
  std::string alpn() const;
  std::string server_name() const override;
  bool resumed() const;
  // Why the last kError happened, in one line: "certificate verify failed: self-signed
  // certificate", or OpenSSL's reason ("wrong version number" for a peer speaking clear
  // HTTP). Empty before any error.
  const std::string& error() const { return error_; }

 private:
  TlsTransport(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  IoResult Fail(int ret);
  // After an SSL call: takes what its socket reads said (if it made any) into socket_drained_.
  void NoteSocketRead();

  SSL* ssl_;
  int fd_;
  std::shared_ptr<const TlsServerContext> ctx_;
  std::shared_ptr<const TlsClientContext> client_ctx_;
  std::string error_;
  // The last socket read OpenSSL made for this connection came back short: the socket had
  // nothing more then, and edge-triggering reports anything that arrived since.
  bool socket_drained_ = false;
};

}  // namespace slipway::net
