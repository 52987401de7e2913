// Checks of URLs given by users before anything connects to them. Stateless; any thread.
#pragma once

#include <string_view>

namespace slipway::net {

// An https:// URL with a host: the scheme in any case ("HTTPS://" too: RFC 3986 section 3.1
// says schemes are case-insensitive), a non-empty host without userinfo ("user@") and not
// starting with ':', and no control characters or blanks anywhere. Nothing else reaches an
// ACME CA client (an ingress registration's directory, the project's acme.directory).
bool IsHttpsUrl(std::string_view url);

}  // namespace slipway::net
