// End-to-end tests of the keeper (docs/architecture.md, "Keeper"): the real binary, its keeper
// and daemon, the testapp behind a published port, a bounded client loop, and SIGKILLs.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "net/socket.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

pid_t ReadPid(const std::filesystem::path& p) {
  std::ifstream in(p);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// Stops the keeper first (else it would restart the daemon the harness kills), then lets the
// Project's destructor `down` the rest.
struct KeeperGuard {
  Project& p;
  ~KeeperGuard() {
    pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
    if (PidAlive(keeper)) {
      if (p.Slipway({"down"}, 30s).rc != 0 || !WaitFor([&] { return !PidAlive(keeper); }, 5s)) {
        kill(keeper, SIGKILL);
      }
    }
  }
};

struct LoadResult {
  int ok = 0;
  int failed = 0;  // refused, reset, timed out or 5xx
  int http_5xx = 0;
  int cut = 0;  // accepted, then reset or closed before an answer: held by a killed process
  std::vector<std::string> failures;
  long max_ms = 0;
};

// `threads` clients, each a new connection per request (no keep-alive), for `duration`.
LoadResult RunLoad(int port, int threads, std::chrono::milliseconds duration) {
  LoadResult total;
  std::mutex mu;
  auto deadline = std::chrono::steady_clock::now() + duration;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      LoadResult mine;
      for (int i = 0; i < 100'000 && std::chrono::steady_clock::now() < deadline; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        http::Endpoint ep;
        ep.host = "127.0.0.1";
        ep.port = port;
        http::Request req;
        req.target = "/";
        auto r = http::Fetch(ep, req, Duration(10'000));
        long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        mine.max_ms = std::max(mine.max_ms, ms);
        if (r.ok() && r->status < 500) {
          ++mine.ok;
        } else {
          ++mine.failed;
          if (r.ok()) ++mine.http_5xx;
          // Reset or closed after the accept: the killed daemon held the connection.
          if (!r.ok() &&
              (r.status().message().find("closed before a response") != std::string::npos ||
               r.status().message().find("reset") != std::string::npos)) {
            ++mine.cut;
          }
          if (mine.failures.size() < 5) {
            mine.failures.push_back(r.ok() ? "HTTP " + std::to_string(r->status)
                                           : r.status().message());
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      total.ok += mine.ok;
      total.failed += mine.failed;
      total.http_5xx += mine.http_5xx;
      total.cut += mine.cut;
      total.max_ms = std::max(total.max_ms, mine.max_ms);
      for (auto& f : mine.failures) total.failures.push_back(f);
    });
  }
  for (auto& th : pool) th.join();
  return total;
}

std::string WebProject(int port) {
  return "services:\n  web:\n    command: [\"" + kTestapp +
         "\"]\n    ports: [\"127.0.0.1:" + std::to_string(port) +
         ":8080\"]\n    healthcheck: {interval: 100ms}\n"
         "    x-slipway: {healthcheck: {http: /health}}\n";
}

TEST(KeeperTest, UpStartsAKeeperAndDownEndsIt) {
  const int port = FreePort();
  Project p(WebProject(port));
  KeeperGuard guard{p};
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.err;
  pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
  pid_t daemon = p.DaemonPid();
  ASSERT_TRUE(PidAlive(keeper));
  ASSERT_TRUE(PidAlive(daemon));
  std::ifstream stat("/proc/" + std::to_string(daemon) + "/stat");
  std::string line;
  std::getline(stat, line);
  EXPECT_NE(line.find(") S " + std::to_string(keeper) + " "), std::string::npos)
      << "the daemon is the keeper's child: " << line;
  // A second up finds the daemon and starts no second keeper.
  ASSERT_EQ(p.Slipway({"up", "-d"}).rc, 0);
  EXPECT_EQ(ReadPid(p.dir() / ".slipway" / "keeper.pid"), keeper);
  EXPECT_EQ(p.DaemonPid(), daemon);
  CmdResult down = p.Slipway({"down"});
  EXPECT_EQ(down.rc, 0) << down.err;
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(keeper) && !PidAlive(daemon); }, 10s));
  EXPECT_EQ(HttpGet(port, "/health"), 0) << "the port refuses again after down";
}

TEST(KeeperTest, AStartThatFailsIsReportedNotRetried) {
  // The API's address is taken: only the daemon finds out, at start.
  const int port = FreePort();
  auto busy = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(busy.ok());
  const int api_port = *net::LocalPort(busy->get());
  Project p(WebProject(port) +
            "x-slipway:\n  api: {listen: \"127.0.0.1:" + std::to_string(api_port) + "\"}\n");
  KeeperGuard guard{p};
  CmdResult up = p.Slipway({"up", "-d"}, 30s);
  EXPECT_NE(up.rc, 0);
  EXPECT_NE(up.err.find("exited at start"), std::string::npos) << up.err;
  pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
  EXPECT_FALSE(PidAlive(keeper)) << "the keeper exits with a daemon that never served";
}

// The daemon is SIGKILLed under load: the keeper starts another one, the published port keeps
// its listening socket (held by the keeper), and the services come back.
TEST(KeeperTest, DaemonKilledUnderLoadComesBackAndThePortKeepsAnswering) {
  const int port = FreePort();
  Project p(WebProject(port));
  KeeperGuard guard{p};
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  pid_t daemon = p.DaemonPid();
  ASSERT_TRUE(PidAlive(daemon));
  ASSERT_EQ(HttpGet(port, "/health"), 200);

  std::atomic<bool> killed{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(700ms);
    kill(daemon, SIGKILL);
    killed = true;
  });
  LoadResult load = RunLoad(port, 4, 3s);
  killer.join();
  std::printf("[ keeper ] daemon kill -9 under load: %d ok, %d failed, max latency %ld ms\n",
              load.ok, load.failed, load.max_ms);
  for (const auto& f : load.failures) std::printf("[ keeper ]   failure: %s\n", f.c_str());
  ASSERT_TRUE(killed);

  EXPECT_TRUE(WaitFor([&] { return PidAlive(p.DaemonPid()) && p.DaemonPid() != daemon; }, 10s))
      << "the keeper starts a new daemon";
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }, 10s));
  EXPECT_GT(load.ok, 0);
  // New connections wait in the keeper's accept queue while the new daemon restarts the
  // services: none is refused and none meets a 5xx. Only the requests the killed daemon had
  // in flight (at most one per client thread) are cut.
  EXPECT_EQ(load.http_5xx, 0);
  EXPECT_EQ(load.failed, load.cut);
  EXPECT_LE(load.cut, 4);
  // One web instance, not two: what the dead daemon left was stopped.
  auto ps = p.Ps();
  int running = 0;
  for (const auto& row : ps) running += row.value("state", "") == "running";
  EXPECT_EQ(running, 1) << ps.dump();
  // down still ends everything, the keeper included.
  pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
  ASSERT_EQ(p.Slipway({"down"}).rc, 0);
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(keeper); }, 10s));
}

// kill -9 of the keeper: the daemon serves on with its own copies of the sockets; down still
// stops everything.
TEST(KeeperTest, KeeperKilledTheDaemonServesOn) {
  const int port = FreePort();
  Project p(WebProject(port));
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
  pid_t daemon = p.DaemonPid();
  ASSERT_TRUE(PidAlive(keeper));
  std::vector<pid_t> services;
  for (const auto& row : p.Ps()) services.push_back(row.value("pid", 0));
  ASSERT_EQ(services.size(), 1u);

  kill(keeper, SIGKILL);
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(keeper); }, 5s));
  LoadResult load = RunLoad(port, 4, 1s);
  std::printf("[ keeper ] after keeper kill -9: %d ok, %d failed\n", load.ok, load.failed);
  EXPECT_EQ(load.failed, 0);
  EXPECT_GT(load.ok, 0);
  EXPECT_EQ(p.DaemonPid(), daemon);
  EXPECT_TRUE(PidAlive(daemon));
  EXPECT_TRUE(PidAlive(services[0]));
  CmdResult up = p.Slipway({"up", "-d"});
  EXPECT_EQ(up.rc, 0) << up.err;
  EXPECT_EQ(p.DaemonPid(), daemon) << "up finds the daemon that serves";
  CmdResult down = p.Slipway({"down"});
  EXPECT_EQ(down.rc, 0) << down.err;
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(daemon) && !PidAlive(services[0]); }, 10s));
}

}  // namespace
}  // namespace slipway::testing
