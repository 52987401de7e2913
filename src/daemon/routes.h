// The proxy's route table, built from the project and what the engine runs.
//
// Every published port of a running service becomes a listener whose catch-all route goes to
// that service; each `x-slipway.routes` entry adds a (host, path prefix) route to its
// listener, so several services can share one port. A route's instance sets are the
// service's groups (releases): without a deploy's plan the primary set gets all the traffic;
// with one, the plan's weights and draining flags. Maintenance mode is per service and
// applies to every route of that service.
//
// Each running service also gets a listener on its own loopback address
// (config/service_addresses.h) for every target port it declares (`ports` targets and
// `expose`), with the same route and instance sets: `db:5432` from another service follows a
// deploy's weights as the published ports do. A listener is TCP or HTTP by
// config::ProtocolOf (config/ports_settings.h); a listener that x-slipway.routes entries share
// is HTTP.
//
// HTTPS (config/tls_settings.h): a published port whose target is `https` terminates TLS with
// `tls` (null: no certificates loaded, the port serves plain HTTP); internal listeners stay
// plain. With `x-slipway.tls.redirect`, every other published HTTP listener answers 308 to
// the HTTPS port (443 when the project publishes it, else its lowest HTTPS port); TLS
// listeners send Strict-Transport-Security when `hsts` is set. With `acme_challenges` (the
// project orders certificates, daemon/autocert.h) every plain HTTP listener answers ACME
// HTTP-01 challenges from it.
//
// A service with `x-slipway.upstream.scheme: https` (config/upstream_settings.h) gets routes
// whose upstream_tls is set: its HTTP listeners speak TLS to the instances; its internal
// listeners are TCP, so other services speak TLS to it end to end.
//
// Ingress (`x-slipway.ingress: true`, src/ingress): the routes with a host are also put on one
// loopback listener, IngressUpstreamHost(project):0, which the host's ingress forwards those
// hosts to; it trusts the ingress's X-Forwarded-Proto/Host and never redirects (the ingress
// does). A route without `listen` is served there only.
//
// Pure function of its inputs; the daemon calls it on its control loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/project.h"
#include "deploy/traffic.h"
#include "engine/engine.h"
#include "net/tls_context.h"
#include "proxy/route_table.h"

namespace slipway::daemon {

using Plans = std::map<std::string, deploy::TrafficPlan>;  // by service
using Maintenance = std::map<std::string, std::string>;    // service → message

// "127.A.B.255": the project's address block (config/service_addresses.h) past its services.
std::string IngressUpstreamHost(const std::string& project_name);

// The route `service` gets in BuildRoutes' table (its sets with the plan's weights, draining
// marks and sticky cookie; listener-specific fields left at their defaults): what the
// RoutePublisher hands the proxy for a one-service traffic update. nullopt when the service is
// not running or not in the project.
std::optional<proxy::Route> ServiceRouteOf(const config::Project& project,
                                           const std::vector<engine::ServiceEndpoints>& endpoints,
                                           const std::string& service, const Plans& plans,
                                           const Maintenance& maintenance);

std::shared_ptr<const proxy::RouteTable> BuildRoutes(
    const config::Project& project, const std::vector<engine::ServiceEndpoints>& endpoints,
    uint64_t version, const Plans& plans, const Maintenance& maintenance,
    std::shared_ptr<const net::TlsServerContext> tls = nullptr,
    std::shared_ptr<const acme::ChallengeTable> acme_challenges = nullptr);

}  // namespace slipway::daemon
