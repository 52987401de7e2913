#include "daemon/routes.h"

#include <algorithm>

#include "config/ports_settings.h"
#include "config/service_addresses.h"

namespace slipway::daemon {
namespace {

proxy::Route ServiceRoute(const config::Service& svc, const engine::ServiceEndpoints& ep,
                          const Plans& plans, const Maintenance& maintenance) {
  proxy::Route route;
  route.service = svc.name;
  if (svc.healthcheck.kind == config::Healthcheck::Kind::kHttp) {
    route.health_path = svc.healthcheck.http_path;
  }
  if (auto m = maintenance.find(svc.name); m != maintenance.end()) {
    route.maintenance = true;
    route.maintenance_message = m->second;
  }
  route.upstream_tls.enabled = svc.upstream.https;
  route.upstream_tls.ca_file = svc.upstream.ca_file;
  route.upstream_tls.server_name = svc.upstream.server_name;
  route.upstream_protocol = svc.upstream.protocol == config::UpstreamProtocol::kH2
                                ? proxy::UpstreamProtocol::kH2
                                : proxy::UpstreamProtocol::kHttp1;
  auto plan = plans.find(svc.name);
  if (plan != plans.end()) route.sticky_cookie = plan->second.sticky_cookie;
  for (const engine::GroupEndpoints& g : ep.groups) {
    proxy::InstanceSet set;
    set.name = g.set;
    set.weight = g.primary ? 100 : 0;
    if (plan != plans.end()) {
      auto w = plan->second.sets.find(g.set);
      set.weight = w == plan->second.sets.end() ? 0 : w->second.weight;
      set.draining = w != plan->second.sets.end() && w->second.draining;
    }
    for (const auto& [id, instance_port] : g.instances) {
      proxy::Backend b;
      b.id = id;
      b.port = instance_port;
      set.backends.push_back(std::move(b));
    }
    route.sets.push_back(std::move(set));
  }
  return route;
}

}  // namespace

std::optional<proxy::Route> ServiceRouteOf(const config::Project& project,
                                           const std::vector<engine::ServiceEndpoints>& endpoints,
                                           const std::string& service, const Plans& plans,
                                           const Maintenance& maintenance) {
  auto svc = project.services.find(service);
  if (svc == project.services.end()) return std::nullopt;
  for (const engine::ServiceEndpoints& ep : endpoints) {
    if (ep.service == service && ep.started) {
      return ServiceRoute(svc->second, ep, plans, maintenance);
    }
  }
  return std::nullopt;
}

std::string IngressUpstreamHost(const std::string& project_name) {
  return config::AddressBlock(project_name) + ".255";
}

std::shared_ptr<const proxy::RouteTable> BuildRoutes(
    const config::Project& project, const std::vector<engine::ServiceEndpoints>& endpoints,
    uint64_t version, const Plans& plans, const Maintenance& maintenance,
    std::shared_ptr<const net::TlsServerContext> tls,
    std::shared_ptr<const acme::ChallengeTable> acme_challenges) {
  // Listeners keyed by "host:port" so published ports and routes on the same port merge;
  // std::map keeps the table's order stable across rebuilds.
  std::map<std::string, proxy::Listener> listeners;
  auto listener = [&](const std::string& host, int port) -> proxy::Listener& {
    proxy::Listener l;
    l.host = host.empty() ? "0.0.0.0" : host;
    l.port = port;
    auto [it, _] = listeners.emplace(proxy::ListenerKey(l), std::move(l));
    return it->second;
  };
  const bool ingress = project.ingress;
  std::map<std::string, proxy::Route> running;  // service → its route, when started
  for (const engine::ServiceEndpoints& ep : endpoints) {
    auto it = project.services.find(ep.service);
    if (it == project.services.end() || !ep.started) continue;
    running.emplace(ep.service, ServiceRoute(it->second, ep, plans, maintenance));
  }
  for (const auto& [name, route] : running) {
    const config::Service& svc = project.services.at(name);
    for (const config::PortMapping& port : svc.ports) {
      if (!config::IsProxiedPort(port)) continue;
      proxy::Listener& l = listener(port.host_ip, port.published);
      config::PortProtocol proto = config::ProtocolOf(project, svc, port.target);
      if (proto == config::PortProtocol::kTcp) {
        l.mode = proxy::ListenerMode::kTcp;
      } else if (proto == config::PortProtocol::kHttps && tls) {
        l.tls = tls;
        l.http2 = project.tls.http2;
        if (project.tls.hsts_seconds) {
          l.hsts = "max-age=" + std::to_string(*project.tls.hsts_seconds);
        }
      }
      l.routes.push_back(route);
    }
  }
  // Internal listeners: the service's own address, every target port (service names).
  if (Result<std::vector<config::ServiceAddress>> addrs = config::ServiceAddresses(project);
      addrs.ok()) {
    for (const config::ServiceAddress& a : *addrs) {
      auto r = running.find(a.service);
      if (r == running.end()) continue;
      const config::Service& svc = project.services.at(a.service);
      for (int target : config::TargetPorts(svc)) {
        proxy::Listener& l = listener(a.ip, target);
        l.best_effort = true;  // an app holding 0.0.0.0:target must not block the table
        // A service speaking TLS, or HTTP/2 only, is reached through its own address as
        // directly: bytes pass (these listeners speak HTTP/1.1 to clients).
        if (config::ProtocolOf(project, svc, target) == config::PortProtocol::kTcp ||
            svc.upstream.https || svc.upstream.protocol == config::UpstreamProtocol::kH2) {
          l.mode = proxy::ListenerMode::kTcp;
        }
        l.routes.push_back(r->second);
      }
    }
  }
  // A route whose service is not running answers 503 rather than falling through to
  // another route's service: the listener exists as soon as any of its services runs.
  for (const config::RouteSettings& rs : project.routes) {
    proxy::Route route;
    if (auto r = running.find(rs.service); r != running.end()) {
      route = r->second;
    } else {
      route.service = rs.service;
    }
    route.host = rs.host;
    route.path_prefix = rs.path;
    route.strip_prefix = rs.strip_prefix;
    if (ingress && !rs.host.empty()) {
      // The host's ingress forwards this host here (src/ingress); port 0 = the keeper's choice,
      // the same one across daemon restarts (it keys held sockets by the address asked for).
      proxy::Listener& in = listener(IngressUpstreamHost(project.name), 0);
      in.mode = proxy::ListenerMode::kHttp;
      in.trust_forwarded = true;
      in.routes.push_back(route);
    }
    if (rs.listen_port == 0) continue;  // served through the ingress only
    proxy::Listener& l = listener(rs.listen_host, rs.listen_port);
    l.mode = proxy::ListenerMode::kHttp;  // a port routes share is HTTP, whoever publishes it
    l.routes.push_back(std::move(route));
  }
  // Plain published HTTP ports redirect to the HTTPS one.
  int https_port = 0;
  for (const auto& [key, l] : listeners) {
    if (!l.tls) continue;
    if (https_port == 0 || l.port == 443 || (https_port != 443 && l.port < https_port)) {
      https_port = l.port;
    }
  }
  if (project.tls.redirect && https_port > 0) {
    for (auto& [key, l] : listeners) {
      if (!l.tls && !l.best_effort && !l.trust_forwarded && l.mode == proxy::ListenerMode::kHttp) {
        l.https_redirect_port = https_port;
      }
    }
  }
  if (acme_challenges) {
    for (auto& [key, l] : listeners) {
      if (!l.tls && !l.best_effort && l.mode == proxy::ListenerMode::kHttp) {
        l.acme_challenges = acme_challenges;
      }
    }
  }
  auto table = std::make_shared<proxy::RouteTable>();
  table->version = version;
  for (auto& [key, l] : listeners) {
    bool any_running = false;
    for (const proxy::Route& r : l.routes) any_running |= running.count(r.service) > 0;
    if (any_running) table->listeners.push_back(std::move(l));
  }
  return table;
}

}  // namespace slipway::daemon
