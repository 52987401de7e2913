// End-to-end: x-slipway.routes puts several services behind one listener, and
// `slipway maintenance` answers a service's requests with 503 while its health path keeps
// answering. Real daemon, real testapp processes, real sockets.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"
#include "http/client.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

struct Answer {
  int status = 0;
  std::string body;
  std::string retry_after;
  std::string content_type;
};

Answer Get(int port, const std::string& path, const std::string& host = "",
           const std::string& accept = "") {
  http::Endpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  http::Request req;
  req.target = path;
  if (!host.empty()) req.headers.emplace_back("Host", host);
  if (!accept.empty()) req.headers.emplace_back("Accept", accept);
  Answer a;
  auto r = http::Fetch(ep, req, Duration(2000));
  if (!r.ok()) return a;
  a.status = r->status;
  a.body = r->body;
  if (const std::string* h = r->Header("retry-after")) a.retry_after = *h;
  if (const std::string* h = r->Header("content-type")) a.content_type = *h;
  return a;
}

std::string App(const std::string& version, const std::string& extra = "") {
  return R"(
    command: [")" +
         kTestapp + R"("]
    environment: {VERSION: ")" +
         version + R"("}
    healthcheck: {interval: 100ms, start_interval: 50ms, start_period: 5s}
    x-slipway: {healthcheck: {http: /health}}
)" + extra;
}

TEST(RoutesTest, HostAndPathRoutesShareOneListenerAndMaintenanceAnswers503) {
  const int port = FreePort();
  const std::string p_ = std::to_string(port);
  Project p("services:\n  web:" + App("web-1", "    ports: [\"127.0.0.1:" + p_ + ":8080\"]\n") +
            "  api:" + App("api-1") + "  admin:" + App("admin-1") +
            "x-slipway:\n  routes:\n"
            "    - {listen: \"127.0.0.1:" +
            p_ +
            "\", path: /api, service: api, strip_prefix: true}\n"
            "    - {listen: \"127.0.0.1:" +
            p_ + "\", host: admin.test, service: admin}\n");
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;

  EXPECT_EQ(Get(port, "/version").body, "web-1\n");
  EXPECT_EQ(Get(port, "/api/version").body, "api-1\n");     // "/api" stripped
  EXPECT_EQ(Get(port, "/apiversion").body, "not found\n");  // web's 404: not the /api segment
  EXPECT_EQ(Get(port, "/version", "ADMIN.test:" + p_).body, "admin-1\n");
  // A host route owns its whole host: no path of admin.test falls through to /api.
  EXPECT_NE(Get(port, "/", "admin.test").body.find("version=admin-1"), std::string::npos);

  CmdResult on = p.Slipway({"maintenance", "on", "api", "--message", "back at noon"});
  ASSERT_EQ(on.rc, 0) << on.err;
  Answer m = Get(port, "/api/version");
  EXPECT_EQ(m.status, 503);
  EXPECT_FALSE(m.retry_after.empty());
  EXPECT_NE(m.body.find("back at noon"), std::string::npos) << m.body;
  Answer mj = Get(port, "/api/version", "", "application/json");
  EXPECT_EQ(mj.status, 503);
  EXPECT_NE(mj.content_type.find("json"), std::string::npos) << mj.content_type;
  EXPECT_EQ(Get(port, "/api/health").status, 200);   // the health path keeps answering
  EXPECT_EQ(Get(port, "/version").body, "web-1\n");  // other services unaffected
  CmdResult list = p.Slipway({"maintenance"});
  EXPECT_NE(list.out.find("back at noon"), std::string::npos) << list.out;
  EXPECT_GE(EventIndex(p.Events(), "api", "maintenance-on"), 0);

  CmdResult off = p.Slipway({"maintenance", "off", "api"});
  ASSERT_EQ(off.rc, 0) << off.err;
  EXPECT_EQ(Get(port, "/api/version").body, "api-1\n");

  // Stopping the routed service leaves its route answering 503, not web's pages.
  ASSERT_EQ(p.Slipway({"stop", "api"}).rc, 0);
  EXPECT_TRUE(WaitFor([&] { return Get(port, "/api/version").status == 503; }, 5s));
  EXPECT_EQ(Get(port, "/version").body, "web-1\n");
}

TEST(RoutesTest, PsShowsEachRoutedServicesRequestAndErrorRates) {
  const int port = FreePort();
  Project p("services:\n  web:" +
            App("web-1", "    ports: [\"127.0.0.1:" + std::to_string(port) + ":8080\"]\n") +
            "  worker:\n    command: [\"sleep\", \"30\"]\n");
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  // Bounded load: 40 good and 40 failing requests, spread over about 3 s so that at least
  // two of the daemon's 2 s samples see it.
  auto send = [&] {
    for (int i = 0; i < 10; ++i) {
      Get(port, "/version");
      Get(port, "/status/500");
    }
  };
  double rps = 0, err = -1;
  bool worker_has_rates = true;
  ASSERT_TRUE(WaitFor(
      [&] {
        send();
        for (const auto& row : p.Ps()) {
          if (row.value("service", "") == "worker")
            worker_has_rates = row.contains("requests_per_second");
          if (row.value("service", "") != "web" || !row.contains("requests_per_second")) continue;
          rps = row["requests_per_second"].get<double>();
          err = row["error_ratio"].get<double>();
        }
        return rps > 0;
      },
      8s));
  EXPECT_NEAR(err, 0.5, 0.05);
  EXPECT_FALSE(worker_has_rates);  // not behind the proxy
  CmdResult table = p.Slipway({"ps"});
  EXPECT_NE(table.out.find("REQ/S"), std::string::npos) << table.out;
}

TEST(RoutesTest, ProxySettingsApply) {
  const int port = FreePort();
  Project p("services:\n  web:" +
            App("web-1", "    ports: [\"127.0.0.1:" + std::to_string(port) + ":8080\"]\n") +
            "x-slipway:\n  proxy: {workers: 1, max_body: 1KiB, retry_after: 7}\n");
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  http::Endpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  http::Request post;
  post.method = "POST";
  post.target = "/echo";
  post.body = std::string(2048, 'x');
  auto big = http::Fetch(ep, post, Duration(2000));
  ASSERT_TRUE(big.ok()) << big.status().message();
  EXPECT_EQ(big->status, 413);
  post.body = std::string(512, 'x');
  auto small = http::Fetch(ep, post, Duration(2000));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(small->body.size(), 512u);
  ASSERT_EQ(p.Slipway({"maintenance", "on", "web"}).rc, 0);
  EXPECT_EQ(Get(port, "/").retry_after, "7");
}

TEST(RoutesTest, MaintenanceRefusesUnknownOrUnroutedServicesWithExit2) {
  const int port = FreePort();
  Project p("services:\n  web:" +
            App("web-1", "    ports: [\"127.0.0.1:" + std::to_string(port) + ":8080\"]\n") +
            "  worker:\n    command: [\"sleep\", \"30\"]\n");
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  CmdResult unknown = p.Slipway({"maintenance", "on", "nope"});
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_NE(unknown.err.find("no service \"nope\""), std::string::npos) << unknown.err;
  CmdResult unrouted = p.Slipway({"maintenance", "on", "worker"});
  EXPECT_EQ(unrouted.rc, 2);
  EXPECT_NE(unrouted.err.find("publishes no port"), std::string::npos) << unrouted.err;
  CmdResult bad = p.Slipway({"maintenance", "maybe", "web"});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_EQ(Get(port, "/version").status, 200);  // nothing changed
}

}  // namespace
}  // namespace slipway::testing
