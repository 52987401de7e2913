#include "config/flags_settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/node.h"

namespace slipway::config {
namespace {

Result<FlagsSettings> Parse(const std::string& yaml) {
  auto doc = ParseYaml(yaml, "compose.yaml");
  if (!doc.ok()) return doc.status();
  FlagsSettings s;
  RETURN_IF_ERROR(
      ParseFlagsSettings(*doc->Find("flags"), "x-slipway.flags", SLIPWAY_SOURCE_DIR, &s));
  return s;
}

TEST(FlagsSettings, InlineDefinitionsBecomeTypedJson) {
  auto s = Parse(R"(flags:
  default_environment: prod
  definitions:
    flags:
      beta: {state: ENABLED, variants: {on: true, off: false, n: 1.5, s: "true"}, defaultVariant: null}
  tokens:
    - {token: abcdefgh123, environment: prod}
  rate_per_second: 50
)");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->default_environment, "prod");
  ASSERT_TRUE(s->environments.count("prod"));
  auto j = nlohmann::json::parse(s->environments["prod"].definitions);
  EXPECT_EQ(j["flags"]["beta"]["variants"]["on"], true);
  EXPECT_EQ(j["flags"]["beta"]["variants"]["n"], 1.5);
  EXPECT_EQ(j["flags"]["beta"]["variants"]["s"], "true");
  EXPECT_TRUE(j["flags"]["beta"]["defaultVariant"].is_null());
  ASSERT_EQ(s->tokens.size(), 1u);
  EXPECT_EQ(s->tokens[0].environment, "prod");
  EXPECT_EQ(s->rate_per_second, 50);
}

TEST(FlagsSettings, FileShorthandAndErrors) {
  auto s = Parse("flags: CMakeLists.txt\n");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->environments["default"].file, std::string(SLIPWAY_SOURCE_DIR) + "/CMakeLists.txt");
  auto missing = Parse("flags: nope.json\n");
  EXPECT_EQ(missing.status().message(),
            "compose.yaml:1:1: x-slipway.flags: file \"" + std::string(SLIPWAY_SOURCE_DIR) +
                "/nope.json\" not found (expected a flagd JSON file, relative to the project "
                "folder)");
  auto bad = Parse("flags:\n  tokens: [{token: short}]\n");
  EXPECT_NE(bad.status().message().find("shorter than 8"), std::string::npos);
  auto unknown = Parse("flags:\n  bogus: 1\n");
  EXPECT_NE(unknown.status().message().find("unknown key \"bogus\""), std::string::npos);
}

}  // namespace
}  // namespace slipway::config
