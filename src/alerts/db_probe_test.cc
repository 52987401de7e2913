#include "alerts/db_probe.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "alerts/service.h"
#include "net/socket.h"

namespace slipway::alerts {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("slipway-dbprobe-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void MakeSqlite(const fs::path& p) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x INT)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// A port nothing listens on (bound then closed).
int ClosedPort() {
  auto fd = net::ListenTcp("127.0.0.1", 0);
  int port = *net::LocalPort(fd->get());
  return port;  // closed when fd goes out of scope
}

TEST(DatabaseProbe, SqliteFileThatExistsIsOkAndMissingFolderIsDownWithoutCreatingIt) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeSqlite(dir.path / "app.db"));
  DatabaseHealth ok = ProbeDatabase({"main", "sqlite:app.db"}, dir.path, Duration(1000));
  EXPECT_EQ(ok.status, "ok") << ok.error;
  EXPECT_EQ(ok.kind, "sqlite");
  EXPECT_GT(ok.checked_ms, 0);

  DatabaseHealth missing =
      ProbeDatabase({"other", "sqlite:nowhere/app.db"}, dir.path, Duration(1000));
  EXPECT_EQ(missing.status, "down");
  EXPECT_NE(missing.error.find("unable to open"), std::string::npos) << missing.error;
  EXPECT_FALSE(fs::exists(dir.path / "nowhere"));  // read-only probe: nothing created

  // A file that is not a database is down too.
  std::ofstream(dir.path / "junk.db") << "this is not sqlite, it is a long enough text file....";
  DatabaseHealth junk = ProbeDatabase({"junk", "sqlite:junk.db"}, dir.path, Duration(1000));
  EXPECT_EQ(junk.status, "down");
}

TEST(DatabaseProbe, PostgresOnAClosedPortFailsFast) {
  int port = ClosedPort();
  auto t0 = std::chrono::steady_clock::now();
  DatabaseHealth h =
      ProbeDatabase({"pg", "postgres://app:secret@127.0.0.1:" + std::to_string(port) + "/app"}, "/",
                    Duration(3000));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(h.status, "down");
  EXPECT_EQ(h.kind, "postgres");
  EXPECT_NE(h.error.find("cannot connect"), std::string::npos) << h.error;
  EXPECT_EQ(h.target.find("secret"), std::string::npos) << h.target;  // password masked
  EXPECT_LT(took, std::chrono::milliseconds(1000));
}

TEST(DatabaseProbe, BadUrlIsDown) {
  DatabaseHealth h = ProbeDatabase({"x", "mysql://h/db"}, "/", Duration(1000));
  EXPECT_EQ(h.status, "down");
  EXPECT_NE(h.error.find("unsupported scheme"), std::string::npos) << h.error;
}

TEST(DatabaseProber, AProbeStuckPastItsTimeoutCountsAsDownWhileItRuns) {
  // A listener that never accepts: the TCP handshake completes (backlog) but the server
  // never speaks, so libpq waits for its connect_timeout (2 s).
  auto fd = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(fd.ok());
  int port = *net::LocalPort(fd->get());
  DatabaseProber::Options o;
  o.timeout = Duration(300);
  o.interval = Duration(60'000);
  DatabaseProber p({{"hung", "postgres://app@127.0.0.1:" + std::to_string(port) + "/app"}}, o);
  EXPECT_EQ(p.Snapshot()[0].status, "unknown");
  p.Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::vector<DatabaseHealth> snap;
  while (std::chrono::steady_clock::now() < deadline) {
    snap = p.Snapshot();
    if (snap[0].status == "down") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(snap[0].status, "down");
  EXPECT_NE(snap[0].error.find("no answer within 300 ms"), std::string::npos) << snap[0].error;
  EXPECT_EQ(p.rounds(), 0u);  // the probe itself is still waiting
}

TEST(AlertingService, DatabaseDownMakesHealthDegradedNotDown) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeSqlite(dir.path / "app.db"));
  auto loop = std::move(net::EventLoop::Create()).value();
  telemetry::Registry reg(1);
  config::Project p;
  p.dir = dir.path;
  p.alerts.builtin = false;
  p.databases["main"].url = "sqlite:app.db";
  p.databases["gone"].url = "sqlite:missing/app.db";
  ServiceDeps deps;
  deps.loop = loop.get();
  deps.registry = &reg;
  auto s = AlertingService::Create(p, deps);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_NE((*s)->databases(), nullptr);
  auto [st0, h0] = (*s)->HealthDetailed();
  EXPECT_EQ(h0["databases"]["main"]["status"], "unknown");
  EXPECT_EQ(h0["status"], "ok");  // not probed yet is not a failure

  (*s)->databases()->ProbeOnceForTest();
  auto [status, health] = (*s)->HealthDetailed();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(health["status"], "degraded") << health.dump(2);
  EXPECT_EQ(health["databases"]["main"]["status"], "ok");
  EXPECT_EQ(health["databases"]["gone"]["status"], "down");
  EXPECT_TRUE(health["databases"]["gone"].contains("error"));

  ASSERT_TRUE((*s)->EvaluateOnce().ok());
  std::string metrics = reg.RenderPrometheus();
  EXPECT_NE(metrics.find("slipway_database_up{database=\"main\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("slipway_database_up{database=\"gone\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace slipway::alerts
