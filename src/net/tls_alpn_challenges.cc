#include "net/tls_alpn_challenges.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>

#include "net/tls_context.h"

namespace slipway::net {
namespace {

uint16_t Be16(std::string_view s, size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                               static_cast<unsigned char>(s[at + 1]));
}

// Letters, digits, '-' and '.', 1 to 253 bytes: what SNI may carry and an order may name.
bool IsHostName(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The table a context answers from: a heap shared_ptr in the default SSL_CTX's ex_data,
// released with the SSL_CTX.
void FreeTable(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::shared_ptr<const TlsAlpnChallenges>*>(ptr);
}
int TableIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeTable);
  return index;
}

// Marks a connection answered as a validation (only the presence of a value counts).
int ChallengeIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::optional<std::string_view> HelloExtension(SSL* ssl, unsigned type) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, type, &p, &len) != 1) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(p), len);
}

// The first callback of a handshake, before SNI, ALPN and resumption are looked at.
int ClientHelloCallback(SSL* ssl, int* alert, void*) {
  auto* table = static_cast<std::shared_ptr<const TlsAlpnChallenges>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), TableIndex()));
  if (!table || !*table) return SSL_CLIENT_HELLO_SUCCESS;
  AlpnChallengeDecision d =
      InspectAlpnChallenge(HelloExtension(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation),
                           HelloExtension(ssl, TLSEXT_TYPE_server_name), **table);
  switch (d.kind) {
    case AlpnChallengeDecision::Kind::kNormal:
      return SSL_CLIENT_HELLO_SUCCESS;
    case AlpnChallengeDecision::Kind::kRefuse:
      *alert = SSL_AD_UNRECOGNIZED_NAME;
      return SSL_CLIENT_HELLO_ERROR;
    case AlpnChallengeDecision::Kind::kServe:
      break;
  }
  SSL_certs_clear(ssl);
  if (SSL_use_certificate(ssl, d.cert->cert()) != 1 ||
      SSL_use_PrivateKey(ssl, d.cert->key()) != 1) {
    ERR_clear_error();
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_set_ex_data(ssl, ChallengeIndex(), reinterpret_cast<void*>(1));
  // One handshake and nothing after it: no ticket to resume with.
  SSL_set_num_tickets(ssl, 0);
  SSL_set_options(ssl, SSL_OP_NO_TICKET);
  return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace

Status AnswerAlpnChallenges(const TlsServerContext& ctx,
                            std::shared_ptr<const TlsAlpnChallenges> table) {
  if (!table) return InvalidInput("TLS-ALPN-01: no table");
  SSL_CTX* c = ctx.default_ctx();
  auto* held = new std::shared_ptr<const TlsAlpnChallenges>(std::move(table));
  if (SSL_CTX_set_ex_data(c, TableIndex(), held) != 1) {
    delete held;
    return Internal("TLS-ALPN-01: SSL_CTX_set_ex_data failed");
  }
  SSL_CTX_set_client_hello_cb(c, ClientHelloCallback, nullptr);
  return Status::OK();
}

bool IsAlpnChallenge(const SSL* ssl) { return SSL_get_ex_data(ssl, ChallengeIndex()) != nullptr; }

TlsAlpnCertificate::~TlsAlpnCertificate() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

Status TlsAlpnChallenges::Put(const std::string& name, const std::string& cert_pem,
                              const std::string& key_pem) {
  if (!IsHostName(name)) return InvalidInput("TLS-ALPN-01: \"" + name + "\" is not a host name");
  std::shared_ptr<TlsAlpnCertificate> c(new TlsAlpnCertificate);
  BIO* b = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  c->cert_ = b ? PEM_read_bio_X509(b, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(b);
  b = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  c->key_ = b ? PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(b);
  const bool matches = c->cert_ && c->key_ && X509_check_private_key(c->cert_, c->key_) == 1;
  ERR_clear_error();
  if (!matches) {
    return InvalidInput("TLS-ALPN-01 certificate for " + name +
                        ": not a PEM certificate and matching key");
  }
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = Lower(name);
  if (!certs_.count(key) && certs_.size() >= kMaxNames) {
    return FailedPrecondition("TLS-ALPN-01: more than " + std::to_string(kMaxNames) +
                              " validation certificates at once");
  }
  certs_[key] = std::move(c);
  return Status::OK();
}

void TlsAlpnChallenges::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  certs_.erase(Lower(name));
}

std::shared_ptr<const TlsAlpnCertificate> TlsAlpnChallenges::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = certs_.find(name);
  return it == certs_.end() ? nullptr : it->second;
}

size_t TlsAlpnChallenges::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return certs_.size();
}

std::optional<std::vector<std::string_view>> ParseAlpnProtocols(std::string_view ext) {
  if (ext.size() < 2 || Be16(ext, 0) != ext.size() - 2) return std::nullopt;
  std::vector<std::string_view> out;
  size_t at = 2;
  while (at < ext.size()) {
    const size_t len = static_cast<unsigned char>(ext[at]);
    if (len == 0 || at + 1 + len > ext.size()) return std::nullopt;
    out.push_back(ext.substr(at + 1, len));
    at += 1 + len;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string_view> ParseServerName(std::string_view ext) {
  if (ext.size() < 2 || Be16(ext, 0) != ext.size() - 2) return std::nullopt;
  std::optional<std::string_view> host;
  size_t at = 2;
  while (at < ext.size()) {
    if (at + 3 > ext.size()) return std::nullopt;
    const unsigned char type = static_cast<unsigned char>(ext[at]);
    const size_t len = Be16(ext, at + 1);
    if (at + 3 + len > ext.size()) return std::nullopt;
    // RFC 6066: at most one name of a type; host_name (0) is the only type defined.
    if (type == 0) {
      if (host) return std::nullopt;
      host = ext.substr(at + 3, len);
    }
    at += 3 + len;
  }
  if (!host || host->empty() || host->size() > 253) return std::nullopt;
  return host;
}

AlpnChallengeDecision InspectAlpnChallenge(std::optional<std::string_view> alpn_extension,
                                           std::optional<std::string_view> sni_extension,
                                           const TlsAlpnChallenges& table) {
  AlpnChallengeDecision d;
  if (!alpn_extension) return d;
  // A malformed ALPN list is OpenSSL's to refuse, as for any handshake.
  std::optional<std::vector<std::string_view>> protocols = ParseAlpnProtocols(*alpn_extension);
  if (!protocols) return d;
  bool offered = false;
  for (std::string_view p : *protocols) offered |= p == kAcmeTlsAlpnProtocol;
  if (!offered) return d;
  d.kind = AlpnChallengeDecision::Kind::kRefuse;
  if (!sni_extension) {
    d.why = "acme-tls/1 offered without a server name";
    return d;
  }
  std::optional<std::string_view> sni = ParseServerName(*sni_extension);
  if (!sni || !IsHostName(*sni)) {
    d.why = "acme-tls/1 offered with a malformed server name";
    return d;
  }
  std::string name = Lower(*sni);
  if (name.back() == '.') name.pop_back();
  d.cert = table.Find(name);
  if (!d.cert) {
    d.why = "acme-tls/1 offered for " + name + ", which has no pending TLS-ALPN-01 challenge";
    return d;
  }
  d.kind = AlpnChallengeDecision::Kind::kServe;
  d.name = std::move(name);
  return d;
}

}  // namespace slipway::net
