#include "config/api_settings.h"

#include <cctype>

#include "config/node.h"
#include "config/values.h"
#include "net/host_port.h"

namespace slipway::config {

namespace {

// A Host header name: letters, digits, '-', '.'; no port, no scheme.
bool IsHostName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Status ParseApiSettings(const Node& n, const std::string& path, const std::string& project_dir,
                        int64_t now_s, ApiSettings* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with listen, tls, hosts, public_metrics"));
  const Node* listen = nullptr;
  for (const Node& g : n.children) {
    const std::string gpath = JoinPath(path, g.key);
    if (g.key == "listen") {
      ASSIGN_OR_RETURN(out->listen, ReadString(g, gpath));
      if (!net::SplitHostPort(out->listen)) {
        return NodeError(g, gpath, Quote(out->listen) + " is not an address",
                         "host:port, e.g. 127.0.0.1:8700 (port 0 picks one)");
      }
      listen = &g;
    } else if (g.key == "tls") {
      ASSIGN_OR_RETURN(out->tls, ParseCertificatePair(g, gpath, project_dir, now_s));
    } else if (g.key == "hosts") {
      ASSIGN_OR_RETURN(out->hosts, ReadStringList(g, gpath));
      for (const std::string& h : out->hosts) {
        if (!IsHostName(h)) {
          return NodeError(g, gpath, Quote(h) + " is not a host name",
                           "names like ops.example.com, without scheme or port");
        }
      }
    } else if (g.key == "public_metrics") {
      ASSIGN_OR_RETURN(out->public_metrics, ReadBool(g, gpath));
    } else {
      return NodeError(g, gpath, "unknown key " + Quote(g.key),
                       "one of listen, tls, hosts, public_metrics");
    }
  }
  // The API carries the admin token and deploy commands: never in clear past this host.
  if (listen != nullptr && !out->tls &&
      !IsLoopbackHost(out->listen.substr(0, out->listen.rfind(':')))) {
    return NodeError(*listen, JoinPath(path, "listen"),
                     Quote(out->listen) +
                         " is not a loopback address, and the API serves beyond this host only "
                         "over TLS",
                     "x-slipway.api.tls: {cert: FILE, key: FILE}, or 127.0.0.1:PORT, [::1]:PORT "
                     "or localhost:PORT");
  }
  return Status::OK();
}

}  // namespace slipway::config
