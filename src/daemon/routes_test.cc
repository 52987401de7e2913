#include "daemon/routes.h"

#include <gtest/gtest.h>

#include "acme/challenge.h"
#include "config/service_addresses.h"
#include "config/test_support.h"
#include "net/tls_test_certs.h"

namespace slipway::daemon {
namespace {

using config::testing::ErrorOf;
using config::testing::LoadText;

config::Project Load(const std::string& yaml) {
  Result<config::Project> p = LoadText(yaml);
  EXPECT_TRUE(p.ok()) << ErrorOf(p);
  return p.ok() ? std::move(p).value() : config::Project{};
}

engine::ServiceEndpoints Running(const std::string& service, int port) {
  engine::ServiceEndpoints ep;
  ep.service = service;
  ep.started = true;
  engine::GroupEndpoints g;
  g.set = "current";
  g.primary = true;
  g.instances = {{service + ".1", port}};
  ep.groups.push_back(g);
  return ep;
}

// Listeners on published addresses (not the services' own loopback addresses).
std::vector<proxy::Listener> Published(const proxy::RouteTable& t) {
  std::vector<proxy::Listener> out;
  for (const auto& l : t.listeners) {
    if (l.host.rfind(config::AddressBlock("app") + ".", 0) != 0) out.push_back(l);
  }
  return out;
}

const proxy::Listener* Find(const proxy::RouteTable& t, const std::string& host, int port) {
  for (const auto& l : t.listeners) {
    if (l.host == host && l.port == port) return &l;
  }
  return nullptr;
}

constexpr char kShop[] = R"(
services:
  web:
    x-slipway: {command: ["web"]}
    ports: ["8080:3000"]
  api:
    x-slipway: {command: ["api"]}
  admin:
    x-slipway: {command: ["admin"]}
x-slipway:
  routes:
    - {listen: 8080, path: /api, service: api, strip_prefix: true}
    - {listen: 8080, host: admin.example.com, service: admin}
    - {listen: "127.0.0.1:9090", service: admin}
)";

TEST(BuildRoutesTest, RoutesShareThePublishedPortsListener) {
  config::Project p = Load(kShop);
  auto table = BuildRoutes(p, {Running("web", 4001), Running("api", 4002), Running("admin", 4003)},
                           7, {}, {});
  EXPECT_EQ(table->version, 7u);
  ASSERT_EQ(Published(*table).size(), 2u);
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* shared = nullptr;
  for (const auto& l : table->listeners) {
    if (l.port == 8080) shared = &l;
  }
  EXPECT_EQ(shared->mode, proxy::ListenerMode::kHttp);
  ASSERT_NE(shared, nullptr);
  ASSERT_EQ(shared->routes.size(), 3u);
  auto target = [&](std::string_view host, std::string_view path) -> std::string {
    int i = proxy::MatchRoute(*shared, host, path);
    return i < 0 ? "none" : shared->routes[i].service;
  };
  EXPECT_EQ(target("shop.example.com", "/"), "web");
  EXPECT_EQ(target("shop.example.com", "/api/orders"), "api");
  EXPECT_EQ(target("shop.example.com", "/apix"), "web");
  EXPECT_EQ(target("ADMIN.example.com:8080", "/"), "admin");
  int api = proxy::MatchRoute(*shared, "x", "/api");
  EXPECT_TRUE(shared->routes[api].strip_prefix);
  ASSERT_EQ(shared->routes[api].sets.size(), 1u);
  EXPECT_EQ(shared->routes[api].sets[0].backends[0].port, 4002);
}

TEST(BuildRoutesTest, ARouteToAStoppedServiceStaysAndHasNoBackends) {
  config::Project p = Load(kShop);
  auto table = BuildRoutes(p, {Running("web", 4001)}, 1, {}, {});
  // 9090 has only admin, which is not running: no listener. 8080 keeps /api with no sets,
  // so the proxy answers 503 instead of sending /api to web.
  ASSERT_EQ(Published(*table).size(), 1u);
  const std::vector<proxy::Listener> published = Published(*table);
  const proxy::Listener& l = published[0];
  int api = proxy::MatchRoute(l, "x", "/api/v1");
  ASSERT_GE(api, 0);
  EXPECT_EQ(l.routes[api].service, "api");
  EXPECT_TRUE(l.routes[api].sets.empty());
}

TEST(BuildRoutesTest, MaintenanceAndPlansApplyToEveryRouteOfTheService) {
  config::Project p = Load(kShop);
  engine::ServiceEndpoints admin = Running("admin", 4003);
  engine::GroupEndpoints next;
  next.set = "r2";
  next.instances = {{"admin.2", 4004}};
  admin.groups.push_back(next);
  Plans plans;
  plans["admin"].sets["r2"].weight = 10;
  plans["admin"].sets["current"].weight = 90;
  auto table = BuildRoutes(p, {Running("web", 4001), admin}, 1, plans, {{"admin", "back at noon"}});
  int admin_routes = 0;
  for (const auto& l : table->listeners) {
    for (const auto& r : l.routes) {
      EXPECT_EQ(r.maintenance, r.service == "admin") << r.service;
      if (r.service != "admin") continue;
      ++admin_routes;
      EXPECT_EQ(r.maintenance_message, "back at noon");
      ASSERT_EQ(r.sets.size(), 2u);
      EXPECT_EQ(r.sets[0].weight, 90u);
      EXPECT_EQ(r.sets[1].weight, 10u);
    }
  }
  EXPECT_EQ(admin_routes, 2);
}

TEST(BuildRoutesTest, ServiceAddressesListenOnEveryTargetPortTcpUnlessHttp) {
  config::Project p = Load(R"(
services:
  db:
    command: [postgres]
    ports: ["127.0.0.1:15432:5432"]
  api:
    command: [api]
    expose: ["8000", "9000"]
    x-slipway: {healthcheck: {http: /health}, ports: {9000: tcp}}
  web:
    command: [web]
    ports: ["8080:3000"]
  idle:
    command: [idle]
    expose: ["7000"]
x-slipway:
  routes:
    - {listen: 8080, path: /api, service: api}
)");
  engine::ServiceEndpoints db = Running("db", 4001);
  engine::GroupEndpoints next;
  next.set = "r2";
  next.instances = {{"db.2", 4009}};
  db.groups.push_back(next);
  Plans plans;
  plans["db"].sets["current"].weight = 30;
  plans["db"].sets["r2"].weight = 70;
  auto table = BuildRoutes(p, {db, Running("api", 4002), Running("web", 4003)}, 1, plans, {});
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok())
      << proxy::ValidateRouteTable(*table).message();
  auto addrs = config::ServiceAddresses(p);
  ASSERT_TRUE(addrs.ok());
  std::map<std::string, std::string> ip;
  for (const auto& a : *addrs) ip[a.service] = a.ip;

  // The database: published and by name, TCP both, the deploy's weights on both.
  for (const proxy::Listener* l :
       {Find(*table, "127.0.0.1", 15432), Find(*table, ip["db"], 5432)}) {
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->mode, proxy::ListenerMode::kTcp);
    ASSERT_EQ(l->routes.size(), 1u);
    ASSERT_EQ(l->routes[0].sets.size(), 2u);
    EXPECT_EQ(l->routes[0].sets[0].weight, 30u);
    EXPECT_EQ(l->routes[0].sets[1].weight, 70u);
    EXPECT_EQ(l->routes[0].sets[1].backends[0].port, 4009);
  }
  const proxy::Listener* api8000 = Find(*table, ip["api"], 8000);
  ASSERT_NE(api8000, nullptr);
  EXPECT_EQ(api8000->mode, proxy::ListenerMode::kHttp);  // HTTP health check
  const proxy::Listener* api9000 = Find(*table, ip["api"], 9000);
  ASSERT_NE(api9000, nullptr);
  EXPECT_EQ(api9000->mode, proxy::ListenerMode::kTcp);  // forced
  // web has no HTTP sign of its own: TCP by name; its published port is shared with a route,
  // so HTTP there.
  ASSERT_NE(Find(*table, ip["web"], 3000), nullptr);
  EXPECT_EQ(Find(*table, ip["web"], 3000)->mode, proxy::ListenerMode::kTcp);
  ASSERT_NE(Find(*table, "0.0.0.0", 8080), nullptr);
  EXPECT_EQ(Find(*table, "0.0.0.0", 8080)->mode, proxy::ListenerMode::kHttp);
  // Not running: no listener on its address.
  EXPECT_EQ(Find(*table, ip["idle"], 7000), nullptr);
  EXPECT_EQ(table->listeners.size(), 6u);
}

// HTTPS: published ports of an `https` target terminate TLS; other published HTTP listeners
// redirect to the HTTPS port; the services' own addresses stay plain.
TEST(BuildRoutesTest, HttpsPortsGetTheContextAndPlainPortsRedirect) {
  config::testing::TempDir dir;
  const net::testing::TestCert cert = net::testing::MakeTestCert({"shop.example"});
  dir.Write("app/c.pem", cert.cert_pem);
  dir.Write("app/c.key", cert.key_pem);
  dir.Write("app/compose.yaml", R"(
services:
  web:
    x-slipway: {command: ["web"], ports: {3000: https}}
    ports: ["8443:3000", "127.0.0.1:9443:3000"]
  admin:
    x-slipway: {command: ["admin"], ports: {4000: http}}
    ports: ["8080:4000"]
x-slipway:
  tls: {certificates: [{cert: c.pem, key: c.key}], hsts: 180d}
  routes:
    - {listen: 8081, service: web}
)");
  Result<config::Project> p = config::LoadProject(config::testing::OptionsFor(dir.path() / "app"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  auto ctx = net::TlsServerContext::Create(
      {{p->tls.certificates[0].cert, p->tls.certificates[0].key}}, nullptr, std::time(nullptr));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  auto table = BuildRoutes(*p, {Running("web", 4001), Running("admin", 4002)}, 1, {}, {}, *ctx);
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* https = Find(*table, "0.0.0.0", 8443);
  ASSERT_NE(https, nullptr);
  EXPECT_EQ(https->tls, *ctx);
  EXPECT_EQ(https->hsts, "max-age=15552000");
  EXPECT_EQ(https->https_redirect_port, 0);
  const proxy::Listener* local = Find(*table, "127.0.0.1", 9443);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->tls, *ctx);
  for (int port : {8080, 8081}) {
    const proxy::Listener* plain = Find(*table, "0.0.0.0", port);
    ASSERT_NE(plain, nullptr) << port;
    EXPECT_EQ(plain->tls, nullptr);
    EXPECT_EQ(plain->https_redirect_port, 8443) << port;
  }
  for (const auto& l : table->listeners) {
    if (l.best_effort) {  // a service's own address: plain, no redirect
      EXPECT_EQ(l.tls, nullptr) << l.host;
      EXPECT_EQ(l.https_redirect_port, 0) << l.host;
    }
  }
  // Without a context (no certificates loaded) nothing is HTTPS and nothing redirects.
  auto plain = BuildRoutes(*p, {Running("web", 4001), Running("admin", 4002)}, 2, {}, {});
  for (const auto& l : plain->listeners) {
    EXPECT_EQ(l.tls, nullptr);
    EXPECT_EQ(l.https_redirect_port, 0);
  }
  // redirect: false keeps plain ports plain.
  p->tls.redirect = false;
  auto no_redirect =
      BuildRoutes(*p, {Running("web", 4001), Running("admin", 4002)}, 3, {}, {}, *ctx);
  EXPECT_EQ(Find(*no_redirect, "0.0.0.0", 8080)->https_redirect_port, 0);
}

TEST(BuildRoutesTest, PlainHttpListenersAnswerAcmeChallenges) {
  config::testing::TempDir dir;
  dir.Write("app/compose.yaml", R"(
services:
  web:
    x-slipway: {command: ["web"], ports: {3000: https}}
    ports: ["8443:3000"]
  db:
    x-slipway: {command: ["db"], ports: {5432: tcp}}
    ports: ["5432:5432"]
x-slipway:
  tls: {acme: {names: [shop.example.com]}}
  routes:
    - {listen: 8080, service: web}
)");
  Result<config::Project> p = config::LoadProject(config::testing::OptionsFor(dir.path() / "app"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const net::testing::TestCert cert = net::testing::MakeTestCert({"shop.example.com"});
  dir.Write("c.pem", cert.cert_pem);
  dir.Write("c.key", cert.key_pem);
  auto ctx = net::TlsServerContext::Create(
      {{(dir.path() / "c.pem").string(), (dir.path() / "c.key").string()}}, nullptr,
      std::time(nullptr));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  auto challenges = std::make_shared<acme::ChallengeTable>();
  auto table =
      BuildRoutes(*p, {Running("web", 4001), Running("db", 4002)}, 1, {}, {}, *ctx, challenges);
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* plain = Find(*table, "0.0.0.0", 8080);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->acme_challenges, challenges);
  EXPECT_EQ(plain->https_redirect_port, 8443);
  EXPECT_EQ(Find(*table, "0.0.0.0", 8443)->acme_challenges, nullptr);  // TLS
  EXPECT_EQ(Find(*table, "0.0.0.0", 5432)->acme_challenges, nullptr);  // TCP
  for (const auto& l : table->listeners) {
    if (l.best_effort) {  // a service's own address
      EXPECT_EQ(l.acme_challenges, nullptr) << l.host;
    }
  }
  // Without a table (no acme) nothing answers challenges.
  auto none = BuildRoutes(*p, {Running("web", 4001), Running("db", 4002)}, 2, {}, {}, *ctx);
  EXPECT_EQ(Find(*none, "0.0.0.0", 8080)->acme_challenges, nullptr);
}

}  // namespace
}  // namespace slipway::daemon

namespace slipway::daemon {
namespace {

// x-slipway.upstream.scheme: https: the published port is HTTP and its route speaks TLS to the
// instances; the service's own address copies bytes (TLS end to end); other services' routes
// stay plain.
TEST(BuildRoutesTest, HttpsUpstreamsOnPublishedPortsPassThroughByName) {
  config::Project p = Load(R"(
services:
  secure:
    command: [secure]
    ports: ["127.0.0.1:8443:9443"]
    x-slipway: {upstream: {scheme: https, server_name: localhost}}
  web:
    command: [web]
    ports: ["127.0.0.1:8080:3000"]
    x-slipway: {healthcheck: {http: /health}}
)");
  auto table = BuildRoutes(p, {Running("secure", 4001), Running("web", 4002)}, 1, {}, {});
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* pub = Find(*table, "127.0.0.1", 8443);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->mode, proxy::ListenerMode::kHttp);
  ASSERT_EQ(pub->routes.size(), 1u);
  EXPECT_TRUE(pub->routes[0].upstream_tls.enabled);
  EXPECT_EQ(pub->routes[0].upstream_tls.server_name, "localhost");
  EXPECT_EQ(pub->routes[0].upstream_tls.ca_file, "");
  auto addrs = config::ServiceAddresses(p);
  ASSERT_TRUE(addrs.ok());
  for (const auto& a : *addrs) {
    if (a.service != "secure") continue;
    const proxy::Listener* own = Find(*table, a.ip, 9443);
    ASSERT_NE(own, nullptr);
    EXPECT_EQ(own->mode, proxy::ListenerMode::kTcp);
  }
  const proxy::Listener* web = Find(*table, "127.0.0.1", 8080);
  ASSERT_NE(web, nullptr);
  EXPECT_FALSE(web->routes[0].upstream_tls.enabled);
}

// x-slipway.upstream.protocol: h2: the published port is HTTP and its route speaks HTTP/2 to
// the instances; the service's own address copies bytes (clients speak HTTP/2 to it directly);
// other services' routes stay HTTP/1.1.
TEST(BuildRoutesTest, H2UpstreamsOnPublishedPortsPassThroughByName) {
  config::Project p = Load(R"(
services:
  grpc:
    command: [grpc]
    ports: ["127.0.0.1:8443:9443"]
    x-slipway: {upstream: {protocol: h2}}
  web:
    command: [web]
    ports: ["127.0.0.1:8080:3000"]
    x-slipway: {healthcheck: {http: /health}}
)");
  auto table = BuildRoutes(p, {Running("grpc", 4001), Running("web", 4002)}, 1, {}, {});
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* pub = Find(*table, "127.0.0.1", 8443);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->mode, proxy::ListenerMode::kHttp);
  ASSERT_EQ(pub->routes.size(), 1u);
  EXPECT_EQ(pub->routes[0].upstream_protocol, proxy::UpstreamProtocol::kH2);
  EXPECT_FALSE(pub->routes[0].upstream_tls.enabled);
  auto addrs = config::ServiceAddresses(p);
  ASSERT_TRUE(addrs.ok());
  for (const auto& a : *addrs) {
    if (a.service != "grpc") continue;
    const proxy::Listener* own = Find(*table, a.ip, 9443);
    ASSERT_NE(own, nullptr);
    EXPECT_EQ(own->mode, proxy::ListenerMode::kTcp);
  }
  const proxy::Listener* web = Find(*table, "127.0.0.1", 8080);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->routes[0].upstream_protocol, proxy::UpstreamProtocol::kHttp1);
}

}  // namespace
}  // namespace slipway::daemon

namespace slipway::daemon {
namespace {

TEST(BuildRoutesTest, IngressRoutesGetOneTrustedLoopbackListener) {
  config::Project p = Load(R"(
services:
  web:
    x-slipway: {command: ["web"]}
  api:
    x-slipway: {command: ["api"]}
x-slipway:
  ingress: true
  routes:
    - {host: shop.example.com, service: web}
    - {host: shop.example.com, path: /api, service: api, strip_prefix: true}
    - {listen: 8080, host: admin.example.com, service: web}
    - {listen: 8081, service: api}
)");
  auto table = BuildRoutes(p, {Running("web", 4001), Running("api", 4002)}, 1, {}, {});
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* in = Find(*table, IngressUpstreamHost("app"), 0);
  ASSERT_NE(in, nullptr);
  EXPECT_TRUE(in->trust_forwarded);
  EXPECT_EQ(in->https_redirect_port, 0);
  ASSERT_EQ(in->routes.size(), 3u);  // every route with a host; not the host-less one
  int i = proxy::MatchRoute(*in, "shop.example.com", "/api/x");
  ASSERT_GE(i, 0);
  EXPECT_EQ(in->routes[i].service, "api");
  EXPECT_LT(proxy::MatchRoute(*in, "other.example.com", "/"), 0);
  // Routes with a listen keep it; routes without one have no listener of their own.
  EXPECT_NE(Find(*table, "0.0.0.0", 8080), nullptr);
  EXPECT_NE(Find(*table, "0.0.0.0", 8081), nullptr);
  EXPECT_EQ(Find(*table, "0.0.0.0", 0), nullptr);
  EXPECT_EQ(IngressUpstreamHost("app"), config::AddressBlock("app") + ".255");

  // Without x-slipway.ingress, no such listener.
  config::Project plain = Load(R"(
services:
  web:
    x-slipway: {command: ["web"]}
x-slipway:
  routes:
    - {listen: 8080, host: shop.example.com, service: web}
)");
  table = BuildRoutes(plain, {Running("web", 4001)}, 1, {}, {});
  EXPECT_EQ(Find(*table, IngressUpstreamHost("app"), 0), nullptr);
}

}  // namespace
}  // namespace slipway::daemon
