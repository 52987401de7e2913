// API settings: `x-slipway.api`, where the daemon's admin API listens and who may reach it.
//
//   x-slipway:
//     api:
//       listen: 0.0.0.0:8700       # host:port; port 0 picks one, kept across restarts.
//                                  # Without tls: loopback only (127.x, ::1, localhost), the
//                                  # API is never served in clear to the network.
//       tls: {cert: api.pem, key: api.key}   # HTTPS on the TCP listener (any address); the
//                                  # files are checked at load as x-slipway.tls's are
//       hosts: [ops.example.com]   # names accepted in Host besides IP literals and localhost
//                                  # (others get 421: a DNS-rebinding page cannot reach it)
//       public_metrics: true       # GET /metrics without a token (false: the read token)
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/tls_settings.h"

namespace slipway::config {

struct Node;

struct ApiSettings {
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> hosts;
  bool public_metrics = true;
  // The API's own certificate: its name is the operator's (ops.example.com), rarely one of the
  // proxy's, and the API must answer when the proxy serves no HTTPS at all.
  std::optional<TlsCertificateSettings> tls;
};

// True for 127.0.0.0/8, ::1 (bracketed or not) and "localhost".
bool IsLoopbackHost(std::string_view host);

// Parses the `x-slipway.api` mapping at `path`; tls files resolve against `project_dir` and
// are checked at `now_s` (Unix seconds).
Status ParseApiSettings(const Node& n, const std::string& path, const std::string& project_dir,
                        int64_t now_s, ApiSettings* out);

}  // namespace slipway::config
