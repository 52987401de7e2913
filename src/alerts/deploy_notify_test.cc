// Deploy notifications: AlertingService::NotifyDeploy through real routes to a webhook sink
// and an Alertmanager-style receiver on loopback.
#include <gtest/gtest.h>

#include <chrono>

#include "alerts/service.h"
#include "http/server.h"
#include "net/socket.h"

namespace slipway::alerts {
namespace {

using nlohmann::json;

struct Sink {
  std::unique_ptr<net::EventLoop> loop;
  std::unique_ptr<http::HttpServer> server;
  int port = 0;
  std::vector<std::pair<std::string, json>> received;  // (target, body)

  void Start() {
    loop = std::move(net::EventLoop::Create()).value();
    auto fd = net::ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(fd.ok());
    port = *net::LocalPort(fd->get());
    auto s = http::HttpServer::Create(loop.get(), std::move(fd).value(),
                                      [this](const http::Request& r, http::ResponseWriter w) {
                                        received.emplace_back(r.target, json::parse(r.body));
                                        w.Send(http::Response::Text(200, "ok"));
                                      });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server = std::move(s).value();
  }

  bool RunUntil(const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop->RunOnce(Duration(20));
    }
    return true;
  }
};

TEST(DeployNotify, EventsReachTheRoutedReceiverGroupedByServiceAndNeverFire) {
  Sink sink;
  ASSERT_NO_FATAL_FAILURE(sink.Start());
  FakeClock clock;
  telemetry::Registry reg(1);
  config::Project p;
  p.alerts.builtin = false;
  auto& n = p.notifications;
  n.configured = true;
  n.route.receiver = "chat";
  n.route.group_by = std::vector<std::string>{"alertname", "service"};
  n.route.group_wait = Duration(0);
  config::RouteSpec warn;
  warn.match["severity"] = "warning";
  warn.receiver = "pager";
  n.route.routes.push_back(warn);
  std::string base = "http://127.0.0.1:" + std::to_string(sink.port);
  n.receivers.push_back(
      {"chat", config::ReceiverSpec::Kind::kWebhook, base + "/chat", 100, Duration(5000)});
  n.receivers.push_back(
      {"pager", config::ReceiverSpec::Kind::kAlertmanager, base + "/am", 100, Duration(5000)});
  ServiceDeps deps;
  deps.loop = sink.loop.get();
  deps.registry = &reg;
  deps.clock = &clock;
  deps.external_url = "http://127.0.0.1:1";
  auto s = AlertingService::Create(p, deps);
  ASSERT_TRUE(s.ok()) << s.status().message();

  (*s)->NotifyDeploy({"api", 2, "2.0", "blue-green", "deployed", "", json{{"cutover_ms", 1.5}}});
  (*s)->NotifyDeploy({"web", 5, "", "canary", "deployed", "", json::object()});
  (*s)->NotifyDeploy(
      {"api", 3, "3.0", "blue-green", "rolled-back", "5xx rate 0.5 > 0.05", json::object()});
  ASSERT_TRUE(sink.RunUntil([&] {
    (*s)->notifier().Tick();
    return sink.received.size() == 3;
  })) << (*s)->AlertsJson().dump(2);

  std::map<std::string, json> chat;  // by service
  json am;
  for (const auto& [target, body] : sink.received) {
    if (target == "/chat") {
      chat[body["groupLabels"]["service"].get<std::string>()] = body;
    } else {
      EXPECT_EQ(target, "/am/api/v2/alerts");
      am = body;
    }
  }
  ASSERT_EQ(chat.size(), 2u);  // one group per service
  const json& api = chat["api"];
  EXPECT_EQ(api["groupLabels"], (json{{"alertname", "SlipwayDeploy"}, {"service", "api"}}));
  ASSERT_EQ(api["alerts"].size(), 1u);
  const json& a = api["alerts"][0];
  EXPECT_EQ(a["labels"], (json{{"alertname", "SlipwayDeploy"},
                               {"service", "api"},
                               {"kind", "deployed"},
                               {"severity", "info"}}));
  EXPECT_EQ(a["annotations"]["summary"], "api r2 (2.0) deployed [blue-green]");
  EXPECT_EQ(a["annotations"]["release"], "2");
  EXPECT_EQ(json::parse(a["annotations"]["numbers"].get<std::string>())["cutover_ms"], 1.5);
  EXPECT_NE(a["endsAt"], "0001-01-01T00:00:00Z");  // a one-shot resolves itself
  EXPECT_EQ(chat["web"]["alerts"][0]["labels"]["kind"], "deployed");

  // The automatic rollback is a warning: routed to the Alertmanager receiver, with endsAt.
  ASSERT_TRUE(am.is_array());
  ASSERT_EQ(am.size(), 1u);
  EXPECT_EQ(am[0]["labels"]["kind"], "rolled-back");
  EXPECT_EQ(am[0]["labels"]["severity"], "warning");
  EXPECT_EQ(am[0]["labels"]["service"], "api");
  EXPECT_TRUE(am[0].contains("endsAt"));
  EXPECT_EQ(am[0]["annotations"]["reason"], "5xx rate 0.5 > 0.05");

  // Not an alert: nothing pending or firing, no group left; the events are listed.
  json j = (*s)->AlertsJson();
  EXPECT_TRUE(j["alerts"].empty()) << j.dump(2);
  EXPECT_EQ(j["notifications"]["groups"], 0);
  ASSERT_EQ(j["notifications"]["events"].size(), 3u);
  EXPECT_EQ(j["notifications"]["events"][2]["severity"], "warning");
  auto [status, health] = (*s)->HealthDetailed();
  EXPECT_EQ(health["alerts_firing"], 0);
}

}  // namespace
}  // namespace slipway::alerts
