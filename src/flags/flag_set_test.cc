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

// What flagd refuses the whole file for, Slipway refuses with the file, flag and field.
TEST(FlagSetValidation, RefusesWhatFlagdRefuses) {
  auto err = [](const std::string& flag) {
    auto r = FlagSet::Parse(Json::parse(R"({"flags": {"f": )" + flag + "}}"), "f.json");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(err("5"), "f.json: flags.f: must be an object, got 5");
  EXPECT_EQ(err(R"({"state": 1, "variants": {"a": 1}})"),
            "f.json: flags.f.state: must be ENABLED or DISABLED, got 1");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": [1]})"),
            "f.json: flags.f.variants: must be an object of name: value, got [1]");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "z"})"),
            "f.json: flags.f.defaultVariant: \"z\" is not one of the variants");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": 1})"),
            "f.json: flags.f.defaultVariant: must be a variant name or null, got 1");
  EXPECT_EQ(err(R"({"state": "ENABLED", "variants": {"a": 1}, "metadata": "x"})"),
            "f.json: flags.f.metadata: must be an object, got \"x\"");

  auto doc_err = [](const std::string& doc) {
    auto r = FlagSet::Parse(Json::parse(doc), "f.json");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(doc_err("[1]"), "f.json: a flag document must be a JSON object");
  EXPECT_EQ(doc_err("{}"), "f.json: flags: missing (expected an object of KEY: definition)");
  EXPECT_EQ(doc_err(R"({"flags": "x"})"),
            "f.json: flags: must be an object of KEY: definition, got \"x\"");
  EXPECT_EQ(doc_err(R"({"flags": {}, "$evaluators": [1]})"),
            "f.json: $evaluators: must be an object of name: rule, got [1]");
  EXPECT_EQ(doc_err(R"({"flags": {}, "$evaluators": {"e": {}}})"),
            "f.json: $evaluators.e: must be a JsonLogic rule, got {}");
  EXPECT_EQ(doc_err(R"({"flags": {}, "metadata": 3})"),
            "f.json: metadata: must be an object, got 3");
  EXPECT_EQ(doc_err(R"({"flags": [{"state": "ENABLED"}]})"),
            "f.json: flags[0].key: must be the flag's key (a non-empty string)");
  EXPECT_EQ(doc_err(R"({"flags": [7]})"), "f.json: flags[0]: must be an object, got 7");
}

// What flagd loads although its schema forbids it, Slipway loads too: the flag is kept, its
// problem listed, and it answers as flagd answers it.
TEST(FlagSetValidation, LoadsWhatFlagdLoadsAndListsTheProblems) {
  auto problems = [](const std::string& flag) {
    auto r = FlagSet::Parse(Json::parse(R"({"flags": {"f": )" + flag + "}}"), "f.json");
    if (!r.ok()) return "refused: " + r.status().message();
    std::string out;
    for (const auto& p : (*r)->Problems())
      out += (out.empty() ? "" : " | ") + p.flag + ": " + p.message;
    EXPECT_EQ((*r)->Find("f")->valid(), out.empty());
    return out;
  };
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"})"), "");
  EXPECT_EQ(problems(R"({"variants": {"a": 1}})"),
            "f: flags.f: state is missing (ENABLED or DISABLED; flagd treats it as ENABLED)");
  EXPECT_EQ(
      problems(R"({"state": "ON", "variants": {"a": 1}})"),
      "f: flags.f.state: must be ENABLED or DISABLED, got \"ON\" (flagd treats it as ENABLED)");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {}})"),
            "f: flags.f.variants: is empty (flagd answers with the code default)");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": 1, "b": "x"}})"),
            "f: flags.f.variants.b: is a string but the other variants are numbers (all variants "
            "of a flag have one type)");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": 1}, "targeting": {"bogus": []}})"),
            "f: flags.f.targeting: unknown operator \"bogus\" (flagd answers PARSE_ERROR when it "
            "is reached)");
  EXPECT_EQ(
      problems(
          R"({"state": "ENABLED", "variants": {"a": 1}, "targeting": {"if": [{"$ref": "x"}, "a", null]}})"),
      "f: flags.f.targeting.if[0].$ref: no evaluator \"x\" in $evaluators (flagd answers "
      "PARSE_ERROR when it is reached)");
  EXPECT_EQ(
      problems(
          R"({"state": "ENABLED", "variants": {"a": 1}, "targeting": {"starts_with": ["abc"]}})"),
      "f: flags.f.targeting.starts_with: takes 2 arguments, got 1 (flagd's operator answers "
      "null there)");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": 1}, "metadata": {"x": [1]}})"),
            "f: flags.f.metadata.x: must be a string, number or boolean, got [1] (flagd passes it "
            "on as it is)");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": 1}, "defaultVarient": "a"})"),
            "f: flags.f: unknown key \"defaultVarient\" (expected state, variants, defaultVariant, "
            "targeting, metadata; ignored)");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": [1]}})"),
            "f: flags.f.variants.a: must be a boolean, string, number or object, got [1]");
  EXPECT_EQ(problems(R"({"state": "ENABLED", "variants": {"a": 1}, "targeting": "a"})"),
            "f: flags.f.targeting: must be a JsonLogic object, got \"a\" (flagd reads the value "
            "itself as the variant name)");
  // Two problems of one flag are both listed.
  EXPECT_EQ(problems(R"({"state": "on", "variants": {"a": 1}, "targeting": {"x": 1}})"),
            "f: flags.f.state: must be ENABLED or DISABLED, got \"on\" (flagd treats it as "
            "ENABLED) | f: flags.f.targeting: unknown operator \"x\" (flagd answers PARSE_ERROR "
            "when it is reached)");
}

// flagd-testbed's evaluator flags of this kind, answered as flagd answers them.
TEST(FlagSetValidation, InvalidFlagsAnswerAsFlagdDoes) {
  const char* doc = R"({
    "$evaluators": {"good": {"==": [{"var": "email"}, "a@b.c"]}, "bad": {"nope": [1]}},
    "metadata": {"deep": {"x": 1}},
    "unknown": 1,
    "flags": {
      "ok": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
             "targeting": {"if": [{"$ref": "good"}, "on", null]}},
      "sw-args": {"state": "ENABLED", "variants": {"true": "t", "false": "f", "fb": "fb"},
                  "defaultVariant": "fb", "targeting": {"starts_with": ["abc"]}},
      "ew-args": {"state": "ENABLED", "variants": {"true": "t", "false": "f", "fb": "fb"},
                  "defaultVariant": "fb", "targeting": {"ends_with": ["xyz"]}},
      "sv-args": {"state": "ENABLED", "variants": {"true": "t", "false": "f", "fb": "fb"},
                  "defaultVariant": "fb", "targeting": {"sem_ver": [{"var": "v"}, "="]}},
      "dangling": {"state": "ENABLED", "variants": {"hit": "hit", "fb": "fb"},
                   "defaultVariant": "fb", "targeting": {"if": [{"$ref": "missing"}, "hit", null]}},
      "lazy": {"state": "ENABLED", "variants": {"hit": "hit", "fb": "fb"}, "defaultVariant": "fb",
               "targeting": {"if": [{"var": "x"}, {"nope": 1}, "hit"]}},
      "via-bad": {"state": "ENABLED", "variants": {"hit": "hit", "fb": "fb"},
                  "defaultVariant": "fb", "targeting": {"if": [{"$ref": "bad"}, "hit", null]}},
      "eq-args": {"state": "ENABLED", "variants": {"true": "t", "fb": "fb"}, "defaultVariant": "fb",
                  "targeting": {"==": [1]}},
      "odd-state": {"state": "Disabled", "variants": {"on": true}, "defaultVariant": "on"},
      "null-variant": {"state": "ENABLED", "variants": {"n": null, "a": "A"}, "defaultVariant": "n"},
      "empty-default": {"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": ""},
      "nothing": null
    }})";
  auto parsed = FlagSet::Parse(Json::parse(doc), "testkit.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const FlagSet& set = **parsed;
  Json ctx = {{"email", "a@b.c"}, {"v", "1.0.0"}};
  auto eval = [&](const char* key) { return set.Evaluate(key, ctx, 1'700'000'000); };

  EXPECT_TRUE(set.Find("ok")->valid());
  EXPECT_EQ(eval("ok").reason, Reason::kTargetingMatch);
  for (const char* key : {"sw-args", "ew-args", "sv-args"}) {
    Evaluation e = eval(key);
    EXPECT_FALSE(set.Find(key)->valid()) << key;
    EXPECT_EQ(e.reason, Reason::kDefault) << key;  // the operator's null: the default variant
    ASSERT_NE(e.value, nullptr) << key;
    EXPECT_EQ(*e.value, "fb") << key;
  }
  for (const char* key : {"dangling", "via-bad", "eq-args"}) {
    Evaluation e = eval(key);
    EXPECT_EQ(e.reason, Reason::kError) << key;
    EXPECT_EQ(e.error, ErrorCode::kParseError) << key;
    EXPECT_EQ(e.value, nullptr) << key;
  }
  // A failing node on a branch not taken does not fail the evaluation, as in flagd.
  EXPECT_EQ(eval("lazy").reason, Reason::kTargetingMatch);
  EXPECT_EQ(*eval("lazy").value, "hit");
  Json x = {{"x", true}};
  EXPECT_EQ(set.Evaluate("lazy", x, 0).error, ErrorCode::kParseError);
  // Only "DISABLED" disables.
  EXPECT_EQ(eval("odd-state").reason, Reason::kStatic);
  Evaluation nv = eval("null-variant");
  EXPECT_EQ(nv.reason, Reason::kError);
  EXPECT_EQ(nv.error, ErrorCode::kGeneral);
  EXPECT_EQ(eval("empty-default").reason, Reason::kDefault);
  EXPECT_EQ(eval("empty-default").value, nullptr);
  EXPECT_EQ(eval("nothing").reason, Reason::kDefault);
  EXPECT_EQ(eval("nothing").value, nullptr);

  std::vector<std::string> lines;
  for (const auto& p : set.Problems()) lines.push_back(p.flag + ": " + p.message);
  const std::vector<std::string> want = {
      ": unknown key \"unknown\" (expected flags, $evaluators, metadata, $schema; ignored)",
      ": metadata.deep: must be a string, number or boolean, got {\"x\":1} (flagd passes it on "
      "as it is)",
      ": $evaluators.bad: unknown operator \"nope\" (flagd answers PARSE_ERROR when it is reached)",
      "dangling: flags.dangling.targeting.if[0].$ref: no evaluator \"missing\" in $evaluators "
      "(flagd answers PARSE_ERROR when it is reached)",
  };
  ASSERT_GE(lines.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(lines[i], want[i]);
  size_t invalid = 0;
  for (const auto& [key, f] : set.flags()) invalid += f->valid() ? 0 : 1;
  // All but "ok" and "empty-default" (flagd's schema allows "" there).
  EXPECT_EQ(invalid, 10u);
}

// flagd also reads the flags as a list of definitions carrying their key.
TEST(FlagSetValidation, FlagsAsAList) {
  auto r = FlagSet::Parse(Json::parse(R"({"flags": [
      {"key": "a", "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"},
      {"key": "b", "state": "DISABLED", "variants": {"on": true}, "defaultVariant": "on"}]})"),
                          "list.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE((*r)->Problems().empty());
  Json ctx = Json::object();
  EXPECT_EQ((*r)->Evaluate("a", ctx, 0).reason, Reason::kStatic);
  EXPECT_EQ((*r)->Evaluate("b", ctx, 0).reason, Reason::kDisabled);

  auto twice = FlagSet::Parse(Json::parse(R"({"flags": [
      {"key": "a", "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"},
      {"key": "a", "state": "DISABLED", "variants": {"on": true}, "defaultVariant": "on"}]})"),
                              "list.json");
  ASSERT_TRUE(twice.ok()) << twice.status().message();
  ASSERT_EQ((*twice)->Problems().size(), 1u);
  EXPECT_EQ((*twice)->Problems()[0].message,
            "flags[1]: the key \"a\" is listed twice (the later one is used)");
  EXPECT_EQ((*twice)->Evaluate("a", ctx, 0).reason, Reason::kDisabled);
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
      flags[name(i)] = {{"state", "ENABLED"}, {"variants", {{"v", i}}}, {"defaultVariant", "v"}};
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
    Json flag = {{"state", "ENABLED"},
                 {"variants", variants},
                 {"defaultVariant", "v0"},
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
    }})"),
                            "t");
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
