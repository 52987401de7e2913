#include "config/render.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/loader.h"
#include "config/secrets_of.h"
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
  EXPECT_EQ(p->api.listen, "127.0.0.1:8700");
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
  EXPECT_EQ(api["environment"]["API_TOKEN"], "***");
  EXPECT_EQ(api["environment"]["DATABASE_URL"], "postgres://app:***@db/app");
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
  EXPECT_EQ(j.dump().find("devpass"), std::string::npos);
}

TEST(RenderTest, YamlHasTheSameContent) {
  Result<Project> p = LoadFull({"db"});
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  const std::string yaml = RenderYaml(*p);
  EXPECT_EQ(yaml.find("tok-123"), std::string::npos);
  EXPECT_EQ(yaml.rfind("name: shop\n", 0), 0u) << yaml;
  YAML::Node y = YAML::Load(yaml);
  EXPECT_EQ(y["services"]["api"]["environment"]["API_TOKEN"].as<std::string>(), "***");
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

// A project with secrets in every place a rendering shows.
constexpr char kSecretCompose[] = R"(services:
  api:
    image: app:1
    command: ["serve", "--db", "postgres://app:pg-secret-1@db/app", "--banner", "tok-abcdef"]
    environment:
      DB_PASSWORD: pg-secret-1
      API_KEY: key-123456
      STRIPE_TOKEN: ""
      DATABASE_URL: postgres://app:pg-secret-1@db/app
      LOG_LEVEL: debug
      KEYBOARD_LAYOUT: us
      GREETING: token is tok-abcdef
      FROM_SECRET: ${SHARED_TOKEN_VALUE}
    labels:
      dsn: "host=db password=lbl-secret"
    healthcheck:
      test: ["CMD-SHELL", "psql postgres://app:pg-secret-1@db/app -c 'select 1'"]
    secrets: [token]
secrets:
  token:
    file: ./token.txt
  shared:
    environment: SHARED_TOKEN_VALUE
)";

struct SecretProject {
  testing::TempDir dir;
  Result<Project> project = InvalidInput("not loaded");
  SecretProject() {
    dir.Write("app/compose.yaml", kSecretCompose);
    dir.Write("app/token.txt", "tok-abcdef\n");
    LoadOptions o;
    o.working_dir = dir.path() / "app";
    o.environ = {{"SHARED_TOKEN_VALUE", "shared-xyz-1"}};
    project = LoadProject(o);
  }
};

TEST(RenderTest, MasksSecretNamesUrlPasswordsAndKnownValues) {
  SecretProject sp;
  ASSERT_TRUE(sp.project.ok()) << testing::ErrorOf(sp.project);
  Redactor known = SecretsOf(*sp.project, {{"SHARED_TOKEN_VALUE", "shared-xyz-1"}});
  RenderOptions o;
  o.redactor = &known;
  nlohmann::json j = RenderJson(*sp.project, o);
  const nlohmann::json& env = j["services"]["api"]["environment"];
  EXPECT_EQ(env["DB_PASSWORD"], "***");
  EXPECT_EQ(env["API_KEY"], "***");
  EXPECT_EQ(env["STRIPE_TOKEN"], "");  // nothing to hide
  EXPECT_EQ(env["DATABASE_URL"], "postgres://app:***@db/app");
  EXPECT_EQ(env["LOG_LEVEL"], "debug");
  EXPECT_EQ(env["KEYBOARD_LAYOUT"], "us");
  EXPECT_EQ(env["GREETING"], "token is ***");  // the secret file's value
  EXPECT_EQ(env["FROM_SECRET"], "***");        // fed by a declared secret
  EXPECT_EQ(j["services"]["api"]["command"][2], "postgres://app:***@db/app");
  EXPECT_EQ(j["services"]["api"]["command"][4], "***");
  EXPECT_EQ(j["services"]["api"]["labels"]["dsn"], "host=db password=***");
  const std::string all = j.dump() + RenderYaml(*sp.project, o);
  for (const char* secret :
       {"pg-secret-1", "key-123456", "tok-abcdef", "lbl-secret", "shared-xyz-1"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " in " << all;
  }
  // Without the known values, names and URL passwords are still masked.
  nlohmann::json bare = RenderJson(*sp.project);
  EXPECT_EQ(bare["services"]["api"]["environment"]["DB_PASSWORD"], "***");
  EXPECT_EQ(bare["services"]["api"]["environment"]["DATABASE_URL"], "postgres://app:***@db/app");
}

TEST(RenderTest, ShowSecretsPrintsValues) {
  SecretProject sp;
  ASSERT_TRUE(sp.project.ok()) << testing::ErrorOf(sp.project);
  Redactor known = SecretsOf(*sp.project);
  RenderOptions o;
  o.show_secrets = true;
  o.redactor = &known;
  nlohmann::json j = RenderJson(*sp.project, o);
  const nlohmann::json& env = j["services"]["api"]["environment"];
  EXPECT_EQ(env["DB_PASSWORD"], "pg-secret-1");
  EXPECT_EQ(env["DATABASE_URL"], "postgres://app:pg-secret-1@db/app");
  EXPECT_EQ(env["FROM_SECRET"], "shared-xyz-1");
  EXPECT_EQ(j["services"]["api"]["command"][4], "tok-abcdef");
  EXPECT_NE(RenderYaml(*sp.project, o).find("key-123456"), std::string::npos);
}

TEST(RenderTest, MaskedYamlLoadsAgain) {
  SecretProject sp;
  ASSERT_TRUE(sp.project.ok()) << testing::ErrorOf(sp.project);
  Redactor known = SecretsOf(*sp.project);
  RenderOptions o;
  o.redactor = &known;
  const std::string yaml = RenderYaml(*sp.project, o);
  testing::TempDir again;
  again.Write("app/compose.yaml", yaml);
  again.Write("app/token.txt", "x\n");
  LoadOptions lo;
  lo.working_dir = again.path() / "app";
  Result<Project> reloaded = LoadProject(lo);
  ASSERT_TRUE(reloaded.ok()) << testing::ErrorOf(reloaded) << "\n" << yaml;
  const Service& api = reloaded->services.at("api");
  EXPECT_EQ(api.environment.at("DB_PASSWORD"), "***");
  EXPECT_EQ(api.environment.at("API_KEY"), "***");
  EXPECT_EQ(api.environment.at("DATABASE_URL"), "postgres://app:***@db/app");
  EXPECT_EQ(api.environment.at("LOG_LEVEL"), "debug");
  EXPECT_EQ(api.environment.at("GREETING"), "token is ***");
  // The full test project's rendering loads again too.
  Result<Project> full = LoadFull({"db"});
  ASSERT_TRUE(full.ok()) << testing::ErrorOf(full);
  testing::TempDir again2;
  again2.Write("compose.yaml", RenderYaml(*full));
  Result<Project> full_again = LoadProject(testing::OptionsFor(again2.path()));
  ASSERT_TRUE(full_again.ok()) << testing::ErrorOf(full_again);
  EXPECT_EQ(full_again->services.at("api").environment.at("API_TOKEN"), "***");
}

TEST(SecretsOfTest, CollectsEverySource) {
  testing::TempDir dir;
  dir.Write("app/compose.yaml", R"(services:
  api:
    image: app:1
    environment:
      SMTP_PASSWORD: smtp-secret
      NOTE: plain-value
secrets:
  key:
    file: ./key.pem
  folder:
    file: ./secrets-dir
  missing:
    file: ./nope.txt
x-slipway:
  databases:
    main:
      url: postgres://app:db%40secret@db/app
)");
  dir.Write("app/key.pem",
            "-----BEGIN KEY-----\nline-one-secret\nline-two-secret\n-----END KEY-----\n");
  dir.Write("app/secrets-dir/x", "ignored");
  LoadOptions o;
  o.working_dir = dir.path() / "app";
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  Redactor r = SecretsOf(*p, {{"CI_TOKEN", "ci-token-value"}, {"HOME", "/root"}});
  EXPECT_EQ(r.Scrub("smtp-secret plain-value"), "*** plain-value");
  EXPECT_EQ(r.Scrub("line-one-secret line-two-secret"), "*** ***");
  EXPECT_EQ(r.Scrub("db@secret db%40secret"), "*** ***");
  EXPECT_EQ(r.Scrub("ci-token-value /root"), "*** /root");
}

TEST(SecretsOfTest, SecretFilesAreReadBounded) {
  testing::TempDir dir;
  dir.Write("app/compose.yaml",
            "services:\n  a:\n    image: x\nsecrets:\n  big:\n    file: ./big\n");
  std::string big = "head-secret\n" + std::string(kMaxSecretFileBytes, 'x') + "\ntail-secret\n";
  dir.Write("app/big", big);
  Result<Project> p = LoadProject(testing::OptionsFor(dir.path() / "app"));
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  Redactor r = SecretsOf(*p);
  EXPECT_EQ(r.Scrub("head-secret"), "***");
  EXPECT_EQ(r.Scrub("tail-secret"), "tail-secret");  // past the bound: not read
}

}  // namespace
}  // namespace slipway::config
