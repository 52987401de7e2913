// RouteTable: the proxy's immutable routing configuration.
//
// The control thread builds a RouteTable, wraps it in std::shared_ptr<const RouteTable> and
// hands it to Proxy::Apply(); from then on nobody mutates it. Workers hold their own
// shared_ptr copy, so a table stays alive while any worker still routes with it. Plain data:
// any thread may read a published table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace slipway::net {
class TlsServerContext;
}
namespace slipway::acme {
class ChallengeTable;
}

namespace slipway::proxy {

struct Backend {
  std::string host = "127.0.0.1";  // IPv4 literal or a name resolved once by Apply()
  int port = 0;
  std::string id;  // e.g. "api.2"; for logs and metrics
};

// TLS to a route's backends (`x-slipway.upstream.scheme: https`). On HTTP listeners the proxy
// connects to each backend with TLS and verifies its certificate against `ca_file` ("" = the
// system trust store) for `server_name`, which is also sent as SNI; with no `server_name`, for
// the backend's IP address (no SNI). TCP listeners copy bytes as they are: TLS passes through.
struct UpstreamTls {
  bool enabled = false;
  std::string ca_file;      // absolute path of a PEM CA bundle; "" = system store
  std::string server_name;  // DNS name; "" = the backend's address
};

// What the proxy speaks to a route's backends (`x-slipway.upstream.protocol`). kH2: HTTP/2,
// cleartext with prior knowledge, or over TLS with ALPN "h2" alone (proxy/h2_upstream.h).
enum class UpstreamProtocol : uint8_t { kHttp1, kH2 };

// A group of interchangeable instances (one release: blue, green, canary).
struct InstanceSet {
  std::string name;
  uint32_t weight = 100;  // relative share among the route's non-draining sets; 0 = none
  std::vector<Backend> backends;
  bool draining = false;  // out of rotation: in-flight requests finish, keep-alive closes
};

struct Route {
  std::string service;
  std::string host;  // Host header to match (case-insensitive, port ignored); "" = any
  std::string path_prefix = "/";
  bool strip_prefix = false;  // "/api/x" with prefix "/api" goes upstream as "/x"
  std::vector<InstanceSet> sets;
  bool maintenance = false;
  std::string maintenance_message;
  std::string health_path = "/health";  // answers 200 even in maintenance
  std::string sticky_cookie;            // cookie naming the set a client sticks to; "" = off
  UpstreamTls upstream_tls;
  UpstreamProtocol upstream_protocol = UpstreamProtocol::kHttp1;
  // Per route, for a listener shared by several sites (the host's ingress, src/ingress):
  // on a plain listener, > 0 answers 308 to https as Listener::https_redirect_port does, for
  // this route only; on a TLS listener, a non-empty `hsts` wins over the listener's.
  int https_redirect_port = 0;
  std::string hsts;
};

// What a listener speaks. kTcp copies bytes both ways to a backend of its one route (a
// database, a broker, anything not HTTP/1.1); host, path, maintenance and sticky settings of
// the route do not apply (proxy/tcp_conn.h).
enum class ListenerMode { kHttp, kTcp };

struct Listener {
  std::string host = "0.0.0.0";
  int port = 0;
  ListenerMode mode = ListenerMode::kHttp;
  std::vector<Route> routes;  // kTcp: exactly one
  // A socket that cannot be opened leaves this listener out (logged once) instead of failing
  // the whole table; the next Apply() tries again. For services' own addresses, which an
  // application binding 0.0.0.0 on the same port may hold.
  bool best_effort = false;
  // HTTPS: connections are TLS, terminated with this context's certificates (chosen by SNI);
  // null = plain HTTP. Shared and immutable: a reload hands the proxy a table with a new
  // context, and connections accepted before keep the old one (net/tls_context.h).
  std::shared_ptr<const net::TlsServerContext> tls;
  // Plain listeners only: > 0 answers every request with 308 to https://<host>[:port]<target>
  // on this port (443 is left out of the URL), except ACME HTTP-01 challenges
  // (/.well-known/acme-challenge/...), which are routed as usual.
  int https_redirect_port = 0;
  // Plain listeners only: GET/HEAD /.well-known/acme-challenge/<token> is answered from this
  // table (the certificate manager's, acme/cert_manager.h) before routing and before the
  // redirect; a token it does not hold is 404. Null: such paths are routed as any other.
  std::shared_ptr<const acme::ChallengeTable> acme_challenges;
  // TLS listeners only: the value of Strict-Transport-Security on every response ("" = none).
  std::string hsts;
  // TLS listeners only: ALPN offers h2 before http/1.1, and a connection that picks it is
  // served by an H2Conn (proxy/h2_conn.h) instead of a ClientConn. Without it, the context
  // may still offer h2 by SNI name (net::TlsServerContext::H2Names): the same H2Conn serves
  // such a connection, the choice being made per connection after the handshake.
  bool http2 = false;
  // TLS listeners shared by several sites (the host's ingress): a request whose Host (or
  // :authority) matches a route of another service than the connection's SNI name does is
  // answered 421 Misdirected Request (RFC 9110 15.5.20) instead of being routed, and so is one
  // whose SNI name matches no route. A client reusing a connection for another name (HTTP/2
  // connection coalescing, or an HTTP/1.1 client sending a Host unlike its SNI) is sent to a
  // new connection rather than served under a certificate and settings chosen for another
  // site. A connection without SNI (an IP literal) is routed by Host alone.
  bool sni_pins_service = false;
  // The peer is the host's ingress (src/ingress), which already set X-Forwarded-Proto and
  // X-Forwarded-Host from the client's connection: pass them on instead of writing this
  // hop's own (plain, loopback) values. Only for a listener nobody else can reach.
  bool trust_forwarded = false;
  // A failed idempotent request is resent once to the same backend when its set has no other
  // (otherwise a retry always goes elsewhere). For the host's ingress, whose backend is a
  // project's keeper-held listener: a connection a dying daemon cut is accepted again by the
  // next daemon. An ordinary backend that just refused or reset would only do it again.
  bool retry_same_backend = false;
};

struct RouteTable {
  std::vector<Listener> listeners;
  uint64_t version = 0;
};

// Checks what Apply() needs: ports in range, no duplicate listener address, prefixes that
// start with '/', set names unique per route, one route per TCP listener. Returns
// InvalidInput naming the problem.
Status ValidateRouteTable(const RouteTable& table);

// "host:port" of a listener: the key that identifies its sockets across tables.
std::string ListenerKey(const Listener& l);

// Index of the route of `listener` for this Host header value and request path: the longest
// matching path prefix among routes whose host matches (an exact host beats ""). -1 if none.
// A prefix matches at a segment boundary: "/api" matches "/api", "/api/x", "/api?q" but not
// "/apix".
int MatchRoute(const Listener& listener, std::string_view host_header, std::string_view path);

// The target to send upstream after prefix stripping ("/api/x?q" → "/x?q", "/api" → "/").
std::string StripPrefix(std::string_view target, std::string_view prefix);

}  // namespace slipway::proxy
