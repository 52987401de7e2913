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

// The value of an unlabelled metric in /metrics, or -1.
double Metric(Project& p, const std::string& name) {
  std::string body;
  if (HttpGet(p.ApiPort(), "/metrics", &body) != 200) return -1;
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
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
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

namespace slipway::testing {
namespace {

// `slipway daemon restart` under load: the old daemon stops accepting, the keeper starts its
// successor, which adopts the instances, and the old one finishes what it had in flight (a
// slow request spanning the handover) before it exits. Nothing is refused, cut or answered 5xx.
TEST(KeeperTest, DaemonRestartUnderLoadFailsNoRequest) {
  const int port = FreePort();
  Project p(WebProject(port, "    deploy: {replicas: 2}\n    restart: always\n"));
  KeeperGuard guard{p};
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  const pid_t daemon = p.DaemonPid();
  const pid_t keeper = ReadPid(p.dir() / ".slipway" / "keeper.pid");
  const auto before = RunningPids(p);
  ASSERT_EQ(before.size(), 2u);
  const size_t releases_before = p.Json({"releases", "web", "--format", "json"}).size();

  std::atomic<int> slow_status{0};
  std::atomic<long> slow_ms{0};
  CmdResult restart;
  std::thread restarter([&] {
    std::this_thread::sleep_for(600ms);
    // In flight across the handover: the old daemon must finish it while it drains.
    std::thread slow([&] {
      auto t0 = std::chrono::steady_clock::now();
      slow_status = HttpGet(port, "/slow?ms=1500");
      slow_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
    });
    std::this_thread::sleep_for(100ms);
    restart = p.Slipway({"daemon", "restart"}, 60s);
    slow.join();
  });
  LoadResult load = RunLoad(port, 4, 3s);
  restarter.join();
  std::printf(
      "[ keeper ] daemon restart under load: %d ok, %d failed (%d cut, %d 5xx), max latency "
      "%ld ms; a 1.5 s request across it: HTTP %d in %ld ms\n",
      load.ok, load.failed, load.cut, load.http_5xx, load.max_ms, slow_status.load(),
      slow_ms.load());
  for (const auto& f : load.failures) std::printf("[ keeper ]   failure: %s\n", f.c_str());
  ASSERT_EQ(restart.rc, 0) << restart.out << restart.err;
  EXPECT_NE(restart.out.find("handed over to pid"), std::string::npos) << restart.out;
  EXPECT_GT(load.ok, 0);
  EXPECT_EQ(load.failed, 0);
  EXPECT_EQ(slow_status.load(), 200) << "the request in flight finished on the old daemon";

  const pid_t successor = p.DaemonPid();
  EXPECT_NE(successor, daemon);
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(daemon); }, 10s)) << "the old daemon exits";
  EXPECT_EQ(ReadPid(p.dir() / ".slipway" / "keeper.pid"), keeper) << "the same keeper";
  EXPECT_EQ(RunningPids(p), before) << "the same processes, adopted";
  EXPECT_EQ(p.Json({"releases", "web", "--format", "json"}).size(), releases_before);
  auto events = p.Events();
  EXPECT_GE(EventIndex(events, "", "daemon-handover"), 0) << events.dump();
  EXPECT_GE(EventIndex(events, "", "daemon-took-over"), 0) << events.dump();
  EXPECT_LT(EventIndex(events, "", "daemon-restarted"), 0) << "a handover is not a crash";
  auto status = p.Json({"status", "--format", "json"});
  EXPECT_EQ(status["daemon"].value("start_cause", ""), "handover") << status.dump();
  EXPECT_EQ(status["daemon"].value("keeper_pid", 0), keeper);
  CmdResult table = p.Slipway({"status"});
  EXPECT_NE(table.out.find("(keeper)"), std::string::npos) << table.out;
  EXPECT_EQ(HttpGet(port, "/health"), 200);
}

TEST(KeeperTest, DaemonRestartRefusesBadFlagsAndAStoppedProject) {
  Project p(WebProject(FreePort()));
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"daemon", "restart", "--drain-timeout", "abc"},
        {"daemon", "restart", "--drain-timeout", "-5s"},
        {"daemon", "restart", "--drain-timeout", "99999h"},
        {"daemon", "restart", "--timeout", "0s"},
        {"daemon", "restart", "--bogus"}}) {
    CmdResult r = p.Slipway(bad);
    EXPECT_EQ(r.rc, 2) << bad[3] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  CmdResult r = p.Slipway({"daemon", "restart"});
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("not running"), std::string::npos) << r.err;
  EXPECT_EQ(p.Slipway({"daemon"}).rc, 2);
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway" / "daemon.pid"));
}

// A newer slipway installed over the one the daemon runs (a new file renamed into place, as
// package managers do): the next `up` announces it and hands over, services untouched.
TEST(KeeperTest, UpHandsOverToANewerBinary) {
  const int port = FreePort();
  Project p(WebProject(port));
  KeeperGuard guard{p};
  const std::filesystem::path bin = p.dir() / "bin" / "slipway";
  std::filesystem::create_directories(bin.parent_path());
  std::filesystem::copy_file(SLIPWAY_BIN, bin);
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), bin.string());
    return RunCmd(args, p.dir(), {}, 60s);
  };
  ASSERT_EQ(run({"up", "-d", "--wait"}).rc, 0);
  const pid_t daemon = p.DaemonPid();
  const auto before = RunningPids(p);
  // Nothing changed: `up` keeps the daemon.
  CmdResult same = run({"up", "-d"});
  ASSERT_EQ(same.rc, 0) << same.err;
  EXPECT_EQ(same.err.find("handing over"), std::string::npos) << same.err;
  EXPECT_EQ(p.DaemonPid(), daemon);
  // "Install" a new build: another inode at the same path.
  std::filesystem::copy_file(SLIPWAY_BIN, bin.string() + ".new");
  std::filesystem::rename(bin.string() + ".new", bin);
  CmdResult up = run({"up", "-d"});
  ASSERT_EQ(up.rc, 0) << up.err;
  EXPECT_NE(up.err.find("handing over"), std::string::npos) << up.err;
  EXPECT_NE(p.DaemonPid(), daemon);
  EXPECT_EQ(RunningPids(p), before);
  EXPECT_EQ(HttpGet(port, "/health"), 200);
  // And the successor runs the new file: a third `up` sees nothing newer.
  CmdResult again = run({"up", "-d"});
  EXPECT_EQ(again.err.find("handing over"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace slipway::testing

namespace slipway::testing {
namespace {

// The words of a systemd ExecStart= line (double quotes with backslash escapes; `$$` and `%%`
// are a literal `$` and `%`), enough for what `slipway systemd-unit` writes.
std::vector<std::string> UnitWords(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false, quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (!quoted && (c == ' ' || c == '\t')) {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"') {
      quoted = !quoted;
    } else if (quoted && c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
    } else if ((c == '$' || c == '%') && i + 1 < line.size() && line[i + 1] == c) {
      cur += c;
      ++i;
    } else {
      cur += c;
    }
  }
  if (in_word) words.push_back(cur);
  return words;
}

std::string UnitSetting(const std::string& unit, const std::string& key) {
  std::istringstream in(unit);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

// Boot: the generated unit's ExecStart, run from / as systemd would, brings the project up
// with the keeper as the PIDFile's process; its ExecStop takes it down.
TEST(KeeperTest, SystemdUnitsExecStartBringsTheProjectUpFromAnywhere) {
  const int port = FreePort();
  Project p(WebProject(port, "    environment: {GREETING: \"${GREETING}\"}\n"));
  p.Write(".env.boot", "GREETING=100%-$ready\n");
  KeeperGuard guard{p};
  CmdResult gen = p.Slipway({"--env-file", ".env.boot", "systemd-unit"});
  ASSERT_EQ(gen.rc, 0) << gen.err;
  const std::string unit = gen.out;
  EXPECT_EQ(UnitSetting(unit, "Type"), "forking");
  EXPECT_EQ(UnitSetting(unit, "PIDFile"), (p.dir() / ".slipway" / "keeper.pid").string());
  EXPECT_EQ(unit.find("100%-"), std::string::npos) << "no environment value in the unit";
  std::vector<std::string> start = UnitWords(UnitSetting(unit, "ExecStart"));
  std::vector<std::string> stop = UnitWords(UnitSetting(unit, "ExecStop"));
  ASSERT_GE(start.size(), 4u) << unit;
  EXPECT_EQ(start[0], SLIPWAY_BIN);
  EXPECT_EQ(std::vector<std::string>(start.end() - 3, start.end()),
            (std::vector<std::string>{"up", "-d", "--wait"}));

  CmdResult up = RunCmd(start, "/", {}, 60s);
  ASSERT_EQ(up.rc, 0) << up.err;
  EXPECT_EQ(HttpGet(port, "/health"), 200);
  pid_t keeper = ReadPid(UnitSetting(unit, "PIDFile"));
  EXPECT_TRUE(PidAlive(keeper)) << "the PIDFile names the running keeper";

  CmdResult down = RunCmd(stop, "/", {}, 60s);
  EXPECT_EQ(down.rc, 0) << down.err;
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(keeper); }, 10s));
  EXPECT_EQ(HttpGet(port, "/health"), 0);

  // A project that does not load gives no unit.
  p.Write("compose.yaml", "services: [nope\n");
  CmdResult bad = p.Slipway({"systemd-unit"});
  EXPECT_EQ(bad.rc, 2) << bad.out << bad.err;
  EXPECT_TRUE(bad.out.empty());
}

}  // namespace
}  // namespace slipway::testing
