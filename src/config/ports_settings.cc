#include "config/ports_settings.h"

#include <algorithm>

#include "config/compose_names.h"
#include "config/node.h"
#include "config/project.h"
#include "config/values.h"

namespace slipway::config {

std::string_view PortProtocolName(PortProtocol p) { return kPortProtocolNames.Name(p); }

Status ParsePortsSettings(const Node& n, const std::string& path, const std::vector<int>& declared,
                          bool tls_configured, std::map<int, PortProtocol>* out) {
  RETURN_IF_ERROR(
      ExpectMap(n, path, "a mapping of target ports to http, https or tcp, e.g. {5432: tcp}"));
  for (const Node& f : n.children) {
    const std::string fpath = JoinPath(path, f.key);
    std::optional<long long> port = ParseInteger(f.key);
    if (!port || *port < 1 || *port > 65535) {
      return NodeError(f, fpath, Quote(f.key) + " is not a port number",
                       "a target port from 1 to 65535");
    }
    if (std::find(declared.begin(), declared.end(), static_cast<int>(*port)) == declared.end()) {
      return NodeError(f, fpath, "port " + f.key + " is not a port of the service",
                       "a target port listed in ports or expose");
    }
    ASSIGN_OR_RETURN(PortProtocol p, ReadEnum(f, fpath, kPortProtocolNames));
    if (p == PortProtocol::kHttps && !tls_configured) {
      return NodeError(
          f, fpath, "https needs certificates, and x-slipway.tls names none",
          "x-slipway.tls.certificates: [{cert: FILE, key: FILE}] or x-slipway.tls.acme");
    }
    (*out)[static_cast<int>(*port)] = p;
  }
  return Status::OK();
}

std::vector<int> TargetPorts(const Service& service) {
  std::vector<int> out = service.expose;
  for (const PortMapping& p : service.ports) out.push_back(p.target);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

PortProtocol ProtocolOf(const Project& project, const Service& service, int target) {
  if (auto it = service.port_protocols.find(target); it != service.port_protocols.end()) {
    return it->second;
  }
  for (const PortMapping& p : service.ports) {
    if (p.target != target || p.app_protocol.empty()) continue;
    return p.app_protocol == "http" ? PortProtocol::kHttp : PortProtocol::kTcp;
  }
  // An https probe without x-slipway.upstream says the service speaks TLS there, which the
  // proxy passes through as TCP; with `upstream.scheme: https` the proxy speaks it itself.
  // So does `upstream.protocol: h2`: the proxy speaks HTTP/2 to it.
  if (service.upstream.https || service.upstream.protocol == UpstreamProtocol::kH2) {
    return PortProtocol::kHttp;
  }
  if (service.healthcheck.kind == Healthcheck::Kind::kHttp &&
      service.healthcheck.scheme == Healthcheck::Scheme::kHttp) {
    return PortProtocol::kHttp;
  }
  for (const RouteSettings& r : project.routes) {
    if (r.service == service.name) return PortProtocol::kHttp;
  }
  return PortProtocol::kTcp;
}

}  // namespace slipway::config
