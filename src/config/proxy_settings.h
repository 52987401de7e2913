// Proxy settings: `x-slipway.proxy`, the reverse proxy's workers, timeouts and limits,
// parsed and validated at load time. Every key is optional; the defaults are the proxy's.
//
//   x-slipway:
//     proxy:
//       workers: 2                 # threads with their own listeners (default: one per core)
//       connect_timeout: 3s        # upstream connect → retry elsewhere or 504
//       response_timeout: 60s      # request sent → response head, else 504
//       request_timeout: 5m        # whole exchange (0 = unlimited)
//       idle_timeout: 60s          # client keep-alive connection with no request
//       header_timeout: 10s        # first byte of a request head to its end (slowloris) → 408
//       max_body: 2GiB             # request body limit → 413 (bytes, or with KiB/MiB/GiB)
//       retry_after: 30            # seconds, in maintenance answers
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::config {

struct Node;

struct ProxySettings {
  std::optional<int> workers;
  std::optional<Duration> connect_timeout;
  std::optional<Duration> response_timeout;
  std::optional<Duration> request_timeout;
  std::optional<Duration> idle_timeout;
  std::optional<Duration> header_timeout;
  std::optional<uint64_t> max_body;
  std::optional<int> retry_after;
};

Status ParseProxySettings(const Node& n, const std::string& path, ProxySettings* out);

}  // namespace slipway::config
