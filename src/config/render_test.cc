#include "config/render.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/loader.h"
#include "config/test_support.h"

namespace slipway::config {
namespace {

namespace fs = std::filesystem;

Result<Project> LoadFull(std::vector<std::string> profiles = {}) {
  LoadOptions o;
  o.working_dir = fs::path(SLIPWAY_SOURCE_DIR) / "src/config/testdata/full";
  o.profiles = std::move(profiles);
  return LoadProject(o);
}

TEST(RenderTest, FullProjectLoads) {
  Result<Project> p = LoadFull({"db"});
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  EXPECT_EQ(p->name, "shop");
  EXPECT_EQ(p->api_listen, "127.0.0.1:8700");
  const Service& api = p->services.at("api");
  EXPECT_EQ(api.environment.at("DATABASE_URL"), "postgres://app:devpass@db/app");
  EXPECT_EQ(api.environment.at("API_TOKEN"), "tok-123");
  EXPECT_EQ(api.environment.at("LOG_LEVEL"), "debug");
  EXPECT_EQ(api.secret_env, (std::set<std::string>{"API_TOKEN"}));
  EXPECT_EQ(api.ports[0].published_var, "API_PORT");
  EXPECT_EQ(api.restart.mode, RestartPolicy::Mode::kOnFailure);  // from the YAML merge key
  EXPECT_EQ(api.restart.max_attempts, 3);
  EXPECT_EQ(api.depends_on.size(), 1u);
  EXPECT_EQ(p->warnings, (std::vector<std::string>{"networks: ignored by slipway",
                                                   "services.api.networks: ignored by slipway"}));
  // Without the db profile the optional dependency is dropped.
  Result<Project> without = LoadFull();
  ASSERT_TRUE(without.ok()) << testing::ErrorOf(without);
  EXPECT_EQ(without->services.size(), 1u);
  EXPECT_TRUE(without->services.at("api").depends_on.empty());
}

TEST(RenderTest, JsonHasEveryResolvedFieldAndMasksSecrets) {
  Result<Project> p = LoadFull({"db"});
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  nlohmann::json j = RenderJson(*p);
  EXPECT_EQ(j["name"], "shop");
  const nlohmann::json& api = j["services"]["api"];
  EXPECT_EQ(api["environment"]["API_TOKEN"], "********");
  EXPECT_EQ(api["environment"]["DATABASE_URL"], "postgres://app:devpass@db/app");
  EXPECT_EQ(api["ports"][0]["published"], 8000);
  EXPECT_EQ(api["ports"][0]["target"], 8000);
  EXPECT_EQ(api["ports"][0]["x-slipway-published-var"], "API_PORT");
  EXPECT_EQ(api["depends_on"]["db"]["condition"], "service_healthy");
  EXPECT_EQ(api["depends_on"]["db"]["required"], false);
  EXPECT_EQ(api["healthcheck"]["x-slipway"]["http"], "/health");
  EXPECT_EQ(api["healthcheck"]["interval"], "30s");
  EXPECT_EQ(api["restart"], "on-failure:3");
  EXPECT_EQ(api["stop_signal"], "SIGTERM");
  EXPECT_EQ(api["stop_grace_period"], "20s");
  EXPECT_EQ(api["deploy"]["replicas"], 2);
  EXPECT_EQ(api["deploy"]["update_config"]["order"], "start-first");
  EXPECT_EQ(api["deploy"]["update_config"]["failure_action"], "rollback");
  EXPECT_EQ(api["build"]["dockerfile"], "Dockerfile.dev");
  EXPECT_EQ(api["working_dir"], (p->dir / "api").string());
  EXPECT_EQ(api["x-slipway"]["command"][0], "python3");
  EXPECT_EQ(api["secrets"][0]["target"], "token");
  const nlohmann::json& db = j["services"]["db"];
  EXPECT_EQ(db["healthcheck"]["test"], nlohmann::json({"CMD-SHELL", "pg_isready -U postgres"}));
  EXPECT_EQ(db["healthcheck"]["retries"], 10);
  EXPECT_EQ(db["profiles"][0], "db");
  EXPECT_EQ(j["secrets"]["db_password"]["file"], (p->dir / "secrets/db_password.txt").string());
  EXPECT_EQ(j["secrets"]["api_token"]["environment"], "API_TOKEN");
  EXPECT_EQ(j["x-slipway"]["api"]["listen"], "127.0.0.1:8700");
  // Secret values never appear.
  EXPECT_EQ(j.dump().find("tok-123"), std::string::npos);
  EXPECT_EQ(j.dump().find("hunter2"), std::string::npos);
}

TEST(RenderTest, YamlHasTheSameContent) {
  Result<Project> p = LoadFull({"db"});
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  const std::string yaml = RenderYaml(*p);
  EXPECT_EQ(yaml.find("tok-123"), std::string::npos);
  EXPECT_EQ(yaml.rfind("name: shop\n", 0), 0u) << yaml;
  YAML::Node y = YAML::Load(yaml);
  EXPECT_EQ(y["services"]["api"]["environment"]["API_TOKEN"].as<std::string>(), "********");
  EXPECT_EQ(y["services"]["api"]["restart"].as<std::string>(), "on-failure:3");
  EXPECT_EQ(y["services"]["api"]["ports"][0]["published"].as<int>(), 8000);
  EXPECT_EQ(y["services"]["db"]["restart"].as<std::string>(), "on-failure:3");
  EXPECT_EQ(y["services"]["api"]["depends_on"]["db"]["required"].as<bool>(), false);
}

TEST(RenderTest, YamlQuotesAmbiguousStrings) {
  Result<Project> p = testing::LoadText(
      "services:\n  a:\n    image: x\n    environment: {A: 'no', B: '8080', C: '', D: 'true', "
      "E: plain}\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  const std::string yaml = RenderYaml(*p);
  EXPECT_NE(yaml.find("A: \"no\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("B: \"8080\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("C: \"\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("D: \"true\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("E: plain"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("restart: \"no\""), std::string::npos) << yaml;
}

}  // namespace
}  // namespace slipway::config
