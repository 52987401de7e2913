// ACME directory selection: the presets a user can name instead of a URL.
//
//   letsencrypt          https://acme-v02.api.letsencrypt.org/directory (the default)
//   letsencrypt-staging  https://acme-staging-v02.api.letsencrypt.org/directory
//   any https:// URL     any other CA (ZeroSSL, Pebble, a private step-ca, ...)
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::acme {

inline constexpr std::string_view kLetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr std::string_view kLetsEncryptStaging =
    "https://acme-staging-v02.api.letsencrypt.org/directory";

// A preset name or an https:// URL -> the directory URL. Anything else is kInvalidInput with
// the accepted forms in the message.
Result<std::string> ResolveDirectory(std::string_view name_or_url);

}  // namespace slipway::acme
