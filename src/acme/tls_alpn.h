// TLS-ALPN-01 (RFC 8737): the self-signed validation certificate a TLS server presents, during
// a handshake that offers ALPN "acme-tls/1" with SNI = the domain, to prove control of it.
//
// The certificate names exactly the domain (subjectAltName dNSName) and carries the critical
// acmeIdentifier extension (id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31) whose value is the DER
// OCTET STRING of SHA-256(key authorization). Serving it is the TLS listener's job; this is
// the pure function that makes it. Any thread.
#pragma once

#include <string>
#include <vector>

#include "acme/key.h"
#include "base/status.h"

namespace slipway::acme {

inline constexpr const char* kAcmeTlsAlpnProtocol = "acme-tls/1";
inline constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

// PEM certificate for `domain`, valid from `now_unix_s` - 1 h for 7 days, key `key`.
Result<std::string> MakeTlsAlpnCertificate(const std::string& domain,
                                           const std::string& key_authorization, const EcKey& key,
                                           int64_t now_unix_s);

// A plain self-signed certificate for `names`, valid from `now_unix_s` - 1 h for 30 days: what
// HTTPS answers with for a name until its certificate is issued (clients reject it, as they
// should, and no handshake is left hanging).
Result<std::string> MakePlaceholderCertificate(const std::vector<std::string>& names,
                                               const EcKey& key, int64_t now_unix_s);

}  // namespace slipway::acme
