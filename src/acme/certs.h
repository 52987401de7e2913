// X.509 functions of the ACME client (OpenSSL 3): the CSR sent at finalize, reading what a
// certificate chain says (names, validity), and verifying a chain against a root.
//
// Pure functions over PEM/DER text; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "acme/key.h"
#include "base/status.h"

namespace slipway::acme {

// A host name an order may name: lower-case letters, digits, '-' and '.', labels of 1-63
// characters, 253 at most, optionally starting with "*." (a wildcard, which needs DNS-01 at
// every CA). One line saying what is wrong otherwise.
Status ValidateDnsName(std::string_view name);

// DER PKCS#10 request for `names` (subject CN = names[0], every name as a DNS SAN), signed
// with `key` (SHA-256). RFC 8555 7.4 sends it base64url in the finalize request.
Result<std::string> MakeCsrDer(const std::vector<std::string>& names, const EcKey& key);

struct CertInfo {
  int64_t not_before_ms = 0;  // Unix milliseconds
  int64_t not_after_ms = 0;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::string issuer;                  // one-line issuer name
};

// The first certificate of a PEM chain.
Result<CertInfo> InspectLeaf(std::string_view chain_pem);

// How many certificates a PEM text holds (0 when none parse).
size_t CountCertificates(std::string_view chain_pem);

// Verifies the chain's leaf against `root_pem` (the chain's other certificates are
// intermediates) for host name `name`. One line saying why when it does not verify.
Status VerifyChain(std::string_view chain_pem, std::string_view root_pem, const std::string& name);

// True when the PEM chain's leaf public key is `key`'s.
bool LeafMatchesKey(std::string_view chain_pem, const EcKey& key);

}  // namespace slipway::acme
