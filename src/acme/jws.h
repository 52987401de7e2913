// JWS for ACME (RFC 8555 6.2, RFC 7515 flattened JSON): every POST body is
// {"protected": b64u(header), "payload": b64u(payload), "signature": b64u(ES256 sig)}.
// The header carries alg ES256, the nonce, the URL, and either the account's `jwk` (newAccount,
// before the account has a URL) or its `kid` (the account URL) afterwards. An empty payload
// means POST-as-GET (RFC 8555 6.3).
//
// Pure functions over an EcKey; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "acme/key.h"
#include "base/status.h"

namespace slipway::acme {

std::string Base64Url(std::string_view data);
// Decodes unpadded base64url; nullopt-like failure as a Status.
Result<std::string> Base64UrlDecode(std::string_view text);

// `kid` empty: the header carries the key's JWK instead.
Result<nlohmann::json> SignJws(const EcKey& key, const std::string& kid, const std::string& nonce,
                               const std::string& url, std::string_view payload);

// The key authorization for a challenge token: token "." thumbprint (RFC 8555 8.1).
std::string KeyAuthorization(const EcKey& account_key, std::string_view token);

}  // namespace slipway::acme
