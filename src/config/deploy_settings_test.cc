// x-slipway.deploy: defaults, every key, and the error messages, through LoadProject.
#include "config/deploy_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

Result<Project> LoadDeploy(const std::string& body) {
  return LoadText("services:\n  api:\n    command: ./api\n    x-slipway:\n      deploy:\n" + body);
}

TEST(DeploySettingsTest, Defaults) {
  auto p = LoadText("services:\n  api:\n    command: ./api\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const DeploySettings& d = p->services.at("api").deploy;
  EXPECT_EQ(d.strategy, std::nullopt);
  EXPECT_EQ(d.steps, (std::vector<int>{5, 25, 50, 100}));
  EXPECT_EQ(d.rollback_window, Duration{300'000});
  EXPECT_DOUBLE_EQ(d.analysis.max_error_rate, 0.05);
  EXPECT_EQ(d.analysis.max_p95, Duration{1'000});
  EXPECT_DOUBLE_EQ(d.analysis.p95_factor, 2.0);
  EXPECT_EQ(d.analysis.health_failures, 3);
  EXPECT_TRUE(d.pre_hook.empty());
}

TEST(DeploySettingsTest, EveryKey) {
  auto p = LoadDeploy(
      "        strategy: canary\n"
      "        steps: [10, 50]\n"
      "        step_duration: 2s\n"
      "        monitor: 3s\n"
      "        health_timeout: 20s\n"
      "        rollback_window: 1m\n"
      "        drain: 500ms\n"
      "        sticky: true\n"
      "        smoke: curl -fsS http://$$SLIPWAY_NEW_ADDR/health\n"
      "        hooks: {pre: ./pre.sh, post: [./post, x]}\n"
      "        analysis: {max_error_rate: 0.1, max_p95: 2s, p95_factor: 3, health_failures: 2,"
      " min_requests: 50, window: 5s, interval: 100ms}\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const DeploySettings& d = p->services.at("api").deploy;
  EXPECT_EQ(d.strategy, DeployStrategy::kCanary);
  EXPECT_EQ(d.steps, (std::vector<int>{10, 50, 100}));  // 100 is implied at the end
  EXPECT_EQ(d.step_duration, Duration{2'000});
  EXPECT_EQ(d.monitor, Duration{3'000});
  EXPECT_EQ(d.health_timeout, Duration{20'000});
  EXPECT_EQ(d.rollback_window, Duration{60'000});
  EXPECT_EQ(d.drain, Duration{500});
  EXPECT_EQ(d.sticky_cookie, "slipway_set");
  EXPECT_EQ(d.smoke, (std::vector<std::string>{"curl", "-fsS", "http://$SLIPWAY_NEW_ADDR/health"}));
  ASSERT_EQ(d.pre_hook.size(), 1u);
  EXPECT_EQ(d.pre_hook[0].kind, HookStep::Kind::kRun);
  EXPECT_EQ(d.pre_hook[0].command, (std::vector<std::string>{"./pre.sh"}));
  EXPECT_EQ(d.post_hook, (std::vector<std::string>{"./post", "x"}));
  EXPECT_DOUBLE_EQ(d.analysis.max_error_rate, 0.1);
  EXPECT_EQ(d.analysis.max_p95, Duration{2'000});
  EXPECT_DOUBLE_EQ(d.analysis.p95_factor, 3);
  EXPECT_EQ(d.analysis.health_failures, 2);
  EXPECT_EQ(d.analysis.min_requests, 50);
  EXPECT_EQ(d.analysis.window, Duration{5'000});
  EXPECT_EQ(d.analysis.interval, Duration{100});
}

Result<Project> LoadHooks(const std::string& pre) {
  return LoadText(
      "services:\n  api:\n    command: ./api\n    x-slipway:\n      deploy:\n"
      "        hooks:\n          pre: " +
      pre + "\nx-slipway:\n  databases:\n    main: sqlite:main.db\n    logs: sqlite:logs.db\n");
}

TEST(DeploySettingsTest, HookStepsBuiltInsAndCommands) {
  auto p = LoadHooks("[backup, migrate]");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  auto steps = p->services.at("api").deploy.pre_hook;
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].kind, HookStep::Kind::kBackup);
  EXPECT_EQ(steps[0].database, "");
  EXPECT_EQ(steps[1].kind, HookStep::Kind::kMigrate);

  p = LoadHooks("[{backup: main}, {migrate: logs}, {run: alembic upgrade head}, migrate]");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  steps = p->services.at("api").deploy.pre_hook;
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].Describe(), "backup main");
  EXPECT_EQ(steps[1].Describe(), "migrate logs");
  EXPECT_EQ(steps[2].command, (std::vector<std::string>{"alembic", "upgrade", "head"}));
  EXPECT_EQ(steps[3].Describe(), "migrate");

  p = LoadHooks("[sh, -c, \"echo backup\"]");  // plain words: one command
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  steps = p->services.at("api").deploy.pre_hook;
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].command, (std::vector<std::string>{"sh", "-c", "echo backup"}));

  p = LoadHooks("migrate");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").deploy.pre_hook.at(0).kind, HookStep::Kind::kMigrate);
}

TEST(DeploySettingsTest, HookStepErrors) {
  EXPECT_EQ(ErrorOf(LoadHooks("[backup, ./x.sh]")),
            "compose.yaml:7:25: services.api.x-slipway.deploy.hooks.pre[1]: is not a step "
            "(expected backup, migrate, {backup: DB}, {migrate: DB} or {run: command})");
  EXPECT_EQ(ErrorOf(LoadHooks("[{migrate: nope}]")),
            "compose.yaml:7:17: services.api.x-slipway.deploy.hooks.pre[0]: database \"nope\" "
            "is not defined (expected one of logs, main)");
  EXPECT_NE(ErrorOf(LoadHooks("[{restore: main}]")).find("unknown step \"restore\""),
            std::string::npos);
  auto none = LoadText(
      "services:\n  api:\n    command: ./api\n    x-slipway:\n      deploy:\n"
      "        hooks: {pre: [migrate]}\n");
  EXPECT_NE(ErrorOf(none).find("migrate needs a database, and x-slipway.databases defines none"),
            std::string::npos)
      << ErrorOf(none);
}

TEST(DeploySettingsTest, Errors) {
  EXPECT_EQ(ErrorOf(LoadDeploy("        strategy: yolo\n"))
                .rfind("compose.yaml:6:9: services.api.x-slipway.deploy.strategy:", 0),
            0u)
      << ErrorOf(LoadDeploy("        strategy: yolo\n"));
  EXPECT_NE(ErrorOf(LoadDeploy("        strategy: yolo\n")).find("blue-green"), std::string::npos);
  EXPECT_EQ(ErrorOf(LoadDeploy("        steps: [50, 25]\n")),
            "compose.yaml:6:21: services.api.x-slipway.deploy.steps[1]: \"25\" is out of order or "
            "range (expected increasing percentages from 1 to 100)");
  EXPECT_EQ(ErrorOf(LoadDeploy("        strategi: canary\n"))
                .rfind("compose.yaml:6:9: services.api.x-slipway.deploy.strategi: unknown key "
                       "\"strategi\"",
                       0),
            0u);
  EXPECT_EQ(ErrorOf(LoadDeploy("        analysis: {max_error_rate: 2}\n")),
            "compose.yaml:6:20: services.api.x-slipway.deploy.analysis.max_error_rate: \"2\" is "
            "out of range (expected a share from 0 to 1)");
  EXPECT_EQ(ErrorOf(LoadDeploy("        hooks: {during: x}\n")),
            "compose.yaml:6:17: services.api.x-slipway.deploy.hooks.during: unknown key "
            "\"during\" (expected one of pre, post)");
  EXPECT_FALSE(ErrorOf(LoadDeploy("        monitor: soon\n")).empty());
}

}  // namespace
}  // namespace slipway::config
