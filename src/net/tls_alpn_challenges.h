// TLS-ALPN-01 (RFC 8737) on the server side: the validation certificates a TLS listener
// presents, by name, and the rules for a ClientHello that offers ALPN "acme-tls/1".
//
//  - TlsAlpnChallenges is the table: whoever answers an ACME authorization (acme::CertManager)
//    puts the validation certificate for a name while the authorization is pending and
//    removes it when it ends; TlsServerContext (net/tls_context.h) reads it during
//    handshakes. net knows nothing of ACME: it holds PEM given to it.
//  - AnswerAlpnChallenges makes a TlsServerContext (net/tls_context.h) read the table: a
//    ClientHello callback on its default SSL_CTX (the one every connection starts from, where
//    OpenSSL runs that callback) applies InspectAlpnChallenge. A validation gets the table's
//    certificate alone (every other certificate cleared from the connection, so none can be
//    picked by signature algorithm), ALPN acme-tls/1, no session ticket and no resumption;
//    the context's SNI and ALPN callbacks leave such a connection alone (IsAlpnChallenge),
//    and its TlsTransport reports kEof right after the handshake.
//  - InspectAlpnChallenge decides from the raw ALPN and SNI extensions of a ClientHello:
//    no "acme-tls/1" offered → a normal handshake; offered with an SNI name in the table →
//    the validation certificate and ALPN acme-tls/1, then the connection closes after the
//    handshake (RFC 8737 section 3: no application data); offered with no SNI, a malformed
//    or oversized one, or a name not in the table → the handshake fails (never a fallback to
//    a normal certificate).
//
// Threads: TlsAlpnChallenges locks internally (Put/Remove from the ACME worker, Find from the
// proxy's workers). AnswerAlpnChallenges on the thread that created the context, before it is
// shared. InspectAlpnChallenge and IsAlpnChallenge: any thread (the latter on the thread of
// the connection).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct ssl_st SSL;

namespace slipway::net {

class TlsServerContext;

inline constexpr std::string_view kAcmeTlsAlpnProtocol = "acme-tls/1";

// One validation certificate and its key, parsed once (freed with it).
class TlsAlpnCertificate {
 public:
  ~TlsAlpnCertificate();
  TlsAlpnCertificate(const TlsAlpnCertificate&) = delete;
  TlsAlpnCertificate& operator=(const TlsAlpnCertificate&) = delete;
  X509* cert() const { return cert_; }
  EVP_PKEY* key() const { return key_; }

 private:
  friend class TlsAlpnChallenges;
  TlsAlpnCertificate() = default;
  X509* cert_ = nullptr;
  EVP_PKEY* key_ = nullptr;
};

class TlsAlpnChallenges {
 public:
  // At most this many names at once (an order holds at most 100).
  static constexpr size_t kMaxNames = 1000;

  // From now on a ClientHello offering acme-tls/1 with SNI `name` (a host name, any case) is
  // answered with this certificate (PEM) and key (PEM). Replaces an earlier one for the name.
  // InvalidInput when the name is not a host name, the PEM does not parse or the key does not
  // match; ResourceExhausted past kMaxNames.
  Status Put(const std::string& name, const std::string& cert_pem, const std::string& key_pem);
  // The authorization for `name` ended: its certificate is no longer presented.
  void Remove(const std::string& name);
  // The certificate for `name` (lower-case, no trailing dot), or null.
  std::shared_ptr<const TlsAlpnCertificate> Find(std::string_view name) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const TlsAlpnCertificate>, std::less<>> certs_;
};

// From now on every connection accepted through `ctx` (just created, not yet shared) answers
// TLS-ALPN-01 validations from `table`, which it keeps alive.
Status AnswerAlpnChallenges(const TlsServerContext& ctx,
                            std::shared_ptr<const TlsAlpnChallenges> table);

// Whether `ssl` (a server connection) was answered as a TLS-ALPN-01 validation: nothing but
// the handshake may follow (RFC 8737 section 3).
bool IsAlpnChallenge(const SSL* ssl);

// What a ClientHello asks for, from its raw extensions (the bytes after the extension's type
// and length; nullopt when the extension is absent).
struct AlpnChallengeDecision {
  enum class Kind { kNormal, kServe, kRefuse };
  Kind kind = Kind::kNormal;
  std::shared_ptr<const TlsAlpnCertificate> cert;  // kServe
  std::string name;                                // kServe: the SNI name, lower-case
  std::string why;                                 // kRefuse: one line
};
AlpnChallengeDecision InspectAlpnChallenge(std::optional<std::string_view> alpn_extension,
                                           std::optional<std::string_view> sni_extension,
                                           const TlsAlpnChallenges& table);

// The protocols of an ALPN extension (RFC 7301 3.1), or nullopt when it is malformed.
std::optional<std::vector<std::string_view>> ParseAlpnProtocols(std::string_view extension);
// The host_name of a server_name extension (RFC 6066 3), or nullopt when it is malformed,
// holds no host_name, or the name is empty or longer than 253 bytes.
std::optional<std::string_view> ParseServerName(std::string_view extension);

}  // namespace slipway::net
