// End-to-end: a database whose migrations belong to Alembic (`migrations: {tool: alembic}`),
// through the real binary, the daemon and a real Alembic project (Debian's alembic and
// SQLAlchemy) on SQLite and on a throwaway PostgreSQL. Alembic runs as a one-off of the
// owning service (its DATABASE_URL, its working folder). Pending detection (`alembic current`
// vs `alembic heads`), a verified backup before a deploy's migration, a failing migration
// aborting the deploy with the old release serving, down, status and the history; a tool
// that is not installed and a command that fails give one line and change nothing.
// The timings of each step are printed ("[timing] ...").
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "base/test_require.h"
#include "harness.h"
#include "migrate/pg_test_server.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

bool AlembicInstalled() {
  return std::system(
             "command -v alembic >/dev/null 2>&1 && "
             "/usr/bin/python3 -c 'import sqlalchemy, alembic' >/dev/null 2>&1") == 0;
}

// A minimal Alembic project: env.py reads the service's DATABASE_URL.
void WriteAlembicProject(Project& p) {
  std::filesystem::create_directories(p.dir() / "alembic" / "versions");
  std::filesystem::create_directories(p.dir() / "data");
  p.Write("alembic.ini",
          "[alembic]\nscript_location = alembic\n"
          "[loggers]\nkeys = root,alembic\n[handlers]\nkeys = console\n"
          "[formatters]\nkeys = generic\n"
          "[logger_root]\nlevel = WARN\nhandlers = console\n"
          // As `alembic init` writes it: INFO lines on stderr, which must not count as
          // revisions.
          "[logger_alembic]\nlevel = INFO\nhandlers =\nqualname = alembic\n"
          "[handler_console]\nclass = StreamHandler\nargs = (sys.stderr,)\nlevel = NOTSET\n"
          "formatter = generic\n[formatter_generic]\nformat = %(levelname)s %(message)s\n");
  p.Write("alembic/script.py.mako", "");
  p.Write("alembic/env.py",
          "import os\n"
          "from logging.config import fileConfig\n"
          "from alembic import context\n"
          "from sqlalchemy import create_engine\n"
          "fileConfig(context.config.config_file_name)\n"
          "engine = create_engine(os.environ['DATABASE_URL'])\n"
          "with engine.connect() as connection:\n"
          "    context.configure(connection=connection, target_metadata=None,\n"
          "                      transaction_per_migration=True)\n"
          "    with context.begin_transaction():\n"
          "        context.run_migrations()\n");
  p.Write(
      "alembic/versions/a1_users.py",
      "from alembic import op\nrevision = 'a1'\ndown_revision = None\n"
      "def upgrade():\n    op.execute('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)')\n"
      "def downgrade():\n    op.execute('DROP TABLE users')\n");
  p.Write("alembic/versions/b2_notes.py",
          "from alembic import op\nrevision = 'b2'\ndown_revision = 'a1'\n"
          "def upgrade():\n    op.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, t TEXT)')\n"
          "    op.execute(\"INSERT INTO notes(id, t) VALUES (1, 'a')\")\n"
          "def downgrade():\n    op.execute('DROP TABLE notes')\n");
}

void AddRevisionC3(Project& p) {
  p.Write("alembic/versions/c3_tags.py",
          "from alembic import op\nrevision = 'c3'\ndown_revision = 'b2'\n"
          "def upgrade():\n    op.execute('CREATE TABLE tags (id INTEGER PRIMARY KEY, t TEXT)')\n"
          "def downgrade():\n    op.execute('DROP TABLE tags')\n");
}

// Fails half-way: the table it creates first must not survive (one transaction).
void AddFailingRevisionD4(Project& p) {
  p.Write("alembic/versions/d4_bad.py",
          "from alembic import op\nrevision = 'd4'\ndown_revision = 'c3'\n"
          "def upgrade():\n    op.execute('CREATE TABLE half (id INTEGER PRIMARY KEY)')\n"
          "    op.execute('INSERT INTO nope VALUES (1)')\n"
          "def downgrade():\n    op.execute('DROP TABLE half')\n");
}

std::string Compose(int port, const std::string& service_url, const std::string& db_url) {
  return R"(services:
  api:
    command: [")" +
         kTestapp + R"("]
    environment: {VERSION: v1, DATABASE_URL: ")" +
         service_url + R"("}
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
      url: ")" +
         db_url + R"("
      service: api
      migrations: {tool: alembic}
      check: SELECT count(*) FROM notes
)";
}

// Runs a slipway command, prints what it printed and how long it took.
CmdResult Timed(Project& p, const std::vector<std::string>& args, const std::string& label) {
  auto t0 = std::chrono::steady_clock::now();
  CmdResult r = p.Slipway(args, 120s);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::string cmd;
  for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
  std::printf("[timing] %s: `slipway %s` rc=%d %lld ms\n[out] %s[err] %s\n", label.c_str(),
              cmd.c_str(), r.rc, static_cast<long long>(ms), r.out.c_str(), r.err.c_str());
  return r;
}

nlohmann::json Status(Project& p) { return p.Json({"migrate", "status", "--format", "json"}); }

// The whole story on one database: pending, up, deploy behind a backup, a failing deploy,
// down, history.
void RunStory(Project& p, int port, const std::string& label) {
  WriteAlembicProject(p);

  CmdResult st = Timed(p, {"migrate", "status"}, label + " status (empty)");
  ASSERT_EQ(st.rc, 0) << st.err;
  EXPECT_NE(st.out.find("main: alembic, at (nothing applied)"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("pending b2"), std::string::npos) << st.out;  // the head
  auto js = Status(p);
  EXPECT_EQ(js["tool"], "alembic") << js.dump();
  EXPECT_EQ(js["pending"], 1) << js.dump();

  CmdResult up = Timed(p, {"migrate", "up"}, label + " migrate up");
  ASSERT_EQ(up.rc, 0) << up.err;
  EXPECT_NE(up.out.find("alembic upgrade head: 1 pending (b2) -> at b2, nothing pending"),
            std::string::npos)
      << up.out;
  js = Status(p);
  EXPECT_EQ(js["current"], "b2") << js.dump();
  EXPECT_EQ(js["pending"], 0) << js.dump();

  CmdResult started = Timed(p, {"up", "-d", "--wait"}, label + " up");
  ASSERT_EQ(started.rc, 0) << started.err;

  // Nothing pending: no backup.
  CmdResult d1 =
      Timed(p, {"deploy", "api", "--env", "VERSION=v2"}, label + " deploy, nothing pending");
  ASSERT_EQ(d1.rc, 0) << d1.out << d1.err;
  EXPECT_NE(d1.out.find("pre hook migrate: main: no pending migration"), std::string::npos)
      << d1.out;
  EXPECT_TRUE(p.Json({"backup", "list", "--format", "json"}).empty());

  // A new revision: a verified backup first, then alembic.
  AddRevisionC3(p);
  CmdResult d2 = Timed(p, {"deploy", "api", "--env", "VERSION=v3"}, label + " deploy, c3 pending");
  ASSERT_EQ(d2.rc, 0) << d2.out << d2.err;
  EXPECT_NE(d2.out.find("restored and checked"), std::string::npos) << d2.out;
  EXPECT_LT(d2.out.find("restored and checked"), d2.out.find("alembic upgrade head")) << d2.out;
  EXPECT_NE(d2.out.find("at b2, 1 pending (c3) -> at c3, nothing pending"), std::string::npos)
      << d2.out;
  auto backups = p.Json({"backup", "list", "--format", "json"});
  ASSERT_EQ(backups.size(), 1u) << backups.dump();
  EXPECT_EQ(backups[0]["verify_status"], "ok");
  std::string body;
  ASSERT_EQ(HttpGet(port, "/version", &body), 200);
  EXPECT_EQ(body, "v3\n");

  // A failing revision: the deploy aborts, v3 keeps serving, the database stays at c3.
  AddFailingRevisionD4(p);
  CmdResult d3 = Timed(p, {"deploy", "api", "--env", "VERSION=v4"}, label + " deploy, d4 fails");
  EXPECT_EQ(d3.rc, 1) << d3.out << d3.err;
  EXPECT_NE(d3.err.find("pre hook migrate failed"), std::string::npos) << d3.err;
  EXPECT_NE(d3.err.find("`alembic upgrade head` exited with code 1"), std::string::npos) << d3.err;
  EXPECT_NE(d3.err.find("nope"), std::string::npos) << d3.err;
  ASSERT_EQ(HttpGet(port, "/version", &body), 200);
  EXPECT_EQ(body, "v3\n");
  js = Status(p);
  EXPECT_EQ(js["current"], "c3") << js.dump();
  EXPECT_EQ(js["pending_migrations"], nlohmann::json::array({"d4"})) << js.dump();
  EXPECT_EQ(p.Json({"backup", "list", "--format", "json"}).size(), 2u);
  auto rel = p.Json({"releases", "api", "--format", "json"});
  EXPECT_EQ(rel[0]["status"], "failed") << rel.dump();

  // Down one step (d4 removed first: it is not applied and cannot be).
  std::filesystem::remove(p.dir() / "alembic" / "versions" / "d4_bad.py");
  CmdResult down = Timed(p, {"migrate", "down"}, label + " migrate down");
  ASSERT_EQ(down.rc, 0) << down.err;
  EXPECT_NE(down.out.find("alembic downgrade -1: at c3, nothing pending -> at b2, 1 pending (c3)"),
            std::string::npos)
      << down.out;
  Timed(p, {"migrate", "status"}, label + " status after down");

  CmdResult hist = Timed(p, {"migrate", "history"}, label + " history");
  EXPECT_EQ(hist.rc, 0);
  auto h = p.Json({"migrate", "history", "--format", "json"});
  ASSERT_EQ(h.size(), 4u) << h.dump();
  EXPECT_EQ(h[0]["direction"], "up");
  EXPECT_TRUE(h[0]["ok"].get<bool>());
  EXPECT_EQ(h[1]["applied_by"], "slipway deploy");
  EXPECT_TRUE(h[1]["ok"].get<bool>());
  EXPECT_EQ(h[2]["applied_by"], "slipway deploy");
  EXPECT_FALSE(h[2]["ok"].get<bool>());
  EXPECT_NE(h[2]["output"].get<std::string>().find("nope"), std::string::npos) << h[2].dump();
  EXPECT_EQ(h[3]["direction"], "down");
  EXPECT_EQ(h[3]["after"], "at b2, 1 pending (c3)");
}

TEST(MigrateToolTest, AlembicOnSqlite) {
  SLIPWAY_REQUIRE(AlembicInstalled(), "alembic (python3-alembic)");
  const int port = FreePort();
  // The service sees SQLAlchemy's form, relative to its working folder (the project's).
  Project p(Compose(port, "sqlite:///data/app.db", "sqlite:data/app.db"));
  RunStory(p, port, "sqlite");
}

TEST(MigrateToolTest, AlembicOnPostgres) {
  SLIPWAY_REQUIRE(AlembicInstalled(), "alembic (python3-alembic)");
  std::string why;
  auto pg = migrate::testing::PgServer::Start(&why);
  SLIPWAY_REQUIRE(pg != nullptr, "a PostgreSQL server to test against: " << why);
  const int port = FreePort();
  const std::string url =
      "postgresql://postgres@127.0.0.1:" + std::to_string(pg->port()) + "/postgres";
  Project p(Compose(port, url, url));
  RunStory(p, port, "postgres");
}

TEST(MigrateToolTest, AToolThatIsNotInstalledOrFailsGivesOneLineAndChangesNothing) {
  const int port = FreePort();
  std::string yaml = Compose(port, "sqlite:///data/app.db", "sqlite:data/app.db");
  yaml.replace(yaml.find("{tool: alembic}"), 15,
               "{up: \"nosuchtool-xyz upgrade\", pending: \"nosuchtool-xyz pending\"}");
  Project p(yaml);
  std::filesystem::create_directories(p.dir() / "data");
  CmdResult st = Timed(p, {"migrate", "status"}, "not installed: status");
  EXPECT_EQ(st.rc, 1);
  EXPECT_NE(st.err.find("main: `nosuchtool-xyz pending`: nosuchtool-xyz is not installed or not "
                        "on the PATH of service api"),
            std::string::npos)
      << st.err;
  EXPECT_EQ(std::count(st.err.begin(), st.err.end(), '\n'), 1) << st.err;
  CmdResult up = Timed(p, {"migrate", "up"}, "not installed: up");
  EXPECT_EQ(up.rc, 1);
  EXPECT_FALSE(std::filesystem::exists(p.dir() / "data" / "app.db"));

  // Pending work, and an `up` that fails: one line with the tool's last word; recorded.
  p.Write(
      "compose.yaml",
      Compose(port, "sqlite:///data/app.db", "sqlite:data/app.db")
          .replace(yaml.find("migrations: {"), std::string("migrations: {tool: alembic}").size(),
                   "migrations: {up: \"echo partial; echo boom >&2; exit 3\", pending: \"echo "
                   "m1\"}"));
  CmdResult bad = Timed(p, {"migrate", "up"}, "failing up");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("main: `echo partial; echo boom >&2; exit 3` exited with code 3: boom"),
            std::string::npos)
      << bad.err;
  auto h = p.Json({"migrate", "history", "--format", "json"});
  ASSERT_EQ(h.size(), 1u) << h.dump();
  EXPECT_FALSE(h[0]["ok"].get<bool>());
  EXPECT_EQ(h[0]["tool"], "commands");

  // A tool name that is not one: exit 2, file:line, key and the choices.
  p.Write("compose.yaml", Compose(port, "sqlite:///data/app.db", "sqlite:data/app.db")
                              .replace(yaml.find("migrations: {"),
                                       std::string("migrations: {tool: alembic}").size(),
                                       "migrations: {tool: flyway-ish}"));
  CmdResult cfg = Timed(p, {"migrate", "status"}, "unknown tool");
  EXPECT_EQ(cfg.rc, 2);
  EXPECT_NE(cfg.err.find("x-slipway.databases.main.migrations.tool"), std::string::npos) << cfg.err;
  EXPECT_NE(cfg.err.find("alembic, django, prisma, rails or knex"), std::string::npos) << cfg.err;
}

}  // namespace
}  // namespace slipway::testing
