// Deploy notifications end to end: a real daemon deploys testapp, rolls back by hand and
// rolls back a bad version by itself; each outcome reaches a webhook receiver configured in
// x-slipway.notifications (a small HTTP server in this test), routed by severity.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "http/server.h"
#include "net/event_loop.h"
#include "net/socket.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A webhook receiver on 127.0.0.1:<port 0>, served by its own loop thread.
class WebhookSink {
 public:
  WebhookSink() {
    loop_ = std::move(net::EventLoop::Create()).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    port_ = *net::LocalPort(fd->get());
    server_ =
        std::move(http::HttpServer::Create(loop_.get(), std::move(fd).value(),
                                           [this](const http::Request& r, http::ResponseWriter w) {
                                             {
                                               std::lock_guard<std::mutex> l(mu_);
                                               received_.emplace_back(
                                                   r.target, json::parse(r.body, nullptr, false));
                                             }
                                             w.Send(http::Response::Text(200, "ok"));
                                           }))
            .value();
    thread_ = std::thread([this] {
      auto deadline = std::chrono::steady_clock::now() + 180s;
      while (!stop_ && std::chrono::steady_clock::now() < deadline) loop_->RunOnce(Duration(50));
    });
  }
  ~WebhookSink() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::pair<std::string, json>> received() {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }
  // Every alert received so far at `target`.
  std::vector<json> Alerts(const std::string& target) {
    std::vector<json> out;
    for (const auto& [t, body] : received()) {
      if (t != target || !body.is_object()) continue;
      for (const json& a : body.value("alerts", json::array())) out.push_back(a);
    }
    return out;
  }
  // The first alert at `target` whose labels.kind is `kind` (null when none).
  json Find(const std::string& target, const std::string& kind) {
    for (const json& a : Alerts(target)) {
      if (a["labels"].value("kind", "") == kind) return a;
    }
    return nullptr;
  }

 private:
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::pair<std::string, json>> received_;
  std::thread thread_;
};

// The health check runs every 100 ms; 3 counted failures make an instance unhealthy.
// `grace` adds a start period for `up` and the healthy deploy: without one, an instance that
// does not answer within about 300 ms of its start (a loaded machine: CI runs two test
// binaries on its 2 cores) is unhealthy and fails them. The HEALTH=fail deploy is written
// without it, so its failures count from the first check as before and the verdict is "never
// became ready", not "not ready within" the 3 s health_timeout.
std::string Compose(int port, int sink_port, bool grace = true) {
  std::string hook = "http://127.0.0.1:" + std::to_string(sink_port);
  return R"(services:
  api:
    command: [")" +
         std::string(TESTAPP_BIN) + R"("]
    environment:
      VERSION: v1
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3)" +
         std::string(grace ? ", start_period: 10s" : "") + R"(}
    x-slipway:
      healthcheck: {http: /health}
      deploy:
        strategy: blue-green
        monitor: 500ms
        drain: 100ms
        rollback_window: 60s
        health_timeout: 3s
        analysis: {min_requests: 1000}
x-slipway:
  notifications:
    route:
      receiver: chat
      group_by: [alertname, service]
      group_wait: 0s
      group_interval: 1s
      routes:
        - match: {severity: warning}
          receiver: pager
    receivers:
      - name: chat
        webhook: )" +
         hook + R"(/chat
      - name: pager
        webhook: )" +
         hook + R"(/pager
)";
}

TEST(DeployNotifyTest, DeployRollbackAndAutomaticRollbackReachTheWebhook) {
  WebhookSink sink;
  int port = FreePort();
  Project p(Compose(port, sink.port()));
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }));
  EXPECT_TRUE(sink.received().empty());  // `up` is not a deploy

  CmdResult d = p.Slipway({"deploy", "api", "--env", "VERSION=v2", "--version", "2.0"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  ASSERT_TRUE(WaitFor([&] { return !sink.Find("/chat", "deployed").is_null(); }, 10s))
      << json(sink.received()).dump(2);
  json deployed = sink.Find("/chat", "deployed");
  EXPECT_EQ(deployed["labels"], (json{{"alertname", "SlipwayDeploy"},
                                      {"service", "api"},
                                      {"kind", "deployed"},
                                      {"severity", "info"}}));
  EXPECT_EQ(deployed["annotations"]["version"], "2.0");
  EXPECT_EQ(deployed["annotations"]["release"], "2");
  EXPECT_EQ(deployed["annotations"]["strategy"], "blue-green");
  EXPECT_EQ(deployed["status"], "resolved");  // a one-shot, never firing
  for (const auto& [target, body] : sink.received()) {
    EXPECT_EQ(body["groupLabels"], (json{{"alertname", "SlipwayDeploy"}, {"service", "api"}}));
  }

  CmdResult rb = p.Slipway({"rollback", "api"});
  ASSERT_EQ(rb.rc, 0) << rb.out << rb.err;
  ASSERT_TRUE(WaitFor([&] { return !sink.Find("/chat", "manual-rollback").is_null(); }, 10s))
      << json(sink.received()).dump(2);
  EXPECT_EQ(sink.Find("/chat", "manual-rollback")["annotations"]["reason"],
            "manual rollback to r1");

  // A version that never becomes healthy is rolled back automatically: a warning, routed to
  // the pager receiver.
  p.Write("compose.yaml", Compose(port, sink.port(), /*grace=*/false));
  CmdResult bad = p.Slipway({"deploy", "api", "--env", "HEALTH=fail"}, 60s);
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  ASSERT_TRUE(WaitFor([&] { return !sink.Find("/pager", "rolled-back").is_null(); }, 10s))
      << json(sink.received()).dump(2);
  json rolled = sink.Find("/pager", "rolled-back");
  EXPECT_EQ(rolled["labels"]["severity"], "warning");
  EXPECT_NE(rolled["annotations"]["reason"].get<std::string>().find("never became ready"),
            std::string::npos)
      << rolled.dump();
  EXPECT_TRUE(sink.Find("/chat", "rolled-back").is_null());  // the route did not continue

  // None of it is an alert.
  json alerts = p.Json({"alerts", "--format", "json"});
  for (const json& a : alerts["alerts"]) {
    EXPECT_NE(a["rule"], "SlipwayDeploy") << a.dump();
  }
  EXPECT_EQ(alerts["notifications"]["events"].size(), 3u) << alerts.dump(2);
  for (const json& r : alerts["notifications"]["receivers"]) {
    EXPECT_EQ(r["failed"], 0) << r.dump();
  }
}

}  // namespace
}  // namespace slipway::testing
