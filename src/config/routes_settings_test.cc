#include "config/routes_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

constexpr char kServices[] = R"(
services:
  web:
    x-slipway: {command: ["web"]}
    ports: ["8080:3000"]
  api:
    x-slipway: {command: ["api"]}
    expose: ["8000"]
    ports: ["9000:8000"]
  admin:
    x-slipway: {command: ["admin"]}
    profiles: [ops]
)";

TEST(RoutesSettingsTest, ParsesEveryField) {
  Result<Project> p = LoadText(std::string(kServices) + R"(
x-slipway:
  routes:
    - {listen: 8080, path: /api/, service: api, strip_prefix: true}
    - {listen: "127.0.0.1:8081", host: Shop.Example.com, service: web, port: 3000}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  ASSERT_EQ(p->routes.size(), 2u);
  const RouteSettings& a = p->routes[0];
  EXPECT_EQ(a.listen_host, "0.0.0.0");
  EXPECT_EQ(a.listen_port, 8080);
  EXPECT_EQ(a.path, "/api");  // trailing slash dropped: the match is by segment anyway
  EXPECT_EQ(a.service, "api");
  EXPECT_TRUE(a.strip_prefix);
  EXPECT_EQ(a.port, 8000);  // from the service's first port
  const RouteSettings& b = p->routes[1];
  EXPECT_EQ(b.listen_host, "127.0.0.1");
  EXPECT_EQ(b.listen_port, 8081);
  EXPECT_EQ(b.host, "shop.example.com");
  EXPECT_EQ(b.path, "/");
  EXPECT_FALSE(b.strip_prefix);
}

TEST(RoutesSettingsTest, RouteToAServiceOutsideTheProfilesIsDroppedWithAWarning) {
  Result<Project> p = LoadText(std::string(kServices) + R"(
x-slipway:
  routes:
    - {listen: 8080, path: /admin, service: admin}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_TRUE(p->routes.empty());
  ASSERT_FALSE(p->warnings.empty());
  EXPECT_NE(p->warnings.back().find("x-slipway.routes[0]"), std::string::npos);
}

TEST(RoutesSettingsTest, WildcardHostLoadsAndOversizedHostIsRefused) {
  Result<Project> p = LoadText(std::string(kServices) + R"(
x-slipway:
  routes:
    - {listen: 8080, host: "*.Shop.example.com", service: web}
)");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->routes[0].host, "*.shop.example.com");
  p = LoadText(std::string(kServices) + "x-slipway:\n  routes:\n    - {listen: 8080, host: " +
               std::string(300, 'a') + ", service: web}\n");
  EXPECT_NE(ErrorOf(p).find("x-slipway.routes[0].host: is longer than 253 characters"),
            std::string::npos)
      << ErrorOf(p);
}

struct BadCase {
  const char* yaml;
  const char* want;  // substring of the one-line error
};

class RoutesSettingsErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(RoutesSettingsErrorTest, NamesFileLineKeyAndExpectation) {
  Result<Project> p =
      LoadText(std::string(kServices) + "x-slipway:\n  routes:\n" + GetParam().yaml);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().ExitCode(), 2);
  const std::string err = ErrorOf(p);
  EXPECT_NE(err.find(GetParam().want), std::string::npos) << err;
  EXPECT_NE(err.find("compose.yaml:"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RoutesSettingsErrorTest,
    ::testing::Values(
        BadCase{"    {listen: 8080}\n", "x-slipway.routes: must be a list"},
        BadCase{"    - {service: api}\n", "x-slipway.routes[0].listen: is required"},
        BadCase{"    - {listen: 8080}\n", "x-slipway.routes[0].service: is required"},
        BadCase{"    - {listen: 70000, service: api}\n", "\"70000\" is not a port"},
        BadCase{"    - {listen: 8080, path: api, service: api}\n", "\"api\" is not a path prefix"},
        BadCase{"    - {listen: 8080, path: /a, service: nope}\n",
                "x-slipway.routes[0].service: service \"nope\" is not defined"},
        BadCase{"    - {listen: 8080, host: \"a:80\", service: api}\n", "is not a host name"},
        BadCase{"    - {listen: 8080, host: \"*.\", service: api}\n",
                "x-slipway.routes[0].host: \"*.\" is not a host name or wildcard"},
        BadCase{"    - {listen: 8080, host: \"a.*.com\", service: api}\n",
                "\"a.*.com\" is not a host name or wildcard"},
        BadCase{"    - {listen: 8080, host: \"**.x\", service: api}\n",
                "\"**.x\" is not a host name or wildcard"},
        BadCase{"    - {listen: 8080, host: \"*\", service: api}\n",
                "\"*\" is not a host name or wildcard"},
        BadCase{"    - {listen: 8080, host: \"*..x\", service: api}\n",
                "\"*..x\" is not a host name or wildcard"},
        BadCase{"    - {listen: 8080, path: /a, service: api, weight: 3}\n",
                "unknown key \"weight\""},
        BadCase{"    - {listen: 8080, path: /a, service: api}\n"
                "    - {listen: 8080, path: /a/, service: web}\n",
                "x-slipway.routes[1]: same listener, host and path as x-slipway.routes[0]"},
        BadCase{"    - {listen: 8080, service: api}\n",
                "listener 8080 already sends every path to web"}));

}  // namespace
}  // namespace slipway::config
