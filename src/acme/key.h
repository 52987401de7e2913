// EcKey: an ECDSA P-256 key (OpenSSL 3 EVP) for the ACME account and for certificates.
//
// The account key signs every ACME request (ES256, see jws.h); its public half is the JWK
// that names the account and whose RFC 7638 thumbprint goes into key authorizations.
// Certificate keys are separate P-256 keys, one per certificate. Keys are written as PKCS#8
// PEM with mode 0600 (written to a temporary file and renamed, so a crash leaves the old key).
//
// An EcKey owns its EVP_PKEY. It is movable, not copyable; Sign() and the getters are const
// and OpenSSL allows concurrent use of one key, so any thread may call them.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::acme {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

class EcKey {
 public:
  static Result<EcKey> Generate();
  static Result<EcKey> FromPem(std::string_view pem, std::string_view what);
  // Reads a PEM key file; refuses a non-P-256 key and a file others can read.
  static Result<EcKey> Load(const std::string& path);
  // The key at `path`, or a new one written there (0600, folders 0700) when the file does not
  // exist.
  static Result<EcKey> LoadOrCreate(const std::string& path);

  Status Save(const std::string& path) const;
  Result<std::string> PrivatePem() const;

  // {"crv":"P-256","kty":"EC","x":...,"y":...} (RFC 7518 6.2.1; x and y are 32 bytes each).
  nlohmann::json Jwk() const;
  // base64url(SHA-256(canonical JWK)) (RFC 7638).
  std::string Thumbprint() const;
  // ES256: SHA-256 then ECDSA, as the 64-byte r||s JWS wants (RFC 7518 3.4), not DER.
  Result<std::string> SignEs256(std::string_view data) const;

  EVP_PKEY* get() const { return key_.get(); }

 private:
  explicit EcKey(PkeyPtr k) : key_(std::move(k)) {}
  PkeyPtr key_;
};

// Creates `dir` and its parents, each 0700 when created.
Status MakePrivateDirs(const std::string& dir);

// Writes `data` to `path` with mode 0600 through a temporary file and rename.
Status WritePrivateFile(const std::string& path, std::string_view data);

// The newest OpenSSL error as text, for messages ("" when none).
std::string OpenSslError();

}  // namespace slipway::acme
