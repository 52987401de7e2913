// GET /api/v1/dashboard (api/dashboard_routes.cc) over real loopback sockets: the panels of
// x-slipway.dashboard as declared, none without a project, and a query string is ignored.
#include <gtest/gtest.h>

#include <thread>

#include "api/router.h"
#include "api/routes.h"
#include "config/project.h"
#include "http/client.h"
#include "net/event_loop.h"
#include "net/socket.h"

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
    loop_ = std::move(net::EventLoop::Create()).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok());
    port_ = *net::LocalPort(fd->get());
    server_ = std::move(http::HttpServer::Create(
                            loop_.get(), std::move(fd).value(),
                            [this](const http::Request& r, http::ResponseWriter w) {
                              router_->Dispatch(r, std::move(w), Channel::kUnix);
                            },
                            router_->ServerOptionsFor(Channel::kUnix)))
                  .value();
    thread_ = std::thread([this] { loop_->Run(); });
  }
  void TearDown() override {
    loop_->Post([this] { server_.reset(); });
    loop_->Stop();
    thread_.join();
  }
  http::ClientResponse Get(const std::string& target) {
    http::Request req;
    req.method = "GET";
    req.target = target;
    auto r = http::Fetch({"127.0.0.1", port_, "", nullptr, ""}, req, Duration(5000));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : http::ClientResponse{};
  }

  config::Project project_;
  bool with_project_ = true;
  std::unique_ptr<Router> router_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
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
