// End-to-end: built-in `backup` and `migrate` deploy hook steps on a real SQLite database
// through the real binary and daemon. A deploy with pending migrations backs up (and
// verifies the copy) before migrating; a failing migration aborts the deploy with the old
// release serving and the schema as it was; --no-backup skips the backup.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"
#include "store/store.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

std::string Compose(int port) {
  return R"(services:
  api:
    command: [")" +
         kTestapp + R"("]
    environment: {VERSION: v1}
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, start_interval: 50ms, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      deploy:
        strategy: blue-green
        monitor: 200ms
        drain: 100ms
        health_timeout: 10s
        hooks: {pre: [migrate]}
x-slipway:
  databases:
    main:
      url: sqlite:data/app.db
      check: SELECT count(*) FROM notes
)";
}

nlohmann::json Backups(Project& p) { return p.Json({"backup", "list", "--format", "json"}); }
nlohmann::json MigrateStatus(Project& p) {
  return p.Json({"migrate", "status", "--format", "json"});
}

TEST(DeployMigrateTest, PendingMigrationsRunBehindAVerifiedBackup) {
  const int port = FreePort();
  Project p(Compose(port));
  std::filesystem::create_directories(p.dir() / "migrations");
  std::filesystem::create_directories(p.dir() / "data");
  p.Write("migrations/0001_notes.up.sql", "CREATE TABLE notes(id INTEGER PRIMARY KEY, t TEXT);\n");
  p.Write("migrations/0001_notes.down.sql", "DROP TABLE notes;\n");
  ASSERT_EQ(p.Slipway({"migrate", "up"}).rc, 0);
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;

  // Nothing pending: the step is a no-op and takes no backup.
  CmdResult d1 = p.Slipway({"deploy", "api", "--env", "VERSION=v2"});
  ASSERT_EQ(d1.rc, 0) << d1.out << d1.err;
  EXPECT_NE(d1.out.find("pre hook migrate: main: no pending migration"), std::string::npos)
      << d1.out;
  EXPECT_TRUE(Backups(p).empty());

  // A new migration: backed up and verified first, then applied.
  p.Write("migrations/0002_seed.up.sql", "INSERT INTO notes(t) VALUES ('a'), ('b');\n");
  p.Write("migrations/0002_seed.down.sql", "DELETE FROM notes;\n");
  CmdResult d2 = p.Slipway({"deploy", "api", "--env", "VERSION=v3"});
  ASSERT_EQ(d2.rc, 0) << d2.out << d2.err;
  EXPECT_NE(d2.out.find("restored and checked"), std::string::npos) << d2.out;
  EXPECT_NE(d2.out.find("main: applied 1 migration (0002)"), std::string::npos) << d2.out;
  auto backups = Backups(p);
  ASSERT_EQ(backups.size(), 1u) << backups.dump();
  EXPECT_EQ(backups[0]["verify_status"], "ok");
  EXPECT_EQ(MigrateStatus(p)["pending"], 0);
  std::string body;
  ASSERT_EQ(HttpGet(port, "/version", &body), 200);
  EXPECT_EQ(body, "v3\n");

  // A failing migration: the deploy aborts, v3 keeps serving, 0003 is not recorded.
  p.Write("migrations/0003_bad.up.sql",
          "ALTER TABLE notes ADD COLUMN done INTEGER;\nINSERT INTO nope VALUES (1);\n");
  CmdResult d3 = p.Slipway({"deploy", "api", "--env", "VERSION=v4"});
  EXPECT_EQ(d3.rc, 1) << d3.out << d3.err;
  EXPECT_NE(d3.err.find("pre hook migrate failed"), std::string::npos) << d3.err;
  EXPECT_NE(d3.err.find("nope"), std::string::npos) << d3.err;
  ASSERT_EQ(HttpGet(port, "/version", &body), 200);
  EXPECT_EQ(body, "v3\n");
  auto st = MigrateStatus(p);
  EXPECT_EQ(st["pending"], 1) << st.dump();
  EXPECT_EQ(Backups(p).size(), 2u);  // taken before the failed attempt
  auto rel = p.Json({"releases", "api", "--format", "json"});
  EXPECT_EQ(rel[0]["status"], "failed") << rel.dump();

  // Fixed file, --no-backup: applied without a new backup.
  p.Write("migrations/0003_bad.up.sql", "ALTER TABLE notes ADD COLUMN done INTEGER;\n");
  CmdResult d4 = p.Slipway({"deploy", "api", "--env", "VERSION=v5", "--no-backup"});
  ASSERT_EQ(d4.rc, 0) << d4.out << d4.err;
  EXPECT_EQ(Backups(p).size(), 2u);
  EXPECT_EQ(MigrateStatus(p)["pending"], 0);
}

TEST(DeployMigrateTest, HookStepNamingAnUnknownDatabaseIsRefusedAtLoad) {
  const int port = FreePort();
  std::string yaml = Compose(port);
  yaml.replace(yaml.find("pre: [migrate]"), 14, "pre: [{migrate: other}]");
  Project p(yaml);
  CmdResult up = p.Slipway({"up", "-d"});
  EXPECT_EQ(up.rc, 2);
  EXPECT_NE(up.err.find("hooks.pre[0]: database \"other\" is not defined (expected one of main)"),
            std::string::npos)
      << up.err;
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway" / "daemon.pid"));
}

TEST(ScheduledBackupTest, AMissedRunIsReportedAndCaughtUpAtDaemonStart) {
  const int port = FreePort();
  std::string yaml = Compose(port) + "  backups:\n    schedule: \"0 3 * * *\"\n";
  Project p(yaml);
  std::filesystem::create_directories(p.dir() / "migrations");
  std::filesystem::create_directories(p.dir() / "data");
  p.Write("migrations/0001_notes.up.sql", "CREATE TABLE notes(id INTEGER PRIMARY KEY, t TEXT);\n");
  ASSERT_EQ(p.Slipway({"migrate", "up"}).rc, 0);
  {
    // The last scheduled run was three days ago: the daemon was down for two 03:00 runs.
    std::filesystem::create_directories(p.dir() / ".slipway");
    auto store = store::Store::Open(p.dir() / ".slipway" / "state.db", Clock::Real());
    ASSERT_TRUE(store.ok()) << store.status().message();
    const int64_t three_days_ago = Clock::Real()->WallMillis() - 3 * 86'400'000LL;
    ASSERT_TRUE(
        (*store)->SetMeta("backup.schedule.main.last_ms", std::to_string(three_days_ago)).ok());
  }
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  ASSERT_TRUE(
      WaitFor([&] { return EventIndex(p.Events(), "backups", "backup-succeeded") >= 0; }, 20s))
      << p.Events().dump();
  auto events = p.Events();
  int missed = EventIndex(events, "backups", "backup-missed");
  ASSERT_GE(missed, 0) << events.dump();
  EXPECT_NE(events[missed]["message"].get<std::string>().find("main: 3 scheduled run(s)"),
            std::string::npos)
      << events[missed].dump();
  auto backups = Backups(p);
  ASSERT_EQ(backups.size(), 1u) << backups.dump();
  EXPECT_EQ(backups[0]["verify_status"], "ok");

  int api_port = p.ApiPort();
  std::string metrics;
  ASSERT_EQ(HttpGet(api_port, "/metrics", &metrics), 200);
  EXPECT_NE(metrics.find("slipway_backup_last_success_timestamp_seconds{database=\"main\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("slipway_backup_problems_total{database=\"main\",kind=\"missed\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace slipway::testing
