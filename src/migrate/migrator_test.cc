#include "migrate/migrator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/test_require.h"
#include "migrate/pg_test_server.h"
#include "migrate/test_files.h"

namespace slipway::migrate {
namespace {

using testing::PgServer;
using testing::TempDir;

// Every test runs against SQLite and against a real PostgreSQL started once
// for the suite (a fresh database per test).
class MigratorTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    pg_ = PgServer::Start(&why).release();
    if (pg_ == nullptr) why_ = new std::string(why);
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
    delete why_;
    why_ = nullptr;
  }

  void SetUp() override {
    if (GetParam() == "postgres") {
      SLIPWAY_REQUIRE(pg_ != nullptr, "a PostgreSQL server to test against: " << *why_);
      static std::atomic<int> n{0};
      std::string db = "t" + std::to_string(n.fetch_add(1));
      ASSERT_TRUE(pg_->CreateDatabase(db));
      auto t = ParseTarget(pg_->Url(db), "/");
      ASSERT_TRUE(t.ok());
      target_ = *t;
    } else {
      auto t = ParseTarget("sqlite:" + (dir_.path() / "app.db").string(), "/");
      ASSERT_TRUE(t.ok());
      target_ = *t;
    }
    options_.dir = dir_.path() / "migrations";
    options_.who = "tester@host";
    std::filesystem::create_directories(options_.dir);
  }

  bool pg() const { return GetParam() == "postgres"; }

  void Write(const std::string& name, const std::string& sql) {
    dir_.Write("migrations/" + name, sql);
  }

  std::unique_ptr<Migrator> Open() {
    auto m = Migrator::Open(target_, options_);
    EXPECT_TRUE(m.ok()) << m.status().message();
    return m.ok() ? std::move(m).value() : nullptr;
  }

  // Rows of a query on a separate connection.
  std::vector<Row> Query(const std::string& sql) {
    auto d = Driver::Open(target_);
    EXPECT_TRUE(d.ok()) << d.status().message();
    auto r = (*d)->Query(sql, {});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : std::vector<Row>{};
  }
  bool HasTable(const std::string& t) {
    auto d = Driver::Open(target_);
    return d.ok() && (*d)->TableExists(t).value_or(false);
  }

  void WriteBasic() {
    Write("0001_users.up.sql", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);\n");
    Write("0001_users.down.sql", "DROP TABLE users;\n");
    Write("0002_posts.up.sql",
          "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));\n"
          "CREATE INDEX posts_user ON posts(user_id);\n");
    Write("0002_posts.down.sql", "DROP TABLE posts;\n");
    Write("0003_seed.up.sql", "INSERT INTO users(id, name) VALUES (1, 'a; b'), (2, 'c');\n");
    Write("0003_seed.down.sql", "DELETE FROM users;\n");
  }

  static PgServer* pg_;
  static std::string* why_;
  TempDir dir_;
  Target target_;
  Options options_;
};

PgServer* MigratorTest::pg_ = nullptr;
std::string* MigratorTest::why_ = nullptr;

TEST_P(MigratorTest, UpRecordsHistoryAndDownRollsBack) {
  WriteBasic();
  auto m = Open();
  ASSERT_TRUE(m);
  auto st = m->GetStatus();
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->pending, 3);

  auto up = m->Up("0002");
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(*up, (std::vector<std::string>{"0001", "0002"}));
  auto up2 = m->Up();
  ASSERT_TRUE(up2.ok()) << up2.status().message();
  EXPECT_EQ(*up2, (std::vector<std::string>{"0003"}));
  EXPECT_EQ(Query("SELECT count(*) FROM users")[0][0], "2");

  auto hist = m->History();
  ASSERT_TRUE(hist.ok());
  ASSERT_EQ(hist->size(), 3u);
  EXPECT_EQ((*hist)[0].name, "users");
  EXPECT_EQ((*hist)[0].applied_by, "tester@host");
  EXPECT_EQ((*hist)[0].checksum, m->source().migrations[0].checksum);
  EXPECT_GT((*hist)[0].applied_ms, 1'600'000'000'000);
  EXPECT_FALSE((*hist)[0].dirty);

  auto down = m->Down(2);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(*down, (std::vector<std::string>{"0003", "0002"}));
  EXPECT_FALSE(HasTable("posts"));
  EXPECT_TRUE(HasTable("users"));
  auto all = m->Down(0, "0");
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_FALSE(HasTable("users"));
  EXPECT_TRUE(m->History()->empty());
}

TEST_P(MigratorTest, ChecksumDriftBlocksUpUntilStamped) {
  WriteBasic();
  ASSERT_TRUE(Open()->Up("0001").ok());
  Write("0001_users.up.sql", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, x INT);\n");
  auto m = Open();
  auto st = m->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->rows[0].state, MigrationState::kChanged);
  EXPECT_NE(st->blocked.find("changed since it was applied"), std::string::npos) << st->blocked;
  auto up = m->Up();
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(up.status().message().find("0001_users.up.sql"), std::string::npos);
  EXPECT_FALSE(HasTable("posts"));

  ASSERT_TRUE(m->Stamp("0001").ok());
  auto up2 = m->Up();
  ASSERT_TRUE(up2.ok()) << up2.status().message();
  EXPECT_EQ(up2->size(), 2u);
}

TEST_P(MigratorTest, FailingStatementMidFileRollsBackAndNamesFileStatementPosition) {
  WriteBasic();
  Write("0004_bad.up.sql",
        "CREATE TABLE tags(id INTEGER);\n"
        "INSERT INTO tags VALUES (1);\n"
        "SELECT nosuchcolumn FROM tags;\n"
        "CREATE TABLE never(id INTEGER);\n");
  auto m = Open();
  auto up = m->Up();
  ASSERT_FALSE(up.ok());
  const std::string& msg = up.status().message();
  EXPECT_NE(msg.find("0004_bad failed and was rolled back"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0004_bad.up.sql:3:8:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nosuchcolumn"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in statement: SELECT nosuchcolumn FROM tags"), std::string::npos) << msg;
  if (pg()) {
    EXPECT_NE(msg.find("SQLSTATE 42703"), std::string::npos) << msg;
  }
  EXPECT_FALSE(HasTable("tags"));
  EXPECT_FALSE(HasTable("never"));
  auto st = m->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pending, 1);
  EXPECT_TRUE(st->blocked.empty());
  // The lock was released: another session can take it at once.
  auto other = Driver::Open(target_);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->TryLock().value_or(false));
}

TEST_P(MigratorTest, NonTransactionalFailureLeavesDirtyStateThatBlocks) {
  WriteBasic();
  Write("0004_nontx.up.sql",
        "-- slipway:no-transaction\n"
        "CREATE TABLE half(id INTEGER);\n"
        "INSERT INTO missing VALUES (1);\n");
  auto m = Open();
  auto up = m->Up();
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.status().message().find("marked dirty"), std::string::npos) << up.status().message();
  EXPECT_TRUE(HasTable("half"));  // ran outside a transaction: partly applied
  auto st = m->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->rows.back().state, MigrationState::kDirty);
  EXPECT_NE(st->blocked.find("is dirty"), std::string::npos);
  Write("0005_next.up.sql", "SELECT 1;");
  auto m2 = Open();
  auto blocked = m2->Up();
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(blocked.status().message().find("0004_nontx is dirty"), std::string::npos);
  EXPECT_FALSE(m2->Down(1).ok());
  // Resolve by hand: finish the work, stamp, continue.
  auto d = Driver::Open(target_);
  ASSERT_TRUE((*d)->Exec("CREATE TABLE missing(id INTEGER)").ok());
  ASSERT_TRUE(m2->Stamp("0004").ok());
  auto up2 = m2->Up();
  ASSERT_TRUE(up2.ok()) << up2.status().message();
  EXPECT_EQ(*up2, (std::vector<std::string>{"0005"}));
}

TEST_P(MigratorTest, ConcurrentUpsSerialize) {
  // Each migration holds the lock a while so the runs overlap.
  std::string slow = pg() ? "SELECT pg_sleep(0.05);\n" : "";
  for (int i = 1; i <= 8; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "%04d_t%d.up.sql", i, i);
    Write(name, "CREATE TABLE t" + std::to_string(i) + "(id INTEGER);\n" + slow);
  }
  std::vector<std::vector<std::string>> applied(2);
  std::vector<Status> results(2);
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      Options o = options_;
      o.lock_poll = Duration(10);
      auto m = Migrator::Open(target_, o);
      if (!m.ok()) {
        results[k] = m.status();
        return;
      }
      auto r = (*m)->Up();
      results[k] = r.status();
      if (r.ok()) applied[k] = *r;
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0].message();
  ASSERT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(applied[0].size() + applied[1].size(), 8u);
  EXPECT_TRUE(applied[0].empty() || applied[1].empty());
  EXPECT_EQ(Query("SELECT count(*) FROM slipway_migrations")[0][0], "8");
}

TEST_P(MigratorTest, LockTimeoutNamesTheHolder) {
  WriteBasic();
  auto holder = Driver::Open(target_, "holder-app");
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE((*holder)->TryLock().value_or(false));
  options_.lock_timeout = Duration(300);
  options_.lock_poll = Duration(20);
  auto m = Open();
  auto t0 = std::chrono::steady_clock::now();
  auto up = m->Up();
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(up.status().message().find("holder-app"), std::string::npos) << up.status().message();
  EXPECT_NE(up.status().message().find("pid "), std::string::npos);
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(5));
  ASSERT_TRUE((*holder)->Unlock().ok());
  EXPECT_TRUE(m->Up().ok());
}

TEST_P(MigratorTest, PlanPrintsSqlAndRunsNothing) {
  WriteBasic();
  auto m = Open();
  auto plan = m->Plan(true, "0002");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_NE(plan->find("-- up 0001_users (0001_users.up.sql, in a transaction)"),
            std::string::npos);
  EXPECT_NE(plan->find("CREATE INDEX posts_user"), std::string::npos);
  EXPECT_EQ(plan->find("0003"), std::string::npos);
  EXPECT_FALSE(HasTable("users"));
  EXPECT_FALSE(HasTable("slipway_migrations"));
  ASSERT_TRUE(m->Up().ok());
  auto down = m->Plan(false, "", 1);
  ASSERT_TRUE(down.ok());
  EXPECT_NE(down->find("DELETE FROM users"), std::string::npos);
  EXPECT_EQ(Query("SELECT count(*) FROM users")[0][0], "2");
}

TEST_P(MigratorTest, VerifyRoundTripsOnScratchDatabase) {
  WriteBasic();
  auto ok = Verify(target_, options_);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->ok) << ok->problem;
  EXPECT_EQ(ok->migrations, 3);
  EXPECT_FALSE(HasTable("users"));  // the real target was not touched

  // A down that forgets the index: the round trip leaves something behind.
  Write("0004_idx.up.sql",
        "CREATE TABLE extra(id INTEGER);\nCREATE INDEX extra_id ON extra(id);\n");
  Write("0004_idx.down.sql", "DROP INDEX extra_id;\n");
  auto bad = Verify(target_, options_);
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  EXPECT_FALSE(bad->ok);
  EXPECT_NE(bad->problem.find("extra"), std::string::npos) << bad->problem;
}

TEST_P(MigratorTest, EveryFolderFormatApplies) {
  TempDir d;
  d.Write("gm/000001_a.up.sql", "CREATE TABLE gm_a(id INTEGER);");
  d.Write("gm/000001_a.down.sql", "DROP TABLE gm_a;");
  d.Write("db/20230101000000_a.sql",
          "-- migrate:up\nCREATE TABLE db_a(id INTEGER);\n-- migrate:down\nDROP TABLE db_a;\n");
  d.Write("fw/V1__a.sql", "CREATE TABLE fw_a(id INTEGER);");
  d.Write("fw/V1_5__b.sql", "CREATE TABLE fw_b(id INTEGER);");
  d.Write("fw/U1_5__b.sql", "DROP TABLE fw_b;");
  // Each folder keeps its own history in its own database: use one target per format.
  int i = 0;
  for (const char* sub : {"gm", "db", "fw"}) {
    Target t = target_;
    if (pg()) {
      std::string db = std::string("fmt_") + sub + std::to_string(::getpid());
      ASSERT_TRUE(pg_->CreateDatabase(db));
      t = target_.WithDatabase(db);
    } else {
      t.sqlite_path = dir_.path() / (std::to_string(i++) + ".db");
    }
    Options o = options_;
    o.dir = d.path() / sub;
    auto up = Up(t, o);
    ASSERT_TRUE(up.ok()) << sub << ": " << up.status().message();
    EXPECT_FALSE(up->empty());
    auto m = Migrator::Open(t, o);
    ASSERT_TRUE(m.ok());
    auto down = (*m)->Down(1);
    ASSERT_TRUE(down.ok()) << sub << ": " << down.status().message();
    EXPECT_EQ(down->size(), 1u);
    EXPECT_TRUE(HasPending(t, o).value_or(false));
  }
}

TEST_P(MigratorTest, ConcurrentlyNeedsToRunOutsideATransaction) {
  if (!pg()) GTEST_SKIP() << "CREATE INDEX CONCURRENTLY is PostgreSQL syntax";
  WriteBasic();
  Write("0004_idx.up.sql", "CREATE INDEX CONCURRENTLY users_name ON users(name);\n");
  auto m = Open();
  auto in_tx = m->Up();
  ASSERT_FALSE(in_tx.ok());
  EXPECT_NE(in_tx.status().message().find("cannot run inside a transaction block"),
            std::string::npos)
      << in_tx.status().message();
  Write("0004_idx.up.sql",
        "-- slipway:no-transaction\n"
        "CREATE INDEX CONCURRENTLY users_name ON users(name);\n"
        "CREATE INDEX CONCURRENTLY users_id_name ON users(id, name);\n");
  auto m2 = Open();
  auto up = m2->Up();
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(Query("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'users_%name'")[0][0], "2");
  auto st = m2->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->rows.back().state, MigrationState::kApplied);
}

INSTANTIATE_TEST_SUITE_P(Databases, MigratorTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace slipway::migrate
