#include "export/yaml_emit.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace slipway::exporter {
namespace {

using nlohmann::json;

TEST(YamlEmitTest, PlainOnlyWhenUnambiguous) {
  for (const char* s : {"nginx", "reg.example/app:1.2", "/health", "app.kubernetes.io/name",
                        "a-b_c", "user@host"}) {
    EXPECT_TRUE(IsPlainSafe(s)) << s;
  }
  for (const char* s :
       {"",     "true", "False", "yes", "NO",   "on", "off", "y",   "null", "~",    "1",  "1.0",
        "0755", "1e3",  "12:30", "-x",  "a: b", "a:", "a b", "#x",  "*x",   "&x",   "!x", "%x",
        "@x",   "`x",   "'x",    "\"x", "[x",   "{x", "x,y", "x#y", ".5",   "a\nb", "ä"}) {
    EXPECT_FALSE(IsPlainSafe(s)) << s;
  }
}

TEST(YamlEmitTest, BlockLayout) {
  json doc = json::parse(R"({
    "kind": "Deployment",
    "spec": {"replicas": 2, "list": [1, "two", {"a": 1, "b": [true, null]}, [], {}],
             "empty": {}, "none": [], "nested": [[1, 2]], "f": 0.5}
  })");
  EXPECT_EQ(EmitYaml(doc),
            "kind: Deployment\n"
            "spec:\n"
            "  empty: {}\n"
            "  f: 0.5\n"
            "  list:\n"
            "  - 1\n"
            "  - two\n"
            "  - a: 1\n"
            "    b:\n"
            "    - true\n"
            "    - null\n"
            "  - []\n"
            "  - {}\n"
            "  nested:\n"
            "  -\n"
            "    - 1\n"
            "    - 2\n"
            "  none: []\n"
            "  replicas: 2\n");
}

// Whatever goes in comes back the same through a YAML reader (yaml-cpp, YAML 1.2),
// with strings still strings.
TEST(YamlEmitTest, RoundTripsThroughYamlCpp) {
  json doc = json::object();
  doc["strings"] =
      json::array({"true", "1.0", "0755", "on", "~", "", "a: b", "line1\nline2", "tab\there",
                   "quote\"back\\slash", "ünï", "- dash", "#hash", "ctrl\x01", "trailing "});
  doc["numbers"] = json::array({0, -3, 42, 1.25});
  doc["bools"] = json::array({true, false});
  doc["map"] = {{"key with space", "v"}, {"123", "numeric key"}, {"true", "bool key"}};
  YAML::Node n = YAML::Load(EmitYaml(doc));
  for (size_t i = 0; i < doc["strings"].size(); ++i) {
    EXPECT_EQ(n["strings"][i].as<std::string>(), doc["strings"][i].get<std::string>()) << i;
    EXPECT_EQ(n["strings"][i].Tag(), "!") << i;  // quoted: never resolved to another type
  }
  EXPECT_EQ(n["numbers"][3].as<double>(), 1.25);
  EXPECT_EQ(n["numbers"][1].as<int>(), -3);
  EXPECT_TRUE(n["bools"][0].as<bool>());
  EXPECT_EQ(n["map"]["key with space"].as<std::string>(), "v");
  EXPECT_EQ(n["map"]["123"].as<std::string>(), "numeric key");
  EXPECT_EQ(n["map"]["true"].as<std::string>(), "bool key");
}

}  // namespace
}  // namespace slipway::exporter
