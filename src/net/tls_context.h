// TLS server configuration: certificates read from PEM files and checked, one OpenSSL SSL_CTX
// per certificate chosen by SNI, and the session-ticket keys that make resumption work.
//
//  - LoadCertificate() reads a PEM chain and its key and checks them (readable, PEM, the key
//    matches the leaf, valid now); errors are one-line reasons the config loader prefixes with
//    file:line:key.
//  - TlsServerContext is immutable once created and shared (std::shared_ptr<const ...>) by
//    listeners and by every connection accepted through it: a reload builds a new one and new
//    connections use it, while connections already open keep theirs alive until they close.
//    Settings are Mozilla's "intermediate" profile: TLS 1.2 and 1.3, ECDHE AEAD ciphers,
//    X25519/P-256/P-384, ALPN http/1.1 (and h2 for a connection marked by OfferH2, or whose SNI
//    name is one of the context's H2Names), no renegotiation, no server session cache
//    (resumption is by stateless tickets, so workers share no lock for it).
//  - The per-name h2 choice lives in the same immutable context as the certificates, so a
//    reload swaps both at once. OpenSSL runs the SNI callback before ALPN selection: the SNI
//    callback marks the connection as OfferH2 does, and the ALPN callback reads the mark. A
//    TLS-ALPN-01 validation (acme-tls/1) is left as it was: neither its certificate nor its
//    protocol changes.
//  - TicketKeys encrypt session tickets. One instance is shared across reloads (resumption
//    survives a reload); the current key rotates every `period` and the previous one still
//    decrypts (a ticket it opens is renewed with the current key).
//
// Threads: LoadCertificate and Create run on any thread; a created context is used from any
// thread (OpenSSL's SSL_CTX is safe to share once configured); TicketKeys locks internally.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace slipway::net {

// What LoadCertificate found: the host names the certificate covers and its validity.
struct CertificateInfo {
  std::string cert_path;
  std::vector<std::string> names;  // DNS subjectAltNames (the CN when there are none), lowercase
  int64_t not_before = 0;          // Unix seconds
  int64_t not_after = 0;
  // The name used in metrics and messages: the first of `names`, or the cert file name.
  std::string label() const { return names.empty() ? cert_path : names.front(); }
};

struct LoadedCertificate;  // leaf, chain and key (OpenSSL objects), freed with it
struct LoadedCertificateDeleter {
  void operator()(LoadedCertificate* c) const;
};
using LoadedCertificatePtr = std::unique_ptr<LoadedCertificate, LoadedCertificateDeleter>;

// Which of the two files a load error is about.
enum class CertificateFile { kCert, kKey };

struct CertificateError {
  CertificateFile file = CertificateFile::kCert;
  std::string reason;  // e.g. "certs/a.pem: certificate expired on 2026-01-01 00:00:00 UTC"
};

// Reads and checks a certificate chain (PEM, leaf first) and its private key (PEM, not
// encrypted). `now_s` (Unix seconds) decides expired / not yet valid.
struct LoadResult {
  LoadedCertificatePtr cert;  // null on error
  CertificateInfo info;
  CertificateError error;
};
LoadResult LoadCertificate(const std::string& cert_path, const std::string& key_path,
                           int64_t now_s);

class TicketKeys {
 public:
  explicit TicketKeys(Duration period = Duration(12 * 3600 * 1000), Clock* clock = Clock::Real());

  struct Key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> aes;
    std::array<unsigned char, 32> hmac;
  };
  // The key new tickets are sealed with (rotating first when it is due).
  Key Current();
  // The key named `name`, and whether it is the current one; false when unknown (expired).
  bool Find(const unsigned char* name, Key* out, bool* current);
  // Rotates now (tests; an operator's forced rotation).
  void Rotate();

 private:
  void RotateLocked();
  std::mutex mu_;
  Duration period_;
  Clock* clock_;
  MonoTime next_rotation_;
  Key current_{};
  Key previous_{};
  bool has_previous_ = false;
};

class TlsServerContext {
 public:
  struct CertificatePaths {
    std::string cert;
    std::string key;
  };
  // Per host name (exact, or "*.example.com" for one leading label), whether ALPN offers h2
  // to a client whose SNI is that name. For one TLS listener shared by several sites (the
  // host's ingress), where some speak HTTP/2 and some do not: the choice is made by the SNI
  // name, not by the listener. An exact name wins over a wildcard; a name in neither, or no
  // SNI, gets http/1.1 only (unless the connection was marked by OfferH2).
  using H2Names = std::map<std::string, bool>;
  // The first certificate is the default: it answers a client sending no SNI, or a name no
  // certificate covers. `tickets` may be shared with the context this one replaces.
  static Result<std::shared_ptr<const TlsServerContext>> Create(
      const std::vector<CertificatePaths>& certs, std::shared_ptr<TicketKeys> tickets,
      int64_t now_s, const H2Names& h2_names = {});
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  const std::vector<CertificateInfo>& certificates() const { return infos_; }
  // The SSL_CTX accepted connections start from (the default certificate's).
  SSL_CTX* default_ctx() const { return ctxs_.front(); }
  // The context for a server name: exact names first, then "*.rest" for one leading label,
  // then the default.
  SSL_CTX* ForName(std::string_view host) const;
  // Whether ALPN offers h2 to a client whose SNI is `host` (H2Names; same matching as ForName).
  bool OffersH2(std::string_view host) const;
  TicketKeys* tickets() const { return tickets_.get(); }

 private:
  TlsServerContext() = default;
  std::vector<SSL_CTX*> ctxs_;
  std::vector<CertificateInfo> infos_;
  std::unordered_map<std::string, size_t> exact_;      // name → index
  std::unordered_map<std::string, size_t> wildcard_;   // "example.com" for "*.example.com"
  std::unordered_map<std::string, bool> h2_exact_;     // H2Names, lowercase
  std::unordered_map<std::string, bool> h2_wildcard_;  // "example.com" for "*.example.com"
  std::shared_ptr<TicketKeys> tickets_;
};

// Server side, before the handshake: this connection's ALPN offers "h2" before "http/1.1" (a
// listener with HTTP/2 on; the contexts are shared by every listener, so the choice is made per
// connection). Without it only "http/1.1" is chosen.
void OfferH2(SSL* ssl);

// "2026-12-03 07:00:00 UTC".
std::string FormatUtc(int64_t unix_s);

}  // namespace slipway::net
