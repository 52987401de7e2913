// The closed sets' name tables: every value has one name, names parse back to their value,
// anything else is refused, and the parser's messages list the table's names.
#include "config/name_table.h"

#include <gtest/gtest.h>

#include <set>

#include "config/compose_names.h"
#include "config/databases_settings.h"
#include "config/deploy_strategy.h"
#include "config/migration_tool_names.h"
#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

// Every value in [0, count) has a distinct, non-empty name that parses back to it.
template <typename E, std::size_t N>
void ExpectComplete(const NameTable<E, N>& t, int count) {
  ASSERT_EQ(static_cast<int>(N), count);
  std::set<std::string_view> seen;
  for (int i = 0; i < count; ++i) {
    const E v = static_cast<E>(i);
    const std::string_view name = t.Name(v);
    EXPECT_FALSE(name.empty()) << "value " << i << " has no name";
    EXPECT_TRUE(seen.insert(name).second) << "name \"" << name << "\" twice";
    EXPECT_EQ(t.Parse(name), v) << name;
  }
}

TEST(NameTableTest, EveryValueHasOneName) {
  ExpectComplete(kDeployStrategyNames, 4);
  ExpectComplete(kFailureActionNames, 3);
  ExpectComplete(kUpdateOrderNames, 2);
  ExpectComplete(kMigrationFormatNames, 5);
  ExpectComplete(kDependsConditionNames, 3);
  ExpectComplete(kPortProtocolNames, 3);
  ExpectComplete(kMountTypeNames, 3);
  ExpectComplete(kRestartModeNames, 4);
  ExpectComplete(kTransportProtocolNames, 3);
  ExpectComplete(kMigrationToolNames, 7);
  // deploy.restart_policy.condition names three of the four modes (compose has no
  // unless-stopped there).
  EXPECT_EQ(kRestartConditionNames.Parse("none"), RestartPolicy::Mode::kNo);
  EXPECT_EQ(kRestartConditionNames.Parse("on-failure"), RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(kRestartConditionNames.Parse("any"), RestartPolicy::Mode::kAlways);
  EXPECT_EQ(kRestartConditionNames.Name(RestartPolicy::Mode::kUnlessStopped), "");
  // x-slipway.runtime: kAuto is the key's absence and has no name to write.
  EXPECT_EQ(kRuntimeChoiceNames.Name(RuntimeChoice::kAuto), "");
  EXPECT_EQ(kRuntimeChoiceNames.Parse("auto"), std::nullopt);
  EXPECT_EQ(kRuntimeChoiceNames.Parse("host"), RuntimeChoice::kHost);
  EXPECT_EQ(kRuntimeChoiceNames.Parse("container"), RuntimeChoice::kContainer);
}

TEST(NameTableTest, UnknownAndNearNamesAreRefused) {
  for (std::string_view bad : {"", "Canary", "canary ", "blue_green", "bluegreen", "\xff"}) {
    EXPECT_EQ(kDeployStrategyNames.Parse(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(kUpdateOrderNames.Parse("start_first"), std::nullopt);
  EXPECT_EQ(kMigrationFormatNames.Parse("golang_migrate"), std::nullopt);
  for (std::string_view bad : {"on-failure:3", "unless_stopped", "No", "always "}) {
    EXPECT_EQ(kRestartModeNames.Parse(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(kMigrationToolNames.Parse("Alembic"), std::nullopt);
  for (std::string_view bad : {"TCP", "tcp ", "udp4", ""}) {
    EXPECT_EQ(kTransportProtocolNames.Parse(bad), std::nullopt) << bad;
  }
  // The presets `migrations.tool` takes, in the order its errors list them.
  EXPECT_EQ(MigrationToolPresets(),
            (std::vector<std::string>{"alembic", "django", "prisma", "rails", "knex"}));
  EXPECT_EQ(MigrationToolName(MigrationTool::kNone), "sql");
  // What `restart:` errors say it accepts names every mode.
  for (const auto& e : kRestartModeNames.entries) {
    EXPECT_NE(std::string_view(kRestartExpected).find(e.name), std::string_view::npos) << e.name;
  }
}

TEST(NameTableTest, ListsReadInTableOrder) {
  EXPECT_EQ(kDeployStrategyNames.List(), "blue-green, canary, rolling or recreate");
  EXPECT_EQ(kFailureActionNames.List(FailureAction::kRollback), "continue or pause");
  EXPECT_EQ(kUpdateOrderNames.List(), "stop-first or start-first");
  EXPECT_EQ(kMigrationFormatNames.Names().front(), "auto");
}

TEST(NameTableTest, ParsedSettingsAreEnums) {
  auto p = LoadText(
      "services:\n  api:\n    command: ./api\n    deploy:\n"
      "      update_config: {failure_action: continue, order: start-first}\n"
      "      rollback_config: {failure_action: pause}\n"
      "    x-slipway:\n      deploy: {strategy: rolling}\n"
      "x-slipway:\n  databases:\n    main: {url: 'sqlite:a.db', format: golang-migrate}\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const Service& api = p->services.at("api");
  EXPECT_EQ(api.update_config.failure_action, FailureAction::kContinue);
  EXPECT_EQ(api.update_config.order, UpdateOrder::kStartFirst);
  EXPECT_EQ(api.rollback_config.failure_action, FailureAction::kPause);
  EXPECT_EQ(api.rollback_config.order, UpdateOrder::kStopFirst);  // compose's default
  EXPECT_EQ(api.deploy.strategy, DeployStrategy::kRolling);
  EXPECT_EQ(p->databases.at("main").format, MigrationFormat::kGolangMigrate);

  auto q = LoadText(
      "services:\n  api:\n    command: ./api\n    restart: on-failure:4\n"
      "  worker:\n    command: ./w\n    deploy: {restart_policy: {condition: none}}\n"
      "  cron:\n    command: ./c\n    restart: unless-stopped\n"
      "x-slipway:\n  databases:\n    main:\n      url: 'sqlite:a.db'\n"
      "      migrations: {tool: prisma}\n");
  ASSERT_TRUE(q.ok()) << ErrorOf(q);
  EXPECT_EQ(q->services.at("api").restart.mode, RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(q->services.at("api").restart.max_attempts, 4);
  EXPECT_EQ(q->services.at("worker").restart.mode, RestartPolicy::Mode::kNo);
  EXPECT_EQ(q->services.at("cron").restart.mode, RestartPolicy::Mode::kUnlessStopped);
  EXPECT_EQ(q->databases.at("main").tool.tool, MigrationTool::kPrisma);
  auto ports = LoadText(
      "services:\n  api:\n    command: ./api\n"
      "    ports: ['8080:80', {target: 81, published: 8081, protocol: tcp}]\n");
  ASSERT_TRUE(ports.ok()) << ErrorOf(ports);
  ASSERT_EQ(ports->services.at("api").ports.size(), 2u);
  EXPECT_EQ(ports->services.at("api").ports[0].protocol, TransportProtocol::kTcp);
  EXPECT_EQ(ports->services.at("api").ports[1].protocol, TransportProtocol::kTcp);
}

TEST(NameTableTest, WrongNamesAndTypesGetOneLineErrors) {
  struct Case {
    std::string yaml;
    std::string where;  // the message's start: file:line:col: key path
    std::string what;   // and its end
  };
  const Case cases[] = {
      {"services:\n  api:\n    command: ./api\n    x-slipway:\n      deploy: {strategy: "
       "[canary]}\n",
       "compose.yaml:5:",
       "services.api.x-slipway.deploy.strategy: is a list (expected blue-green, "
       "canary, rolling or recreate)"},
      {"services:\n  api:\n    command: ./api\n    deploy:\n      update_config: {order: 3}\n",
       "compose.yaml:5:",
       "services.api.deploy.update_config.order: \"3\" is not allowed (expected "
       "stop-first or start-first)"},
      {"services:\n  api:\n    command: ./api\nx-slipway:\n  databases:\n    main: {url: "
       "'sqlite:a.db', format: liquibase}\n",
       "compose.yaml:6:",
       "x-slipway.databases.main.format: \"liquibase\" is not allowed (expected "
       "auto, slipway, golang-migrate, dbmate or flyway)"},
      // The texts these keys had before their names moved into tables.
      {"services:\n  api:\n    command: ./api\n    ports: ['53:53/udp']\n", "compose.yaml:4:",
       "services.api.ports[0]: \"53:53/udp\" \u2014 UDP is not proxied by slipway (expected a "
       "TCP port)"},
      {"services:\n  api:\n    command: ./api\n    ports: ['53/sctp']\n", "compose.yaml:4:",
       "services.api.ports[0]: protocol \"sctp\" is not supported (expected tcp)"},
      {"services:\n  api:\n    command: ./api\n    restart: sometimes\n", "compose.yaml:4:",
       "services.api.restart: \"sometimes\" is not a restart policy (expected no, always, "
       "on-failure, on-failure:N or unless-stopped)"},
      {"services:\n  api:\n    command: ./api\n    restart: on-failure:-1\n", "compose.yaml:4:",
       "services.api.restart: \"on-failure:-1\" has no valid retry count (expected no, always, "
       "on-failure, on-failure:N or unless-stopped)"},
      {"services:\n  api:\n    command: ./api\n    deploy:\n      restart_policy: {condition: "
       "always}\n",
       "compose.yaml:5:",
       "services.api.deploy.restart_policy.condition: \"always\" is not allowed (expected none, "
       "on-failure or any)"},
      {"services:\n  api:\n    command: ./api\nx-slipway:\n  databases:\n    main: {url: "
       "'sqlite:a.db', migrations: {tool: flyway}}\n",
       "compose.yaml:6:",
       "x-slipway.databases.main.migrations.tool: \"flyway\" is not allowed (expected alembic, "
       "django, prisma, rails or knex)"},
      {"services:\n  api:\n    command: ./api\nx-slipway:\n  databases:\n    main: {url: "
       "'sqlite:a.db', migrations: {dir: x}}\n",
       "compose.yaml:6:",
       "x-slipway.databases.main.migrations.up: is missing (expected a tool (alembic, django, "
       "prisma, rails, knex) or an `up` command)"},
  };
  for (const Case& c : cases) {
    const std::string err = ErrorOf(LoadText(c.yaml));
    EXPECT_EQ(err.rfind(c.where, 0), 0u) << err;
    EXPECT_NE(err.find(c.what), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace slipway::config
