// API settings: `x-slipway.api`, where the daemon's admin API listens and who may reach it.
//
//   x-slipway:
//     api:
//       listen: 127.0.0.1:8700     # host:port; port 0 picks one, kept across restarts.
//                                  # Loopback only (127.x, ::1, localhost): the API is not
//                                  # served in clear to the network, and has no TLS yet.
//       hosts: [ops.example.com]   # names accepted in Host besides IP literals and localhost
//                                  # (others get 421: a DNS-rebinding page cannot reach it)
//       public_metrics: true       # GET /metrics without a token (false: the read token)
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Node;

struct ApiSettings {
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> hosts;
  bool public_metrics = true;
};

// True for 127.0.0.0/8, ::1 (bracketed or not) and "localhost".
bool IsLoopbackHost(std::string_view host);

// Parses the `x-slipway.api` mapping at `path`.
Status ParseApiSettings(const Node& n, const std::string& path, ApiSettings* out);

}  // namespace slipway::config
