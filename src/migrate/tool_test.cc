#include "migrate/tool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "migrate/driver.h"
#include "migrate/test_files.h"
#include "store/statement.h"

namespace slipway::migrate {
namespace {

using testing::TempDir;

// A fake migration tool with real state: pending.txt lists what is pending, applied.txt what
// is applied; `up` applies all, `down` un-applies the newest. Fails when fail.txt exists.
constexpr char kTool[] = R"(#!/bin/sh
set -e
case "$1" in
  pending) cat pending.txt; echo "log line on stderr" >&2 ;;
  status) tail -n 1 applied.txt ;;
  up) if [ -e fail.txt ]; then echo "step 1 ok"; echo "error: relation nope" >&2; exit 4; fi
      cat pending.txt >> applied.txt; : > pending.txt; echo "$SLIPWAY_DATABASE_URL" > seen_url.txt ;;
  down) tail -n 1 applied.txt > last; head -n -1 applied.txt > a2; mv a2 applied.txt
        cat last pending.txt > p2; mv p2 pending.txt ;;
esac
)";

struct Fixture {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  ToolContext ctx;

  Fixture() {
    dir.Write("tool.sh", kTool);
    std::filesystem::permissions(dir.path() / "tool.sh", std::filesystem::perms::owner_all);
    dir.Write("pending.txt", "0001_users\n0002_notes\n");
    dir.Write("applied.txt", "");
    auto s = store::Store::Open(dir.path() / "state.db", Clock::Real());
    SLIPWAY_CHECK(s.ok());
    store = std::move(s).value();
    ctx.database = "main";
    ctx.target = ParseTarget("sqlite:app.db", dir.path()).value();
    ctx.url = "sqlite:app.db";
    ctx.settings = config::MigrationPreset(config::MigrationTool::kCommands);
    ctx.settings.up = "./tool.sh up";
    ctx.settings.down = "./tool.sh down";
    ctx.settings.pending = "./tool.sh pending";
    ctx.settings.status = "./tool.sh status";
    ctx.project_dir = dir.path();
    ctx.lock_timeout = Duration(300);
    ctx.lock_poll = Duration(20);
    ctx.who = "test";
    ctx.history = store.get();
  }
};

TEST(ToolRunnerTest, PendingUpDownAndHistory) {
  Fixture f;
  ToolRunner r(f.ctx);
  auto p = r.Pending();
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->pending);
  // stderr's log line is not a pending migration.
  EXPECT_EQ(p->items, (std::vector<std::string>{"0001_users", "0002_notes"}));

  auto up = r.Up();
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_NE(up->find("2 pending (0001_users, 0002_notes) -> at 0002_notes, nothing pending"),
            std::string::npos)
      << *up;
  p = r.Pending();
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->pending);
  std::ifstream seen(f.dir.path() / "seen_url.txt");
  std::string url;
  std::getline(seen, url);
  EXPECT_EQ(url, "sqlite:app.db");  // the tool is told the database's url
  auto again = r.Up();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rfind("no pending migration", 0), 0u) << *again;

  auto down = r.Down(1);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_NE(down->find("-> at 0001_users, 1 pending (0002_notes)"), std::string::npos) << *down;

  auto h = ToolHistory(f.store.get(), "main");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);  // the no-op up is not a run
  EXPECT_EQ((*h)[0].direction, ToolDirection::kUp);
  EXPECT_TRUE((*h)[0].ok);
  EXPECT_EQ((*h)[0].tool, config::MigrationTool::kCommands);
  EXPECT_EQ((*h)[0].applied_by, "test");
  EXPECT_EQ((*h)[1].direction, ToolDirection::kDown);
  EXPECT_EQ((*h)[1].before, "at 0002_notes, nothing pending");
}

// pending-match is searched for in each line (Go's syntax): the first group names the
// migration, a line without a group is the item itself; a pattern that backtracking engines
// take exponential time over answers at once over a long line.
TEST(ToolRunnerTest, PendingMatchIsSearchedInEachLine) {
  Fixture f;
  f.dir.Write("pending.txt",
              "[ ] 0001_users\n[x] 0000_init\n  [ ]   0002_notes extra\nHave NOT yet been\n" +
                  std::string(50'000, 'a') + "\n");
  f.ctx.settings.pending_rule = config::PendingRule::kMatch;
  f.ctx.settings.pending_match = R"(^\s*\[ \]\s+(?P<name>\S+))";
  ToolRunner r(f.ctx);
  auto p = r.Pending();
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->items, (std::vector<std::string>{"0001_users", "0002_notes"}));

  f.ctx.settings.pending_match = "(?i)not yet";
  ToolRunner ci(f.ctx);
  p = ci.Pending();
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->items, (std::vector<std::string>{"Have NOT yet been"}));

  f.ctx.settings.pending_match = "(a*)*c";  // no line holds a c
  ToolRunner slow(f.ctx);
  const auto t0 = std::chrono::steady_clock::now();
  p = slow.Pending();
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->items.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  f.ctx.settings.pending_match = "(?<=x)";
  ToolRunner bad(f.ctx);
  p = bad.Pending();
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("main: pending-match: invalid regular expression"),
            std::string::npos)
      << p.status().message();
}

// The history's tool and direction are closed sets: a row naming something else (a newer
// binary's tool, a hand edit) is a one-line error naming the row, never a blank column.
TEST(ToolRunnerTest, AHistoryRowWithAnUnknownNameIsAClearError) {
  Fixture f;
  ASSERT_TRUE(f.store->Apply(ToolRunsSchema()).ok());
  ASSERT_TRUE(store::Exec(f.store->db(),
                          "INSERT INTO migration_tool_runs(database, tool, direction, command, "
                          "started_ms, duration_ms, ok) VALUES ('main', 'flyway', 'up', 'x', 1, "
                          "1, 1)",
                          "test row")
                  .ok());
  auto h = ToolHistory(f.store.get(), "main");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "migration_tool_runs row 1: tool \"flyway\" is not known (expected tool sql, "
            "commands, alembic, django, prisma, rails or knex, direction up or down)");
  ASSERT_TRUE(store::Exec(f.store->db(),
                          "UPDATE migration_tool_runs SET tool = 'alembic', direction = 'sideways'",
                          "test row")
                  .ok());
  h = ToolHistory(f.store.get(), "main");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("direction \"sideways\" is not known"), std::string::npos)
      << h.status().message();
}

TEST(ToolRunnerTest, AFailingUpIsOneLineAndRecorded) {
  Fixture f;
  f.dir.Write("fail.txt", "");
  ToolRunner r(f.ctx);
  auto up = r.Up();
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().message(), "main: `./tool.sh up` exited with code 4: error: relation nope");
  auto h = ToolHistory(f.store.get(), "main");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_FALSE((*h)[0].ok);
  EXPECT_NE((*h)[0].output.find("relation nope"), std::string::npos);
}

TEST(ToolRunnerTest, AMissingToolSaysSoAndTouchesNothing) {
  Fixture f;
  f.ctx.settings.pending = "no-such-migrator-xyz list";
  ToolRunner r(f.ctx);
  auto up = r.Up();
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kNotFound);
  EXPECT_NE(up.status().message().find("no-such-migrator-xyz is not installed"), std::string::npos)
      << up.status().message();
  EXPECT_FALSE(std::filesystem::exists(f.dir.path() / "app.db"));
  EXPECT_FALSE(std::filesystem::exists(f.dir.path() / "app.db.migrate-lock"));
  auto h = ToolHistory(f.store.get(), "main");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->empty());
}

TEST(ToolRunnerTest, WaitsForTheMigrationLockAndGivesUp) {
  Fixture f;
  auto holder = Driver::Open(f.ctx.target, "other migrator");
  ASSERT_TRUE(holder.ok());
  auto got = (*holder)->TryLock();
  ASSERT_TRUE(got.ok() && *got);
  ToolRunner r(f.ctx);
  auto up = r.Up();
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kDeadlineExceeded) << up.status().message();
  // Nothing ran: still pending.
  auto p = r.Pending();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->items.size(), 2u);
  ASSERT_TRUE((*holder)->Unlock().ok());
  EXPECT_TRUE(r.Up().ok());
}

TEST(ToolRunnerTest, TimeoutKillsTheTool) {
  Fixture f;
  f.ctx.settings.pending = "sleep 5";
  f.ctx.settings.timeout = Duration(200);
  ToolRunner r(f.ctx);
  auto t0 = std::chrono::steady_clock::now();
  auto p = r.Pending();
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(ToolRunnerTest, MatchRuleAndAlembicRevisions) {
  EXPECT_EQ(AlembicRevisions("a1b2c3 (head)\n\n  d4 (head)\n"),
            (std::vector<std::string>{"a1b2c3", "d4"}));
  EXPECT_TRUE(AlembicRevisions("").empty());
  Fixture f;
  f.dir.Write("plan.txt", "[X]  app.0001_initial\n[ ]  app.0002_users\n[ ]  shop.0001_x\n");
  f.ctx.settings = config::MigrationPreset(config::MigrationTool::kDjango);
  f.ctx.settings.pending = "cat plan.txt";
  f.ctx.settings.status = "";
  ToolRunner r(f.ctx);
  auto p = r.Pending();
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->items, (std::vector<std::string>{"app.0002_users", "shop.0001_x"}));
  auto down = r.Down(1);
  ASSERT_FALSE(down.ok());
  EXPECT_NE(down.status().message().find("django has no down command"), std::string::npos);
}

}  // namespace
}  // namespace slipway::migrate
