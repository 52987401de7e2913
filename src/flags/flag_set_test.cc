#include "flags/flag_set.h"

#include <gtest/gtest.h>

#include <cstdio>

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

namespace slipway::flags {
namespace {

// The flag index is an open-addressing table: every key is found, absent keys are not, at
// sizes that wrap the probe sequence around the end of the table.
TEST(FlagSetIndex, FindsEveryKeyAndNoOther) {
  auto name = [](int i) {
    std::string k = "k";
    k += std::to_string(i);
    return k;
  };
  for (int n : {0, 1, 3, 4, 5, 17, 200}) {
    Json flags = Json::object();
    for (int i = 0; i < n; ++i) {
      flags[name(i)] = {{"state", "ENABLED"},
                                        {"variants", {{"v", i}}},
                                        {"defaultVariant", "v"}};
    }
    auto set = FlagSet::Parse(Json{{"flags", flags}}, "");
    ASSERT_TRUE(set.ok()) << set.status().message();
    for (int i = 0; i < n; ++i) {
      const Flag* f = (*set)->Find(name(i));
      ASSERT_NE(f, nullptr) << n << " k" << i;
      EXPECT_EQ(f->key(), name(i));
      EXPECT_EQ(*(*set)->Evaluate(f->key(), Json::object(), 0).value, i);
    }
    for (const char* absent : {"", "k", "k-1", "x", "k0 ", "j0", "k200", "k2000"}) {
      EXPECT_EQ((*set)->Find(absent), nullptr) << n << " " << absent;
    }
    EXPECT_EQ((*set)->Evaluate("nope", Json::object(), 0).error, ErrorCode::kFlagNotFound);
  }
}

// Keys that differ only in their last characters (flag-00, flag-01, ...) still spread over the
// table: a weak hash would chain them and make every lookup a scan.
TEST(FlagSetIndex, SimilarKeysSpread) {
  Json flags = Json::object();
  for (int i = 0; i < 100; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "flag-%02d", i);
    flags[key] = {{"state", "ENABLED"}, {"variants", {{"v", true}}}, {"defaultVariant", "v"}};
  }
  auto set = FlagSet::Parse(Json{{"flags", flags}}, "");
  ASSERT_TRUE(set.ok());
  EXPECT_LE((*set)->LongestProbeForTest(), 8u);
}

// Evaluations carry the serialised value, variant and metadata, equal to dumping them.
TEST(FlagSetIndex, SerialisedFormsMatchTheValues) {
  auto set = FlagSet::Parse(Json::parse(R"({"metadata": {"team": "a\"b"}, "flags": {
      "obj": {"state": "ENABLED", "variants": {"x\ty": {"n": 1.5, "s": "é\n"}, "b": {}},
              "defaultVariant": "x\ty", "metadata": {"v": 2}},
      "t": {"state": "ENABLED", "variants": {"a": 0.1, "bb": -3, "c": 1e300},
            "defaultVariant": "a", "targeting": {"var": "pick"}}}})"),
                            "");
  ASSERT_TRUE(set.ok()) << set.status().message();
  for (const char* pick : {"a", "bb", "c", "zz"}) {
    for (const char* key : {"obj", "t", "missing"}) {
      Json ctx = {{"pick", pick}};
      Evaluation e = (*set)->Evaluate(key, ctx, 0);
      ASSERT_EQ(e.value != nullptr, e.value_json != nullptr) << key << pick;
      if (e.value) {
        EXPECT_EQ(*e.value_json, e.value->dump());
      }
      ASSERT_EQ(e.variant != nullptr, e.variant_json != nullptr);
      if (e.variant) {
        EXPECT_EQ(*e.variant_json, Json(*e.variant).dump());
      }
      ASSERT_NE(e.metadata_json, nullptr);
      EXPECT_EQ(*e.metadata_json, e.metadata->dump());
    }
  }
}

}  // namespace
}  // namespace slipway::flags

namespace slipway::flags {
namespace {

// Variant lookup scans few variants and searches many; contexts are scanned when small and
// searched when large. Both ways must find exactly the named entry.
std::string Named(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

TEST(FlagSetIndex, VariantAndContextLookupsSmallAndLarge) {
  for (int nvariants : {3, 12}) {
    Json variants = Json::object();
    for (int i = 0; i < nvariants; ++i) variants[Named("v", i * 7)] = i;
    Json flag = {{"state", "ENABLED"}, {"variants", variants}, {"defaultVariant", "v0"},
                 {"targeting", {{"var", "pick"}}}};
    auto set = FlagSet::Parse(Json{{"flags", {{"f", flag}}}}, "");
    ASSERT_TRUE(set.ok()) << set.status().message();
    for (int nkeys : {1, 20}) {
      for (int i = 0; i < nvariants; ++i) {
        Json ctx = Json::object();
        for (int k = 0; k < nkeys; ++k) ctx[Named("pad", k)] = "v0";
        ctx["pick"] = Named("v", i * 7);
        Evaluation e = (*set)->Evaluate("f", ctx, 0);
        ASSERT_EQ(e.reason, Reason::kTargetingMatch) << nvariants << " " << nkeys << " " << i;
        EXPECT_EQ(*e.value, i);
        EXPECT_EQ(*e.variant, Named("v", i * 7));
      }
      for (const char* absent : {"v1", "v", "v00", "w0"}) {
        Json ctx = {{"pick", absent}};
        for (int k = 0; k < nkeys; ++k) ctx[Named("pad", k)] = "v0";
        Evaluation e = (*set)->Evaluate("f", ctx, 0);
        EXPECT_EQ(e.error, ErrorCode::kGeneral) << absent;
        EXPECT_EQ(e.value, nullptr);
      }
      Json ctx = Json::object();
      for (int k = 0; k < nkeys; ++k) ctx[Named("pad", k)] = "v0";
      EXPECT_EQ((*set)->Evaluate("f", ctx, 0).reason, Reason::kDefault);  // no "pick": null
    }
  }
}

}  // namespace
}  // namespace slipway::flags

namespace slipway::flags {
namespace {

// A rule's string constants are mapped to variants at compile time (Flag::LiteralVariant); every
// way a rule can name a variant must still answer as a lookup by name would: a constant, a
// constant inside a folded array (fractional entries), a `var` default, a constant that names
// no variant, a computed name, a non-string answer, and a constant from a `$ref` evaluator.
TEST(FlagLiteralVariants, EveryWayOfNamingAVariantAgrees) {
  auto set = FlagSet::Parse(Json::parse(R"({
    "$evaluators": {"pick": {"if": [{"var": "x"}, "blue", "nope"]}},
    "flags": {
      "lit": {"state": "ENABLED", "variants": {"red": 1, "blue": 2}, "defaultVariant": "red",
              "targeting": {"if": [{"==": [{"var": "n"}, 1]}, "blue",
                                   {"==": [{"var": "n"}, 2]}, "nope",
                                   {"==": [{"var": "n"}, 3]}, {"cat": ["bl", "ue"]},
                                   {"==": [{"var": "n"}, 4]}, {"var": ["missing", "blue"]},
                                   {"==": [{"var": "n"}, 5]}, true,
                                   {"==": [{"var": "n"}, 6]}, {"var": "name"},
                                   null]}},
      "ref": {"state": "ENABLED", "variants": {"red": 1, "blue": 2}, "defaultVariant": "red",
              "targeting": {"$ref": "pick"}},
      "frac": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
               "targeting": {"fractional": [["a", 50], ["b", 50]]}},
      "bools": {"state": "ENABLED", "variants": {"true": "T", "false": "F"}, "defaultVariant": "false",
                "targeting": {"if": [{"var": "on"}, true, false]}}
    }})"), "t");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto eval = [&](const char* key, const Json& ctx) { return (*set)->Evaluate(key, ctx, 0); };
  auto variant = [](const Evaluation& e) { return e.variant ? *e.variant : std::string("-"); };

  for (int n : {1, 3, 4}) {
    Evaluation e = eval("lit", {{"n", n}});
    EXPECT_EQ(e.reason, Reason::kTargetingMatch) << n;
    EXPECT_EQ(variant(e), "blue") << n;
    ASSERT_NE(e.value, nullptr);
    EXPECT_EQ(*e.value, 2) << n;
    EXPECT_EQ(*e.value_json, "2");
    EXPECT_EQ(*e.variant_json, "\"blue\"");
  }
  Evaluation nope = eval("lit", {{"n", 2}});
  EXPECT_EQ(nope.reason, Reason::kError);
  EXPECT_EQ(nope.error, ErrorCode::kGeneral);
  EXPECT_EQ(eval("lit", {{"n", 5}}).error, ErrorCode::kGeneral);  // "true" is no variant here
  EXPECT_EQ(variant(eval("lit", {{"n", 6}, {"name", "red"}})), "red");
  EXPECT_EQ(eval("lit", {{"n", 6}, {"name", "green"}}).error, ErrorCode::kGeneral);
  EXPECT_EQ(eval("lit", {{"n", 7}}).reason, Reason::kDefault);

  EXPECT_EQ(variant(eval("ref", {{"x", true}})), "blue");
  EXPECT_EQ(eval("ref", {{"x", false}}).error, ErrorCode::kGeneral);

  int a = 0, b = 0;
  for (int i = 0; i < 200; ++i) {
    Evaluation e = eval("frac", {{"targetingKey", "user-" + std::to_string(i)}});
    ASSERT_EQ(e.reason, Reason::kTargetingMatch);
    (variant(e) == "a" ? a : b)++;
    EXPECT_EQ(*e.value, variant(e) == "a" ? "A" : "B");
  }
  EXPECT_GT(a, 60);
  EXPECT_GT(b, 60);

  EXPECT_EQ(variant(eval("bools", {{"on", true}})), "true");
  EXPECT_EQ(variant(eval("bools", {{"on", false}})), "false");
}

}  // namespace
}  // namespace slipway::flags
