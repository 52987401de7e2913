// Upstream settings: `services.<s>.x-slipway.upstream`, how the proxy speaks to the service's
// instances.
//
//   services:
//     api:
//       ports: ["443:8443"]
//       x-slipway:
//         upstream:
//           scheme: https           # http (default) | https: the instances speak TLS
//           ca_file: certs/ca.pem   # trusted CAs (PEM) instead of the system store
//           server_name: api.internal   # SNI and the name the certificate must cover
//           protocol: h2            # http1 (default) | h2: the instances speak HTTP/2 only
//
// With `scheme: https` the proxy connects to each instance with TLS on its HTTP listeners
// (published ports, `x-slipway.routes`) and verifies the instance's certificate: for
// `server_name` when set (also sent as SNI), else for the instance's address, 127.0.0.1.
// The service's ports are HTTP unless `x-slipway.ports` says otherwise; its internal
// (service-to-service) listeners copy bytes, so other services speak TLS to it end to end.
// `ca_file` is read and checked at load time. An HTTP health check (`x-slipway.healthcheck.http`)
// probes in clear, so it is refused for such a service: use `tcp: true` or a compose `test`.
//
// `protocol: h2` makes the proxy speak HTTP/2 to the instances (gRPC and other h2-only
// servers): cleartext with prior knowledge (RFC 9113 section 3.3) under `scheme: http`, ALPN
// "h2" alone under `scheme: https`. Its ports are then HTTP, and refused as TCP
// (`x-slipway.ports`); its internal listeners copy bytes, so other services speak h2 to it
// directly.
//
// Plain data owned by config::Service; any thread may read it.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace slipway::config {

struct Node;

// What the proxy speaks to the instances (`protocol`).
enum class UpstreamProtocol : uint8_t { kHttp1, kH2 };

struct UpstreamSettings {
  bool https = false;  // scheme: https
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  std::string ca_file;      // absolute (resolved against the project folder); "" = system store
  std::string server_name;  // "" = verify the instance's address, send no SNI
};

// Parses `x-slipway.upstream` at `path`; a relative `ca_file` resolves against `project_dir`.
Status ParseUpstreamSettings(const Node& n, const std::string& path, const std::string& project_dir,
                             UpstreamSettings* out);

}  // namespace slipway::config
