// The flags admin routes (api/flags_routes.cc) in front of a real FlagService and OfrepHandler:
// what the admin API changes is what OFREP serves. Real store, real loopback sockets.
#include <gtest/gtest.h>

#include <filesystem>

#include "api/router.h"
#include "api/router_test_server.h"
#include "api/routes.h"
#include "flags/flag_service.h"
#include "flags/ofrep_handler.h"
#include "store/store.h"

namespace slipway::api {
namespace {

using flags::Json;

const char* kFlags = R"({"flags": {
  "beta": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
           "targeting": {"if": [{"ends_with": [{"var": "email"}, "@corp.io"]}, "on", null]}},
  "color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "red"},
  "limits": {"state": "ENABLED", "variants": {"small": {"rps": 10}}, "defaultVariant": "small"},
  "off": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "nodefault": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": null},
  "broken": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
             "targeting": {"cat": ["x"]}}}})";

class FlagsRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flags_routes_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::move(store::Store::Open(dir_ / "state.db", Clock::Real())).value();
    svc_ = std::move(flags::FlagService::Open(store_.get(), Clock::Real())).value();
    ASSERT_TRUE(svc_->Seed("default", Json::parse(kFlags), "test").ok());
    Json prod = Json::parse(kFlags);
    prod["flags"]["color"]["defaultVariant"] = "blue";
    ASSERT_TRUE(svc_->Seed("prod", prod, "test").ok());
    ofrep_ = std::make_unique<flags::OfrepHandler>(svc_.get(), flags::OfrepOptions{});
    router_ = std::make_unique<Router>(RouterOptions{});
    RouteDeps deps;
    deps.flags = svc_.get();
    deps.ofrep = ofrep_.get();
    RegisterFlagsRoutes(*router_, deps);
    // Dispatched as the unix socket's trusted caller: this test is about the routes, not auth.
    ASSERT_TRUE(server_.Start(router_.get()).ok());
  }
  void TearDown() override {
    server_.Stop();
    ofrep_.reset();
    svc_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  http::ClientResponse Call(const std::string& method, const std::string& target,
                            const std::string& body) {
    return server_.Call(method, target, body);
  }
  Json Eval(const std::string& key, const std::string& body = "{}") {
    return Json::parse(Call("POST", "/ofrep/v1/evaluate/flags/" + key, body).body, nullptr, false);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<flags::FlagService> svc_;
  std::unique_ptr<flags::OfrepHandler> ofrep_;
  std::unique_ptr<Router> router_;
  RouterTestServer server_;  // after router_: stops before it goes
};

TEST_F(FlagsRoutesTest, AdminRoutesChangeWhatOfrepServes) {
  EXPECT_EQ(Eval("color")["value"], "#f00");
  auto r =
      Call("POST", "/api/v1/flags/color/disable", R"({"comment": "incident", "actor": "ann"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Eval("color")["reason"], "DISABLED");
  r = Call("PUT", "/api/v1/flags/color", R"({"definition": {"state": "ENABLED"}})");
  EXPECT_EQ(r.status, 400);
  // A definition set by hand is held to flagd's schema (a file with it would load).
  EXPECT_EQ(Json::parse(r.body)["error"],
            "flags.color: variants are missing (flagd answers with the code default)");
  EXPECT_EQ(Json::parse(r.body)["exit"], 2);
  r = Call("POST", "/api/v1/flags/beta/target", R"({"add": ["email=x@y.io"]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Eval("beta", R"({"context": {"email": "x@y.io"}})")["value"], true);
  r = Call("POST", "/api/v1/flags/beta/rollout", R"({"percent": 100})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Eval("beta", R"({"context": {"targetingKey": "z"}})")["value"], true);
  r = Call("GET", "/api/v1/flags/color/history", "");
  Json h = Json::parse(r.body);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1]["actor"], "ann");
  EXPECT_EQ(h[1]["comment"], "incident");
  r = Call("GET", "/api/v1/flags?env=prod", "");
  EXPECT_EQ(Json::parse(r.body)["flags"].size(), 6u);
  r = Call("GET", "/api/v1/flags/export", "");
  EXPECT_EQ(Json::parse(r.body)["flags"]["color"]["state"], "DISABLED");
  r = Call("GET", "/api/v1/flags/nope", "");
  EXPECT_EQ(r.status, 404);
}

TEST_F(FlagsRoutesTest, MalformedChangesAreRefusedAndChangeNothing) {
  // Each of these crashed or was misread before the typed requests.
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/flags/color/disable", R"({"actor": 1})"},
           {"/api/v1/flags/color/disable", R"({"env": ["prod"]})"},
           {"/api/v1/flags/beta/rollout", R"({"percent": "50"})"},
           {"/api/v1/flags/beta/rollout", R"({"percent": 101})"},
           {"/api/v1/flags/beta/rollout", R"({"percent": 1e300})"},
           {"/api/v1/flags/beta/rollout", R"({})"},
           {"/api/v1/flags/beta/target", R"({"add": [1]})"},
           {"/api/v1/flags/beta/target", R"({"add": ["=x"]})"},
           {"/api/v1/flags/beta/target", R"({"add": []})"},
           {"/api/v1/flags/import", R"({"document": 5})"},
           {"/api/v1/flags/import", R"({"replace": true})"},
           {"/api/v1/flags/color/disable", R"({"coment": "typo"})"}}) {
    auto r = Call("POST", target, body);
    EXPECT_EQ(r.status, 400) << target << " " << body << " → " << r.body;
  }
  EXPECT_EQ(Eval("color")["value"], "#f00");
  EXPECT_EQ(Eval("beta", R"({"context": {"targetingKey": "z"}})")["value"], false);
  EXPECT_EQ(Json::parse(Call("GET", "/api/v1/flags/color/history", "").body).size(), 1u);
}

TEST_F(FlagsRoutesTest, PreviewEvaluatesARolloutWithoutChangingIt) {
  // beta: on for @corp.io emails, else off; a rollout places the fractional split after that.
  std::string keys;
  for (int i = 0; i < 40; ++i) {
    if (i > 0) keys += ',';
    keys += "user-";
    keys += std::to_string(i);
  }
  auto count_on = [&](const std::string& query) {
    auto r = Call("GET", "/api/v1/flags/beta/preview?" + query, "");
    EXPECT_EQ(r.status, 200) << query << " → " << r.body;
    Json j = Json::parse(r.body, nullptr, false);
    EXPECT_EQ(j["answers"].size(), 40u) << r.body;
    int on = 0;
    for (const Json& a : j["answers"]) on += a["variant"] == "on" ? 1 : 0;
    return on;
  };
  EXPECT_EQ(count_on("keys=" + keys), 0);
  EXPECT_EQ(count_on("percent=0&keys=" + keys), 0);
  EXPECT_EQ(count_on("percent=100&keys=" + keys), 40);
  const int half = count_on("percent=50&keys=" + keys);
  EXPECT_GT(half, 5);
  EXPECT_LT(half, 35);
  // The same buckets OFREP serves once the rollout is applied.
  ASSERT_EQ(Call("POST", "/api/v1/flags/beta/rollout", R"({"percent": 50})").status, 200);
  int served = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string body =
        std::string(R"({"context": {"targetingKey": "user-)") + std::to_string(i) + "\"}}";
    served += Eval("beta", body)["value"] == true ? 1 : 0;
  }
  EXPECT_EQ(served, half);
  EXPECT_EQ(count_on("keys=" + keys), half);
  auto r = Call("GET", "/api/v1/flags/color/preview?keys=a&env=prod", "");
  EXPECT_EQ(Json::parse(r.body)["answers"][0]["value"], "#00f") << r.body;
  r = Call("GET", "/api/v1/flags/environments", "");
  EXPECT_EQ(Json::parse(r.body)["environments"], Json::array({"default", "prod"})) << r.body;
}

TEST_F(FlagsRoutesTest, HostilePreviewsAreRefusedAndChangeNothing) {
  const size_t before = Json::parse(Call("GET", "/api/v1/flags/beta/history", "").body).size();
  for (const auto& [target, status] : std::vector<std::pair<std::string, int>>{
           {"/api/v1/flags/beta/preview", 400},
           {"/api/v1/flags/beta/preview?keys=", 400},
           {"/api/v1/flags/beta/preview?keys=a&percent=101", 400},
           {"/api/v1/flags/beta/preview?keys=a&percent=-1", 400},
           {"/api/v1/flags/beta/preview?keys=a&percent=x", 400},
           {"/api/v1/flags/beta/preview?keys=a&percent=1e300", 400},
           {"/api/v1/flags/beta/preview?keys=a&percent=99999999999999999999", 400},
           {"/api/v1/flags/beta/preview?keys=a%00b", 400},
           {"/api/v1/flags/beta/preview?keys=" + std::string(300, 'k'), 400},
           {"/api/v1/flags/beta/preview?keys=" + std::string(60 * 2, ','), 400},
           {"/api/v1/flags/nope/preview?keys=a", 404},
           {"/api/v1/flags/beta/preview?keys=a&env=nowhere", 404},
           // A flag whose default is its on variant cannot be rolled out: the API's words.
           {"/api/v1/flags/nodefault/preview?keys=a&percent=5", 409}}) {
    auto r = Call("GET", target, "");
    EXPECT_EQ(r.status, status) << target << " → " << r.body;
    Json j = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_TRUE(j["error"].is_string()) << r.body;
    EXPECT_EQ(j["error"].get<std::string>().find('\n'), std::string::npos);
  }
  std::string many;
  for (int i = 0; i < 51; ++i) {
    many += 'k';
    many += std::to_string(i);
    many += ',';
  }
  EXPECT_EQ(Call("GET", "/api/v1/flags/beta/preview?keys=" + many, "").status, 400);
  EXPECT_EQ(Json::parse(Call("GET", "/api/v1/flags/beta/history", "").body).size(), before);
  EXPECT_EQ(Eval("beta", R"({"context": {"targetingKey": "z"}})")["value"], false);
}

}  // namespace
}  // namespace slipway::api
