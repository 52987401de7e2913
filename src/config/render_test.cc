#include "config/render.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/loader.h"
#include "config/node.h"
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

namespace slipway::config {
namespace {

// The compose model's content, whichever way its scalars were quoted.
std::string ModelDigest(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull:
      return "~";
    case Node::Kind::kScalar:
      return nlohmann::json(n.scalar).dump();
    case Node::Kind::kSeq: {
      std::string out = "[";
      for (const Node& c : n.children) out += ModelDigest(c) + ",";
      return out + "]";
    }
    case Node::Kind::kMap: {
      std::string out = "{";
      for (const Node& c : n.children)
        out += nlohmann::json(c.key).dump() + ":" + ModelDigest(c) + ",";
      return out + "}";
    }
  }
  return "";
}

// What makes two loads the same project: the typed rendering with secrets shown (every
// field Slipway acts on) and the compose model. `published_var` is left out: it records which
// variable a port came from, and a rendered file has the value, not the variable.
std::string ProjectDigest(Project p) {
  RenderOptions o;
  o.show_secrets = true;
  for (auto& [_, s] : p.services) {
    for (PortMapping& pm : s.ports) pm.published_var.clear();
  }
  Node model = *p.model;
  model.Erase("name");  // p.name is in the typed rendering; the rendering writes it always
  std::string d = RenderJson(p, o).dump(1) + "\n---\n" + ModelDigest(model);
  for (const auto& [name, s] : p.services) {
    for (const Mount& m : s.mounts) d += name + " mount " + m.source + ":" + m.target + "\n";
  }
  for (const auto& [name, v] : p.volumes) d += "volume " + name + " " + v.engine_name + "\n";
  for (const auto& [name, s] : p.secrets) d += "secret " + name + " " + s.file.string() + "\n";
  for (const RouteSettings& r : p.routes) d += "route " + r.service + " " + r.path + "\n";
  for (const auto& [name, db] : p.databases) d += "database " + name + "\n";
  return d;
}

void CopyTree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// load -> render -> load gives the same project, for the example and the test data: the
// folder is copied to a scratch one, the rendering written beside its compose files and
// loaded with -f from there (so .env and relative paths are read the same way).
void ExpectRoundTrip(const fs::path& src, std::vector<std::string> profiles = {},
                     std::map<std::string, std::string> environ = {}) {
  SCOPED_TRACE(src.string());
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / src.filename();
  CopyTree(src, dir);
  LoadOptions o = testing::OptionsFor(dir);
  o.profiles = profiles;
  o.environ = environ;
  Result<Project> first = LoadProject(o);
  ASSERT_TRUE(first.ok()) << testing::ErrorOf(first);
  RenderOptions show;
  show.show_secrets = true;
  const std::string yaml = RenderComposeYaml(*first, show);
  const std::string json = RenderComposeJson(*first, show).dump(2);
  for (const auto& [name, text] : {std::pair{"rendered.yaml", yaml}, {"rendered.json", json}}) {
    tmp.Write(fs::path(src.filename()) / name, text);
    LoadOptions again = o;
    again.files = {name};
    Result<Project> second = LoadProject(again);
    ASSERT_TRUE(second.ok()) << testing::ErrorOf(second) << "\n" << text;
    EXPECT_EQ(ProjectDigest(*second), ProjectDigest(*first)) << name << ":\n" << text;
    // And the rendering is a fixed point.
    if (std::string(name) == "rendered.yaml") {
      EXPECT_EQ(RenderComposeYaml(*second, show), yaml);
    } else {
      EXPECT_EQ(RenderComposeJson(*second, show).dump(2), json);
    }
  }
  // Masked, it still loads.
  const Redactor known = SecretsOf(*first);
  RenderOptions masked;
  masked.redactor = &known;
  tmp.Write(fs::path(src.filename()) / "masked.yaml", RenderComposeYaml(*first, masked));
  LoadOptions again = o;
  again.files = {"masked.yaml"};
  Result<Project> third = LoadProject(again);
  EXPECT_TRUE(third.ok()) << testing::ErrorOf(third);
}

TEST(RenderComposeTest, RoundTripsExamplesAndTestData) {
  const fs::path root(SLIPWAY_SOURCE_DIR);
  ExpectRoundTrip(root / "examples/shop");
  ExpectRoundTrip(root / "examples/stack");
  ExpectRoundTrip(root / "src/config/testdata/full");
  ExpectRoundTrip(root / "src/config/testdata/full", {"db"});
  ExpectRoundTrip(root / "src/config/testdata/extends");
  ExpectRoundTrip(root / "src/config/testdata/discovery/override");
  ExpectRoundTrip(root / "src/config/testdata/discovery/prefer");
  ExpectRoundTrip(root / "src/config/testdata/discovery/nested");
  ExpectRoundTrip(root / "src/config/testdata/roundtrip");
  ExpectRoundTrip(root / "src/config/testdata/roundtrip", {"debug"}, {{"FROM_ENV", "x$y"}});
}

// What the rendering keeps and what it does not invent.
TEST(RenderComposeTest, KeepsWhatIsWrittenAndInventsNothing) {
  LoadOptions o =
      testing::OptionsFor(fs::path(SLIPWAY_SOURCE_DIR) / "src/config/testdata/roundtrip");
  Result<Project> p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  const std::string yaml = RenderComposeYaml(*p);
  const YAML::Node doc = YAML::Load(yaml);
  EXPECT_EQ(doc["name"].as<std::string>(), "roundtrip");
  EXPECT_EQ(doc["x-notes"]["price"].as<std::string>(), "$$5 a month");
  EXPECT_EQ(doc["x-notes"]["owner"].as<std::string>(), "ops");
  EXPECT_TRUE(doc["x-defaults"].IsMap());
  EXPECT_TRUE(doc["x-slipway"]["api"].IsMap());
  const YAML::Node api = doc["services"]["api"];
  EXPECT_EQ(api["x-team"].as<std::string>(), "payments");
  EXPECT_EQ(api["restart"].as<std::string>(), "unless-stopped");  // from the merge key
  EXPECT_EQ(api["image"].as<std::string>(), "busybox:1.36.1");
  EXPECT_EQ(api["command"][2].as<std::string>(), "echo $$HOME and $${PATH} at ^[a-z]+$$ for me");
  EXPECT_EQ(api["environment"]["DOLLAR"].as<std::string>(), "cost: $$3");
  EXPECT_EQ(api["environment"]["LONE"].as<std::string>(), "a $$ b");
  EXPECT_EQ(api["environment"]["JSON"].as<std::string>(), "{\"a\":{\"b\":1}}");
  EXPECT_EQ(api["ports"][0]["mode"].as<std::string>(), "ingress");
  EXPECT_EQ(api["ports"][0]["app_protocol"].as<std::string>(), "http");
  EXPECT_FALSE(api["healthcheck"]) << yaml;  // none written, none added
  EXPECT_FALSE(api["deploy"]) << yaml;
  EXPECT_FALSE(api["stop_signal"]) << yaml;
  EXPECT_TRUE(doc["services"]["worker"]["healthcheck"]);
  EXPECT_FALSE(doc["services"]["worker"]["healthcheck"]["retries"]) << yaml;
  // Left out by the profiles but kept, so what refers to it loads again.
  EXPECT_TRUE(doc["services"]["debug"]);
  EXPECT_EQ(p->services.count("debug"), 0u);
  // The JSON form has the same content.
  const nlohmann::ordered_json j = RenderComposeJson(*p);
  EXPECT_EQ(j["services"]["api"]["environment"]["NUMBER"], 8080);
  EXPECT_EQ(j["services"]["api"]["environment"]["QUOTED_TRUE"], "true");
  EXPECT_EQ(j["x-notes"]["price"], "$$5 a month");
}

// Secrets are masked in the compose rendering as in the typed one, x-* blocks included.
TEST(RenderComposeTest, MasksSecrets) {
  Result<Project> p = testing::LoadText(
      "services:\n  api:\n    image: x\n    environment:\n      DB_PASSWORD: hunter2-pw\n"
      "      URL: postgres://app:hunter2-pw@db/app\n"
      "x-slipway:\n  databases:\n    main:\n      url: postgres://app:s3cret-db@db/app\n");
  ASSERT_TRUE(p.ok()) << testing::ErrorOf(p);
  const Redactor known = SecretsOf(*p);
  RenderOptions o;
  o.redactor = &known;
  const std::string yaml = RenderComposeYaml(*p, o);
  EXPECT_EQ(yaml.find("hunter2-pw"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("s3cret-db"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("DB_PASSWORD: \"***\""), std::string::npos) << yaml;
  EXPECT_EQ(RenderComposeJson(*p, o).dump().find("hunter2-pw"), std::string::npos);
}

}  // namespace
}  // namespace slipway::config
