#include "export/operators.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/loader.h"

namespace slipway::exporter {
namespace {

namespace fs = std::filesystem;

TEST(ExportResourcesTest, CpuQuantities) {
  EXPECT_EQ(CpuQuantity(0.5), "500m");
  EXPECT_EQ(CpuQuantity(2), "2");
  EXPECT_EQ(CpuQuantity(1.25), "1250m");
  EXPECT_EQ(CpuQuantity(0.1), "100m");
  EXPECT_EQ(CpuQuantity(0.0001), "1m");  // rounded up to Kubernetes' unit
  EXPECT_EQ(CpuQuantity(1.0), "1");
}

TEST(ExportResourcesTest, MemoryQuantities) {
  EXPECT_EQ(MemoryQuantity(512LL << 20), "512Mi");
  EXPECT_EQ(MemoryQuantity(3LL << 29), "1536Mi");
  EXPECT_EQ(MemoryQuantity(2LL << 30), "2Gi");
  EXPECT_EQ(MemoryQuantity(1536 * 1024), "1536Ki");
  EXPECT_EQ(MemoryQuantity(1000), "1000");
}

class ExportFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("slipway-export-ops-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
  }

  Result<config::Project> Load() {
    config::LoadOptions o;
    o.files = {dir_ / "compose.yaml"};
    o.working_dir = dir_;
    return config::LoadProject(o);
  }

  fs::path dir_;
};

TEST_F(ExportFileTest, ResourcesMapToLimitsAndRequests) {
  Write("compose.yaml",
        "services:\n"
        "  api:\n"
        "    image: a\n"
        "    deploy:\n"
        "      resources:\n"
        "        limits: {cpus: '0.5', memory: 1g, pids: 64}\n"
        "        reservations: {cpus: 0.25, memory: 268435456, devices: []}\n"
        "  none:\n"
        "    image: a\n");
  Result<config::Project> p = Load();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::string> notes;
  // The values `up` applies (config::ParseCpus, ParseMemorySize), so what exports is what runs.
  EXPECT_EQ(ContainerResources(p->services.at("api"), &notes),
            (nlohmann::json{{"limits", {{"cpu", "500m"}, {"memory", "1Gi"}}},
                            {"requests", {{"cpu", "250m"}, {"memory", "256Mi"}}}}));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rfind("services.api.deploy.resources.limits.pids: ", 0), 0u) << notes[0];
  // What neither runs nor exports is the loader's warning, which export prints in its list.
  EXPECT_EQ(p->warnings, (std::vector<std::string>{
                             "services.api.deploy.resources.reservations.devices: ignored by "
                             "slipway"}));
  EXPECT_TRUE(ContainerResources(p->services.at("none"), &notes).is_null());
}

// Hostile values: one line with file, line, key and what is expected. The loader checks
// deploy.resources (config/resources_settings.h), so a bad value stops the export at load.
TEST_F(ExportFileTest, BadResourcesAreOneLineErrors) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"limits: {cpus: lots}",
       "compose.yaml:6:18: services.api.deploy.resources.limits.cpus: \"lots\" is not a number "
       "of CPUs (expected e.g. 0.5 or 2)"},
      {"limits: {memory: 12parsecs}",
       "compose.yaml:6:18: services.api.deploy.resources.limits.memory: \"12parsecs\" is not a "
       "memory size (expected e.g. 512m or 1g)"},
      {"limits: {memory: [1]}",
       "compose.yaml:6:18: services.api.deploy.resources.limits.memory: is a list "
       "(expected a size, e.g. 512m or 1g)"},
      {"limits: 3",
       "compose.yaml:6:9: services.api.deploy.resources.limits: is \"3\" (expected "
       "a mapping with cpus, memory, pids)"},
      {"{limits: {cpus: '1'}, reservations: {cpus: '2'}}",
       "compose.yaml:5:7: services.api.deploy.resources: reservations.cpus 2 is above "
       "limits.cpus 1 (expected a reservation at most the limit)"},
  };
  for (const Case& c : cases) {
    const bool flow = c.yaml[0] == '{';
    Write("compose.yaml",
          "services:\n  api:\n    image: a\n    deploy:\n      resources:" +
              std::string(flow ? " " + c.yaml + "\n" : "\n        " + c.yaml + "\n"));
    Result<config::Project> p = Load();
    ASSERT_FALSE(p.ok()) << c.yaml;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidInput);
    const std::string msg = p.status().message();
    EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

ReadFileFn Disk() {
  return [](const fs::path& f) -> Result<std::string> {
    std::ifstream in(f, std::ios::binary);
    if (!in) return NotFound("cannot read " + f.string());
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
}

TEST_F(ExportFileTest, FlagsBecomeFeatureFlagSourceAndFlagd) {
  Write("flags.yaml",
        "flags:\n"
        "  a: {state: ENABLED, variants: {on: true, off: false}, defaultVariant: 'on',"
        " extra: 1}\n"
        "  b: {state: MAYBE, variants: {x: 1}, defaultVariant: x}\n"
        "  c: [1]\n");
  Write("compose.yaml",
        "name: shop\n"
        "x-slipway:\n"
        "  flags: flags.yaml\n"
        "services:\n"
        "  api: {image: a}\n");
  Result<config::Project> p = Load();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::string> notes;
  Result<std::vector<nlohmann::json>> r = RenderFlags(*p, "prod", Disk(), &notes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  const nlohmann::json& ff = (*r)[0];
  EXPECT_EQ(ff["kind"], "FeatureFlag");
  EXPECT_EQ(ff["metadata"]["name"], "shop-flags-default");
  EXPECT_EQ(ff["spec"]["flagSpec"]["flags"],
            (nlohmann::json{{"a",
                             {{"state", "ENABLED"},
                              {"variants", {{"on", true}, {"off", false}}},
                              {"defaultVariant", "on"}}}}));
  EXPECT_EQ((*r)[1]["kind"], "FeatureFlagSource");
  EXPECT_EQ((*r)[1]["spec"]["sources"][0]["source"], "prod/shop-flags-default");
  EXPECT_EQ((*r)[2]["kind"], "Flagd");
  EXPECT_EQ((*r)[2]["spec"]["featureFlagSource"], "shop-flags-default");
  auto noted = [&](const std::string& part) {
    for (const std::string& n : notes) {
      if (n.find(part) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(noted("flag a: key extra is not part of the FeatureFlag CRD"));
  EXPECT_TRUE(noted("flag b: state must be ENABLED or DISABLED"));
  EXPECT_TRUE(noted("flag c: is not a mapping"));
  EXPECT_TRUE(noted("x-slipway.flags: served by the OpenFeature Operator's flagd"));
}

TEST_F(ExportFileTest, BadFlagDocumentsAreErrors) {
  Write("compose.yaml",
        "x-slipway:\n"
        "  flags: flags.json\n"
        "services:\n"
        "  api: {image: a}\n");
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"{not json", "is not valid JSON (expected a flagd document)"},
           {"[1, 2]", "has no \"flags\" mapping"},
           {"{\"flags\": 3}", "has no \"flags\" mapping"}}) {
    Write("flags.json", text);
    Result<config::Project> p = Load();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    std::vector<std::string> notes;
    Result<std::vector<nlohmann::json>> r = RenderFlags(*p, "", Disk(), &notes);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find("x-slipway.flags (environment default): "),
              std::string::npos);
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
  }
  ReadFileFn fail = [](const fs::path&) -> Result<std::string> { return NotFound("gone"); };
  Result<config::Project> p = Load();
  ASSERT_TRUE(p.ok());
  std::vector<std::string> notes;
  Result<std::vector<nlohmann::json>> r = RenderFlags(*p, "", fail, &notes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "x-slipway.flags (environment default): gone");
}

TEST_F(ExportFileTest, AlertRulesBecomeAPrometheusRule) {
  Write("compose.yaml",
        "name: shop\n"
        "x-slipway:\n"
        "  alerts:\n"
        "    builtin: false\n"
        "    rules:\n"
        "      - alert: Slow\n"
        "        expr: histogram_quantile(0.95, rate(http_seconds_bucket[5m])) > 0.5\n"
        "        for: 2h30m\n"
        "services:\n"
        "  api: {image: a}\n");
  Result<config::Project> p = Load();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::string> notes;
  nlohmann::json rule = RenderPrometheusRule(*p, "", &notes);
  ASSERT_FALSE(rule.is_null());
  EXPECT_EQ(rule["apiVersion"], "monitoring.coreos.com/v1");
  EXPECT_EQ(rule["metadata"]["name"], "shop-alerts");
  const nlohmann::json& g = rule["spec"]["groups"][0];
  EXPECT_EQ(g["name"], "shop");
  EXPECT_EQ(g["interval"], "15s");
  EXPECT_EQ(
      g["rules"][0],
      (nlohmann::json{{"alert", "Slow"},
                      {"expr", "histogram_quantile(0.95, rate(http_seconds_bucket[5m])) > 0.5"},
                      {"for", "2h30m"}}));
  // Not over slipway_* metrics, built-ins off, no receivers: only the ruleSelector note.
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rfind("PrometheusRule shop-alerts: ", 0), 0u);
}

}  // namespace
}  // namespace slipway::exporter
