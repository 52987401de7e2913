#include "config/environment.h"

#include <gtest/gtest.h>

#include <set>

#include "config/test_support.h"

namespace slipway::config {
namespace {

namespace fs = std::filesystem;
using config::testing::OptionsFor;
using config::testing::TempDir;

ExistsFn Files(std::set<std::string> present) {
  return
      [present = std::move(present)](const fs::path& p) { return present.count(p.string()) > 0; };
}

std::vector<std::string> Strings(const std::vector<fs::path>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.string());
  return out;
}

TEST(EnvName, AcceptsComposeLikeNamesOnly) {
  EXPECT_TRUE(IsValidEnvName("staging"));
  EXPECT_TRUE(IsValidEnvName("prod-eu_1"));
  EXPECT_TRUE(IsValidEnvName("0"));
  EXPECT_TRUE(IsValidEnvName(std::string(63, 'a')));
  EXPECT_FALSE(IsValidEnvName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidEnvName(""));
  EXPECT_FALSE(IsValidEnvName("Staging"));
  EXPECT_FALSE(IsValidEnvName("-x"));
  EXPECT_FALSE(IsValidEnvName("_x"));
  EXPECT_FALSE(IsValidEnvName("../etc"));
  EXPECT_FALSE(IsValidEnvName("a.b"));
  EXPECT_FALSE(IsValidEnvName("a/b"));
  EXPECT_FALSE(IsValidEnvName("a b"));
  EXPECT_TRUE(CheckEnvName("").ok());
  Status st = CheckEnvName("Bad\nName", "SLIPWAY_ENV");
  EXPECT_EQ(st.code(), StatusCode::kInvalidInput);
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
  EXPECT_NE(st.message().find("SLIPWAY_ENV \"Bad?Name\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("[a-z0-9][a-z0-9_-]{0,62}"), std::string::npos);
}

TEST(EnvOverlay, FollowsTheBaseFilesNaming) {
  EXPECT_EQ(EnvOverlayFor("/p/compose.yaml", "staging"), fs::path("/p/compose.staging.yaml"));
  EXPECT_EQ(EnvOverlayFor("/p/compose.yml", "prod"), fs::path("/p/compose.prod.yml"));
  EXPECT_EQ(EnvOverlayFor("/p/docker-compose.yml", "prod"), fs::path("/p/docker-compose.prod.yml"));
  EXPECT_EQ(EnvOverlayFor("/p/docker-compose.base.yaml", "qa"),
            fs::path("/p/docker-compose.qa.yaml"));
  EXPECT_EQ(EnvOverlayFor("/p/stack", "qa"), fs::path("/p/stack.qa"));
}

TEST(SelectProjectFiles, DiscoveryThenOverrideThenOverlayAndEnvFilesLayered) {
  LoadOptions o;
  o.env_name = "staging";
  auto r = SelectProjectFiles(
      o, "/p",
      Files({"/p/compose.yaml", "/p/compose.override.yaml", "/p/compose.staging.yaml", "/p/.env",
             "/p/.env.staging", "/p/.env.prod", "/p/compose.prod.yaml"}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Strings(r->compose),
            (std::vector<std::string>{"/p/compose.yaml", "/p/compose.override.yaml",
                                      "/p/compose.staging.yaml"}));
  EXPECT_EQ(r->overlay, fs::path("/p/compose.staging.yaml"));
  EXPECT_EQ(Strings(r->env_files), (std::vector<std::string>{"/p/.env", "/p/.env.staging"}));
  EXPECT_EQ(r->named_env_files, 0u);
  EXPECT_EQ(r->dir(), fs::path("/p"));
}

TEST(SelectProjectFiles, WithoutEnvironmentNothingIsAdded) {
  LoadOptions o;
  auto r = SelectProjectFiles(
      o, "/p/sub", Files({"/p/docker-compose.yml", "/p/docker-compose.prod.yml", "/p/.env.prod"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Strings(r->compose), (std::vector<std::string>{"/p/docker-compose.yml"}));
  EXPECT_TRUE(r->env_files.empty());
  EXPECT_TRUE(r->overlay.empty());
}

TEST(SelectProjectFiles, AMissingOverlayOrEnvFileIsNoError) {
  LoadOptions o;
  o.env_name = "prod";
  auto r = SelectProjectFiles(o, "/p", Files({"/p/docker-compose.yml", "/p/.env.prod"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Strings(r->compose), (std::vector<std::string>{"/p/docker-compose.yml"}));
  EXPECT_EQ(Strings(r->env_files), (std::vector<std::string>{"/p/.env.prod"}));
  r = SelectProjectFiles(o, "/p", Files({"/p/docker-compose.yml", "/p/docker-compose.prod.yml"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Strings(r->compose),
            (std::vector<std::string>{"/p/docker-compose.yml", "/p/docker-compose.prod.yml"}));
  EXPECT_TRUE(r->env_files.empty());
}

TEST(SelectProjectFiles, ExplicitFilesGetTheOverlayAfterThemOnlyWhenPresentAndNotNamed) {
  LoadOptions o;
  o.files = {"deploy/base.yaml", "/abs/extra.yaml"};
  o.env_files = {"common.env"};
  o.env_name = "qa";
  auto r = SelectProjectFiles(o, "/w",
                              Files({"/w/deploy/base.yaml", "/w/deploy/base.qa.yaml",
                                     "/w/deploy/.env", "/w/deploy/.env.qa", "/w/compose.qa.yaml"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Strings(r->compose), (std::vector<std::string>{"/w/deploy/base.yaml", "/abs/extra.yaml",
                                                           "/w/deploy/base.qa.yaml"}));
  // --env-file replaces the default .env (as compose); .env.NAME still comes after it.
  EXPECT_EQ(Strings(r->env_files),
            (std::vector<std::string>{"/w/common.env", "/w/deploy/.env.qa"}));
  EXPECT_EQ(r->named_env_files, 1u);

  o.files = {"deploy/base.yaml", "deploy/base.qa.yaml"};
  o.env_files = {"deploy/.env.qa"};
  r = SelectProjectFiles(
      o, "/w", Files({"/w/deploy/base.yaml", "/w/deploy/base.qa.yaml", "/w/deploy/.env.qa"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->compose.size(), 2u);  // not twice
  EXPECT_TRUE(r->overlay.empty());
  EXPECT_EQ(r->env_files.size(), 1u);
}

TEST(SelectProjectFiles, RefusesBadNamesAndReportsNoComposeFile) {
  LoadOptions o;
  o.env_name = "../../etc/passwd";
  auto r = SelectProjectFiles(o, "/p", Files({"/p/compose.yaml"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  o.env_name = "";
  r = SelectProjectFiles(o, "/p", Files({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no compose file found in /p"), std::string::npos);
}

TEST(LoadWithEnvironment, OverlayAndEnvFileLayerAndTheProjectSaysWhichFilesMadeIt) {
  TempDir dir;
  dir.Write("docker-compose.yml",
            "services:\n  web:\n    command: [./web]\n    environment: {A: \"${A}\", B: base}\n");
  dir.Write("docker-compose.prod.yml", "services:\n  web:\n    environment: {B: prod}\n");
  dir.Write(".env", "A=dev\nC=1\n");
  dir.Write(".env.prod", "A=prod-${C}\n");
  LoadOptions o = OptionsFor(dir.path());
  o.env_name = "prod";
  auto p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << p.status().message();
  const auto& env = p->services.at("web").environment;
  EXPECT_EQ(env.at("A"), "prod-1");  // .env.NAME after .env, seeing its lines
  EXPECT_EQ(env.at("B"), "prod");    // the overlay after the base file
  EXPECT_EQ(p->env_name, "prod");
  EXPECT_EQ(p->env_overlay, dir.path() / "docker-compose.prod.yml");
  ASSERT_EQ(p->files.size(), 2u);
  EXPECT_EQ(p->env_files, (std::vector<fs::path>{dir.path() / ".env", dir.path() / ".env.prod"}));

  o.env_name = "prod/../x";
  auto bad = LoadProject(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace slipway::config
