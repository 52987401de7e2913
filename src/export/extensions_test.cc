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
  d["spec"] = {{"replicas", 3},
               {"minReadySeconds", 10},
               {"selector", {{"matchLabels", SelectorLabels(Meta())}}},
               {"strategy", {{"type", "RollingUpdate"}}},
               {"template", {{"metadata", {{"labels", Labels(Meta(), "server")}}},
                             {"spec", PodSpec()}}}};
  return d;
}

Strategy Canary() {
  Strategy st;
  st.kind = Strategy::Kind::kCanary;
  st.steps = {{10, Duration(30'000)}, {50, Duration(120'000)}, {100, Duration(0)}};
  st.analysis = {{"error_rate", ErrorRateQuery("api", "canary"), "result[0] <= 0.05",
                  Duration(60'000), 2},
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

  add(RenderIngress("shop", "prod",
                    {{"web", "shop.example.com", "/", 8080},
                     {"api", "shop.example.com", "/api", 80},
                     {"admin", "", "", 9000}},
                    {{"web", "web"}, {"api", "api"}, {"admin", "admin-svc"}}));

  add(RenderMigrationJob(Meta(), {"api", "main"}, PodSpec()));
  add(RenderBackupCronJob(Meta(), {"nightly", "api", "main", "0 3 * * *"}, PodSpec()));
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
  json job = RenderMigrationJob(Meta(), {"api", ""}, PodSpec());
  const json& c = job["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], json::array({"slipway"}));
  EXPECT_EQ(c["args"], json::array({"migrate", "up"}));
  EXPECT_FALSE(c.contains("readinessProbe"));
  EXPECT_FALSE(c.contains("ports"));
  EXPECT_EQ(c["envFrom"], PodSpec()["containers"][0]["envFrom"]);
  EXPECT_EQ(job["metadata"]["annotations"]["argocd.argoproj.io/hook"], "PreSync");
  EXPECT_EQ(job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade");
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

// Until the model has the settings, the adapters report nothing to render.
TEST(ExtensionsTest, QueriesUseTheProxyMetricNames) {
  EXPECT_EQ(ErrorRateQuery("api", "green"),
            "sum(rate(slipway_http_requests_total{route=\"api\",set=\"green\",code_class="
            "\"5xx\"}[1m])) / sum(rate(slipway_http_requests_total{route=\"api\",set=\"green\"}"
            "[1m]))");
  EXPECT_EQ(LatencyQuantileQuery("web", "canary", 0.95),
            "histogram_quantile(0.95, sum by (le) (rate(slipway_http_request_duration_seconds_"
            "bucket{route=\"web\",set=\"canary\"}[1m])))");
}

TEST(ExtensionsTest, AdaptersOnTodaysModel) {
  config::Project p;
  config::Service s;
  s.name = "api";
  p.services["api"] = s;
  EXPECT_EQ(StrategyOf(p, s).kind, Strategy::Kind::kRolling);
  EXPECT_TRUE(RoutesOf(p).empty());
  EXPECT_TRUE(MigrationsOf(p).empty());
  EXPECT_TRUE(BackupsOf(p).empty());
}

}  // namespace
}  // namespace slipway::exporter
