// The database routes (api/databases_routes.cc) over a real state store and real loopback
// sockets: the backups catalog and migrations as the dashboard reads them, and the admin's backup
// and verify requests, which are handed to the daemon's database jobs (a recording stand-in here:
// the jobs themselves are backup_tests' subject). Hostile input is refused 4xx and hands nothing
// on.
#include <gtest/gtest.h>

#include <filesystem>

#include "api/router.h"
#include "api/router_test_server.h"
#include "api/routes.h"
#include "backup/catalog.h"
#include "config/project.h"
#include "store/store.h"

namespace slipway::api {
namespace {

using nlohmann::json;

constexpr char kSecretUrl[] = "postgres://shop:s3cret-pass@127.0.0.1:1/shop";

class DatabasesRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("databases_routes_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::move(store::Store::Open(dir_ / "state.db", Clock::Real())).value();
    router_ = std::make_unique<Router>(RouterOptions{});
    RouteDeps deps;
    deps.store = store_.get();
    deps.project = [this]() -> const config::Project* { return &project_; };
    deps.backup_now = [this](const std::string& db, std::function<void(Status, std::string)> done) {
      asked_.push_back("backup " + db);
      done(next_, next_.ok() ? "main: backup 7 verified" : "");
    };
    deps.verify_backup = [this](int64_t id, std::function<void(Status, std::string)> done) {
      asked_.push_back("verify " + std::to_string(id));
      done(next_, "restored 3 tables");
    };
    deps.migration_status = [this](std::function<void(json)> done) {
      asked_.push_back("migration status");
      done(json::array(
          {{{"name", "main"}, {"error", std::string("cannot connect to ") + kSecretUrl}}}));
    };
    RegisterDatabasesRoutes(*router_, deps);
    // Dispatched as the unix socket's caller: access is access_test's subject.
    ASSERT_TRUE(server_.Start(router_.get()).ok());
  }
  void TearDown() override {
    server_.Stop();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // The project changes only while the loop is idle between calls (the test's thread waits
  // for each answer).
  void WithDatabase() {
    config::DatabaseSettings db;
    db.name = "main";
    db.url = kSecretUrl;
    project_.databases["main"] = db;
  }
  http::ClientResponse Call(const std::string& method, const std::string& target,
                            const std::string& body = "") {
    return server_.Call(method, target, body);
  }
  json Body(const http::ClientResponse& r) { return json::parse(r.body, nullptr, false); }
  int64_t AddBackup(const std::string& db, int64_t created_ms, int64_t verified_ms,
                    const std::string& status) {
    backup::Catalog catalog(store_.get());
    backup::BackupRecord rec;
    rec.database = db;
    rec.created_ms = created_ms;
    rec.size = 1234;
    rec.sha256 = std::string(64, 'a');
    rec.kind = "pg_dump-custom";
    rec.path = (dir_ / "backups" / db / "x.dump").string();
    auto added = catalog.Add(rec);
    EXPECT_TRUE(added.ok()) << added.status().message();
    if (verified_ms > 0) {
      EXPECT_TRUE(catalog.SetVerified(added->id, verified_ms, status).ok());
    }
    return added.ok() ? added->id : 0;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  config::Project project_;
  std::vector<std::string> asked_;
  Status next_;
  std::unique_ptr<Router> router_;
  RouterTestServer server_;  // after router_: stops before it goes
};

TEST_F(DatabasesRoutesTest, WithoutDatabasesEverythingIsEmptyAndBackupsAre409) {
  auto r = Call("GET", "/api/v1/backups");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json({{"databases", json::array()}, {"backups", json::array()}}));
  r = Call("GET", "/api/v1/migrations");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json({{"databases", json::array()}, {"runs", json::array()}}));
  r = Call("POST", "/api/v1/backups", "{}");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(Body(r)["error"].get<std::string>().find("no databases"), std::string::npos);
  r = Call("POST", "/api/v1/backups/1/verify");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(asked_.empty());
}

TEST_F(DatabasesRoutesTest, ListsBackupsWithTheLastVerifiedRestoreAndNoUrl) {
  WithDatabase();
  const int64_t first = AddBackup("main", 1000, 1500, "ok");
  AddBackup("main", 2000, 2500, "failed: check found no tables");
  AddBackup("old", 500, 0, "");
  auto r = Call("GET", "/api/v1/backups");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos);
  EXPECT_EQ(r.body.find(dir_.string()), std::string::npos) << "only the file's name is shown";
  json j = Body(r);
  ASSERT_EQ(j["databases"].size(), 2u) << r.body;
  EXPECT_EQ(j["databases"][0]["name"], "main");
  EXPECT_EQ(j["databases"][0]["configured"], true);
  EXPECT_EQ(j["databases"][0]["backups"], 2);
  EXPECT_EQ(j["databases"][0]["last_backup_ms"], 2000);
  EXPECT_EQ(j["databases"][0]["last_verified_ms"], 1500);  // the failed verify does not count
  EXPECT_EQ(j["databases"][0]["last_verified_id"], first);
  EXPECT_EQ(j["databases"][1]["name"], "old");
  EXPECT_EQ(j["databases"][1]["configured"], false);
  ASSERT_EQ(j["backups"].size(), 3u);
  EXPECT_EQ(j["backups"][0]["file"], "x.dump");
  r = Call("GET", "/api/v1/backups?database=main&limit=1");
  j = Body(r);
  EXPECT_EQ(j["backups"].size(), 1u) << r.body;
  EXPECT_EQ(j["databases"].size(), 1u) << r.body;

  r = Call("GET", "/api/v1/migrations");
  j = Body(r);
  ASSERT_EQ(j["databases"].size(), 1u) << r.body;
  EXPECT_EQ(j["databases"][0]["runner"], "sql");
  EXPECT_EQ(j["databases"][0]["folder"], "migrations");
  // The status comes from the database jobs; an error naming the URL loses its password.
  EXPECT_EQ(j["databases"][0]["status"]["error"],
            "cannot connect to postgres://shop:***@127.0.0.1:1/shop");
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos) << r.body;
  EXPECT_EQ(asked_, std::vector<std::string>({"migration status"}));
}

TEST_F(DatabasesRoutesTest, AdminBackupAndVerifyAreHandedToTheDatabaseJobs) {
  WithDatabase();
  const int64_t id = AddBackup("main", 1000, 0, "");
  auto r = Call("POST", "/api/v1/backups", R"({"database": "main"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["summary"], "main: backup 7 verified");
  r = Call("POST", "/api/v1/backups", "");  // the only database
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call("POST", "/api/v1/backups/" + std::to_string(id) + "/verify");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(asked_, std::vector<std::string>(
                        {"backup main", "backup main", "verify " + std::to_string(id)}));
  // A job's failure is answered with its status and words.
  next_ = Aborted("backup 1 failed verification: no user tables");
  r = Call("POST", "/api/v1/backups/" + std::to_string(id) + "/verify");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Body(r)["error"], "backup 1 failed verification: no user tables");
}

TEST_F(DatabasesRoutesTest, HostileInputIsRefusedAndHandsNothingOn) {
  WithDatabase();
  const int64_t id = AddBackup("main", 1000, 0, "");
  const std::vector<std::tuple<std::string, std::string, std::string, int>> cases = {
      {"GET", "/api/v1/backups?limit=0", "", 400},
      {"GET", "/api/v1/backups?limit=x", "", 400},
      {"GET", "/api/v1/backups?limit=99999999999999999999", "", 400},
      {"GET", "/api/v1/backups?database=" + std::string(200, 'd'), "", 400},
      {"GET", "/api/v1/backups?database=a%00b", "", 400},
      {"GET", "/api/v1/migrations?limit=-1", "", 400},
      {"GET", "/api/v1/migrations?database=%zz", "", 400},
      {"POST", "/api/v1/backups", R"({"database": 5})", 400},
      {"POST", "/api/v1/backups", R"({"database": ["main"]})", 400},
      {"POST", "/api/v1/backups", R"({"databse": "main"})", 400},
      {"POST", "/api/v1/backups", R"([])", 400},
      {"POST", "/api/v1/backups", R"({"database": )", 400},
      {"POST", "/api/v1/backups", "\xff\xfe", 400},
      {"POST", "/api/v1/backups", std::string(100, '[') + std::string(100, ']'), 400},
      {"POST", "/api/v1/backups", R"({"database": ")" + std::string(300, 'x') + "\"}", 400},
      {"POST", "/api/v1/backups", R"({"database": "nope"})", 404},
      {"POST", "/api/v1/backups/abc/verify", "", 400},
      {"POST", "/api/v1/backups/0/verify", "", 400},
      {"POST", "/api/v1/backups/-1/verify", "", 400},
      {"POST", "/api/v1/backups/1.5/verify", "", 400},
      {"POST", "/api/v1/backups/007/verify", "", 400},
      {"POST", "/api/v1/backups/99999999999999999999/verify", "", 400},
      {"POST", "/api/v1/backups/" + std::to_string(id) + "/verify", R"({"force": true})", 400},
      {"POST", "/api/v1/backups/" + std::to_string(id + 100) + "/verify", "", 404},
  };
  for (const auto& [method, target, body, status] : cases) {
    auto r = Call(method, target, body);
    EXPECT_EQ(r.status, status) << method << " " << target << " " << body << " → " << r.body;
    json j = Body(r);
    ASSERT_TRUE(j.is_object()) << r.body;
    ASSERT_TRUE(j["error"].is_string()) << r.body;
    EXPECT_EQ(j["error"].get<std::string>().find('\n'), std::string::npos);
  }
  EXPECT_TRUE(asked_.empty());
  backup::Catalog catalog(store_.get());
  EXPECT_EQ(catalog.List()->size(), 1u);
  EXPECT_EQ(catalog.Get(id)->verified_ms, 0);
}

}  // namespace
}  // namespace slipway::api
