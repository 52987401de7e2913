// Routing settings: `x-slipway.routes`, several services behind one published listener by
// Host header and path prefix. Parsed and validated at load time.
//
//   x-slipway:
//     routes:
//       - listen: 8080            # port, or "127.0.0.1:8080"; required
//         path: /api              # path prefix, default "/"; matched at segment boundaries
//         host: shop.example.com  # Host header to match; default any host
//         service: api            # required; must be a service of the project
//         strip_prefix: true      # "/api/x" goes upstream as "/x"; default false
//         port: 8000              # the service's container port (the export's Service port)
//
// A listener may also be a published port of a service (`ports: ["8080:80"]`): that port's
// catch-all route to its service and the listed routes then share the listener. Two routes
// with the same listener, host and path are an error.
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace slipway::config {

struct Node;
struct PortMapping;
struct Project;
struct SourceLoc;

struct RouteSettings {
  std::string listen_host = "0.0.0.0";
  int listen_port = 0;
  std::string host;  // "" = any
  std::string path = "/";
  std::string service;
  bool strip_prefix = false;
  int port = 0;       // container port; 0 = the service's first port target, if any
  std::string where;  // "file:line:col" of the entry, for later messages
};

// `n` is the `routes` value. Checks each entry's shape; the services named are checked by
// CheckRoutes once the services are known.
Status ParseRoutesSettings(const Node& n, const std::string& path, std::vector<RouteSettings>* out);

// A published port the proxy listens on for its service: TCP with a host port.
bool IsProxiedPort(const PortMapping& port);

// True when requests reach `service` through the proxy: a published TCP port or a route. The
// daemon builds the route table from it, and deploys pick their default strategy by it (a
// proxied service is deployed blue-green, anything else recreated).
bool ServedByProxy(const Project& project, const std::string& service);

}  // namespace slipway::config
