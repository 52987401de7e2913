#include "net/tls_client_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace slipway::net {
namespace {

// Reads every certificate of a PEM file into `store`; the count, or -1 with `why` set.
int AddPemCertificates(const std::string& path, X509_STORE* store, std::string* why) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *why = std::strerror(errno);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    return -1;
  }
  if (st.st_size > 16 * 1024 * 1024) {
    *why = "larger than 16 MiB";
    return -1;
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *why = std::strerror(errno);
    return -1;
  }
  int count = 0;
  for (;;) {
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    if (!cert) break;
    if (X509_STORE_add_cert(store, cert) == 1) ++count;
    X509_free(cert);
  }
  std::fclose(f);
  ERR_clear_error();  // the end of the file reads as an error
  if (count == 0) *why = "no PEM certificate in it";
  return count == 0 ? -1 : count;
}

}  // namespace

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::Create(
    const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Internal("TLS client context: out of memory");
  std::shared_ptr<TlsClientContext> self(new TlsClientContext(ctx, ca_file));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // An upstream closing without close_notify ends the stream as a plain socket's EOF does: the
  // HTTP framing (Content-Length, chunked) tells a complete body from a truncated one.
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Callers retry a write with a queue that may have moved and grown (net/transport.h).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ERR_clear_error();
      return Internal("TLS client context: the system trust store cannot be loaded");
    }
  } else {
    std::string why;
    if (AddPemCertificates(ca_file, SSL_CTX_get_cert_store(ctx), &why) < 0)
      return InvalidInput(ca_file + ": " + why + " (expected a PEM file of CA certificates)");
  }
  return std::shared_ptr<const TlsClientContext>(std::move(self));
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

}  // namespace slipway::net
