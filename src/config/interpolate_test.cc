#include "config/interpolate.h"

#include <gtest/gtest.h>

#include <map>

namespace slipway::config {
namespace {

class InterpolateTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> env_ = {{"SET", "value"}, {"EMPTY", ""}, {"PORT", "8080"}};
  Lookup lookup_ = [this](const std::string& k) -> std::optional<std::string> {
    auto it = env_.find(k);
    if (it == env_.end()) return std::nullopt;
    return it->second;
  };

  std::string Ok(std::string_view s) {
    Expanded e;
    TemplateError err;
    EXPECT_TRUE(ExpandTemplate(s, lookup_, &e, &err)) << s << ": " << err.what;
    return e.value;
  }
  std::string Err(std::string_view s) {
    Expanded e;
    TemplateError err;
    EXPECT_FALSE(ExpandTemplate(s, lookup_, &e, &err)) << s;
    return err.what + " (expected " + err.expected + ")";
  }
};

TEST_F(InterpolateTest, PlainForms) {
  EXPECT_EQ(Ok("no vars"), "no vars");
  EXPECT_EQ(Ok("$SET"), "value");
  EXPECT_EQ(Ok("${SET}"), "value");
  EXPECT_EQ(Ok("a-$SET-b"), "a-value-b");
  EXPECT_EQ(Ok("$SET.x"), "value.x");
  EXPECT_EQ(Ok("${SET}x"), "valuex");
  EXPECT_EQ(Ok("$UNSET|${UNSET}"), "|");
  EXPECT_EQ(Ok("$$"), "$");
  EXPECT_EQ(Ok("$$SET"), "$SET");
  EXPECT_EQ(Ok("cost: $$5"), "cost: $5");
  EXPECT_EQ(Ok("${lower_case1}"), "");
}

TEST_F(InterpolateTest, DefaultForms) {
  EXPECT_EQ(Ok("${UNSET:-d}"), "d");
  EXPECT_EQ(Ok("${EMPTY:-d}"), "d");
  EXPECT_EQ(Ok("${SET:-d}"), "value");
  EXPECT_EQ(Ok("${UNSET-d}"), "d");
  EXPECT_EQ(Ok("${EMPTY-d}"), "");
  EXPECT_EQ(Ok("${SET-d}"), "value");
  EXPECT_EQ(Ok("${UNSET:-}"), "");
  EXPECT_EQ(Ok("${UNSET:-a b:c}"), "a b:c");
}

TEST_F(InterpolateTest, AlternativeForms) {
  EXPECT_EQ(Ok("${SET:+alt}"), "alt");
  EXPECT_EQ(Ok("${EMPTY:+alt}"), "");
  EXPECT_EQ(Ok("${UNSET:+alt}"), "");
  EXPECT_EQ(Ok("${SET+alt}"), "alt");
  EXPECT_EQ(Ok("${EMPTY+alt}"), "alt");
  EXPECT_EQ(Ok("${UNSET+alt}"), "");
}

TEST_F(InterpolateTest, RequiredForms) {
  EXPECT_EQ(Ok("${SET:?boom}"), "value");
  EXPECT_EQ(Ok("${SET?boom}"), "value");
  EXPECT_EQ(Ok("${EMPTY?boom}"), "");
  EXPECT_EQ(Err("${UNSET:?set it please}"),
            "required variable UNSET is missing a value: set it please (expected UNSET to be set "
            "in the environment or the .env file)");
  EXPECT_EQ(Err("${EMPTY:?}"),
            "required variable EMPTY is missing a value (expected EMPTY to be set in the "
            "environment or the .env file)");
  EXPECT_EQ(Err("${UNSET?no ${SET}}"),
            "required variable UNSET is missing a value: no value (expected UNSET to be set in "
            "the environment or the .env file)");
}

TEST_F(InterpolateTest, Nested) {
  EXPECT_EQ(Ok("${UNSET:-${SET}}"), "value");
  EXPECT_EQ(Ok("${UNSET:-${ALSO_UNSET:-x}}"), "x");
  EXPECT_EQ(Ok("${UNSET:-pre-${SET}-post}"), "pre-value-post");
  EXPECT_EQ(Ok("${SET:+[${PORT}]}"), "[8080]");
  EXPECT_EQ(Ok("${UNSET:-$$}"), "$");
  // The unused word is not evaluated: its `:?` does not fire.
  EXPECT_EQ(Ok("${SET:-${UNSET:?never}}"), "value");
}

TEST_F(InterpolateTest, ValuesAreNotReinterpolated) {
  env_["DOLLAR"] = "a$SET";
  EXPECT_EQ(Ok("${DOLLAR}"), "a$SET");
}

TEST_F(InterpolateTest, InvalidTemplates) {
  const std::string expected =
      " is not a valid interpolation (expected $VAR, ${VAR}, ${VAR:-default} or ${VAR:?error}; "
      "write $$ for a literal $)";
  EXPECT_EQ(Err("${"), "\"${\"" + expected);
  EXPECT_EQ(Err("${VAR"), "\"${VAR\"" + expected);
  EXPECT_EQ(Err("${ VAR}"), "\"${ VAR}\"" + expected);
  EXPECT_EQ(Err("${VAR }"), "\"${VAR }\"" + expected);
  EXPECT_EQ(Err("${}"), "\"${}\"" + expected);
  EXPECT_EQ(Err("${1A}"), "\"${1A}\"" + expected);
  EXPECT_EQ(Err("${VAR:-x"), "\"${VAR:-x\"" + expected);
  EXPECT_EQ(Err("${VAR:x}"), "\"${VAR:x}\"" + expected);
  EXPECT_EQ(Err("${VAR:-${B}"), "\"${VAR:-${B}\"" + expected);
  EXPECT_EQ(Err("${UNSET:-${ bad}}"), "\"${UNSET:-${ bad}}\"" + expected);
}

// As compose-go: a `$` that starts no expression is text, and a default that is not used is
// not read at all.
TEST_F(InterpolateTest, DollarsThatStartNothingStay) {
  EXPECT_EQ(Ok("$"), "$");
  EXPECT_EQ(Ok("a $ b"), "a $ b");
  EXPECT_EQ(Ok("$1"), "$1");
  EXPECT_EQ(Ok("^[a-z]+$"), "^[a-z]+$");
  EXPECT_EQ(Ok("$}"), "$}");
  EXPECT_EQ(Ok("${SET:-${ bad}}"), "value");
}

// The word of ${VAR:-word} runs to the brace that closes it, so JSON defaults keep theirs.
TEST_F(InterpolateTest, BracesInsideDefaults) {
  EXPECT_EQ(Ok("${UNSET:-{\"a\":{\"b\":1}}}"), "{\"a\":{\"b\":1}}");
  EXPECT_EQ(Ok("${SET:-{\"a\":1}} and ${UNSET:-x}"), "value and x");
  EXPECT_EQ(Ok("${UNSET:-a}\n${UNSET:-b}"), "a\nb");
}

// Hostile input: nesting is bounded (each level is a recursion), a long line of expressions
// is read in linear time.
TEST_F(InterpolateTest, DeepNestingIsRefusedWithAMessage) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "${UNSET:-";
  deep += "x";
  deep += std::string(10000, '}');
  const std::string err = Err(deep);
  EXPECT_NE(err.find("nests ${...} more than 64 levels deep"), std::string::npos) << err;
  std::string ok;
  for (int i = 0; i < 64; ++i) ok += "${UNSET:-";
  ok += "x" + std::string(64, '}');
  EXPECT_EQ(Ok(ok), "x");
}

TEST_F(InterpolateTest, ALongLineOfExpressionsIsLinear) {
  std::string line;
  for (int i = 0; i < 200000; ++i) line += "${UNSET:-a}";
  EXPECT_EQ(Ok(line), std::string(200000, 'a'));
  std::string open;
  for (int i = 0; i < 200000; ++i) open += "${UNSET:-{";
  EXPECT_EQ(Err(open).rfind("\"${UNSET:-{", 0), 0u);
}

TEST_F(InterpolateTest, RecordsSubstitutionSpans) {
  Expanded e;
  TemplateError err;
  ASSERT_TRUE(ExpandTemplate("127.0.0.1:${PORT:-1}:80 $SET", lookup_, &e, &err));
  EXPECT_EQ(e.value, "127.0.0.1:8080:80 value");
  ASSERT_EQ(e.substitutions.size(), 2u);
  EXPECT_EQ(e.substitutions[0].var, "PORT");
  EXPECT_EQ(
      e.value.substr(e.substitutions[0].begin, e.substitutions[0].end - e.substitutions[0].begin),
      "8080");
  EXPECT_EQ(e.substitutions[1].var, "SET");
  EXPECT_EQ(e.substitutions[1].begin, 18u);
}

TEST_F(InterpolateTest, ReportsUnsetVariablesOnce) {
  Expanded e;
  TemplateError err;
  ASSERT_TRUE(ExpandTemplate("$A ${A} ${B:-x} $C", lookup_, &e, &err));
  EXPECT_EQ(e.unset, (std::vector<std::string>{"A", "C"}));
}

TEST_F(InterpolateTest, TreeInterpolatesValuesNotKeys) {
  Result<Node> doc = ParseYaml(
      "services:\n  $SET:\n    image: \"img:${SET}\"\n    "
      "command: [echo, $UNSET]\n",
      "compose.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  std::vector<std::string> warnings;
  ASSERT_TRUE(InterpolateTree(&*doc, "", lookup_, &warnings).ok());
  const Node* svc = doc->Find("services")->Find("$SET");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(svc->Find("image")->scalar, "img:value");
  EXPECT_EQ(svc->Find("command")->children[1].scalar, "");
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "compose.yaml:4:21: services.$SET.command[1]: variable \"UNSET\" is not "
                          "set, using an empty string"}));
}

TEST_F(InterpolateTest, TreeErrorsCarryLocation) {
  Result<Node> doc = ParseYaml("services:\n  api:\n    image: \"${ TAG}\"\n", "compose.yaml");
  ASSERT_TRUE(doc.ok());
  Status s = InterpolateTree(&*doc, "", lookup_, nullptr);
  EXPECT_EQ(s.message(),
            "compose.yaml:3:5: services.api.image: \"${ TAG}\" is not a valid interpolation "
            "(expected $VAR, ${VAR}, ${VAR:-default} or ${VAR:?error}; write $$ for a literal $)");
  EXPECT_EQ(s.code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace slipway::config
