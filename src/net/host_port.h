// host:port text, read one way everywhere: the API's listen address, the ingress' listeners and
// its registrations' upstreams, the CLI's --api URL.
//
// The functions only split and range-check; each caller keeps its own rules (port 0 allowed or
// not, loopback only, default host) and its own error text, which names the key or flag the
// text came from. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace slipway::net {

struct HostPort {
  std::string host;  // without IPv6 brackets; may be empty (":8080")
  int port = 0;
};

// A decimal port 0-65535 written as 1 to 5 ASCII digits. strtol would also take "", "+80",
// " 80" and "80abc", which a user never means as a port.
std::optional<int> ParsePort(std::string_view digits);

// Splits "host:port" or "[v6]:port" at the last colon. nullopt without a colon, with a port
// ParsePort refuses, with an opening bracket that does not close right before the colon, or
// with an unbracketed host holding a colon (an IPv6 literal must be bracketed).
std::optional<HostPort> SplitHostPort(std::string_view text);

}  // namespace slipway::net
