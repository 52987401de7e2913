#include "flags/flag_set.h"

#include <gtest/gtest.h>

namespace slipway::flags {
namespace {

const char* kDoc = R"({
  "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@corp.io"]}},
  "metadata": {"team": "web"},
  "flags": {
    "static-on": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
    "off": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
    "off-null": {"state": "DISABLED", "variants": {"on": true}, "defaultVariant": null},
    "color": {"state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "red",
              "targeting": {"if": [{"$ref": "staff"}, "blue", null]}, "metadata": {"owner": "ann"}},
    "bool-key": {"state": "ENABLED", "variants": {"true": 1, "false": 0}, "defaultVariant": "false",
                 "targeting": {"==": [{"var": "plan"}, "pro"]}},
    "no-default": {"state": "ENABLED", "variants": {"a": {"x": 1}}, "defaultVariant": null},
    "no-default-t": {"state": "ENABLED", "variants": {"a": "A"},
                     "targeting": {"if": [{"var": "vip"}, "a", null]}},
    "bad-variant": {"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": "a",
                    "targeting": {"cat": ["b", "c"]}}
  }})";

class FlagSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = FlagSet::Parse(Json::parse(kDoc), "flags.json");
    ASSERT_TRUE(s.ok()) << s.status().message();
    set_ = *s;
  }
  Evaluation Eval(const std::string& key, const std::string& ctx = "{}") {
    ctx_ = Json::parse(ctx);
    return set_->Evaluate(key, ctx_, 1'700'000'000);
  }
  std::shared_ptr<const FlagSet> set_;
  Json ctx_;
};

TEST_F(FlagSetTest, StaticUsesTheDefaultVariant) {
  auto e = Eval("static-on");
  EXPECT_EQ(e.reason, Reason::kStatic);
  ASSERT_NE(e.value, nullptr);
  EXPECT_EQ(*e.value, true);
  EXPECT_EQ(*e.variant, "on");
  EXPECT_EQ((*e.metadata)["team"], "web");
}

TEST_F(FlagSetTest, DisabledFlags) {
  auto e = Eval("off");
  EXPECT_EQ(e.reason, Reason::kDisabled);
  EXPECT_EQ(e.value, nullptr);  // the caller's default, as flagd-core answers
  EXPECT_EQ(e.variant, nullptr);
  EXPECT_EQ(e.error, ErrorCode::kNone);
  auto n = Eval("off-null");
  EXPECT_EQ(n.reason, Reason::kDisabled);
  EXPECT_EQ(n.value, nullptr);
}

TEST_F(FlagSetTest, TargetingMatchDefaultAndRef) {
  auto m = Eval("color", R"({"email": "a@corp.io"})");
  EXPECT_EQ(m.reason, Reason::kTargetingMatch);
  EXPECT_EQ(*m.value, "#00f");
  EXPECT_EQ((*m.metadata)["owner"], "ann");
  EXPECT_EQ((*m.metadata)["team"], "web");
  auto d = Eval("color", R"({"email": "a@x.io"})");
  EXPECT_EQ(d.reason, Reason::kDefault);
  EXPECT_EQ(*d.value, "#f00");
}

TEST_F(FlagSetTest, BooleanTargetingResultNamesAVariant) {
  EXPECT_EQ(*Eval("bool-key", R"({"plan": "pro"})").value, 1);
  EXPECT_EQ(*Eval("bool-key", R"({"plan": "free"})").variant, "false");
  EXPECT_EQ(Eval("bool-key").reason, Reason::kTargetingMatch);
}

TEST_F(FlagSetTest, NullDefaultVariantHasNoValue) {
  auto e = Eval("no-default");
  EXPECT_EQ(e.reason, Reason::kDefault);
  EXPECT_EQ(e.value, nullptr);
  auto t = Eval("no-default-t");
  EXPECT_EQ(t.reason, Reason::kDefault);
  EXPECT_EQ(t.value, nullptr);
  EXPECT_EQ(*Eval("no-default-t", R"({"vip": true})").value, "A");
}

TEST_F(FlagSetTest, Errors) {
  auto nf = Eval("nope");
  EXPECT_EQ(nf.reason, Reason::kError);
  EXPECT_EQ(nf.error, ErrorCode::kFlagNotFound);
  EXPECT_EQ(ErrorCodeName(nf.error), "FLAG_NOT_FOUND");
  auto bv = Eval("bad-variant");
  EXPECT_EQ(bv.reason, Reason::kError);
  EXPECT_EQ(bv.error, ErrorCode::kGeneral);
  EXPECT_EQ(bv.error_message, "Variant 'bc' not found in flag with key 'bad-variant'");
}

TEST_F(FlagSetTest, ExportRoundTrips) {
  Json doc = set_->ToDocument();
  Json orig = Json::parse(kDoc);
  EXPECT_EQ(doc, orig);
}

TEST(FlagSetValidation, RefusesInvalidDefinitions) {
  auto err = [](const std::string& flag) {
    auto r = FlagSet::Parse(Json::parse(R"({"flags": {"f": )" + flag + "}}"), "f.json");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(err(R"({"variants": {"a": 1}})"), "f.json: flags.f: state is missing (ENABLED or DISABLED)");
  EXPECT_EQ(err(R"({"state": "ON", "variants": {"a": 1}})"),
            "f.json: flags.f.state: must be ENABLED or DISABLED, got \"ON\"");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {}})"),
            "f.json: flags.f.variants: must be a non-empty object of name: value");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1, "b": "x"}})"),
            "f.json: flags.f.variants.b: is a string but the other variants are numbers (all "
            "variants of a flag have one type)");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "z"})"),
            "f.json: flags.f.defaultVariant: \"z\" is not one of the variants");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "targeting": {"bogus": []}})"),
            "f.json: flags.f.targeting: unknown operator \"bogus\"");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "metadata": {"x": [1]}})"),
            "f.json: flags.f.metadata.x: must be a string, number or boolean, got [1]");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "defaultVarient": "a"})"),
            "f.json: flags.f: unknown key \"defaultVarient\" (expected state, variants, "
            "defaultVariant, targeting, metadata)");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": [1]}})"),
            "f.json: flags.f.variants.a: must be a boolean, string, number or object, got [1]");
}

}  // namespace
}  // namespace slipway::flags
