// `slipway config` through the real binary, with files written for docker compose: literal
// dollars, `$` that starts no variable, JSON defaults, several --env-file sharing one variable
// set, an overlay with !override/!reset, x-* blocks and port modes. Its output loads again and
// prints the same (YAML and JSON).
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace slipway::testing {
namespace {

constexpr const char* kCompose = R"(name: parity
x-owner: {team: "core", budget: "$$5"}
services:
  api:
    image: "busybox:${TAG}"
    command: ["sh", "-c", "echo $$HOME ^[a-z]+$ ${URL}"]
    environment:
      JSON: ${MISSING:-{"a":1}}
      PATTERN: ^v[0-9]+$
    ports:
      - target: 8080
        published: "18080"
        mode: host
        app_protocol: http
    depends_on: [db, cache]
    x-note: kept
  db:
    image: busybox
  cache:
    image: busybox
)";

constexpr const char* kOverlay = R"(services:
  api:
    depends_on: !override [db]
    environment: !reset {}
)";

TEST(ConfigParityTest, ComposeFilesReadAsComposeReadsThemAndConfigLoadsAgain) {
  Project p(kCompose);
  p.Write("compose.prod.yaml", kOverlay);
  p.Write("base.env", "TAG=1\nHOST=localhost\nURL=http://${HOST}\n");
  p.Write("prod.env", "\xEF\xBB\xBF# prod\nTAG: 2\nHOST=prod.example\nURL=\"http://${HOST}\"\n");
  const std::vector<std::string> flags = {
      "-f",         "compose.yaml", "-f",         "compose.prod.yaml",
      "--env-file", "base.env",     "--env-file", "prod.env"};
  std::vector<std::string> args = flags;
  args.push_back("config");
  CmdResult first = p.Slipway(args);
  ASSERT_EQ(first.rc, 0) << first.err << first.out;
  const std::string& out = first.out;
  EXPECT_NE(out.find("busybox:2"), std::string::npos) << out;
  EXPECT_NE(out.find("echo $$HOME ^[a-z]+$$ http://prod.example"), std::string::npos) << out;
  EXPECT_NE(out.find("budget: \"$$5\""), std::string::npos) << out;
  EXPECT_NE(out.find("x-note: kept"), std::string::npos) << out;
  EXPECT_NE(out.find("mode: host"), std::string::npos) << out;
  EXPECT_NE(out.find("app_protocol: http"), std::string::npos) << out;
  EXPECT_EQ(out.find("healthcheck"), std::string::npos) << out;
  // depends_on overridden: "cache:" only as the service itself.
  EXPECT_EQ(out.find("cache:"), out.rfind("cache:")) << out;
  EXPECT_EQ(out.find("JSON"), std::string::npos) << out;  // environment reset

  // The output, loaded on its own (no env files: it needs none), prints itself again.
  p.Write("rendered.yaml", out);
  CmdResult again = p.Slipway({"-f", "rendered.yaml", "config"});
  ASSERT_EQ(again.rc, 0) << again.err << "\n--- from:\n" << out;
  EXPECT_EQ(again.out, out);

  args.insert(args.end(), {"--format", "json"});
  CmdResult json = p.Slipway(args);
  ASSERT_EQ(json.rc, 0) << json.err;
  p.Write("rendered.json", json.out);
  CmdResult json_again = p.Slipway({"-f", "rendered.json", "config", "--format", "json"});
  ASSERT_EQ(json_again.rc, 0) << json_again.err << "\n--- from:\n" << json.out;
  EXPECT_EQ(json_again.out, json.out);
}

// Without the overlay, the JSON default keeps its braces and the pattern its `$`.
TEST(ConfigParityTest, DollarsAndBracesAsCompose) {
  Project p(kCompose);
  p.Write(".env", "TAG=3\n");
  CmdResult r = p.Slipway({"config", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& env = j["services"]["api"]["environment"];
  EXPECT_EQ(env["JSON"], "{\"a\":1}");
  EXPECT_EQ(env["PATTERN"], "^v[0-9]+$$");
  EXPECT_EQ(j["services"]["api"]["depends_on"].size(), 2u);
}

}  // namespace
}  // namespace slipway::testing
