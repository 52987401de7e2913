#include "alerts/service.h"

#include <gtest/gtest.h>

namespace slipway::alerts {
namespace {

using nlohmann::json;

TEST(AlertingService, BuiltinsFireAndHealthIsDegraded) {
  auto loop = std::move(net::EventLoop::Create()).value();
  FakeClock clock;
  telemetry::Registry reg(1);
  config::Project p;
  p.alerts.builtin_disabled = {"SlipwayStateDiskFull"};
  config::AlertRuleSpec own;
  own.name = "AnyDown";
  own.expr = "slipway_service_up == 0";
  p.alerts.rules.push_back(own);
  json rows = json::parse(R"([
    {"service": "api", "instance": 1, "state": "running", "health": "unhealthy", "restarts": 4},
    {"service": "web", "instance": 0, "state": "not started", "health": "", "restarts": 0}])");
  ServiceDeps deps;
  deps.loop = loop.get();
  deps.registry = &reg;
  deps.clock = &clock;
  deps.ps = [&] { return rows; };
  deps.proxy_ok = [] { return true; };
  auto s = AlertingService::Create(p, deps);
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*s)->EvaluateOnce().ok());
    clock.AdvanceForTest(Duration(15'000));
  }
  json j = (*s)->AlertsJson();
  std::set<std::string> firing;
  for (const json& a : j["alerts"]) {
    if (a["state"] == "firing")
      firing.insert(a["rule"].get<std::string>() + "/" + a["labels"]["service"].get<std::string>());
  }
  EXPECT_TRUE(firing.count("SlipwayServiceUnhealthy/api")) << j.dump(2);
  EXPECT_TRUE(firing.count("AnyDown/web")) << j.dump(2);
  EXPECT_TRUE(firing.count("SlipwayRestartLoop/api") == 0);  // restarts did not increase
  EXPECT_EQ(j["rules"].size(), 6u);                          // 5 enabled built-ins + 1 own

  auto [status, health] = (*s)->HealthDetailed();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["services"]["api"]["status"], "degraded");
  EXPECT_EQ(health["services"]["api"]["restarts"], 4);
  EXPECT_EQ(health["proxy"]["status"], "ok");
  EXPECT_EQ(health["alerts_firing"], 2);

  auto v = (*s)->evaluator().EvaluateNow("sum(slipway_service_up)");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->vector.size(), 1u);
  EXPECT_EQ(v->vector[0].value, 1);
}

}  // namespace
}  // namespace slipway::alerts
