// TlsClientContext: the OpenSSL client configuration for TLS connections Slipway opens itself
// over its event loops (the proxy's https:// upstreams), as TlsServerContext is for the ones it
// accepts.
//
// Peers are always verified: against the system trust store, or against `ca_file` alone (a
// private CA) when one is given; there is no switch to turn verification off. TLS 1.2 and 1.3,
// no renegotiation, no compression, ALPN http/1.1. The name each connection must match (a DNS
// name or an IP literal) and its SNI are per connection: see TlsTransport::Connect.
//
// Immutable once created and shared (std::shared_ptr<const ...>): a connection keeps the
// context it started from alive, so a reload that builds a new one leaves open connections
// alone. Create() runs on any thread (it reads files: not on an event loop's hot path); a
// created context may be used from any thread.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace slipway::net {

class TlsClientContext {
 public:
  // `ca_file`: a PEM file of trusted CA certificates replacing the system store; "" = the
  // system store. Errors (InvalidInput) are one line naming the file: unreadable, or no
  // certificate in it.
  static Result<std::shared_ptr<const TlsClientContext>> Create(const std::string& ca_file);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  const std::string& ca_file() const { return ca_file_; }

 private:
  TlsClientContext(SSL_CTX* ctx, std::string ca_file) : ctx_(ctx), ca_file_(std::move(ca_file)) {}
  SSL_CTX* ctx_;
  std::string ca_file_;
};

}  // namespace slipway::net
