#include "proxy/route_table.h"

#include <cctype>
#include <set>

#include "http/parser.h"

namespace slipway::proxy {

std::string ListenerKey(const Listener& l) { return l.host + ":" + std::to_string(l.port); }

Status ValidateRouteTable(const RouteTable& table) {
  std::set<std::string> keys;
  for (const Listener& l : table.listeners) {
    if (l.port < 0 || l.port > 65535)
      return InvalidInput("listener " + ListenerKey(l) + ": port out of range");
    if (!keys.insert(ListenerKey(l)).second)
      return InvalidInput("listener " + ListenerKey(l) + ": listed twice");
    if (l.mode == ListenerMode::kTcp && l.routes.size() != 1)
      return InvalidInput("listener " + ListenerKey(l) + ": a TCP listener has exactly one route");
    if (l.tls && l.mode != ListenerMode::kHttp)
      return InvalidInput("listener " + ListenerKey(l) + ": TLS is terminated on HTTP listeners");
    if (l.https_redirect_port < 0 || l.https_redirect_port > 65535 ||
        (l.https_redirect_port > 0 && l.tls))
      return InvalidInput("listener " + ListenerKey(l) + ": bad HTTPS redirect port");
    for (const Route& r : l.routes) {
      std::string where = "listener " + ListenerKey(l) + " route " + r.service;
      if (r.path_prefix.empty() || r.path_prefix[0] != '/')
        return InvalidInput(where + ": path prefix must start with '/'");
      for (char c : r.upstream_tls.server_name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
          return InvalidInput(where + ": upstream server name " + r.upstream_tls.server_name +
                              " is not a host name");
      }
      if (r.https_redirect_port < 0 || r.https_redirect_port > 65535)
        return InvalidInput(where + ": bad HTTPS redirect port");
      std::set<std::string> names;
      for (const InstanceSet& s : r.sets) {
        if (!names.insert(s.name).second)
          return InvalidInput(where + ": instance set " + s.name + " listed twice");
        for (const Backend& b : s.backends)
          if (b.port <= 0 || b.port > 65535)
            return InvalidInput(where + ": backend " + b.id + " has no valid port");
      }
    }
  }
  return Status::OK();
}

namespace {

std::string_view HostWithoutPort(std::string_view h) {
  if (!h.empty() && h[0] == '[') {  // [v6]:port
    size_t e = h.find(']');
    return e == std::string_view::npos ? h : h.substr(0, e + 1);
  }
  size_t c = h.rfind(':');
  return c == std::string_view::npos ? h : h.substr(0, c);
}

bool PrefixMatches(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  std::string_view p = prefix;
  if (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  if (path.substr(0, p.size()) != p) return false;
  if (path.size() == p.size()) return true;
  char next = path[p.size()];
  return next == '/' || next == '?';
}

// Whether a route's host ("a.example.com", or "*.example.com" for exactly one label in front
// of example.com, as nginx and Caddy do) matches a Host header's name. An exact host wins over
// a wildcard, which wins over a route for any host (MatchRoute).
bool HostMatches(std::string_view pattern, std::string_view host) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    // "*.example.com": exactly one label in front of ".example.com", as nginx and Caddy do.
    const std::string_view suffix = pattern.substr(1);
    if (host.size() <= suffix.size()) return false;
    const std::string_view label = host.substr(0, host.size() - suffix.size());
    // A label is 1 to 63 characters (RFC 1035): a longer one is no host this route serves.
    return label.size() <= 63 && label.find('.') == std::string_view::npos &&
           http::EqualsIgnoreCase(host.substr(label.size()), suffix);
  }
  return http::EqualsIgnoreCase(pattern, host);
}

}  // namespace

int MatchRoute(const Listener& listener, std::string_view host_header, std::string_view path) {
  std::string_view host = HostWithoutPort(host_header);
  int best = -1;
  size_t best_len = 0;
  int best_rank = -1;
  for (size_t i = 0; i < listener.routes.size(); ++i) {
    const Route& r = listener.routes[i];
    // An exact host wins over a wildcard, which wins over a route for any host.
    const int rank = r.host.empty() ? 0 : r.host[0] == '*' ? 1 : 2;
    if (rank > 0 && !HostMatches(r.host, host)) continue;
    if (!PrefixMatches(path, r.path_prefix)) continue;
    size_t len = r.path_prefix.size();
    if (rank > best_rank || (rank == best_rank && len > best_len)) {
      best = static_cast<int>(i);
      best_len = len;
      best_rank = rank;
    }
  }
  return best;
}

std::string StripPrefix(std::string_view target, std::string_view prefix) {
  std::string_view p = prefix;
  if (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  if (p == "/" || target.substr(0, p.size()) != p) return std::string(target);
  std::string_view rest = target.substr(p.size());
  std::string out;
  out.reserve(rest.size() + 1);
  if (rest.empty() || rest[0] != '/') out.push_back('/');
  out.append(rest);
  return out;
}

}  // namespace slipway::proxy
