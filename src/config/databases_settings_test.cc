#include "config/databases_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::LoadText;
using testing::TempDir;

constexpr char kServices[] = "services:\n  api:\n    image: busybox\n";

TEST(DatabasesSettingsTest, ParsesDatabasesAndBackups) {
  auto p = LoadText(std::string(kServices) +
                    "x-slipway:\n"
                    "  databases:\n"
                    "    main:\n"
                    "      url: postgres://app@127.0.0.1:5432/app\n"
                    "      migrations: db/migrations\n"
                    "      format: dbmate\n"
                    "      check: SELECT count(*) FROM users\n"
                    "      lock-timeout: 5s\n"
                    "    cache: sqlite:data/cache.db\n"
                    "  backups:\n"
                    "    dir: /var/backups/app\n"
                    "    schedule: \"0 3 * * *\"\n"
                    "    databases: [main]\n"
                    "    catch-up: false\n"
                    "    retention: {keep-last: 3, hourly: 24, daily: 7, weekly: 4, monthly: "
                    "12, yearly: -1}\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->databases.size(), 2u);
  const DatabaseSettings& m = p->databases.at("main");
  EXPECT_EQ(m.url, "postgres://app@127.0.0.1:5432/app");
  EXPECT_EQ(m.migrations, "db/migrations");
  EXPECT_EQ(m.format, MigrationFormat::kDbmate);
  EXPECT_EQ(m.check, "SELECT count(*) FROM users");
  EXPECT_EQ(m.lock_timeout, Duration(5000));
  EXPECT_EQ(p->databases.at("cache").url, "sqlite:data/cache.db");
  EXPECT_EQ(p->databases.at("cache").migrations, "migrations");
  EXPECT_EQ(p->backups.dir, "/var/backups/app");
  EXPECT_EQ(p->backups.schedule, "0 3 * * *");
  EXPECT_EQ(p->backups.databases, (std::vector<std::string>{"main"}));
  EXPECT_FALSE(p->backups.catch_up);
  EXPECT_EQ(p->backups.retention.keep_last, 3);
  EXPECT_EQ(p->backups.retention.monthly, 12);
  EXPECT_EQ(p->backups.retention.yearly, -1);
}

TEST(DatabasesSettingsTest, ServiceNamesTheOwner) {
  auto p = LoadText(std::string(kServices) +
                    "x-slipway:\n  databases:\n    main:\n      url: sqlite:a.db\n"
                    "      service: api\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->databases.at("main").service, "api");
}

TEST(DatabasesSettingsTest, UrlComesFromDotEnv) {
  TempDir dir;
  dir.Write("app/compose.yaml", std::string(kServices) +
                                    "x-slipway:\n  databases:\n    main:\n"
                                    "      url: ${DATABASE_URL}\n");
  dir.Write("app/.env", "DATABASE_URL=sqlite:./app.db\n");
  LoadOptions o;
  o.working_dir = dir.path() / "app";
  auto p = LoadProject(o);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->databases.at("main").url, "sqlite:./app.db");
}

TEST(DatabasesSettingsTest, ErrorsPointAtTheKey) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  const Case cases[] = {
      {"  databases:\n    main:\n      url: mysql://x/y\n",
       "compose.yaml:7:7: x-slipway.databases.main.url: unsupported"},
      {"  databases:\n    main:\n      url: ${UNSET_VAR}\n", "is missing or empty"},
      {"  databases:\n    main:\n      url: sqlite:a.db\n      fromat: x\n",
       "compose.yaml:8:7: x-slipway.databases.main.fromat: unknown key"},
      {"  databases:\n    main:\n      url: sqlite:a.db\n      format: liquibase\n",
       "x-slipway.databases.main.format"},
      {"  backups:\n    schedule: every day\n", "compose.yaml:6:5: x-slipway.backups.schedule: "},
      {"  backups:\n    retention: {daily: -2}\n", "x-slipway.backups.retention.daily"},
      {"  backups:\n    retention: {biweekly: 2}\n", "unknown key \"biweekly\""},
      {"  databases:\n    main:\n      url: sqlite:a.db\n      service: nope\n",
       "compose.yaml:6:5: x-slipway.databases.main.service: service \"nope\" is not defined "
       "(expected one of api)"},
  };
  for (const Case& c : cases) {
    auto p = LoadText(std::string(kServices) + "x-slipway:\n" + c.yaml);
    ASSERT_FALSE(p.ok()) << c.yaml;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(p.status().message().find(c.want), std::string::npos)
        << c.yaml << " -> " << p.status().message();
    EXPECT_EQ(p.status().message().find("mysql://"), std::string::npos);
  }
}

TEST(DatabasesSettingsTest, MigrationToolPresetsAndCommands) {
  auto p =
      LoadText(std::string(kServices) +
               "x-slipway:\n  databases:\n"
               "    a:\n      url: sqlite:a.db\n      migrations: {tool: alembic}\n"
               "    b:\n      url: sqlite:b.db\n"
               "      migrations: {tool: alembic, up: alembic upgrade heads, dir: backend,"
               " timeout: 2m}\n"
               "    c:\n      url: sqlite:c.db\n"
               "      migrations: {command: ./migrate.sh up, down: ./migrate.sh down,"
               " pending: ./migrate.sh pending}\n"
               "    d:\n      url: sqlite:d.db\n      migrations: {tool: django}\n"
               "    e:\n      url: sqlite:e.db\n"
               "      migrations: {up: x up, pending: x list, pending-match: '^todo (\\S+)'}\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  const MigrationToolSettings& a = p->databases.at("a").tool;
  EXPECT_EQ(a.tool, MigrationTool::kAlembic);
  EXPECT_EQ(a.up, "alembic upgrade head");
  EXPECT_EQ(a.down, "alembic downgrade -1");
  EXPECT_EQ(a.status, "alembic current");
  EXPECT_EQ(a.pending, "alembic heads");
  EXPECT_EQ(a.pending_rule, PendingRule::kCurrentVsHeads);
  const MigrationToolSettings& b = p->databases.at("b").tool;
  EXPECT_EQ(b.up, "alembic upgrade heads");
  EXPECT_EQ(b.down, "alembic downgrade -1");  // the preset's, not overridden
  EXPECT_EQ(b.dir, "backend");
  EXPECT_EQ(b.timeout, Duration(120'000));
  const MigrationToolSettings& c = p->databases.at("c").tool;
  EXPECT_EQ(c.tool, MigrationTool::kCommands);
  EXPECT_EQ(c.up, "./migrate.sh up");
  EXPECT_EQ(c.pending_rule, PendingRule::kLines);
  EXPECT_EQ(p->databases.at("d").tool.pending_rule, PendingRule::kMatch);
  EXPECT_TRUE(p->databases.at("d").tool.down.empty());  // django has no generic down
  const MigrationToolSettings& e = p->databases.at("e").tool;
  EXPECT_EQ(e.pending_rule, PendingRule::kMatch);
  EXPECT_EQ(e.pending_match, "^todo (\\S+)");
  EXPECT_EQ(p->databases.at("e").migrations, "migrations");  // the folder is not used
  for (MigrationTool t : {MigrationTool::kAlembic, MigrationTool::kDjango, MigrationTool::kPrisma,
                          MigrationTool::kRails, MigrationTool::kKnex}) {
    MigrationToolSettings s = MigrationPreset(t);
    EXPECT_FALSE(s.up.empty()) << MigrationToolName(t);
    EXPECT_FALSE(s.pending.empty()) << MigrationToolName(t);
    if (s.pending_rule == PendingRule::kMatch) {
      EXPECT_FALSE(s.pending_match.empty()) << MigrationToolName(t);
    }
  }
}

TEST(DatabasesSettingsTest, MigrationToolErrorsPointAtTheKey) {
  struct Case {
    std::string migrations;
    std::string want;
  };
  const std::string at = "compose.yaml:8:";
  const Case cases[] = {
      {"{tool: flyway}",
       "x-slipway.databases.main.migrations.tool: \"flyway\" is not allowed "
       "(expected alembic, django, prisma, rails or knex)"},
      {"{tool: [alembic]}", "x-slipway.databases.main.migrations.tool"},
      {"{tool: alembic, up: [alembic, upgrade]}", "x-slipway.databases.main.migrations.up"},
      {"{tool: alembic, upp: x}", "x-slipway.databases.main.migrations.upp: unknown key \"upp\""},
      {"{up: ./m up}", "x-slipway.databases.main.migrations.pending: is missing"},
      {"{down: ./m down, pending: ./m p}", "x-slipway.databases.main.migrations.up: is missing"},
      {"{tool: alembic, up: ''}", "x-slipway.databases.main.migrations.up: is empty"},
      {"{up: a, pending: b, pending-match: '(unclosed'}",
       "x-slipway.databases.main.migrations.pending-match: \"(unclosed\" is not a regular"},
      // Go's syntax (RE2): no look-arounds or back-references.
      {"{up: a, pending: b, pending-match: '(?=todo)'}",
       "x-slipway.databases.main.migrations.pending-match: \"(?=todo)\" is not a regular"},
      {"{up: a, pending: b, pending-match: '(a)\\1'}",
       "x-slipway.databases.main.migrations.pending-match: \"(a)"},
      {"{tool: alembic, timeout: -1s}", "x-slipway.databases.main.migrations.timeout"},
      {"{tool: alembic, timeout: soon}", "x-slipway.databases.main.migrations.timeout"},
      {"[alembic]", "x-slipway.databases.main.migrations: must be a folder or a mapping"},
  };
  for (const Case& c : cases) {
    auto p = LoadText(std::string(kServices) +
                      "x-slipway:\n  databases:\n    main:\n      url: sqlite:a.db\n"
                      "      migrations: " +
                      c.migrations + "\n");
    ASSERT_FALSE(p.ok()) << c.migrations;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidInput);
    const std::string& msg = p.status().message();
    EXPECT_EQ(msg.rfind(at, 0), 0u) << c.migrations << " -> " << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << c.migrations << " -> " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace slipway::config
