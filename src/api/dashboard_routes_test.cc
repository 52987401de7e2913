// GET /api/v1/dashboard (api/dashboard_routes.cc) over real loopback sockets: the panels of
// x-slipway.dashboard as declared, none without a project, and a query string is ignored.
#include <gtest/gtest.h>

#include "api/router.h"
#include "api/router_test_server.h"
#include "api/routes.h"
#include "config/project.h"

namespace slipway::api {
namespace {

using nlohmann::json;

class DashboardRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = std::make_unique<Router>(RouterOptions{});
    RouteDeps deps;
    deps.project = [this]() -> const config::Project* {
      return with_project_ ? &project_ : nullptr;
    };
    RegisterDashboardRoutes(*router_, deps);
    ASSERT_TRUE(server_.Start(router_.get()).ok());
  }
  http::ClientResponse Get(const std::string& target) { return server_.Call("GET", target); }

  config::Project project_;
  bool with_project_ = true;
  std::unique_ptr<Router> router_;
  RouterTestServer server_;  // after router_: stops before it goes
};

TEST_F(DashboardRoutesTest, PanelsAreServedAsDeclared) {
  auto r = Get("/api/v1/dashboard");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"panels", json::array()}}));
  project_.dashboard.panels.push_back({"Requests", "sum(rate(slipway_http_requests_total[1m]))",
                                       config::PanelUnit::kRequestsPerSecond});
  project_.dashboard.panels.push_back({"Up \"quoted\" <b>", "up", config::PanelUnit::kNone});
  r = Get("/api/v1/dashboard?x=%zz&panels=1");
  ASSERT_EQ(r.status, 200) << r.body;
  json want = {{"panels",
                {{{"title", "Requests"},
                  {"expr", "sum(rate(slipway_http_requests_total[1m]))"},
                  {"unit", "req/s"}},
                 {{"title", "Up \"quoted\" <b>"}, {"expr", "up"}, {"unit", ""}}}}};
  EXPECT_EQ(json::parse(r.body), want);
  with_project_ = false;
  r = Get("/api/v1/dashboard");
  EXPECT_EQ(json::parse(r.body), json({{"panels", json::array()}}));
  EXPECT_EQ(Get("/api/v1/dashboard/x").status, 404);
}

}  // namespace
}  // namespace slipway::api
