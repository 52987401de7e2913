// End-to-end tests of the keeper (docs/architecture.md, "Keeper"): the real binary, its keeper
// and daemon, the testapp behind a published port, a bounded client loop, and SIGKILLs.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
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

std::string WebProject(int port, const std::string& extra = "") {
  return "services:\n  web:\n    command: [\"" + kTestapp +
         "\"]\n    ports: [\"127.0.0.1:" + std::to_string(port) +
         ":8080\"]\n    healthcheck: {interval: 100ms}\n"
         "    x-slipway: {healthcheck: {http: /health}}\n" +
         extra;
}

// instance "web.1" / "web.r2.1" → pid, from `ps --format json` (running instances only).
std::map<std::string, pid_t> RunningPids(Project& p) {
  std::map<std::string, pid_t> out;
  for (const auto& row : p.Ps()) {
    if (row.value("state", "") != "running") continue;
    out[row.value("service", "") + "." + row.value("set", "") + "." +
        std::to_string(row.value("instance", 0))] = row.value("pid", 0);
  }
  return out;
}

// The admin API's TCP port (.slipway/api.addr is "127.0.0.1:PORT").
int ApiPort(Project& p) {
  std::ifstream in(p.dir() / ".slipway" / "api.addr");
  std::string addr;
  in >> addr;
  auto colon = addr.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(addr.c_str() + colon + 1);
}

// The value of an unlabelled metric in /metrics, or -1.
double Metric(Project& p, const std::string& name) {
  std::string body;
  if (HttpGet(ApiPort(p), "/metrics", &body) != 200) return -1;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  }
  return -1;
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
// its listening socket (held by the keeper), and the new daemon adopts the running instances:
// same PIDs, same health, their output during the gap kept (the pipes were parked in the
// keeper) and no new release.
TEST(KeeperTest, DaemonKilledUnderLoadTheServicesAreAdoptedUntouched) {
  const int port = FreePort();
  Project p(WebProject(port, "    deploy: {replicas: 2}\n    restart: always\n"));
  KeeperGuard guard{p};
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  pid_t daemon = p.DaemonPid();
  ASSERT_TRUE(PidAlive(daemon));
  ASSERT_EQ(HttpGet(port, "/health"), 200);
  auto before = RunningPids(p);
  ASSERT_EQ(before.size(), 2u);
  int instance_port = 0;
  for (const auto& row : p.Ps()) instance_port = row.value("port", 0);
  ASSERT_GT(instance_port, 0);
  auto releases_before = p.Json({"releases", "web", "--format", "json"});

  const std::string gap_line = "printed-while-no-daemon-ran-" + std::to_string(getpid());
  std::atomic<bool> killed{false};
  std::atomic<int> print_status{0};
  std::atomic<bool> in_gap{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(700ms);
    kill(daemon, SIGKILL);
    killed = true;
    WaitFor([&] { return !PidAlive(daemon); }, 2s);  // the keeper reaps it at once
    // Straight to the instance, while no daemon reads its output (the next one starts after
    // the keeper's 100 ms backoff and writes its pid file before it takes anything over).
    print_status = HttpGet(instance_port, "/print?line=" + gap_line);
    in_gap = ReadPid(p.dir() / ".slipway" / "daemon.pid") == daemon;
  });
  LoadResult load = RunLoad(port, 4, 3s);
  killer.join();
  std::printf(
      "[ keeper ] daemon kill -9 under load: %d ok, %d failed (%d cut in flight, %d 5xx), "
      "max latency %ld ms\n",
      load.ok, load.failed, load.cut, load.http_5xx, load.max_ms);
  for (const auto& f : load.failures) std::printf("[ keeper ]   failure: %s\n", f.c_str());
  ASSERT_TRUE(killed);

  EXPECT_TRUE(WaitFor([&] { return PidAlive(p.DaemonPid()) && p.DaemonPid() != daemon; }, 10s))
      << "the keeper starts a new daemon";
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }, 10s));
  EXPECT_GT(load.ok, 0);
  // New connections wait in the keeper's accept queue while the new daemon takes over: none
  // is refused and none meets a 5xx. Only the requests the killed daemon had in flight (at
  // most one per client thread) are cut.
  EXPECT_EQ(load.http_5xx, 0);
  EXPECT_EQ(load.failed, load.cut);
  EXPECT_LE(load.cut, 4);

  // The same processes, running and healthy, nothing restarted.
  EXPECT_EQ(RunningPids(p), before);
  for (const auto& row : p.Ps()) {
    EXPECT_EQ(row.value("state", ""), "running") << row.dump();
    EXPECT_EQ(row.value("health", ""), "healthy") << row.dump();
    EXPECT_EQ(row.value("restarts", -1), 0) << row.dump();
    EXPECT_GT(row.value("uptime_s", 0.0), 0.5) << "uptime counts from the process's start";
  }
  for (const auto& [id, pid] : before) EXPECT_TRUE(PidAlive(pid)) << id;

  // What the service wrote while no daemon ran is in the logs.
  EXPECT_EQ(print_status.load(), 200);
  EXPECT_TRUE(in_gap.load()) << "the line was printed after the next daemon started";
  EXPECT_TRUE(WaitFor(
      [&] {
        return p.Slipway({"logs", "web"}).out.find(gap_line) != std::string::npos;
      },
      5s))
      << p.Slipway({"logs", "web"}).out;

  // A daemon restart is an event, each instance's adoption too, and no new release.
  auto events = p.Json({"events", "--format", "json"});
  int adopted = 0, restarted = 0;
  for (const auto& e : events) {
    adopted += e.value("kind", "") == "adopted";
    restarted += e.value("kind", "") == "daemon-restarted";
  }
  EXPECT_EQ(adopted, 2) << events.dump();
  EXPECT_EQ(restarted, 1) << events.dump();
  EXPECT_EQ(p.Json({"releases", "web", "--format", "json"}).size(), releases_before.size());
  EXPECT_EQ(Metric(p, "slipway_daemon_restarts_total"), 1);
  EXPECT_GT(Metric(p, "slipway_keeper_start_time_seconds"), 0);

  // An instance that dies now is noticed (its exit comes from the keeper) and restarted.
  pid_t victim = before.begin()->second;
  kill(victim, SIGKILL);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto now = RunningPids(p);
        return now.size() == 2 && now[before.begin()->first] != victim;
      },
      10s))
      << p.Ps().dump();
  bool saw_exit = false;
  for (const auto& e : p.Json({"events", "--format", "json"})) {
    if (e.value("kind", "") == "exited" &&
        e.value("message", "").find("killed by SIGKILL") != std::string::npos) {
      saw_exit = true;
    }
  }
  EXPECT_TRUE(saw_exit) << "the adopted instance's exit status came from the keeper";

  // down still ends everything, the keeper included.
  pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
  ASSERT_EQ(p.Slipway({"down"}).rc, 0);
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(keeper); }, 10s));
  for (const auto& [id, pid] : RunningPids(p)) EXPECT_FALSE(PidAlive(pid)) << id;
}

// After a deploy, kill -9 of the daemon: the deployed release is what still serves, from the
// same processes, and the release history is unchanged.
TEST(KeeperTest, DaemonKilledAfterADeployTheDeployedReleaseStillServes) {
  const int port = FreePort();
  Project p(R"(services:
  web:
    command: [")" +
            kTestapp + R"("]
    environment: {VERSION: v1}
    ports: ["127.0.0.1:)" +
            std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3}
    x-slipway:
      healthcheck: {http: /health}
      deploy:
        strategy: blue-green
        monitor: 300ms
        drain: 100ms
        rollback_window: 60s
        health_timeout: 10s
)");
  KeeperGuard guard{p};
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  CmdResult d = p.Slipway({"deploy", "web", "--env", "VERSION=v2"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  std::string body;
  ASSERT_EQ(HttpGet(port, "/version", &body), 200);
  ASSERT_EQ(body, "v2\n");
  std::map<std::string, pid_t> r2;
  for (const auto& [id, pid] : RunningPids(p)) {
    if (id.find(".r2.") != std::string::npos) r2[id] = pid;
  }
  ASSERT_EQ(r2.size(), 1u) << p.Ps().dump();
  auto releases = p.Json({"releases", "web", "--format", "json"});
  ASSERT_EQ(releases.size(), 2u);

  pid_t daemon = p.DaemonPid();
  std::thread killer([&] {
    std::this_thread::sleep_for(500ms);
    kill(daemon, SIGKILL);
  });
  LoadResult load = RunLoad(port, 4, 2s);
  killer.join();
  std::printf("[ keeper ] kill -9 after a deploy: %d ok, %d failed (%d cut, %d 5xx)\n", load.ok,
              load.failed, load.cut, load.http_5xx);
  for (const auto& f : load.failures) std::printf("[ keeper ]   failure: %s\n", f.c_str());
  ASSERT_TRUE(WaitFor([&] { return PidAlive(p.DaemonPid()) && p.DaemonPid() != daemon; }, 10s));
  EXPECT_EQ(load.http_5xx, 0);
  EXPECT_EQ(load.failed, load.cut);
  EXPECT_LE(load.cut, 4);

  for (int i = 0; i < 20; ++i) {
    body.clear();
    ASSERT_EQ(HttpGet(port, "/version", &body), 200);
    EXPECT_EQ(body, "v2\n") << "request " << i;
  }
  std::map<std::string, pid_t> r2_after;
  for (const auto& [id, pid] : RunningPids(p)) {
    if (id.find(".r2.") != std::string::npos) r2_after[id] = pid;
  }
  EXPECT_EQ(r2_after, r2) << p.Ps().dump();
  // The set r1 kept warm for a rollback has no daemon to retire it any more: it is stopped.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ps = p.Ps();
        return std::all_of(ps.begin(), ps.end(),
                           [](const auto& row) { return row.value("release", 0) == 2; });
      },
      5s))
      << p.Ps().dump();
  auto after = p.Json({"releases", "web", "--format", "json"});
  ASSERT_EQ(after.size(), 2u) << after.dump();
  EXPECT_EQ(after[0]["number"], 2);
  EXPECT_EQ(after[0]["status"], "succeeded");
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
