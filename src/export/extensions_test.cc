#include "export/extensions.h"

#include <gtest/gtest.h>

#include "export/golden_test_util.h"
#include "export/yaml_emit.h"

namespace slipway::exporter {
namespace {

using nlohmann::json;

ObjectMeta Meta() { return ObjectMeta{"shop", "prod", "api", "api"}; }

json PodSpec() {
  return json::parse(R"({
    "containers": [{"name": "api", "image": "reg.example/api:2",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                    "envFrom": [{"configMapRef": {"name": "api-env"}}]}],
    "terminationGracePeriodSeconds": 10
  })");
}

json Deployment(const std::string& name = "api") {
  json d = json::object();
  d["apiVersion"] = "apps/v1";
  d["kind"] = "Deployment";
  d["metadata"] = Metadata(Meta(), name, "server");
  d["spec"] = {
      {"replicas", 3},
      {"minReadySeconds", 10},
      {"selector", {{"matchLabels", SelectorLabels(Meta())}}},
      {"strategy", {{"type", "RollingUpdate"}}},
      {"template", {{"metadata", {{"labels", Labels(Meta(), "server")}}}, {"spec", PodSpec()}}}};
  return d;
}

Strategy Canary() {
  Strategy st;
  st.kind = Strategy::Kind::kCanary;
  st.steps = {{10, Duration(30'000)}, {50, Duration(120'000)}, {100, Duration(0)}};
  st.analysis = {
      {"error_rate", ErrorRateQuery("api", "canary"), "result[0] <= 0.05", Duration(60'000), 2},
      {"p99_latency", LatencyQuantileQuery("api", "canary", 0.99), "result[0] <= 0.5",
       Duration(30'000), 1}};
  return st;
}

// Every renderer into one stream, so tests/k8s validates them too.
TEST(ExtensionsTest, RenderersGolden) {
  std::string out = "# Renderers of export/extensions.h on hand-made inputs.\n";
  auto add = [&](const json& doc) { out += "---\n" + EmitYaml(doc); };

  Strategy bg;
  bg.kind = Strategy::Kind::kBlueGreen;
  bg.auto_promote = false;
  add(RenderRollout(Meta(), Deployment(), bg, "api", "api-preview", ""));

  Strategy canary = Canary();
  add(RenderAnalysisTemplate(Meta(), canary, "http://prometheus.monitoring:9090"));
  add(RenderRollout(Meta(), Deployment("api-steps"), canary, "", "", "api-analysis"));

  Strategy manual;
  manual.kind = Strategy::Kind::kCanary;
  manual.steps = {{25, Duration(-1)}};
  add(RenderRollout(Meta(), Deployment("api-manual"), manual, "api", "api-canary", ""));

  auto route = [](std::string svc, std::string host, std::string path, int port) {
    Route r;
    r.service = std::move(svc);
    r.host = std::move(host);
    r.path = std::move(path);
    r.port = port;
    return r;
  };
  add(RenderIngress("shop", "prod",
                    {route("web", "shop.example.com", "/", 8080),
                     route("api", "shop.example.com", "/api", 80), route("admin", "", "", 9000)},
                    {{"web", "web"}, {"api", "api"}, {"admin", "admin-svc"}}));

  Migration mig;
  mig.service = "api";
  mig.database = "main";
  add(RenderMigrationJob(Meta(), mig, PodSpec()));
  BackupSchedule b;
  b.name = "main";
  b.service = "api";
  b.database = "main";
  b.cron = "0 3 * * *";
  add(RenderBackupCronJob(Meta(), b, PodSpec()));
  ExpectGolden("extensions.yaml", out);
}

TEST(ExtensionsTest, RolloutKeepsTheDeploymentPod) {
  json r = RenderRollout(Meta(), Deployment(), Canary(), "", "", "t");
  EXPECT_EQ(r["spec"]["template"], Deployment()["spec"]["template"]);
  EXPECT_EQ(r["spec"]["replicas"], 3);
  EXPECT_EQ(r["spec"]["minReadySeconds"], 10);
  const json& steps = r["spec"]["strategy"]["canary"]["steps"];
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0], json({{"setWeight", 10}}));
  EXPECT_EQ(steps[1], json({{"pause", {{"duration", "30s"}}}}));
  EXPECT_EQ(steps[3], json({{"pause", {{"duration", "2m"}}}}));
  EXPECT_EQ(steps[4], json({{"setWeight", 100}}));
}

TEST(ExtensionsTest, ToolJobsRunSlipwayWithoutProbesOrPorts) {
  Migration mig;
  mig.service = "api";
  json job = RenderMigrationJob(Meta(), mig, PodSpec());
  const json& c = job["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], json::array({"slipway"}));
  EXPECT_EQ(c["args"], json::array({"migrate", "up"}));
  // The url comes from the owner's variable at run time, never from the manifest.
  mig.database = "main";
  mig.url_env = "DATABASE_URL";
  mig.dir = "db/migrations";
  mig.format = "dbmate";
  mig.lock_timeout = "2m";
  EXPECT_EQ(RenderMigrationJob(Meta(), mig,
                               PodSpec())["spec"]["template"]["spec"]["containers"][0]["args"],
            json::array({"migrate", "--url", "$(DATABASE_URL)", "--dir", "db/migrations",
                         "--migrations-format", "dbmate", "--lock-timeout", "2m", "up"}));
  mig.url_env = "";
  EXPECT_EQ(RenderMigrationJob(Meta(), mig,
                               PodSpec())["spec"]["template"]["spec"]["containers"][0]["args"],
            json::array({"migrate", "--db", "main", "--lock-timeout", "2m", "up"}));
  EXPECT_FALSE(c.contains("readinessProbe"));
  EXPECT_FALSE(c.contains("ports"));
  EXPECT_EQ(c["envFrom"], PodSpec()["containers"][0]["envFrom"]);
  EXPECT_EQ(job["metadata"]["annotations"]["argocd.argoproj.io/hook"], "PreSync");
  EXPECT_EQ(job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade");
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

TEST(ExtensionsTest, QueriesUseTheProxyMetricNames) {
  EXPECT_EQ(ErrorRateQuery("api", "green"),
            "sum(rate(slipway_http_requests_total{route=\"api\",set=\"green\",code_class="
            "\"5xx\"}[1m])) / sum(rate(slipway_http_requests_total{route=\"api\",set=\"green\"}"
            "[1m]))");
  EXPECT_EQ(LatencyQuantileQuery("web", "canary", 0.95),
            "histogram_quantile(0.95, sum by (le) (rate(slipway_http_request_duration_seconds_"
            "bucket{route=\"web\",set=\"canary\"}[1m])))");
}

TEST(ExtensionsTest, AdaptersWithoutSettings) {
  config::Project p;
  config::Service s;
  s.name = "api";
  p.services["api"] = s;
  EXPECT_EQ(StrategyOf(p, s).kind, Strategy::Kind::kRolling);
  EXPECT_TRUE(RoutesOf(p).empty());
  EXPECT_TRUE(MigrationsOf(p).empty());
  EXPECT_TRUE(BackupsOf(p).empty());
}

TEST(ExtensionsTest, BuiltInMigrateStepIsTheMigrationJobOthersAreNoted) {
  config::Project p;
  config::Service s;
  s.name = "api";
  config::HookStep migrate;
  migrate.kind = config::HookStep::Kind::kMigrate;
  s.deploy.pre_hook = {migrate};
  auto notes = [&] {
    std::string all;
    for (const std::string& n : StrategyOf(p, s).unmapped) all += n + "\n";
    return all;
  };
  EXPECT_EQ(notes(), "");  // the migration Job runs it as a PreSync hook
  config::HookStep backup;
  backup.kind = config::HookStep::Kind::kBackup;
  s.deploy.pre_hook = {backup, migrate};
  EXPECT_NE(notes().find("hooks.pre: the backup step does not run"), std::string::npos);
  EXPECT_EQ(notes().find(".hooks: not run in the cluster"), std::string::npos);
  config::HookStep run;
  run.command = {"./check.sh"};
  s.deploy.pre_hook = {run};
  EXPECT_NE(notes().find(".hooks: not run in the cluster"), std::string::npos);
}

TEST(ExtensionsTest, StrategyFromDeploySettings) {
  config::Project p;
  config::Service s;
  s.name = "api";
  s.deploy.strategy = config::DeployStrategy::kCanary;
  s.deploy.steps = {10, 100};
  s.deploy.step_duration = Duration(45'000);
  s.deploy.analysis.max_error_rate = 0.02;
  s.deploy.analysis.max_p95 = Duration(750);
  s.deploy.smoke = {"curl", "-f", "http://x"};
  Strategy st = StrategyOf(p, s);
  ASSERT_EQ(st.kind, Strategy::Kind::kCanary);
  ASSERT_EQ(st.steps.size(), 2u);
  EXPECT_EQ(st.steps[0].weight, 10);
  EXPECT_EQ(st.steps[1].pause, Duration(45'000));
  EXPECT_EQ(st.progress_deadline, Duration(60'000));
  ASSERT_EQ(st.analysis.size(), 2u);
  EXPECT_EQ(st.analysis[0].condition, "isNaN(result[0]) || result[0] <= 0.02");
  EXPECT_EQ(st.analysis[1].condition, "isNaN(result[0]) || result[0] <= 0.75");
  EXPECT_NE(st.analysis[0].query.find("set=\"{{args.set}}\""), std::string::npos);
  EXPECT_EQ(st.analysis[0].interval, Duration(30'000));  // window 10s, at least 30s
  EXPECT_EQ(st.analysis[0].failure_limit, 0);
  bool smoke_noted = false;
  for (const std::string& n : st.unmapped) smoke_noted |= n.find(".smoke:") != std::string::npos;
  EXPECT_TRUE(smoke_noted);

  s.deploy.strategy = config::DeployStrategy::kBlueGreen;
  st = StrategyOf(p, s);
  EXPECT_EQ(st.kind, Strategy::Kind::kBlueGreen);
  EXPECT_EQ(st.scale_down_delay, Duration(300'000));
  json r = RenderRollout(Meta(), Deployment(), st, "api", "api-preview", "api-analysis");
  const json& bg = r["spec"]["strategy"]["blueGreen"];
  EXPECT_EQ(bg["scaleDownDelaySeconds"], 300);
  EXPECT_EQ(bg["postPromotionAnalysis"]["args"][0]["valueFrom"]["podTemplateHashValue"], "Latest");
  EXPECT_EQ(r["spec"]["progressDeadlineSeconds"], 60);
  json t = RenderAnalysisTemplate(Meta(), st, "http://prom:9090");
  EXPECT_EQ(t["spec"]["args"], json::parse(R"([{"name": "set"}])"));

  s.deploy.strategy = config::DeployStrategy::kRecreate;
  EXPECT_EQ(StrategyOf(p, s).kind, Strategy::Kind::kRecreate);
  s.deploy.strategy = config::DeployStrategy::kRolling;
  EXPECT_EQ(StrategyOf(p, s).kind, Strategy::Kind::kRolling);
}

TEST(ExtensionsTest, DatabaseOwnerIsTheServiceHoldingTheUrl) {
  config::Project p;
  const std::string url = "postgres://app:pw@db:5432/app";
  auto svc = [&](const std::string& name, std::map<std::string, std::string> env) {
    config::Service s;
    s.name = name;
    s.environment = std::move(env);
    p.services[name] = s;
  };
  svc("aaa-init", {{"DB", url}});  // one-shot: others wait for it to complete
  svc("api", {{"DATABASE_URL", url}});
  svc("db", {{"POSTGRES_PASSWORD", "pw"}});
  config::Dependency dep;
  dep.service = "aaa-init";
  dep.condition = config::DependsCondition::kCompletedSuccessfully;
  p.services["api"].depends_on.push_back(dep);
  config::DatabaseSettings main;
  main.name = "main";
  main.url = url;
  main.migrations = "db/migrations";
  p.databases["main"] = main;
  config::DatabaseSettings orphan;
  orphan.name = "orphan";
  orphan.url = "sqlite:data/x.db";
  p.databases["orphan"] = orphan;

  std::vector<Migration> m = MigrationsOf(p);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].service, "api");
  EXPECT_EQ(m[0].url_env, "DATABASE_URL");
  EXPECT_EQ(m[0].dir, "db/migrations");
  EXPECT_FALSE(m[0].sqlite);
  EXPECT_EQ(m[1].service, "");
  EXPECT_TRUE(m[1].sqlite);

  EXPECT_TRUE(BackupsOf(p).empty());  // no schedule
  p.backups.schedule = "0 3 * * *";
  p.backups.databases = {"main"};
  p.backups.catch_up = false;
  std::vector<BackupSchedule> b = BackupsOf(p);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].service, "api");
  EXPECT_EQ(b[0].url_env, "DATABASE_URL");
  json cj = RenderBackupCronJob(Meta(), b[0], PodSpec());
  EXPECT_EQ(cj["spec"]["startingDeadlineSeconds"], 300);
  EXPECT_EQ(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"],
            json::array({"backup", "--url", "$(DATABASE_URL)", "create", "main"}));
  p.backups.databases.clear();
  EXPECT_EQ(BackupsOf(p).size(), 2u);

  // x-slipway.databases.<name>.service names the owner outright.
  p.databases["main"].service = "aaa-init";
  m = MigrationsOf(p);
  EXPECT_EQ(m[0].service, "aaa-init");
  EXPECT_EQ(m[0].url_env, "DB");
  p.databases["orphan"].service = "db";  // its environment does not hold the url
  m = MigrationsOf(p);
  EXPECT_EQ(m[1].service, "db");
  EXPECT_EQ(m[1].url_env, "");
}

TEST(ExtensionsTest, ToolMigrationJobRunsTheToolInTheServiceImage) {
  config::Project p;
  p.name = "shop";
  config::Service api;
  api.name = "api";
  api.environment["DATABASE_URL"] = "postgresql://app@db/app";
  p.services["api"] = api;
  config::DatabaseSettings main;
  main.name = "main";
  main.url = "postgresql://app@db/app";
  main.tool = config::MigrationPreset(config::MigrationTool::kAlembic);
  p.databases["main"] = main;
  std::vector<Migration> m = MigrationsOf(p);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].tool, "alembic");
  EXPECT_EQ(m[0].tool_up, "alembic upgrade head");
  json job = RenderMigrationJob(Meta(), m[0], PodSpec());
  const json& c = job["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], json::array({"/bin/sh", "-c", "alembic upgrade head"}));
  EXPECT_FALSE(c.contains("args"));
  EXPECT_FALSE(c.contains("readinessProbe"));
  EXPECT_EQ(c["env"].back(),
            json({{"name", "SLIPWAY_DATABASE_URL"}, {"value", "$(DATABASE_URL)"}}));
  EXPECT_EQ(job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade");
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

}  // namespace
}  // namespace slipway::exporter
