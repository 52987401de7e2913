#include "net/tls_client_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <filesystem>

#include "net/openssl_error.h"

namespace slipway::net {

std::string_view Unbracketed(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool IsIpAddress(std::string_view bare) {
  const std::string h(bare);  // inet_pton reads a C string
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool IsIpLiteral(std::string_view host) { return IsIpAddress(Unbracketed(host)); }

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::Create(
    const TlsClientOptions& options) {
  std::shared_ptr<TlsClientContext> c(new TlsClientContext());
  c->verify_ = options.verify;
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!c->ctx_) return Internal("SSL_CTX_new: " + OpenSslError("unknown OpenSSL error"));
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_options(c->ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // The same write contract as the server side (net/transport.h): partial writes, and a
  // retry may come from a buffer that moved.
  SSL_CTX_set_mode(c->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS);
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(c->ctx_, kAlpn, sizeof kAlpn - 1);
  if (!options.verify) {
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_NONE, nullptr);
    return std::shared_ptr<const TlsClientContext>(std::move(c));
  }
  SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(c->ctx_) != 1) {
      return Internal("the system CA store: " + OpenSslError("unknown OpenSSL error"));
    }
    return std::shared_ptr<const TlsClientContext>(std::move(c));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.ca_file, ec)) {
    return InvalidInput(options.ca_file + ": cannot read (no such regular file)");
  }
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(c->ctx_, options.ca_file.c_str(), nullptr) != 1) {
    return InvalidInput(options.ca_file + ": not a PEM certificate bundle (" +
                        OpenSslError("unknown OpenSSL error") + ")");
  }
  return std::shared_ptr<const TlsClientContext>(std::move(c));
}

TlsClientContext::~TlsClientContext() {
  if (ctx_) SSL_CTX_free(ctx_);
}

}  // namespace slipway::net
