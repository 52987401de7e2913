#include "export/kubernetes.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <set>

#include "base/redact.h"
#include "base/test_require.h"
#include "config/loader.h"
#include "config/secrets_of.h"
#include "export/golden_test_util.h"
#include "export/yaml_emit.h"

namespace slipway::exporter {
namespace {

namespace fs = std::filesystem;

config::Project Load(const fs::path& compose, std::map<std::string, std::string> env = {}) {
  config::LoadOptions o;
  o.files = {compose};
  o.working_dir = compose.parent_path();
  o.environ = std::move(env);
  Result<config::Project> p = config::LoadProject(o);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(*p) : config::Project{};
}

std::string Stream(const config::Project& p, const ExportOptions& o = {}) {
  Result<Export> e = ExportKubernetes(p, o);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? RenderStream(*e) : "";
}

// Every document parses as YAML and carries apiVersion, kind and metadata.name.
void ExpectWellFormed(const std::string& stream) {
  std::vector<YAML::Node> docs = YAML::LoadAll(stream);
  ASSERT_FALSE(docs.empty());
  for (const YAML::Node& d : docs) {
    if (d.IsNull()) continue;  // the header comment alone
    EXPECT_TRUE(d["apiVersion"].IsScalar());
    EXPECT_TRUE(d["kind"].IsScalar());
    EXPECT_TRUE(d["metadata"]["name"].IsScalar());
  }
}

TEST(ExportKubernetesTest, ShopExampleGolden) {
  config::Project p = Load(fs::path(SLIPWAY_SOURCE_DIR) / "examples/shop/compose.yaml");
  std::string out = Stream(p);
  ExpectWellFormed(out);
  ExpectGolden("shop.yaml", out);
}

TEST(ExportKubernetesTest, ShopExampleWithNamespaceAndImageFlag) {
  config::Project p =
      Load(fs::path(SLIPWAY_SOURCE_DIR) / "examples/shop/compose.yaml", {{"VERSION", "2.0.0"}});
  ExportOptions o;
  o.namespace_name = "shop-prod";
  o.images["web"] = "registry.example/shop/web:2.0.0";
  std::string out = Stream(p, o);
  ExpectWellFormed(out);
  ExpectGolden("shop-namespace.yaml", out);
}

TEST(ExportKubernetesTest, HealthcheckFormsGolden) {
  std::string out = Stream(Load(TestdataDir() / "healthchecks/compose.yaml"));
  ExpectWellFormed(out);
  ExpectGolden("healthchecks.yaml", out);
}

TEST(ExportKubernetesTest, UpdateOrdersAndReplicasGolden) {
  std::string out = Stream(Load(TestdataDir() / "orders/compose.yaml"));
  ExpectWellFormed(out);
  ExpectGolden("orders.yaml", out);
}

TEST(ExportKubernetesTest, OneShotJobsGolden) {
  std::string out = Stream(Load(TestdataDir() / "jobs/compose.yaml"));
  ExpectWellFormed(out);
  ExpectGolden("jobs.yaml", out);
}

// Deploy strategies, routes, databases and backups from x-slipway, without --rollouts argo:
// Deployments (Recreate for recreate), strategies listed as not mapped.
TEST(ExportKubernetesTest, PlatformSettingsGolden) {
  config::Project p = Load(TestdataDir() / "platform/compose.yaml");
  Result<Export> e = ExportKubernetes(p, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::string out = RenderStream(*e);
  ExpectWellFormed(out);
  ExpectGolden("platform.yaml", out);
  std::set<std::string> kinds;
  for (const Manifest& m : e->objects) kinds.insert(m.kind);
  EXPECT_EQ(kinds, (std::set<std::string>{"ConfigMap", "CronJob", "Deployment", "FeatureFlag",
                                          "FeatureFlagSource", "Flagd", "Ingress", "Job",
                                          "PrometheusRule", "Secret", "Service"}));
  auto noted = [&](const std::string& part) {
    for (const std::string& n : e->unmapped) {
      if (n.find(part) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(noted("services.web: blue-green strategy rendered as a RollingUpdate Deployment"));
  EXPECT_TRUE(noted("services.api: canary strategy rendered as a RollingUpdate Deployment"));
  EXPECT_TRUE(noted("x-slipway.routes[1].strip_prefix"));
  EXPECT_TRUE(noted("x-slipway.databases.events: SQLite"));
  EXPECT_TRUE(noted("x-slipway.backups.retention"));
  EXPECT_TRUE(noted("x-slipway.flags (environment prod): flag banner-color: defaultVariant"));
  EXPECT_TRUE(noted("x-slipway.flags.tokens"));
  EXPECT_TRUE(noted("x-slipway.alerts.rules[0] ApiErrors: reads slipway_* metrics"));
  EXPECT_FALSE(noted("rules[1] QueueBacklog"));
  EXPECT_TRUE(noted("x-slipway.alerts.builtin"));
  EXPECT_TRUE(noted("x-slipway.notifications: the route and receivers (pager)"));
  EXPECT_TRUE(noted("services.api.deploy.resources.limits.pids"));
  EXPECT_FALSE(noted("deploy.resources: ignored by slipway"));
  // The database url is read from the owner's variable, not written into the Job.
  EXPECT_NE(out.find("$(DATABASE_URL)"), std::string::npos);
}

// The same project with --rollouts argo: Rollouts, a preview Service, AnalysisTemplates.
TEST(ExportKubernetesTest, PlatformArgoRolloutsGolden) {
  config::Project p = Load(TestdataDir() / "platform/compose.yaml");
  ExportOptions o;
  o.rollouts = Rollouts::kArgo;
  o.namespace_name = "platform";
  Result<Export> e = ExportKubernetes(p, o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::string out = RenderStream(*e);
  ExpectWellFormed(out);
  ExpectGolden("platform-argo.yaml", out);
  std::map<std::string, std::set<std::string>> by_kind;
  for (const Manifest& m : e->objects) by_kind[m.kind].insert(m.name);
  EXPECT_EQ(by_kind["Rollout"], (std::set<std::string>{"api", "web"}));
  EXPECT_EQ(by_kind["Deployment"], (std::set<std::string>{"admin", "db", "worker"}));
  EXPECT_EQ(by_kind["AnalysisTemplate"], (std::set<std::string>{"api-analysis", "web-analysis"}));
  EXPECT_TRUE(by_kind["Service"].count("web-preview"));
  EXPECT_TRUE(by_kind["Service"].count("api"));  // created for the route to port 8000
  EXPECT_EQ(by_kind["Job"], (std::set<std::string>{"admin-migrate-events", "api-migrate-main"}));
  EXPECT_EQ(by_kind["CronJob"], (std::set<std::string>{"api-backup-main"}));
  EXPECT_EQ(by_kind["Ingress"], (std::set<std::string>{"platform"}));
}

// Folder output of the argo export: kustomization.yaml lists every file, each file parses,
// and `kubectl kustomize` builds it (when kubectl is installed; no cluster needed).
TEST(ExportKubernetesTest, PlatformFolderBuildsWithKustomize) {
  config::Project p = Load(TestdataDir() / "platform/compose.yaml");
  ExportOptions o;
  o.rollouts = Rollouts::kArgo;
  o.namespace_name = "platform";
  Result<Export> e = ExportKubernetes(p, o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::map<std::string, std::string> files = RenderFolder(*e, o);
  YAML::Node k = YAML::Load(files.at("kustomization.yaml"));
  std::set<std::string> listed;
  for (const YAML::Node& r : k["resources"]) listed.insert(r.as<std::string>());
  std::set<std::string> written;
  for (const auto& [name, content] : files) {
    if (name == "kustomization.yaml") continue;
    written.insert(name);
    YAML::Node doc = YAML::Load(content);
    EXPECT_TRUE(doc["kind"].IsScalar()) << name;
    Manifest m;
    m.kind = doc["kind"].as<std::string>();
    m.name = doc["metadata"]["name"].as<std::string>();
    EXPECT_EQ(name, m.FileName());
  }
  EXPECT_EQ(listed, written);
  EXPECT_TRUE(written.count("rollout-web.yaml"));
  EXPECT_TRUE(written.count("analysistemplate-api-analysis.yaml"));
  EXPECT_TRUE(written.count("cronjob-api-backup-main.yaml"));

  SLIPWAY_REQUIRE(std::system("command -v kubectl >/dev/null 2>&1") == 0, "kubectl");
  fs::path dir = fs::temp_directory_path() / ("slipway-k8s-argo-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(WriteFolder(dir, files).ok());
  std::string cmd = "kubectl kustomize " + dir.string() + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string built;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) built.append(buf, n);
  int rc = ::pclose(f);
  fs::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << built;
  std::vector<YAML::Node> docs = YAML::LoadAll(built);
  EXPECT_EQ(docs.size(), e->objects.size());
  std::set<std::string> kinds;
  for (const YAML::Node& d : docs) kinds.insert(d["kind"].as<std::string>());
  EXPECT_EQ(kinds,
            (std::set<std::string>{"AnalysisTemplate", "ConfigMap", "CronJob", "Deployment",
                                   "FeatureFlag", "FeatureFlagSource", "Flagd", "Ingress", "Job",
                                   "PrometheusRule", "Rollout", "Secret", "Service"}));
}

// No ConfigMap, and no object but a Secret, in any golden project's output holds a secret
// value the project knows (config::SecretsOf: secret-named variables, URL passwords,
// x-slipway.databases urls, declared secrets, flag read tokens), with and without
// --secret-values.
TEST(ExportKubernetesTest, NoSecretOutsideSecrets) {
  const std::vector<fs::path> projects = {
      fs::path(SLIPWAY_SOURCE_DIR) / "examples/shop/compose.yaml",
      TestdataDir() / "platform/compose.yaml",
      TestdataDir() / "secrets/compose.yaml",
      TestdataDir() / "jobs/compose.yaml",
      TestdataDir() / "orders/compose.yaml",
      TestdataDir() / "healthchecks/compose.yaml"};
  for (const fs::path& compose : projects) {
    config::Project p = Load(compose);
    Redactor known = config::SecretsOf(p);
    for (bool values : {false, true}) {
      ExportOptions o;
      o.secret_values = values;
      o.rollouts = Rollouts::kArgo;
      Result<Export> e = ExportKubernetes(p, o);
      ASSERT_TRUE(e.ok()) << compose << ": " << e.status().ToString();
      int config_maps = 0;
      for (const Manifest& m : e->objects) {
        if (m.kind == "Secret") continue;
        const std::string text = EmitYaml(m.doc);
        EXPECT_EQ(known.Scrub(text), text) << compose << ": " << m.kind << "/" << m.name;
        if (m.kind != "ConfigMap") continue;
        ++config_maps;
        for (const auto& [k, v] : m.doc["data"].items()) {
          EXPECT_FALSE(IsSecretName(k)) << m.name << "." << k;
          EXPECT_TRUE(UrlPasswords(v.get<std::string>()).empty()) << m.name << "." << k;
        }
      }
      if (compose.parent_path().filename() == "platform") {
        EXPECT_GT(config_maps, 0);
      }
    }
  }
  // The check can fail: the platform's database password is known and was in a ConfigMap
  // before.
  config::Project p = Load(TestdataDir() / "platform/compose.yaml");
  Redactor known = config::SecretsOf(p);
  EXPECT_NE(known.Scrub("DATABASE_URL: postgres://app:app@db:5432/app"),
            "DATABASE_URL: postgres://app:app@db:5432/app");
  EXPECT_NE(known.Scrub("SESSION_SECRET: s3ss10n-k3y-value"), "SESSION_SECRET: s3ss10n-k3y-value");
}

// A variable is a secret by its name, by a URL password in its value, or by holding a value
// the project declares as secret; each goes to the service's Secret, never the ConfigMap.
TEST(ExportKubernetesTest, SecretCarryingVariablesGoToTheSecret) {
  config::Project p;
  p.name = "probe";
  config::Service s;
  s.name = "api";
  s.image = "reg.example/api:1";
  s.environment = {{"DATABASE_URL", "postgres://u:pw-in-url@db/app"},
                   {"STRIPE_API_KEY", "sk_live_x"},
                   {"MIRROR", "declared-secret-value"},
                   {"UPSTREAM", "http://other:8080/x"},
                   {"LOG_LEVEL", "debug"}};
  s.secret_env = {"FEED"};
  s.environment["FEED"] = "declared-secret-value";
  p.services["api"] = s;
  Result<Export> e = ExportKubernetes(p, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::map<std::string, nlohmann::json> by_name;
  for (const Manifest& m : e->objects) by_name[m.kind + "/" + m.name] = m.doc;
  const nlohmann::json& cm = by_name.at("ConfigMap/api-env")["data"];
  const nlohmann::json& secret = by_name.at("Secret/api-secret-env")["stringData"];
  EXPECT_EQ(cm, (nlohmann::json{{"LOG_LEVEL", "debug"}, {"UPSTREAM", "http://other:8080/x"}}));
  EXPECT_EQ(
      secret,
      (nlohmann::json{{"MIRROR", ""}, {"DATABASE_URL", ""}, {"FEED", ""}, {"STRIPE_API_KEY", ""}}));
  const std::string out = RenderStream(*e);
  for (const char* v : {"pw-in-url", "sk_live_x", "declared-secret-value"}) {
    EXPECT_EQ(out.find(v), std::string::npos) << v;
  }
}

// A secret written into a command cannot be moved by the export: it is noted.
TEST(ExportKubernetesTest, SecretInACommandIsNoted) {
  config::Project p;
  p.name = "probe";
  config::Service s;
  s.name = "api";
  s.image = "reg.example/api:1";
  s.environment = {{"DB_PASSWORD", "hunter2-long"}};
  s.command = std::vector<std::string>{"serve", "--db-password", "hunter2-long"};
  p.services["api"] = s;
  Result<Export> e = ExportKubernetes(p, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  bool noted = false;
  for (const std::string& n : e->unmapped) {
    noted = noted || n.rfind("services.api.command: holds a secret value", 0) == 0;
  }
  EXPECT_TRUE(noted);
}

TEST(ExportKubernetesTest, SecretsGolden) {
  config::Project p = Load(TestdataDir() / "secrets/compose.yaml");
  std::string out = Stream(p);
  ExpectWellFormed(out);
  ExpectGolden("secrets.yaml", out);
  // Values stay out unless asked for.
  EXPECT_EQ(out.find("s3cret-pass"), std::string::npos);
  EXPECT_EQ(out.find("tok-123"), std::string::npos);
}

TEST(ExportKubernetesTest, SecretValuesOnlyWhenAsked) {
  config::Project p = Load(TestdataDir() / "secrets/compose.yaml");
  ExportOptions o;
  o.secret_values = true;
  std::string out = Stream(p, o);
  ExpectWellFormed(out);
  ExpectGolden("secrets-values.yaml", out);
  EXPECT_NE(out.find("\"s3cret-pass\\n\""), std::string::npos);
  EXPECT_NE(out.find("tok-123"), std::string::npos);

  o.read_file = [](const fs::path& f) -> Result<std::string> {
    return NotFound("cannot read " + f.filename().string());
  };
  Result<Export> e = ExportKubernetes(p, o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "secrets.db_password: cannot read db_password.txt");
}

TEST(ExportKubernetesTest, HostServicesNeedAnImage) {
  config::Project p = Load(TestdataDir() / "hostimage/compose.yaml");
  Result<Export> e = ExportKubernetes(p, {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(e.status().message(),
            "export kubernetes: services web, worker have no image to run in the cluster (they "
            "run on the host here); set x-slipway.image: REF on each, or pass --image web=REF "
            "--image worker=REF");

  ExportOptions o;
  o.images["web"] = "reg.example/web:7";
  e = ExportKubernetes(p, o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "export kubernetes: service worker has no image to run in the cluster (they run on "
            "the host here); set x-slipway.image: REF on each, or pass --image worker=REF");

  o.images["worker"] = "reg.example/worker:7";
  std::string out = Stream(p, o);
  ExpectWellFormed(out);
  ExpectGolden("hostimage.yaml", out);

  o.images["nope"] = "x:1";
  e = ExportKubernetes(p, o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "--image nope=x:1: no service \"nope\" (expected one of api, web, worker)");
}

TEST(ExportKubernetesTest, ParseImageFlag) {
  auto ok = ParseImageFlag("api=reg.example/a:1=x");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "api");
  EXPECT_EQ(ok->second, "reg.example/a:1=x");
  for (const char* bad : {"api", "=img", "api="}) {
    EXPECT_EQ(ParseImageFlag(bad).status().code(), StatusCode::kInvalidInput) << bad;
  }
}

TEST(ExportKubernetesTest, KubeNames) {
  EXPECT_EQ(KubeName("api"), "api");
  EXPECT_EQ(KubeName("My_Service.v2"), "my-service-v2");
  EXPECT_EQ(KubeName("1st"), "s-1st");
  EXPECT_EQ(KubeName(std::string(80, 'a')).size(), 63u);
  config::Project p;
  p.name = "x";
  for (const char* n : {"a_b", "a.b"}) {
    config::Service s;
    s.name = n;
    s.image = "i:1";
    p.services[n] = s;
  }
  Result<Export> e = ExportKubernetes(p, {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "services a.b and a_b both become the Kubernetes name \"a-b\" (rename one: "
            "lower-case letters, digits and '-')");
}

TEST(ExportKubernetesTest, DeterministicAcrossRuns) {
  config::Project p = Load(TestdataDir() / "jobs/compose.yaml");
  EXPECT_EQ(Stream(p), Stream(p));
}

TEST(ExportKubernetesTest, FolderOutputAndKustomize) {
  config::Project p = Load(fs::path(SLIPWAY_SOURCE_DIR) / "examples/shop/compose.yaml");
  ExportOptions o;
  o.namespace_name = "shop";
  Result<Export> e = ExportKubernetes(p, o);
  ASSERT_TRUE(e.ok());
  std::map<std::string, std::string> files = RenderFolder(*e, o);
  ASSERT_TRUE(files.count("kustomization.yaml"));
  ExpectGolden("shop-kustomization.yaml", files["kustomization.yaml"]);
  EXPECT_EQ(files.size(), e->objects.size() + 1);
  EXPECT_TRUE(files.count("deployment-api.yaml"));
  EXPECT_TRUE(files.count("job-init.yaml"));

  fs::path dir = fs::temp_directory_path() / ("slipway-k8s-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(WriteFolder(dir, files).ok());
  for (const auto& [name, content] : files) EXPECT_EQ(ReadText(dir / name), content) << name;

  // `kubectl kustomize` builds the folder (client side, no cluster needed).
  const bool kubectl = std::system("command -v kubectl >/dev/null 2>&1") == 0;
  if (!kubectl) fs::remove_all(dir);
  SLIPWAY_REQUIRE(kubectl, "kubectl");
  std::string cmd = "kubectl kustomize " + dir.string() + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string built;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) built.append(buf, n);
  int rc = ::pclose(f);
  fs::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << built;
  std::vector<YAML::Node> docs = YAML::LoadAll(built);
  EXPECT_EQ(docs.size(), e->objects.size());
  std::set<std::string> kinds;
  for (const YAML::Node& d : docs) {
    EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(), "shop");
    kinds.insert(d["kind"].as<std::string>());
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"ConfigMap", "Deployment", "Job", "Service"}));
}

}  // namespace
}  // namespace slipway::exporter
