#include "flags/json_logic.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace slipway::flags {
namespace {

// Compiles and evaluates `rule` against `data` (a JSON text each).
Json Logic(const std::string& rule, const std::string& data = "{}",
           const Json* evaluators = nullptr) {
  auto e = CompileLogic(Json::parse(rule), evaluators, "t");
  EXPECT_TRUE(e.ok()) << e.status().message();
  if (!e.ok()) return Json("<compile error>");
  static const Json key = "my-flag";
  EvalEnv env{&key, 1'700'000'000};
  Json ctx = Json::parse(data);
  return EvaluateLogic(**e, ctx, env).get();
}

TEST(JsonLogic, LiteralsEvaluateToThemselves) {
  EXPECT_EQ(Logic("1"), 1);
  EXPECT_EQ(Logic("\"x\""), "x");
  EXPECT_EQ(Logic("[1, 2]"), Json::parse("[1,2]"));
  EXPECT_EQ(Logic("{}"), Json::object());
  EXPECT_EQ(Logic("[1, {\"var\": \"a\"}]", R"({"a": 5})"), Json::parse("[1,5]"));
}

TEST(JsonLogic, VarPathsDefaultsAndWholeData) {
  const std::string d = R"({"a": {"b": [10, {"c": "deep"}]}, "n": null, "s": "x"})";
  EXPECT_EQ(Logic(R"({"var": "a.b.1.c"})", d), "deep");
  EXPECT_EQ(Logic(R"({"var": ["a.b.0"]})", d), 10);
  EXPECT_EQ(Logic(R"({"var": ["missing", 7]})", d), 7);
  EXPECT_EQ(Logic(R"({"var": ["n", "dflt"]})", d), "dflt");
  EXPECT_EQ(Logic(R"({"var": "missing"})", d), nullptr);
  EXPECT_EQ(Logic(R"({"var": "s.length"})", d), nullptr);
  EXPECT_EQ(Logic(R"({"var": ""})", R"({"k": 1})"), Json::parse(R"({"k": 1})"));
  EXPECT_EQ(Logic(R"({"var": []})", R"({"k": 1})"), Json::parse(R"({"k": 1})"));
  EXPECT_EQ(Logic(R"({"var": 1})", "[5, 6]"), 6);
  EXPECT_EQ(Logic(R"({"var": {"cat": ["a", ".b.0"]}})", d), 10);
}

TEST(JsonLogic, FlagdProperties) {
  EXPECT_EQ(Logic(R"({"var": "$flagd.flagKey"})"), "my-flag");
  EXPECT_EQ(Logic(R"({"var": "$flagd.timestamp"})"), 1'700'000'000);
  EXPECT_EQ(Logic(R"({"var": "$flagd"})"),
            Json::parse(R"({"flagKey":"my-flag","timestamp":1700000000})"));
  // The context cannot override $flagd.
  EXPECT_EQ(Logic(R"({"var": "$flagd.flagKey"})", R"({"$flagd": {"flagKey": "x"}})"), "my-flag");
  EXPECT_EQ(Logic(R"({">": [{"var": "$flagd.timestamp"}, 1600000000]})"), true);
}

TEST(JsonLogic, IfChains) {
  EXPECT_EQ(Logic(R"({"if": [true, "a", "b"]})"), "a");
  EXPECT_EQ(Logic(R"({"if": [false, "a", "b"]})"), "b");
  EXPECT_EQ(Logic(R"({"if": [false, "a", 0, "b", "c"]})"), "c");
  EXPECT_EQ(Logic(R"({"if": [false, "a", 1, "b", "c"]})"), "b");
  EXPECT_EQ(Logic(R"({"if": [false, "a"]})"), nullptr);
  EXPECT_EQ(Logic(R"({"if": []})"), nullptr);
  EXPECT_EQ(Logic(R"({"?:": [[], "a", "b"]})"), "b");
}

TEST(JsonLogic, Equality) {
  EXPECT_EQ(Logic(R"({"==": [1, "1"]})"), true);
  EXPECT_EQ(Logic(R"({"==": [0, false]})"), true);
  EXPECT_EQ(Logic(R"({"==": [null, 0]})"), false);
  EXPECT_EQ(Logic(R"({"==": [null, null]})"), true);
  EXPECT_EQ(Logic(R"({"==": [1.0, 1]})"), true);
  EXPECT_EQ(Logic(R"({"==": ["a", "b"]})"), false);
  EXPECT_EQ(Logic(R"({"!=": [1, "2"]})"), true);
  EXPECT_EQ(Logic(R"({"===": [1, "1"]})"), false);
  EXPECT_EQ(Logic(R"({"===": [1, 1.0]})"), true);
  EXPECT_EQ(Logic(R"({"!==": [1, "1"]})"), true);
  EXPECT_EQ(Logic(R"({"!==": ["x", "x"]})"), false);
}

TEST(JsonLogic, Comparisons) {
  EXPECT_EQ(Logic(R"({"<": [1, 2]})"), true);
  EXPECT_EQ(Logic(R"({"<": [2, 2]})"), false);
  EXPECT_EQ(Logic(R"({"<=": [2, 2]})"), true);
  EXPECT_EQ(Logic(R"({">": ["10", 9]})"), true);
  EXPECT_EQ(Logic(R"({">": ["10", "9"]})"), false);  // both strings: lexicographic
  EXPECT_EQ(Logic(R"({">=": [3, 3]})"), true);
  EXPECT_EQ(Logic(R"({"<": [1, 2, 3]})"), true);
  EXPECT_EQ(Logic(R"({"<": [1, 3, 3]})"), false);
  EXPECT_EQ(Logic(R"({"<=": [1, 3, 3]})"), true);
  EXPECT_EQ(Logic(R"({"<": ["abc", 1]})"), false);  // NaN
  EXPECT_EQ(Logic(R"({">": [{"var": "age"}, 17]})", R"({"age": 18})"), true);
}

TEST(JsonLogic, NotAndTruthiness) {
  EXPECT_EQ(Logic(R"({"!": [true]})"), false);
  EXPECT_EQ(Logic(R"({"!": false})"), true);
  EXPECT_EQ(Logic(R"({"!": [[]]})"), true);
  EXPECT_EQ(Logic(R"({"!!": ["0"]})"), true);
  EXPECT_EQ(Logic(R"({"!!": [""]})"), false);
  EXPECT_EQ(Logic(R"({"!!": [[0]]})"), true);
  EXPECT_EQ(Logic(R"({"!!": 0})"), false);
}

TEST(JsonLogic, AndOrReturnValuesAndShortCircuit) {
  EXPECT_EQ(Logic(R"({"and": [true, "a", 3]})"), 3);
  EXPECT_EQ(Logic(R"({"and": [true, "", 3]})"), "");
  EXPECT_EQ(Logic(R"({"or": [false, 0, "a"]})"), "a");
  EXPECT_EQ(Logic(R"({"or": [false, 0]})"), 0);
  // The second operand would fail to resolve; short-circuit means it never runs.
  EXPECT_EQ(Logic(R"({"or": [1, {"var": "x.y.z"}]})"), 1);
}

TEST(JsonLogic, In) {
  EXPECT_EQ(Logic(R"({"in": ["Spring", "Springfield"]})"), true);
  EXPECT_EQ(Logic(R"({"in": ["x", "Springfield"]})"), false);
  EXPECT_EQ(Logic(R"({"in": ["b", ["a", "b"]]})"), true);
  EXPECT_EQ(Logic(R"({"in": [1, ["1"]]})"), false);  // strict inside arrays
  EXPECT_EQ(Logic(R"({"in": ["1", [1, null, true]]})"), false);
  EXPECT_EQ(Logic(R"({"in": ["1", [1, "1"]]})"), true);
  EXPECT_EQ(Logic(R"({"in": ["", [0, false, null]]})"), false);
  EXPECT_EQ(Logic(R"({"in": ["ab", ["a", "abc"]]})"), false);
  EXPECT_EQ(Logic(R"({"in": [1, [1.0]]})"), true);
  EXPECT_EQ(Logic(R"({"in": [{"var": "email"}, ["a@x.io", "b@x.io"]]})", R"({"email": "b@x.io"})"),
            true);
  EXPECT_EQ(Logic(R"({"in": ["a", 5]})"), false);
}

TEST(JsonLogic, CatAndSubstr) {
  EXPECT_EQ(Logic(R"({"cat": ["a", 1, 2.5, true, null]})"), "a12.5true");
  EXPECT_EQ(Logic(R"({"cat": "solo"})"), "solo");
  EXPECT_EQ(Logic(R"({"substr": ["jsonlogic", 4]})"), "logic");
  EXPECT_EQ(Logic(R"({"substr": ["jsonlogic", -5]})"), "logic");
  EXPECT_EQ(Logic(R"({"substr": ["jsonlogic", 1, 3]})"), "son");
  EXPECT_EQ(Logic(R"({"substr": ["jsonlogic", 4, -2]})"), "log");
  EXPECT_EQ(Logic(R"({"substr": ["abc", 10]})"), "");
}

TEST(JsonLogic, Arithmetic) {
  EXPECT_EQ(Logic(R"({"+": [1, "2", 3.5]})").get<double>(), 6.5);
  EXPECT_EQ(Logic(R"({"+": ["3"]})").get<double>(), 3);
  EXPECT_EQ(Logic(R"({"-": [10, 4]})").get<double>(), 6);
  EXPECT_EQ(Logic(R"({"-": [2]})").get<double>(), -2);
  EXPECT_EQ(Logic(R"({"*": [2, 3, 4]})").get<double>(), 24);
  EXPECT_EQ(Logic(R"({"/": [9, 2]})").get<double>(), 4.5);
  EXPECT_EQ(Logic(R"({"%": [10, 3]})").get<double>(), 1);
  EXPECT_EQ(Logic(R"({"min": [3, 1, 2]})").get<double>(), 1);
  EXPECT_EQ(Logic(R"({"max": [3, 1, 2]})").get<double>(), 3);
  EXPECT_EQ(Logic(R"({"min": []})"), nullptr);
}

TEST(JsonLogic, Merge) {
  EXPECT_EQ(Logic(R"({"merge": [[1, 2], 3, [4, [5]]]})"), Json::parse("[1,2,3,4,[5]]"));
  EXPECT_EQ(Logic(R"({"merge": []})"), Json::array());
}

TEST(JsonLogic, SomeAllNone) {
  const std::string d = R"({"xs": [1, 5, 9], "empty": []})";
  EXPECT_EQ(Logic(R"({"some": [{"var": "xs"}, {">": [{"var": ""}, 8]}]})", d), true);
  EXPECT_EQ(Logic(R"({"some": [{"var": "xs"}, {">": [{"var": ""}, 9]}]})", d), false);
  EXPECT_EQ(Logic(R"({"all": [{"var": "xs"}, {">": [{"var": ""}, 0]}]})", d), true);
  EXPECT_EQ(Logic(R"({"all": [{"var": "xs"}, {">": [{"var": ""}, 1]}]})", d), false);
  EXPECT_EQ(Logic(R"({"all": [{"var": "empty"}, true]})", d), false);
  EXPECT_EQ(Logic(R"({"none": [{"var": "xs"}, {"<": [{"var": ""}, 0]}]})", d), true);
  EXPECT_EQ(Logic(R"({"none": [{"var": "missing"}, true]})", d), true);
  // Inside the iteration `var` sees the element, not the context.
  EXPECT_EQ(Logic(R"({"some": [{"var": "users"}, {"==": [{"var": "role"}, "admin"]}]})",
                  R"({"users": [{"role": "dev"}, {"role": "admin"}]})"),
            true);
}

TEST(JsonLogic, MapFilterReduce) {
  const std::string d = R"({"xs": [1, 2, 3, 4]})";
  EXPECT_EQ(Logic(R"({"map": [{"var": "xs"}, {"*": [{"var": ""}, 2]}]})", d),
            Json::parse("[2.0,4.0,6.0,8.0]"));
  EXPECT_EQ(Logic(R"({"filter": [{"var": "xs"}, {"%": [{"var": ""}, 2]}]})", d),
            Json::parse("[1,3]"));
  EXPECT_EQ(
      Logic(
          R"({"reduce": [{"var": "xs"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]})",
          d)
          .get<double>(),
      10);
  EXPECT_EQ(Logic(R"({"map": [{"var": "nope"}, 1]})", d), Json::array());
}

TEST(JsonLogic, Missing) {
  EXPECT_EQ(Logic(R"({"missing": ["a", "b"]})", R"({"a": 1})"), Json::parse(R"(["b"])"));
  EXPECT_EQ(Logic(R"({"missing_some": [1, ["a", "b"]]})", R"({"a": 1})"), Json::array());
  EXPECT_EQ(Logic(R"({"missing_some": [2, ["a", "b"]]})", R"({"a": 1})"), Json::parse(R"(["b"])"));
}

TEST(JsonLogic, StartsWithEndsWith) {
  EXPECT_EQ(Logic(R"({"starts_with": [{"var": "email"}, "admin@"]})", R"({"email": "admin@x.io"})"),
            true);
  EXPECT_EQ(Logic(R"({"starts_with": ["abc", "b"]})"), false);
  EXPECT_EQ(Logic(R"({"ends_with": [{"var": "email"}, "@example.com"]})",
                  R"({"email": "me@example.com"})"),
            true);
  EXPECT_EQ(Logic(R"({"ends_with": ["abc", "b"]})"), false);
  EXPECT_EQ(Logic(R"({"ends_with": [5, "5"]})"), nullptr);  // non-strings: null, as flagd
  EXPECT_EQ(Logic(R"({"starts_with": [{"var": "nope"}, "a"]})"), nullptr);
}

TEST(JsonLogic, SemVer) {
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.2.3", "=", "1.2.3"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["v1.2.3", "=", "1.2.3"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.2.3", "!=", "1.2.4"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.2.3", "<", "1.10.0"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.2.3", "<=", "1.2.3"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["2.0.0", ">", "1.99.99"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["2.0.0", ">=", "2.0.1"]})"), false);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.9.0", "^", "1.2.3"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["2.0.0", "^", "1.2.3"]})"), false);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.2.9", "~", "1.2.0"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.3.0", "~", "1.2.0"]})"), false);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.0.0-alpha", "<", "1.0.0"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.0.0-alpha.1", "<", "1.0.0-alpha.beta"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.0.0-2", "<", "1.0.0-10"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.0.0+build", "=", "1.0.0"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1", "=", "1.0.0"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": [2, ">", "1.5"]})"), true);
  EXPECT_EQ(Logic(R"({"sem_ver": ["not-a-version", "=", "1.0.0"]})"), nullptr);
  EXPECT_EQ(Logic(R"({"sem_ver": ["2.0.0.0", "=", "1.0.0"]})"), nullptr);
  EXPECT_EQ(Logic(R"({"sem_ver": ["1.0.0", "<>", "1.0.0"]})"), nullptr);
  EXPECT_EQ(Logic(R"({"sem_ver": [{"var": "version"}, ">=", "1.5.0"]})", R"({"version": "1.6.2"})"),
            true);
}

TEST(JsonLogic, FractionalMatchesFlagdCore) {
  // Expected variants computed by @openfeature/flagd-core 4.0.1 for flag "headerColor".
  auto e = CompileLogic(
      Json::parse(R"({"fractional": [["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]})"),
      nullptr, "t");
  ASSERT_TRUE(e.ok());
  const Json key = "headerColor";
  EvalEnv env{&key, 0};
  const std::pair<const char*, const char*> expected[] = {
      {"user-0", "green"}, {"user-1", "green"}, {"user-2", "yellow"}, {"user-3", "blue"},
      {"user-4", "red"},   {"user-5", "red"},   {"user-6", "red"},    {"user-7", "blue"},
      {"user-8", "green"}, {"user-9", "green"}, {"user-10", "red"},   {"user-11", "red"},
  };
  for (const auto& [tk, variant] : expected) {
    Json ctx = {{"targetingKey", tk}};
    EXPECT_EQ(EvaluateLogic(**e, ctx, env).get(), variant) << tk;
  }
  // No targeting key: null (the flag falls back to its default).
  EXPECT_EQ(EvaluateLogic(**e, Json::object(), env).get(), nullptr);
}

TEST(JsonLogic, FractionalWithBucketingExpression) {
  auto e = CompileLogic(Json::parse(R"({"fractional": [
      {"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["a", 10], ["b", 90]]})"),
                        nullptr, "t");
  ASSERT_TRUE(e.ok());
  const Json key = "byEmail";
  EvalEnv env{&key, 0};
  // From flagd-core: u4 and u7 land in "a", the others in "b".
  for (int i = 0; i < 12; ++i) {
    std::string email = "u";
    email += std::to_string(i);
    email += "@example.com";
    Json ctx = {{"email", email}};
    EXPECT_EQ(EvaluateLogic(**e, ctx, env).get(), (i == 4 || i == 7) ? "a" : "b") << i;
  }
}

TEST(JsonLogic, FractionalInvalidConfigurationsYieldNull) {
  EXPECT_EQ(Logic(R"({"fractional": []})", R"({"targetingKey": "u"})"), nullptr);
  EXPECT_EQ(Logic(R"({"fractional": [["a", 1.5]]})", R"({"targetingKey": "u"})"), nullptr);
  EXPECT_EQ(Logic(R"({"fractional": [["a", 0]]})", R"({"targetingKey": "u"})"), nullptr);
  EXPECT_EQ(Logic(R"({"fractional": [["a", 2147483647], ["b", 1]]})", R"({"targetingKey": "u"})"),
            nullptr);
  EXPECT_EQ(Logic(R"({"fractional": [[[1, 2], 1]]})", R"({"targetingKey": "u"})"), nullptr);
  EXPECT_EQ(Logic(R"({"fractional": [["a", 1, 2]]})", R"({"targetingKey": "u"})"), nullptr);
  // Weight defaults to 1; a single bucket always wins; negative weights count as 0.
  EXPECT_EQ(Logic(R"({"fractional": [["only"]]})", R"({"targetingKey": "u"})"), "only");
  EXPECT_EQ(Logic(R"({"fractional": [["a", -5], ["b", 1]]})", R"({"targetingKey": "u"})"), "b");
}

TEST(JsonLogic, RefsResolveEvaluators) {
  Json evaluators = Json::parse(R"({
    "isStaff": {"ends_with": [{"var": "email"}, "@corp.io"]},
    "staffOrBeta": {"or": [{"$ref": "isStaff"}, {"var": "beta"}]}})");
  EXPECT_EQ(Logic(R"({"if": [{"$ref": "staffOrBeta"}, "on", "off"]})", R"({"email": "a@corp.io"})",
                  &evaluators),
            "on");
  EXPECT_EQ(Logic(R"({"if": [{"$ref": "staffOrBeta"}, "on", "off"]})", R"({"email": "a@x.io"})",
                  &evaluators),
            "off");
}

TEST(JsonLogic, CompileErrors) {
  auto bad = [](const std::string& rule, const Json* ev = nullptr) {
    auto r = CompileLogic(Json::parse(rule), ev, "flags.f.targeting");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(bad(R"({"nope": [1]})"), "flags.f.targeting: unknown operator \"nope\"");
  EXPECT_EQ(bad(R"({"if": [{"bogus": 1}, 1, 2]})"),
            "flags.f.targeting.if[0]: unknown operator \"bogus\"");
  EXPECT_EQ(bad(R"({"==": [1]})"), "flags.f.targeting.==: takes 2 arguments, got 1");
  EXPECT_EQ(bad(R"({"sem_ver": ["1", "="]})"),
            "flags.f.targeting.sem_ver: takes 3 arguments, got 2");
  EXPECT_EQ(bad(R"({"$ref": "missing"})"),
            "flags.f.targeting.$ref: no evaluator \"missing\" in $evaluators");
  Json loop = Json::parse(R"({"a": {"$ref": "b"}, "b": {"$ref": "a"}})");
  EXPECT_EQ(bad(R"({"$ref": "a"})", &loop), "$evaluators.b.$ref: evaluator \"a\" refers to itself");
}

}  // namespace
}  // namespace slipway::flags

namespace slipway::flags {
namespace {

// Literal fractional entries are planned at compile time; entries built by an expression take
// the general path. Both must bucket every key the same way.
TEST(JsonLogic, FractionalPlannedAndGeneralPathsAgree) {
  const Json key = "rollout";
  EvalEnv env{&key, 0};
  const std::pair<const char*, const char*> rules[] = {
      {R"({"fractional": [["a", 25], ["b", 25], ["c", 50]]})",
       R"({"fractional": [[{"cat": ["a"]}, 25], ["b", 25], ["c", 50]]})"},
      {R"({"fractional": [{"var": "email"}, ["a", 1], ["b", 3]]})",
       R"({"fractional": [{"var": "email"}, [{"cat": ["a"]}, 1], ["b", 3]]})"},
      {R"({"fractional": ["fixed", ["a", 1], ["b", 1]]})",
       R"({"fractional": ["fixed", [{"cat": ["a"]}, 1], ["b", 1]]})"},
  };
  for (const auto& [planned, general] : rules) {
    auto p = CompileLogic(Json::parse(planned), nullptr, "t");
    auto g = CompileLogic(Json::parse(general), nullptr, "t");
    ASSERT_TRUE(p.ok() && g.ok());
    std::map<std::string, int> seen;
    for (int i = 0; i < 400; ++i) {
      std::string tk = "user-", email = "u";
      tk += std::to_string(i);
      email += std::to_string(i);
      email += "@x.io";
      Json ctx = {{"targetingKey", tk}, {"email", email}};
      Json a = EvaluateLogic(**p, ctx, env).get();
      EXPECT_EQ(a, EvaluateLogic(**g, ctx, env).get()) << planned << " " << tk;
      if (a.is_string()) seen[a.get<std::string>()]++;
    }
    EXPECT_GE(seen.size(), std::string(planned).find("fixed") == std::string::npos ? 2u : 1u);
    // Without a targeting key the default bucketing has nothing to hash.
    EXPECT_EQ(EvaluateLogic(**p, Json::object(), env).get(),
              EvaluateLogic(**g, Json::object(), env).get());
  }
}

}  // namespace
}  // namespace slipway::flags
