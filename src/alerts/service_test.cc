#include "alerts/service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "alerts/builtin.h"

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
  deps.service_rows = [] {
    using State = ServiceInstanceRow::State;
    return std::vector<ServiceInstanceRow>{{"api", State::kRunning, /*healthy=*/false, 4},
                                           {"web", State::kOther, /*healthy=*/true, 0}};
  };
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
  // Every built-in but the disabled one, and the project's own.
  EXPECT_EQ(j["rules"].size(), BuiltinRules().size() - 1 + 1);

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

// A subquery without a step steps at x-slipway.alerts.interval (Prometheus' global
// evaluation_interval) in every group, a rule file's group with its own interval too.
TEST(AlertingService, SubqueryDefaultStepIsTheProjectInterval) {
  auto loop = std::move(net::EventLoop::Create()).value();
  FakeClock clock;
  telemetry::Registry reg(1);
  config::Project p;
  p.alerts.builtin = false;
  p.alerts.interval = Duration(10'000);
  config::RuleGroupSpec g;
  g.name = "minutely";
  g.file = "rules.yml";
  g.interval = Duration(60'000);
  config::AlertRuleSpec rec;
  rec.kind = config::RuleKind::kRecord;
  rec.name = "api:up_steps";
  rec.expr = "count_over_time(slipway_service_up{service=\"api\"}[1m:])";
  g.rules.push_back(rec);
  p.alerts.groups.push_back(g);
  ServiceDeps deps;
  deps.loop = loop.get();
  deps.registry = &reg;
  deps.clock = &clock;
  deps.service_rows = [] {
    return std::vector<ServiceInstanceRow>{{"api", ServiceInstanceRow::State::kRunning, true, 0}};
  };
  auto s = AlertingService::Create(p, deps);
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (int i = 0; i < 13; ++i) {
    ASSERT_TRUE((*s)->EvaluateOnce().ok());
    clock.AdvanceForTest(Duration(10'000));
  }
  // (t - 1m, t] at a 10 s step: 6 points (1 at a fixed minute).
  auto v =
      (*s)->evaluator().EvaluateNow("count_over_time(slipway_service_up{service=\"api\"}[1m:])");
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->vector.size(), 1u);
  EXPECT_EQ(v->vector[0].value, 6);
  // What the minutely group recorded (its own interval is 1m; the step stays 10 s).
  auto rec_v = (*s)->evaluator().EvaluateNow("last_over_time(api:up_steps[5m])");
  ASSERT_TRUE(rec_v.ok()) << rec_v.status().message();
  ASSERT_EQ(rec_v->vector.size(), 1u);
  EXPECT_EQ(rec_v->vector[0].value, 6);
}

// Writes to the state store fail (here: a read-only connection, SQLITE_READONLY for every
// write): /health/detailed says degraded with the error, the metrics say so and the built-in
// SlipwayStoreDegraded fires; a write that succeeds again clears all three.
TEST(AlertingService, StoreWriteFailuresAreVisible) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-alerts-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  auto loop = std::move(net::EventLoop::Create()).value();
  FakeClock clock;
  telemetry::Registry reg(1);
  auto opened = store::Store::Open(dir / "state.db", &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<store::Store> st = std::move(opened).value();
  config::Project p;
  ServiceDeps deps;
  deps.loop = loop.get();
  deps.registry = &reg;
  deps.clock = &clock;
  deps.store = st.get();
  auto s = AlertingService::Create(p, deps);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto firing = [&] {
    const json all = (*s)->AlertsJson();  // kept: the loop must not range over a temporary
    for (const json& a : all["alerts"]) {
      if (a["rule"] == "SlipwayStoreDegraded" && a["state"] == "firing") return true;
    }
    return false;
  };
  ASSERT_TRUE((*s)->EvaluateOnce().ok());
  auto [code, health] = (*s)->HealthDetailed();
  EXPECT_EQ(health["store"]["status"], "ok");
  EXPECT_EQ(health["store"]["write_errors_total"], 0);
  EXPECT_FALSE(firing());

  ASSERT_TRUE(store::Exec(st->db(), "PRAGMA query_only = ON", "test").ok());
  store::Event e;
  e.service = "api";
  e.kind = "started";
  EXPECT_FALSE(st->AppendEvent(e).ok());  // dropped: the point is that it is no longer silent
  clock.AdvanceForTest(Duration(15'000));
  (void)(*s)->EvaluateOnce();  // its own alert-state writes fail too
  std::tie(code, health) = (*s)->HealthDetailed();
  EXPECT_EQ(code, 200);  // degraded, not down: the services still run
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["store"]["status"], "degraded") << health.dump();
  // The last failure: the alert evaluator's own state writes fail after the event did.
  EXPECT_NE(health["store"]["error"].get<std::string>().find("readonly"), std::string::npos)
      << health.dump();
  EXPECT_TRUE(health["store"]["error_at"].is_string());
  EXPECT_GE(health["store"]["write_errors_total"].get<int>(), 1);
  EXPECT_TRUE(firing()) << (*s)->AlertsJson().dump(2);
  std::string metrics = reg.RenderPrometheus();
  EXPECT_NE(metrics.find("slipway_store_degraded 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("slipway_store_write_errors_total "), std::string::npos) << metrics;

  ASSERT_TRUE(store::Exec(st->db(), "PRAGMA query_only = OFF", "test").ok());
  ASSERT_TRUE(st->AppendEvent(e).ok());
  clock.AdvanceForTest(Duration(15'000));
  ASSERT_TRUE((*s)->EvaluateOnce().ok());
  std::tie(code, health) = (*s)->HealthDetailed();
  EXPECT_EQ(health["status"], "ok") << health.dump();
  EXPECT_EQ(health["store"]["status"], "ok");
  EXPECT_FALSE(firing());
  EXPECT_NE(reg.RenderPrometheus().find("slipway_store_degraded 0"), std::string::npos);

  s->reset();
  st.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace slipway::alerts
