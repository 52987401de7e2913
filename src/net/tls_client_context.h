// TlsClientContext: the settings of outgoing TLS connections made on an event loop (the HTTP
// client's https:// requests: health probes, the CLI talking to a remote API). One OpenSSL
// SSL_CTX: TLS 1.2 or 1.3, peer verification against the system CA store or a PEM bundle,
// or — only when asked, for a probe that checks that TLS is served — no verification.
//
// The name a connection checks is given per connection (TlsTransport::Connect): an IP literal
// is checked against the certificate's IP subjectAltNames, a host name against its DNS ones.
//
// Immutable once created and shared (std::shared_ptr<const ...>): every connection keeps the
// context it started from alive. Create on any thread; use from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace slipway::net {

struct TlsClientOptions {
  // A PEM file of trusted certificates; empty = the system store (OpenSSL's default paths).
  std::string ca_file;
  // false: the handshake accepts any certificate (the connection is encrypted, not
  // authenticated). Never the default.
  bool verify = true;
};

class TlsClientContext {
 public:
  // Errors: the CA file cannot be read or holds no certificate ("ca.pem: ...").
  static Result<std::shared_ptr<const TlsClientContext>> Create(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  bool verify() const { return verify_; }

 private:
  TlsClientContext() = default;
  SSL_CTX* ctx_ = nullptr;
  bool verify_ = true;
};

// `host` without the brackets of an IPv6 literal ("[::1]" → "::1"); any other name as it is.
std::string_view Unbracketed(std::string_view host);
// True when `bare` (no brackets) is an IPv4 or IPv6 address.
bool IsIpAddress(std::string_view bare);
// True when `host` is an IPv4 or IPv6 literal, brackets allowed: such a name is checked
// against IP subjectAltNames and is never sent as SNI, and cannot be a DNS name.
bool IsIpLiteral(std::string_view host);

}  // namespace slipway::net
