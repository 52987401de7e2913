#include "config/routes_settings.h"

#include <algorithm>
#include <cctype>

#include "config/node.h"
#include "config/project.h"
#include "config/values.h"

namespace slipway::config {
namespace {

// "8080", 8080 or "127.0.0.1:8080".
Status ReadListen(const Node& n, const std::string& path, RouteSettings* r) {
  ASSIGN_OR_RETURN(std::string text, ReadString(n, path));
  std::string port_text = text;
  if (size_t colon = text.rfind(':'); colon != std::string::npos) {
    r->listen_host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (r->listen_host.empty()) r->listen_host = "0.0.0.0";
  }
  auto port = ParseInteger(port_text);
  if (!port || *port < 1 || *port > 65535) {
    return NodeError(n, path, Quote(text) + " is not a port",
                     "a port 1-65535, or host:port such as 127.0.0.1:8080");
  }
  r->listen_port = static_cast<int>(*port);
  return Status::OK();
}

}  // namespace

Status ParseRoutesSettings(const Node& n, const std::string& path,
                           std::vector<RouteSettings>* out) {
  if (!n.IsSeq()) {
    return NodeError(n, path, "must be a list",
                     "a list of {listen, service, path, host, strip_prefix, port}");
  }
  for (size_t i = 0; i < n.children.size(); ++i) {
    const Node& item = n.children[i];
    const std::string ipath = IndexPath(path, i);
    RETURN_IF_ERROR(ExpectMap(item, ipath, "a mapping with listen, service, path, host"));
    RouteSettings r;
    r.where = item.loc.ToString();
    for (const Node& f : item.children) {
      const std::string fpath = JoinPath(ipath, f.key);
      if (f.key == "listen") {
        RETURN_IF_ERROR(ReadListen(f, fpath, &r));
      } else if (f.key == "service") {
        ASSIGN_OR_RETURN(r.service, ReadString(f, fpath));
      } else if (f.key == "path") {
        ASSIGN_OR_RETURN(r.path, ReadString(f, fpath));
        if (r.path.empty() || r.path[0] != '/' ||
            r.path.find_first_of("?# \t") != std::string::npos) {
          return NodeError(f, fpath, Quote(r.path) + " is not a path prefix",
                           "a path starting with '/', without query or spaces, e.g. /api");
        }
        if (r.path.size() > 1 && r.path.back() == '/') r.path.pop_back();
      } else if (f.key == "host") {
        ASSIGN_OR_RETURN(r.host, ReadString(f, fpath));
        if (r.host.find_first_of("/: \t") != std::string::npos) {
          return NodeError(f, fpath, Quote(r.host) + " is not a host name",
                           "a name such as shop.example.com, without port or scheme");
        }
        if (r.host.size() > 253) {
          return NodeError(f, fpath, "is longer than 253 characters", "a host name");
        }
        if (r.host.find('*') != std::string::npos) {
          // "*.example.com" matches one label, as nginx and Caddy do; nothing else is a pattern.
          const std::string_view rest =
              std::string_view(r.host).substr(std::min<size_t>(2, r.host.size()));
          if (r.host.rfind("*.", 0) != 0 || rest.empty() ||
              rest.find('*') != std::string_view::npos || rest.front() == '.' ||
              rest.back() == '.' || rest.find("..") != std::string_view::npos) {
            return NodeError(f, fpath, Quote(r.host) + " is not a host name or wildcard",
                             "shop.example.com, or *.example.com for any one label in front");
          }
        }
        for (char& c : r.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (f.key == "strip_prefix") {
        ASSIGN_OR_RETURN(r.strip_prefix, ReadBool(f, fpath));
      } else if (f.key == "port") {
        ASSIGN_OR_RETURN(r.port, ReadInt(f, fpath));
        if (r.port < 1 || r.port > 65535) return NodeError(f, fpath, "must be a port 1-65535");
      } else {
        return NodeError(f, fpath, "unknown key " + Quote(f.key),
                         "one of listen, service, path, host, strip_prefix, port");
      }
    }
    if (r.service.empty()) {
      return NodeError(item, JoinPath(ipath, "service"), "is required",
                       "the name of the service that answers this route");
    }
    for (size_t j = 0; j < out->size(); ++j) {
      const RouteSettings& o = (*out)[j];
      if (o.listen_port == r.listen_port && o.host == r.host && o.path == r.path) {
        return NodeError(
            item, ipath,
            "same listener, host and path as " + IndexPath(path, j) + " (" + o.where + ")",
            "a different path or host for each route of a listener");
      }
    }
    out->push_back(std::move(r));
  }
  return Status::OK();
}

bool IsProxiedPort(const PortMapping& port) {
  return port.published > 0 && port.protocol == TransportProtocol::kTcp;
}

bool ServedByProxy(const Project& project, const std::string& service) {
  if (auto it = project.services.find(service); it != project.services.end()) {
    const auto& ports = it->second.ports;
    if (std::any_of(ports.begin(), ports.end(), IsProxiedPort)) return true;
  }
  return std::any_of(project.routes.begin(), project.routes.end(),
                     [&](const RouteSettings& r) { return r.service == service; });
}

}  // namespace slipway::config
