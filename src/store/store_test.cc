#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store/schema.h"
#include "store/statement.h"

namespace slipway::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "slipway-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ / ".slipway" / "state.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs SQL on a separate raw connection (as another process would).
  static void RawExec(const fs::path& path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
  }

  static int64_t RawCount(const fs::path& path, const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  fs::path dir_;
  fs::path path_;
  FakeClock clock_;
};

TEST_F(StoreTest, OpenCreatesFolderAndCurrentSchema) {
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(fs::exists(path_));
  EXPECT_EQ((*s)->SchemaVersion(), static_cast<int>(StoreSchema().steps.size()));
  EXPECT_EQ((*s)->SchemaVersion(), StoreSchema().steps.back().version);
  // Only the store's own tables: the other modules add theirs when they first use them.
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM schema_modules"), 1);
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'releases'"), 0);
}

TEST_F(StoreTest, ReopenKeepsData) {
  {
    auto s = Store::Open(path_, &clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_TRUE(
        (*s)->AppendEvent({.service = "api", .instance = 1, .kind = "started", .message = "pid 42"})
            .ok());
    ASSERT_TRUE((*s)->SetMeta("api_port", "41234").ok());
  }
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto events = (*s)->Events(0, {}, 0);
  ASSERT_TRUE(events.ok()) << events.status().message();
  ASSERT_EQ(events->size(), 1u);
  const Event& e = (*events)[0];
  EXPECT_GT(e.id, 0);
  EXPECT_EQ(e.wall_ms, clock_.WallMillis());  // filled from the clock
  EXPECT_EQ(e.service, "api");
  EXPECT_EQ(e.instance, 1);
  EXPECT_EQ(e.kind, "started");
  EXPECT_EQ(e.message, "pid 42");
  auto port = (*s)->GetMeta("api_port");
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(port->value_or(""), "41234");
  // Schema steps are not re-applied on reopen.
  EXPECT_EQ(RawCount(path_, "SELECT version FROM schema_modules WHERE module = 'store'"),
            static_cast<int64_t>(StoreSchema().steps.size()));
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM schema_modules"), 1);
}

TEST_F(StoreTest, MetaOverwriteAndMissing) {
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok());
  auto missing = (*s)->GetMeta("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE((*s)->SetMeta("k", "1").ok());
  ASSERT_TRUE((*s)->SetMeta("k", "2").ok());
  EXPECT_EQ((*s)->GetMeta("k")->value_or(""), "2");
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM meta"), 1);
  ASSERT_TRUE((*s)->SetMeta("empty", "").ok());
  auto empty = (*s)->GetMeta("empty");
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE(empty->has_value());
  EXPECT_EQ(**empty, "");
}

TEST_F(StoreTest, ProjectLoadIsOneRowThatSurvivesReopen) {
  {
    auto s = Store::Open(path_, &clock_);
    ASSERT_TRUE(s.ok());
    auto none = (*s)->GetProjectLoad();
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    ProjectLoad l;
    l.working_dir = "/p";
    l.files = {"/p/compose.yaml"};
    l.profiles = {"debug"};
    l.env = "staging";
    l.loaded_files = {"/p/compose.yaml", "/p/compose.staging.yaml"};
    l.loaded_env_files = {"/p/.env", "/p/.env.staging"};
    ASSERT_TRUE((*s)->SetProjectLoad(l).ok());
    l.files = {"/p/compose.yaml", "/p/with \"quote\"\n.yaml"};
    ASSERT_TRUE((*s)->SetProjectLoad(l).ok());
  }
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok());
  auto got = (*s)->GetProjectLoad();
  ASSERT_TRUE(got.ok() && got->has_value());
  const ProjectLoad& l = **got;
  EXPECT_EQ(l.working_dir, "/p");
  EXPECT_EQ(l.files, (std::vector<std::string>{"/p/compose.yaml", "/p/with \"quote\"\n.yaml"}));
  EXPECT_TRUE(l.env_files.empty());
  EXPECT_EQ(l.profiles, std::vector<std::string>{"debug"});
  EXPECT_EQ(l.env, "staging");
  EXPECT_EQ(l.loaded_files.size(), 2u);
  EXPECT_EQ(l.loaded_env_files.back(), "/p/.env.staging");
  EXPECT_EQ(l.updated_ms, clock_.WallMillis());
}

TEST_F(StoreTest, ProjectLoadWithAMangledListIsAnError) {
  { ASSERT_TRUE(Store::Open(path_, &clock_).ok()); }
  RawExec(path_,
          "INSERT INTO project_load VALUES(1, '/p', '[1]', '[]', '[]', '', '', '[]', '[]', 5)");
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok());
  auto got = (*s)->GetProjectLoad();
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("project_load.files"), std::string::npos);
}

TEST_F(StoreTest, UpgradesHandMadeVersionOneDatabase) {
  // What a binary knowing only step 1 would have left behind.
  fs::create_directories(path_.parent_path());
  RawExec(path_,
          "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
          "applied_ms INTEGER NOT NULL);"
          "INSERT INTO schema_version VALUES (1, 'events and meta', 1);"
          "CREATE TABLE events(id INTEGER PRIMARY KEY, wall_ms INTEGER NOT NULL, "
          "service TEXT NOT NULL, instance INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL, "
          "message TEXT NOT NULL DEFAULT '');"
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
          "INSERT INTO events(wall_ms, service, instance, kind, message) "
          "VALUES (5, 'web', 0, 'started', 'old');");
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->SchemaVersion(), StoreSchema().steps.back().version);
  EXPECT_EQ(RawCount(path_,
                     "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND "
                     "name='events_wall_ms'"),
            1);
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name='project_load'"), 1);
  EXPECT_EQ(RawCount(path_, "SELECT applied_ms FROM schema_modules WHERE module = 'store'"),
            clock_.WallMillis());
  // The global list is read, never written any more.
  EXPECT_EQ(RawCount(path_, "SELECT MAX(version) FROM schema_version"), 1);
  auto events = (*s)->Events(0, {}, 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "old");
}

TEST_F(StoreTest, RefusesNewerSchema) {
  { ASSERT_TRUE(Store::Open(path_, &clock_).ok()); }
  const int known = static_cast<int>(StoreSchema().steps.size());
  const int future = known + 5;
  RawExec(path_, "UPDATE schema_modules SET version = " + std::to_string(future) +
                     " WHERE module = 'store'");
  auto s = Store::Open(path_, &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(),
            path_.string() + ": state database has schema version " + std::to_string(future) +
                " of its store tables, newer than this slipway supports (" + std::to_string(known) +
                "); use the newer slipway that wrote it");
}

TEST_F(StoreTest, RefusesAGlobalVersionBeyondTheLastOne) {
  fs::create_directories(path_.parent_path());
  RawExec(path_,
          "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
          "applied_ms INTEGER NOT NULL);"
          "INSERT INTO schema_version VALUES (" +
              std::to_string(kLastLegacyVersion + 1) + ", 'x', 1);");
  auto s = Store::Open(path_, &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version " + std::to_string(kLastLegacyVersion + 1) +
                                      ", newer than this slipway supports"),
            std::string::npos)
      << s.status().message();
}

// Modules number their steps on their own: one module's steps neither see nor shift another's.
TEST_F(StoreTest, EachModuleKeepsItsOwnVersion) {
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok());
  static constexpr SchemaStep kA[] = {{1, "a1", "CREATE TABLE a1(x INTEGER);"},
                                      {2, "a2", "CREATE TABLE a2(x INTEGER);"}};
  static constexpr SchemaStep kB[] = {{1, "b1", "CREATE TABLE b1(x INTEGER);"}};
  ASSERT_TRUE((*s)->Apply({"a", kA}).ok());
  ASSERT_TRUE((*s)->Apply({"b", kB}).ok());
  ASSERT_TRUE((*s)->Apply({"a", kA}).ok()) << "applying again changes nothing";
  EXPECT_EQ(RawCount(path_, "SELECT version FROM schema_modules WHERE module = 'a'"), 2);
  EXPECT_EQ(RawCount(path_, "SELECT version FROM schema_modules WHERE module = 'b'"), 1);
  auto v = ModuleVersion((*s)->db(), {"b", kB});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1);
  // A binary that knows only a1 refuses the module's newer tables, naming the module.
  Status older = (*s)->Apply({"a", std::span<const SchemaStep>(kA, 1)});
  EXPECT_EQ(older.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(older.message().find("schema version 2 of its a tables"), std::string::npos)
      << older.message();
}

TEST_F(StoreTest, StepsApplyInOrderAndFailedStepRollsBack) {
  // The real steps plus later ones, as a future binary would have them.
  std::vector<SchemaStep> steps(StoreSchema().steps.begin(), StoreSchema().steps.end());
  const int n = static_cast<int>(steps.size());
  steps.push_back({n + 1, "t1", "CREATE TABLE t1(x INTEGER);"});
  {
    auto s = Store::OpenWithStepsForTest(path_, &clock_, steps);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ((*s)->SchemaVersion(), n + 1);
  }
  steps.push_back({n + 2, "t2", "CREATE TABLE t2(y INTEGER); INSERT INTO t1 VALUES (7);"});
  // The first statement succeeds, the second fails: nothing of this step may stay.
  steps.push_back({n + 3, "broken", "CREATE TABLE t3(z INTEGER); INSERT INTO nowhere VALUES (1);"});
  auto s = Store::OpenWithStepsForTest(path_, &clock_, steps);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("schema step " + std::to_string(n + 3) +
                                      " of store (broken): no such table: nowhere"),
            std::string::npos)
      << s.status().message();
  // The step before committed on its own; the broken one left nothing behind.
  EXPECT_EQ(RawCount(path_, "SELECT version FROM schema_modules WHERE module = 'store'"), n + 2);
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM t1"), 1);
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name='t3'"), 0);
  // The binary that knows only the real steps now refuses the database.
  auto old = Store::Open(path_, &clock_);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, EventsFilterBySinceServicesAndLimit) {
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  const char* services[] = {"api", "web", "worker"};
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(st.AppendEvent({.wall_ms = 1000 + i * 10,
                                .service = services[i % 3],
                                .instance = i % 2,
                                .kind = "started",
                                .message = std::to_string(i)})
                    .ok());
  }
  auto all = st.Events(0, {}, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 9u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].id, (*all)[i].id);

  auto since = st.Events(1050, {}, 0);  // events 5..8
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 4u);
  EXPECT_EQ((*since)[0].message, "5");

  auto api_web = st.Events(0, {"api", "worker"}, 0);
  ASSERT_TRUE(api_web.ok());
  ASSERT_EQ(api_web->size(), 6u);
  for (const Event& e : *api_web) EXPECT_NE(e.service, "web");

  auto newest = st.Events(0, {"api"}, 2);  // api: n0 n3 n6 → newest two, oldest first
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].message, "3");
  EXPECT_EQ((*newest)[1].message, "6");

  auto none = st.Events(0, {"nosuch"}, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // A name that looks like SQL or JSON stays a plain value.
  ASSERT_TRUE(st.AppendEvent({.service = "a\"b'); --", .kind = "k", .message = ""}).ok());
  auto odd = st.Events(0, {"a\"b'); --"}, 0);
  ASSERT_TRUE(odd.ok());
  ASSERT_EQ(odd->size(), 1u);
  EXPECT_EQ((*odd)[0].wall_ms, clock_.WallMillis());
}

TEST_F(StoreTest, WalIsOnAndReadersSeeCommittedWrites) {
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok());
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*s)->db(), "PRAGMA journal_mode", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "wal");
  sqlite3_finalize(q);
  ASSERT_EQ(sqlite3_prepare_v2((*s)->db(), "PRAGMA foreign_keys", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 1);
  sqlite3_finalize(q);

  ASSERT_TRUE((*s)->AppendEvent({.service = "api", .kind = "healthy", .message = ""}).ok());
  fs::path wal = path_;
  wal += "-wal";
  EXPECT_TRUE(fs::exists(wal));
  // The journal mode is persistent in the file: a fresh connection sees it too,
  // and reads the committed row while our connection stays open.
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM events"), 1);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_prepare_v2(other, "PRAGMA journal_mode", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "wal");
  sqlite3_finalize(q);
  sqlite3_close(other);
}

TEST_F(StoreTest, TwoStoresOnOneFile) {
  auto a = Store::Open(path_, &clock_);
  auto b = Store::Open(path_, &clock_);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->AppendEvent({.service = "x", .kind = "started", .message = ""}).ok());
  ASSERT_TRUE((*b)->AppendEvent({.service = "y", .kind = "started", .message = ""}).ok());
  auto ev = (*a)->Events(0, {}, 0);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->size(), 2u);
}

TEST_F(StoreTest, ConcurrentFirstOpensAllSucceed) {
  // Several processes (here: threads with their own connections) racing to
  // create and migrate a fresh database must all end up at the same version,
  // with every step recorded once.
  constexpr int kOpeners = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kOpeners);
  std::vector<int> versions(kOpeners, -1);
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto s = Store::Open(path_, &clock_);
      if (!s.ok()) {
        errors[i] = s.status().message();
        return;
      }
      versions[i] = (*s)->SchemaVersion();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kOpeners; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(versions[i], StoreSchema().steps.back().version);
  }
  EXPECT_EQ(RawCount(path_, "SELECT version FROM schema_modules WHERE module = 'store'"),
            static_cast<int64_t>(StoreSchema().steps.size()));
  EXPECT_EQ(RawCount(path_, "SELECT COUNT(*) FROM schema_modules"), 1);
}

// Every bind reports SQLite's refusal as a Status naming the statement's purpose: a double
// too (it was bound unchecked by the alert writers).
TEST_F(StoreTest, BindsReportAnOutOfRangeParameter) {
  auto s = Store::Open(path_, &clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto st = Statement::Prepare((*s)->db(), "SELECT ? + 0.5", "add a half");
  ASSERT_TRUE(st.ok()) << st.status().message();
  ASSERT_TRUE((*st)->BindDouble(1, 1.25).ok());
  auto row = (*st)->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(sqlite3_column_double((*st)->raw(), 0), 1.75);
  (*st)->Reset();
  Status bad = (*st)->BindDouble(2, 1.0);  // the statement has one parameter
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("add a half"), std::string::npos) << bad.message();
}

TEST_F(StoreTest, NotADatabaseIsAClearError) {
  fs::create_directories(path_.parent_path());
  std::ofstream(path_) << "this is not sqlite, just some text that is long enough to matter\n"
                       << std::string(200, 'x');
  auto s = Store::Open(path_, &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(path_.string() + ": store: "), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("not a database"), std::string::npos) << s.status().message();
}

TEST_F(StoreTest, UncreatableFolderIsAnError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  auto s = Store::Open(dir_ / "file" / "sub" / "state.db", &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIoError);
  EXPECT_NE(s.status().message().find("store: cannot create"), std::string::npos);
}

}  // namespace
}  // namespace slipway::store
