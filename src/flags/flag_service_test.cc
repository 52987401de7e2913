#include "flags/flag_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "store/store.h"

namespace slipway::flags {
namespace {

class FlagServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flags_service_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    svc_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    svc_.reset();
    store_.reset();
    auto st = store::Store::Open(dir_ / "state.db", &clock_);
    ASSERT_TRUE(st.ok()) << st.status().message();
    store_ = std::move(st).value();
    auto s = FlagService::Open(store_.get(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    svc_ = std::move(s).value();
  }
  Json Value(const std::string& key, const Json& ctx = Json::object(),
             const std::string& env = "prod") {
    auto set = svc_->Get(env);
    if (!set) return "<no set>";
    auto e = set->Evaluate(key, ctx, 0);
    return e.value ? *e.value : Json("<none>");
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FlagService> svc_;
};

const Json kBool = Json::parse(
    R"({"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"})");

TEST_F(FlagServiceTest, SetPersistsAuditsAndSurvivesRestart) {
  ASSERT_TRUE(svc_->Set("prod", "beta", kBool, {"ann", "first"}).ok());
  EXPECT_EQ(Value("beta"), false);
  ASSERT_TRUE(svc_->SetEnabled("prod", "beta", false, {"bob", "incident 42"}).ok());
  Reopen();
  auto set = svc_->Get("prod");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->Evaluate("beta", Json::object(), 0).reason, Reason::kDisabled);
  auto h = svc_->History("prod", "beta", 0);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].action, "create");
  EXPECT_EQ((*h)[0].actor, "ann");
  EXPECT_TRUE((*h)[0].before.is_null());
  EXPECT_EQ((*h)[1].action, "disable");
  EXPECT_EQ((*h)[1].comment, "incident 42");
  EXPECT_EQ((*h)[1].before["state"], "ENABLED");
  EXPECT_EQ((*h)[1].after["state"], "DISABLED");
  EXPECT_EQ((*h)[1].wall_ms, clock_.WallMillis());
}

TEST_F(FlagServiceTest, InvalidChangeIsRefusedAndNothingChanges) {
  ASSERT_TRUE(svc_->Set("prod", "beta", kBool, {"ann", ""}).ok());
  auto before = svc_->Get("prod");
  Json bad = kBool;
  bad["defaultVariant"] = "maybe";
  Status st = svc_->Set("prod", "beta", bad, {"ann", ""});
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(st.message(), "flags.beta.defaultVariant: \"maybe\" is not one of the variants");
  EXPECT_EQ(svc_->Get("prod"), before);  // the very same set object
  EXPECT_EQ(svc_->History("prod", "beta", 0)->size(), 1u);
  Reopen();
  EXPECT_EQ(Value("beta"), false);
}

TEST_F(FlagServiceTest, EnvironmentsAreSeparate) {
  ASSERT_TRUE(svc_->Set("prod", "beta", kBool, {}).ok());
  Json on = kBool;
  on["defaultVariant"] = "on";
  ASSERT_TRUE(svc_->Set("dev", "beta", on, {}).ok());
  EXPECT_EQ(Value("beta", Json::object(), "prod"), false);
  EXPECT_EQ(Value("beta", Json::object(), "dev"), true);
  EXPECT_EQ(svc_->Environments(), (std::vector<std::string>{"dev", "prod"}));
  EXPECT_EQ(svc_->Get("staging"), nullptr);
}

TEST_F(FlagServiceTest, RolloutAndTargets) {
  ASSERT_TRUE(svc_->Set("prod", "beta", kBool, {}).ok());
  ASSERT_TRUE(svc_->AddTarget("prod", "beta", "email", "ann@corp.io", "", {}).ok());
  ASSERT_TRUE(svc_->AddTarget("prod", "beta", "email", "bob@corp.io", "", {}).ok());
  ASSERT_TRUE(svc_->Rollout("prod", "beta", 0, {}).ok());
  EXPECT_EQ(Value("beta", {{"email", "bob@corp.io"}}), true);
  EXPECT_EQ(Value("beta", {{"email", "x@y.io"}, {"targetingKey", "x"}}), false);
  ASSERT_TRUE(svc_->Rollout("prod", "beta", 100, {}).ok());
  EXPECT_EQ(Value("beta", {{"email", "x@y.io"}, {"targetingKey", "x"}}), true);
  ASSERT_TRUE(svc_->Rollout("prod", "beta", 50, {}).ok());
  int on = 0;
  for (int i = 0; i < 400; ++i) {
    if (Value("beta", {{"targetingKey", "user" + std::to_string(i)}}) == true) ++on;
  }
  EXPECT_GT(on, 150);
  EXPECT_LT(on, 250);
  auto def = svc_->Export("prod");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ((*def)["flags"]["beta"]["targeting"]["if"][0]["in"][1],
            Json::parse(R"(["ann@corp.io", "bob@corp.io"])"));
  EXPECT_EQ(svc_->Rollout("prod", "beta", 101, {}).code(), StatusCode::kInvalidInput);
  EXPECT_EQ(svc_->Rollout("prod", "nope", 5, {}).code(), StatusCode::kNotFound);
}

TEST_F(FlagServiceTest, SeedKeepsRuntimeChangesUntilTheFileChanges) {
  Json doc = {{"flags", {{"beta", kBool}}}};
  ASSERT_TRUE(svc_->Seed("prod", doc, "flags.json").ok());
  ASSERT_TRUE(svc_->SetEnabled("prod", "beta", false, {"ann", "kill"}).ok());
  Reopen();
  ASSERT_TRUE(svc_->Seed("prod", doc, "flags.json").ok());  // same file: the toggle stays
  EXPECT_EQ(svc_->Get("prod")->Evaluate("beta", Json::object(), 0).reason, Reason::kDisabled);
  doc["flags"]["beta"]["defaultVariant"] = "on";
  ASSERT_TRUE(svc_->Seed("prod", doc, "flags.json").ok());  // the file changed: it wins
  EXPECT_EQ(Value("beta"), true);
  auto h = svc_->History("prod", "beta", 0);
  EXPECT_EQ(h->back().actor, "file");
  EXPECT_EQ(h->back().action, "seed");
}

TEST_F(FlagServiceTest, ImportReplaceAndExport) {
  ASSERT_TRUE(svc_->Set("prod", "old", kBool, {}).ok());
  Json doc = Json::parse(R"({"$evaluators": {"pro": {"==": [{"var": "plan"}, "pro"]}},
    "flags": {"new": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
                      "targeting": {"if": [{"$ref": "pro"}, "b", null]}}}})");
  ASSERT_TRUE(svc_->Import("prod", doc, /*replace=*/true, {"ci", "sync"}).ok());
  EXPECT_EQ(Value("new", {{"plan", "pro"}}), "B");
  EXPECT_EQ(Value("old"), "<none>");
  EXPECT_EQ(*svc_->Export("prod"), doc);
  // A document flagd refuses (a default variant that is no variant) changes nothing.
  Json refused = doc;
  refused["flags"]["new"]["defaultVariant"] = "zzz";
  EXPECT_FALSE(svc_->Import("prod", refused, false, {}).ok());
  EXPECT_EQ(*svc_->Export("prod"), doc);
  // One flagd loads although an evaluator is broken is imported; the flag that uses it answers
  // PARSE_ERROR, as flagd answers it.
  Json broken = doc;
  broken["$evaluators"]["pro"] = {{"nope", 1}};
  ASSERT_TRUE(svc_->Import("prod", broken, false, {}).ok());
  EXPECT_EQ(*svc_->Export("prod"), broken);
  Json ctx = {{"plan", "pro"}};
  EXPECT_EQ(svc_->Get("prod")->Evaluate("new", ctx, 0).error, ErrorCode::kParseError);
  EXPECT_FALSE(svc_->Get("prod")->Find("new")->valid());
}

TEST_F(FlagServiceTest, SeedWarnsAndSetRefusesInvalidFlags) {
  Json doc = Json::parse(R"({"flags": {
    "ok": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
    "odd": {"state": "ENABLED", "variants": {"a": "A", "fb": "FB"}, "defaultVariant": "fb",
            "targeting": {"starts_with": ["a"]}},
    "empty": null}})");
  std::vector<std::string> warnings;
  ASSERT_TRUE(svc_->Seed("prod", doc, "flags.json", &warnings).ok());
  ASSERT_EQ(warnings.size(), 3u);  // empty: no state, no variants
  EXPECT_EQ(warnings[0],
            "flags.json: flag empty: flags.empty: state is missing (ENABLED or DISABLED; flagd "
            "treats it as ENABLED)");
  // A null definition is stored and answered as flagd answers it: the code default.
  Json none = Json::object();
  ASSERT_NE(svc_->Get("prod")->Find("empty"), nullptr);
  EXPECT_EQ(svc_->Get("prod")->Evaluate("empty", none, 0).reason, Reason::kDefault);
  EXPECT_EQ(svc_->Get("prod")->Evaluate("empty", none, 0).value, nullptr);
  warnings.erase(warnings.begin(), warnings.begin() + 2);
  EXPECT_EQ(warnings[0],
            "flags.json: flag odd: flags.odd.targeting.starts_with: takes 2 arguments, got 1 "
            "(flagd's operator answers null there)");
  Json ctx = Json::object();
  Evaluation e = svc_->Get("prod")->Evaluate("odd", ctx, 0);
  EXPECT_EQ(e.reason, Reason::kDefault);
  EXPECT_EQ(*e.value, "FB");
  // A definition set by hand is held to flagd's schema.
  Status st = svc_->Set("prod", "odd2", doc["flags"]["odd"], {});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("starts_with: takes 2 arguments"), std::string::npos) << st.message();
  EXPECT_EQ(svc_->Get("prod")->Find("odd2"), nullptr);
  // Toggling the invalid flag from the file still works.
  EXPECT_TRUE(svc_->SetEnabled("prod", "odd", false, {}).ok());
}

TEST_F(FlagServiceTest, LifecycleAndStale) {
  Json fixed = kBool;
  fixed["targeting"] = {{"if", {{{"var", "x"}}, "on", nullptr}}};
  ASSERT_TRUE(svc_->Set("prod", "static", kBool, {}).ok());
  ASSERT_TRUE(svc_->Set("prod", "used", fixed, {}).ok());
  ASSERT_TRUE(svc_->Set("prod", "unused", fixed, {}).ok());
  svc_->Get("prod")->Find("used")->NoteEvaluated(clock_.WallMillis());
  ASSERT_TRUE(svc_->FlushEvaluated().ok());
  clock_.AdvanceForTest(Duration(int64_t{40} * 86'400'000));
  svc_->Get("prod")->Find("used")->NoteEvaluated(clock_.WallMillis());
  auto stale = svc_->Stale("prod", 30);
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(stale->size(), 2u);
  EXPECT_EQ((*stale)[0].key, "static");
  EXPECT_EQ((*stale)[0].why, "fully rolled out (static \"off\")");
  EXPECT_EQ((*stale)[1].key, "unused");
  EXPECT_EQ((*stale)[1].why, "never evaluated");
  ASSERT_TRUE(svc_->FlushEvaluated().ok());
  Reopen();
  auto rows = svc_->List("prod");
  ASSERT_TRUE(rows.ok());
  for (const auto& r : *rows) {
    if (r.key == "used") {
      EXPECT_EQ(r.evaluated_ms, clock_.WallMillis());
    }
    EXPECT_GT(r.created_ms, 0);
  }
}

}  // namespace
}  // namespace slipway::flags
