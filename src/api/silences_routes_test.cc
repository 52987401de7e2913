// The silences routes (api/alerts_routes.cc) in front of a real AlertingService and store, on
// real loopback sockets: add, list, expire, GET /api/v1/alerts marking what a silence holds
// back, and every kind of bad input answered 4xx naming the key, with nothing kept.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "alerts/service.h"
#include "api/router.h"
#include "api/router_test_server.h"
#include "api/routes.h"
#include "store/store.h"

namespace slipway::api {
namespace {

using nlohmann::json;

class SilencesRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("silences_routes_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::move(store::Store::Open(dir_ / "state.db", Clock::Real())).value();
    config::Project project;
    project.alerts.builtin = false;
    config::AlertRuleSpec rule;
    rule.name = "WebDown";
    rule.expr = "vector(1)";
    rule.labels = {{"service", "web"}, {"severity", "critical"}};
    project.alerts.rules.push_back(rule);
    alerts::ServiceDeps deps;
    deps.loop = server_.loop();
    deps.store = store_.get();
    deps.registry = &registry_;
    auto a = alerts::AlertingService::Create(project, std::move(deps));
    ASSERT_TRUE(a.ok()) << a.status().message();
    alerting_ = std::move(a).value();
    // The loop does not run yet: this thread may evaluate (the alert fires at once).
    ASSERT_TRUE(alerting_->EvaluateOnce().ok());
    RouterOptions ro;
    ro.audit = [this](const AuditEntry& e) {
      std::lock_guard<std::mutex> lock(audit_mu_);
      audit_.push_back(e);
    };
    router_ = std::make_unique<Router>(ro);
    RouteDeps rd;
    rd.alerting = alerting_.get();
    RegisterAlertsRoutes(*router_, rd);
    ASSERT_TRUE(server_.Start(router_.get()).ok());
  }
  void TearDown() override {
    server_.Stop();
    alerting_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::pair<int, json> Call(const std::string& method, const std::string& target,
                            const std::string& body = "") {
    http::ClientResponse r = server_.Call(method, target, body);
    return {r.status, json::parse(r.body, nullptr, false)};
  }
  // The audit target of the last entry for `action`, waiting up to 2 s for it ("" if none).
  std::string AuditTarget(const std::string& action) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard<std::mutex> lock(audit_mu_);
        for (auto it = audit_.rbegin(); it != audit_.rend(); ++it) {
          if (it->action == action) return it->target;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "";
  }
  size_t Count() { return Call("GET", "/api/v1/silences").second["silences"].size(); }

  std::filesystem::path dir_;
  telemetry::Registry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<alerts::AlertingService> alerting_;
  std::unique_ptr<Router> router_;
  std::mutex audit_mu_;
  std::vector<AuditEntry> audit_;  // guarded by audit_mu_ (the server thread appends)
  RouterTestServer server_;        // after router_: stops before it goes
};

TEST_F(SilencesRoutesTest, AddListMarkAndExpire) {
  auto [st, alerts] = Call("GET", "/api/v1/alerts");
  ASSERT_EQ(st, 200);
  ASSERT_EQ(alerts["alerts"].size(), 1u) << alerts.dump();
  EXPECT_EQ(alerts["alerts"][0]["silenced_by"], json::array());

  auto [added_status, added] =
      Call("POST", "/api/v1/silences",
           R"({"matchers": ["service=\"web\"", "severity=~\"crit.*\""], "duration": "2h",
          "comment": "db migration", "by": "ann"})");
  ASSERT_EQ(added_status, 200) << added.dump();
  const std::string id = added["id"];
  EXPECT_EQ(added["state"], "active");
  EXPECT_EQ(added["matchers"], json({"service=\"web\"", "severity=~\"crit.*\""}));
  EXPECT_EQ(added["ends_ms"].get<int64_t>() - added["starts_ms"].get<int64_t>(), 7'200'000);
  EXPECT_EQ(added["created_by"], "ann");
  EXPECT_EQ(added["comment"], "db migration");
  // The audit trail says what was silenced, not only that something was.
  EXPECT_EQ(AuditTarget("POST /api/v1/silences"), R"(matchers=service="web",severity=~"crit.*")");

  auto [list_status, list] = Call("GET", "/api/v1/silences");
  EXPECT_EQ(list_status, 200);
  ASSERT_EQ(list["silences"].size(), 1u);
  EXPECT_EQ(list["silences"][0]["id"], id);

  // Listed all the same, marked silenced.
  alerts = Call("GET", "/api/v1/alerts").second;
  ASSERT_EQ(alerts["alerts"].size(), 1u);
  EXPECT_EQ(alerts["alerts"][0]["silenced_by"], json({id}));

  auto [del_status, expired] = Call("DELETE", "/api/v1/silences/" + id);
  EXPECT_EQ(del_status, 200) << expired.dump();
  EXPECT_EQ(expired["state"], "expired");
  EXPECT_EQ(AuditTarget("DELETE /api/v1/silences/{id}"), "id=" + id);
  EXPECT_EQ(Call("GET", "/api/v1/alerts").second["alerts"][0]["silenced_by"], json::array());
  // Expiring it again conflicts; an unknown id is 404.
  EXPECT_EQ(Call("DELETE", "/api/v1/silences/" + id).first, 409);
  auto [unknown_status, unknown] = Call("DELETE", "/api/v1/silences/0123456789abcdef");
  EXPECT_EQ(unknown_status, 404);
  EXPECT_EQ(unknown["error"], "silence 0123456789abcdef: no such silence");
}

TEST_F(SilencesRoutesTest, AnEndTimeInRfc3339IsTaken) {
  auto [st, body] = Call("POST", "/api/v1/silences",
                         R"({"matchers": ["service=\"web\""], "ends_at": "2999-01-01T00:00:00Z"})");
  // Further than 30 days ahead: refused, naming the key.
  EXPECT_EQ(st, 400);
  EXPECT_EQ(body["error"], "ends_at: a silence lasts at most 30 days");
  const int64_t in_an_hour = Clock::Real()->WallMillis() + 3'600'000;
  const std::string when = alerts::Rfc3339(in_an_hour - in_an_hour % 1000);
  auto [ok_status, ok] = Call("POST", "/api/v1/silences",
                              json({{"matchers", {"service=\"web\""}}, {"ends_at", when}}).dump());
  ASSERT_EQ(ok_status, 200) << ok.dump();
  EXPECT_EQ(ok["ends_at"], when);
  EXPECT_EQ(ok["created_by"], "local cli") << "the caller, when `by` is not given";
}

TEST_F(SilencesRoutesTest, BadInputIsA4xxNamingTheKeyAndKeepsNothing) {
  const std::string long_comment(2000, 'x');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "matchers"},
      {"[]", ""},  // not an object: the parser says so
      {R"({"matchers": "service=\"web\"", "duration": "1h"})", "matchers"},
      {R"({"matchers": [], "duration": "1h"})", "matchers"},
      {R"({"matchers": [1], "duration": "1h"})", "matchers[0]"},
      {R"({"matchers": ["service"], "duration": "1h"})", "matchers[0]"},
      {R"({"matchers": ["service=~\"(\""], "duration": "1h"})", "matchers[0]"},
      {R"({"matchers": ["service=~\".*\""], "duration": "1h"})", "matchers"},
      {R"({"matchers": ["service=\"web\""]})", "duration"},
      {R"({"matchers": ["service=\"web\""], "duration": 3600})", "duration"},
      {R"({"matchers": ["service=\"web\""], "duration": "0s"})", "duration"},
      {R"({"matchers": ["service=\"web\""], "duration": "-1h"})", "duration"},
      {R"({"matchers": ["service=\"web\""], "duration": "721h"})", "duration"},
      {R"({"matchers": ["service=\"web\""], "duration": "soon"})", "duration"},
      {R"({"matchers": ["service=\"web\""], "duration": "1h", "ends_at": "x"})", "ends_at"},
      {R"({"matchers": ["service=\"web\""], "ends_at": "tomorrow"})", "ends_at"},
      {R"({"matchers": ["service=\"web\""], "ends_at": "2000-01-01T00:00:00Z"})", "ends_at"},
      {R"({"matchers": ["service=\"web\""], "duration": "1h", "comment": 5})", "comment"},
      {R"({"matchers": ["service=\"web\""], "duration": "1h", "comment": ")" + long_comment +
           R"("})",
       "comment"},
      {R"({"matchers": ["service=\"web\""], "duration": "1h", "by": ["ann"]})", "by"},
      {R"({"matchers": ["service=\"web\""], "duration": "1h", "until": "x"})", "until"},
  };
  for (const auto& [body, key] : cases) {
    auto [st, answer] = Call("POST", "/api/v1/silences", body);
    EXPECT_EQ(st, 400) << body << " -> " << answer.dump();
    ASSERT_TRUE(answer.is_object() && answer["error"].is_string()) << body;
    const std::string error = answer["error"];
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    if (!key.empty()) {
      EXPECT_EQ(error.rfind(key + ":", 0), 0u) << body << " -> " << error;
    }
  }
  EXPECT_EQ(Count(), 0u);
}

// Alertmanager's edit: a POST naming a live silence's id ends it and keeps the new one, in
// one audited call; bad ids and bad bodies change nothing.
TEST_F(SilencesRoutesTest, APostWithTheIdOfALiveSilenceReplacesIt) {
  auto [st, old] = Call("POST", "/api/v1/silences",
                        R"({"matchers": ["service=\"web\""], "duration": "1h", "comment": "a"})");
  ASSERT_EQ(st, 200) << old.dump();
  const std::string id = old["id"];

  // Hostile or wrong: 4xx naming the key, the old silence still the only one, still active.
  const std::string long_id(65, 'a');
  const std::vector<std::tuple<std::string, int, std::string>> bad = {
      {R"({"id": 5, "matchers": ["service=\"web\""], "duration": "2h"})", 400, "id:"},
      {R"({"id": "", "matchers": ["service=\"web\""], "duration": "2h"})", 400, "id:"},
      {R"({"id": "not-hex!", "matchers": ["service=\"web\""], "duration": "2h"})", 400, "id:"},
      {R"({"id": ")" + long_id + R"(", "matchers": ["service=\"web\""], "duration": "2h"})", 400,
       "id:"},
      {R"({"id": ")" + id + R"(", "matchers": [], "duration": "2h"})", 400, "matchers:"},
      {R"({"id": ")" + id + R"(", "matchers": ["service=\"web\""], "duration": "721h"})", 400,
       "duration:"},
      {R"({"id": ")" + id + R"(", "matchers": ["service=~\".*\""], "duration": "2h"})", 400,
       "matchers:"},
      {R"({"id": "0123456789abcdef", "matchers": ["service=\"web\""], "duration": "2h"})", 404,
       "silence 0123456789abcdef: no such silence"},
  };
  for (const auto& [body, status, starts] : bad) {
    auto [code, answer] = Call("POST", "/api/v1/silences", body);
    EXPECT_EQ(code, status) << body << " -> " << answer.dump();
    ASSERT_TRUE(answer.is_object() && answer["error"].is_string()) << body;
    EXPECT_EQ(answer["error"].get<std::string>().rfind(starts, 0), 0u) << answer.dump();
  }
  auto list = Call("GET", "/api/v1/silences").second["silences"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["state"], "active");

  auto [rst, fresh] = Call("POST", "/api/v1/silences",
                           json({{"id", id},
                                 {"matchers", {"service=\"web\"", "severity=\"critical\""}},
                                 {"duration", "3h"},
                                 {"comment", "b"}})
                               .dump());
  ASSERT_EQ(rst, 200) << fresh.dump();
  EXPECT_NE(fresh["id"], id);
  EXPECT_EQ(fresh["replaced"], id);
  EXPECT_EQ(fresh["state"], "active");
  EXPECT_EQ(fresh["comment"], "b");
  EXPECT_EQ(fresh["ends_ms"].get<int64_t>() - fresh["starts_ms"].get<int64_t>(), 10'800'000);
  // One audit entry, naming both the old id and the new matchers.
  EXPECT_EQ(AuditTarget("POST /api/v1/silences"),
            "matchers=service=\"web\",severity=\"critical\" id=" + id);
  list = Call("GET", "/api/v1/silences").second["silences"];
  ASSERT_EQ(list.size(), 2u);
  for (const json& one : list) {
    EXPECT_EQ(one["state"], one["id"] == id ? "expired" : "active") << one.dump();
  }
  EXPECT_EQ(Call("GET", "/api/v1/alerts").second["alerts"][0]["silenced_by"], json({fresh["id"]}));
  // The old one ended: replacing it again conflicts, and nothing is added.
  auto [again, answer] =
      Call("POST", "/api/v1/silences",
           json({{"id", id}, {"matchers", {"service=\"web\""}}, {"duration", "1h"}}).dump());
  EXPECT_EQ(again, 409) << answer.dump();
  EXPECT_EQ(Count(), 2u);
}

}  // namespace
}  // namespace slipway::api
