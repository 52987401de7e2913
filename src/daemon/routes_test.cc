#include "daemon/routes.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

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
  ASSERT_EQ(table->listeners.size(), 2u);
  ASSERT_TRUE(proxy::ValidateRouteTable(*table).ok());
  const proxy::Listener* shared = nullptr;
  for (const auto& l : table->listeners) {
    if (l.port == 8080) shared = &l;
  }
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
  ASSERT_EQ(table->listeners.size(), 1u);
  const proxy::Listener& l = table->listeners[0];
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
  auto table = BuildRoutes(p, {Running("web", 4001), admin}, 1, plans,
                           {{"admin", "back at noon"}});
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

}  // namespace
}  // namespace slipway::daemon
