// End-to-end tests of `slipway up` and friends: the real binary, its daemon, real processes
// (the testapp and sh), real sockets. Each test uses its own project folder and ports.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(UpTest, BadDurationExits2WithOneLineAndStartsNothing) {
  Project p(R"(services:
  api:
    command: ["sleep", "30"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 5x
)");
  CmdResult r = p.Slipway({"up", "-d"});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("compose.yaml:6:7: services.api.healthcheck.interval: \"5x\""),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway" / "daemon.pid"));
}

TEST(UpTest, DependencyCycleIsRejected) {
  Project p(R"(services:
  a:
    command: ["sleep", "30"]
    depends_on: [b]
  b:
    command: ["sleep", "30"]
    depends_on: [a]
)");
  CmdResult r = p.Slipway({"up", "-d"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("dependency cycle a -> b -> a"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(p.dir() / ".slipway" / "daemon.pid"));
}

TEST(UpTest, HealthGatedOrderAndOneShotCompletion) {
  int web_port = FreePort();
  Project p(R"(services:
  init:
    command: ["sh", "-c", "echo migrating; sleep 0.3; echo done"]
  api:
    command: [")" +
            kTestapp + R"("]
    environment:
      STARTUP_DELAY_MS: "400"
      VERSION: "2.0"
    depends_on:
      init: {condition: service_completed_successfully}
    healthcheck:
      interval: 100ms
      retries: 3
      start_period: 5s
      start_interval: 100ms
    x-slipway:
      healthcheck: {http: /health}
  web:
    command: [")" +
            kTestapp + R"("]
    ports: ["127.0.0.1:)" +
            std::to_string(web_port) + R"(:8080"]
    depends_on:
      api: {condition: service_healthy}
)");
  CmdResult r = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;

  auto ev = p.Events();
  int init_exit = EventIndex(ev, "init", "exited");
  int api_start = EventIndex(ev, "api", "started");
  int api_healthy = EventIndex(ev, "api", "healthy");
  int web_start = EventIndex(ev, "web", "started");
  ASSERT_GE(init_exit, 0) << ev.dump();
  EXPECT_LT(init_exit, api_start) << "api must wait for init to complete";
  EXPECT_LT(api_start, api_healthy);
  EXPECT_LT(api_healthy, web_start) << "web must wait for api to be healthy";

  // The published port belongs to the proxy, which routes to web's instance. web has no
  // healthcheck, so `--wait` promises it runs, not that it answers yet: the GET may be retried
  // (bounded), and how many tries it took is printed.
  std::string body;
  int status = 0, tries = 0;
  ASSERT_TRUE(WaitFor([&] {
    ++tries;
    status = HttpGet(web_port, "/", &body);
    return status == 200;
  })) << "last status "
      << status << " after " << tries << " tries\n"
      << Tail(p.dir() / ".slipway/logs/daemon.log");
  if (tries > 1) std::printf("web answered on try %d\n", tries);
  EXPECT_NE(body.find("service=web"), std::string::npos) << body;

  CmdResult logs = p.Slipway({"logs", "init"});
  EXPECT_NE(logs.out.find("init-1 | migrating"), std::string::npos) << logs.out;
}

// up checks the published ports before it starts anything; one taken after that check (web
// starts only once api is healthy) fails up with the port in its one line, where it used to be
// a log line under a success. Once the port is free again, the daemon serves it.
TEST(UpTest, APublishedPortTakenAfterTheCheckFailsUp) {
  const int web_port = FreePort();
  Project p(R"(services:
  api:
    command: [")" +
            kTestapp + R"("]
    environment:
      STARTUP_DELAY_MS: "1500"
    healthcheck: {interval: 100ms, start_period: 10s, start_interval: 100ms}
    x-slipway:
      healthcheck: {http: /health}
  web:
    command: [")" +
            kTestapp + R"("]
    ports: ["127.0.0.1:)" +
            std::to_string(web_port) + R"(:8080"]
    depends_on:
      api: {condition: service_healthy}
)");
  CmdResult up;
  std::thread upper([&] { up = p.Slipway({"up", "-d", "--wait"}); });
  // api started: up's check of the ports is behind it; web has not started.
  const bool api_started = WaitFor([&] {
    nlohmann::json ev =
        nlohmann::json::parse(p.Slipway({"events", "--format", "json"}).out, nullptr, false);
    return ev.is_array() && EventIndex(ev, "api", "started") >= 0;
  });
  int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(web_port));
  const bool held =
      bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(holder, 16) == 0;
  upper.join();
  ASSERT_TRUE(api_started);
  ASSERT_TRUE(held) << std::strerror(errno);
  EXPECT_NE(up.rc, 0) << up.out << up.err;
  EXPECT_NE(up.err.find("the proxy cannot serve the published ports"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find(std::to_string(web_port)), std::string::npos) << up.err;
  close(holder);
  // The daemon publishes again on its own (0.5 s, doubling): the freed port is served without
  // another command.
  std::string body;
  EXPECT_TRUE(WaitFor([&] { return HttpGet(web_port, "/", &body) == 200; }, 10s));

  CmdResult again = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(again.rc, 0) << again.out << again.err;
  EXPECT_EQ(HttpGet(web_port, "/", &body), 200);
  EXPECT_NE(body.find("service=web"), std::string::npos) << body;
}

TEST(UpTest, FailedOneShotStopsUpAndShowsItsOutput) {
  Project p(R"(services:
  init:
    command: ["sh", "-c", "echo schema broken >&2; exit 3"]
  api:
    command: ["sleep", "30"]
    depends_on:
      init: {condition: service_completed_successfully}
)");
  CmdResult r = p.Slipway({"up", "-d"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("init.1 exited with code 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("schema broken"), std::string::npos) << r.err;
  auto ps = p.Ps();
  for (const auto& row : ps) {
    if (row.value("service", "") == "api") {
      EXPECT_NE(row.value("state", ""), "running");
    }
  }
}

TEST(UpTest, ReplicasGetDistinctPorts) {
  Project p(R"(services:
  api:
    command: [")" +
            kTestapp + R"("]
    deploy: {replicas: 3}
    healthcheck: {interval: 100ms}
    x-slipway: {healthcheck: {http: /health}}
)");
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  auto ps = p.Ps();
  std::set<int> ports;
  for (const auto& row : ps) {
    EXPECT_EQ(row.value("state", ""), "running");
    EXPECT_EQ(row.value("health", ""), "healthy");
    int port = row.value("port", 0);
    ports.insert(port);
    std::string body;
    EXPECT_EQ(HttpGet(port, "/", &body), 200);
    EXPECT_NE(body.find("instance=" + std::to_string(row.value("instance", 0))), std::string::npos)
        << body;
  }
  EXPECT_EQ(ports.size(), 3u);
}

TEST(UpTest, RestartPolicyRestartsWithGrowingBackoff) {
  Project p(R"(services:
  flaky:
    command: ["sh", "-c", "echo boom; exit 1"]
    restart: always
)");
  ASSERT_EQ(p.Slipway({"up", "-d"}).rc, 0);
  // Backoff 250 ms, 500 ms, 1 s: three restarts land within ~2 s.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ps = p.Ps();
        return !ps.empty() && ps[0].value("restarts", 0) >= 3;
      },
      8s));
  auto ev = p.Events();
  std::vector<long> delays;
  for (const auto& e : ev) {
    std::string m = e.value("message", "");
    auto pos = m.find("restarting in ");
    if (pos != std::string::npos) delays.push_back(std::stol(m.substr(pos + 14)));
  }
  ASSERT_GE(delays.size(), 3u) << ev.dump();
  EXPECT_LT(delays[0], delays[1]);
  EXPECT_LT(delays[1], delays[2]);
}

TEST(UpTest, StopEscalatesToSigkillAfterGracePeriod) {
  Project p(R"(services:
  stubborn:
    command: [")" +
            kTestapp + R"("]
    environment: {IGNORE_SIGTERM: "1"}
    stop_grace_period: 500ms
)");
  ASSERT_EQ(p.Slipway({"up", "-d"}).rc, 0);
  auto ps = p.Ps();
  pid_t pid = ps[0].value("pid", 0);
  ASSERT_TRUE(PidAlive(pid));
  auto t0 = std::chrono::steady_clock::now();
  CmdResult r = p.Slipway({"stop", "stubborn"});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(pid); }, 5s));
  auto ev = p.Events();
  bool killed = false;
  for (const auto& e : ev) {
    killed |= e.value("message", "").find("killed by SIGKILL") != std::string::npos;
  }
  EXPECT_TRUE(killed) << ev.dump();
}

TEST(UpTest, ServicesSurviveTheForegroundCliBeingKilled) {
  int port = FreePort();
  Project p(R"(services:
  web:
    command: [")" +
            kTestapp + R"("]
    ports: ["127.0.0.1:)" +
            std::to_string(port) + R"(:8080"]
)");
  pid_t cli = fork();
  if (cli == 0) {
    if (chdir(p.dir().c_str()) != 0) _exit(126);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(SLIPWAY_BIN, SLIPWAY_BIN, "up", nullptr);
    _exit(127);
  }
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }, 15s));
  kill(cli, SIGKILL);
  waitpid(cli, nullptr, 0);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(HttpGet(port, "/health"), 200) << "killing the CLI must not stop the services";
  EXPECT_TRUE(PidAlive(p.DaemonPid()));
}

TEST(UpTest, PublishedPortInUseNamesTheHolderAndTheVariable) {
  int port = FreePort();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  Project p(R"(services:
  web:
    command: [")" +
            kTestapp + R"("]
    ports: ["127.0.0.1:${WEB_PORT}:8080"]
)");
  p.Write(".env", "WEB_PORT=" + std::to_string(port) + "\n");
  CmdResult r = p.Slipway({"up", "-d"});
  close(fd);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("port " + std::to_string(port) + " is already in use by pid " +
                       std::to_string(getpid())),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("set WEB_PORT to a free port"), std::string::npos) << r.err;
}

TEST(UpTest, DownStopsEverythingAndTheDaemon) {
  Project p(R"(services:
  a:
    command: ["sleep", "60"]
  b:
    command: ["sleep", "60"]
    depends_on: [a]
)");
  ASSERT_EQ(p.Slipway({"up", "-d"}).rc, 0);
  pid_t daemon = p.DaemonPid();
  std::vector<pid_t> pids;
  for (const auto& row : p.Ps()) pids.push_back(row.value("pid", 0));
  ASSERT_EQ(pids.size(), 2u);
  CmdResult r = p.Slipway({"down"});
  EXPECT_EQ(r.rc, 0) << r.err;
  for (pid_t pid : pids) EXPECT_TRUE(WaitFor([&] { return !PidAlive(pid); }, 5s));
  EXPECT_TRUE(WaitFor([&] { return !PidAlive(daemon); }, 5s));
  auto ev = p.Events();
  EXPECT_LT(EventIndex(ev, "b", "stopped"), EventIndex(ev, "a", "stopped"))
      << "dependents stop first";
}

TEST(UpTest, DownStopsIndependentServicesTogetherAndDependenciesLast) {
  // Each worker takes about a second to exit after SIGTERM. They do not depend on each
  // other, so they stop together; db, which they all depend on, stops after the last.
  const std::string slow =
      R"(["sh", "-c", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.1; done"])";
  Project p(
      "services:\n  db:\n    command: [\"sleep\", \"60\"]\n"
      "  w1:\n    command: " +
      slow +
      "\n    depends_on: [db]\n"
      "  w2:\n    command: " +
      slow +
      "\n    depends_on: [db]\n"
      "  w3:\n    command: " +
      slow + "\n    depends_on: [db]\n");
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  auto t0 = std::chrono::steady_clock::now();
  CmdResult r = p.Slipway({"down"});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.rc, 0) << r.err;
  // One at a time would take over 3 s.
  EXPECT_LT(took, 2500ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  auto ev = p.Events();
  int db = EventIndex(ev, "db", "stopped");
  ASSERT_GE(db, 0) << ev.dump();
  for (const char* w : {"w1", "w2", "w3"}) {
    int i = EventIndex(ev, w, "stopped");
    ASSERT_GE(i, 0) << w;
    EXPECT_LT(i, db) << w << " stops before db";
  }
}

TEST(UpTest, ConfigRendersResolvedProject) {
  Project p(R"(services:
  api:
    command: ["run", "${MODE:-fast}"]
)");
  CmdResult r = p.Slipway({"config", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("\"fast\""), std::string::npos) << r.out;
  CmdResult names = p.Slipway({"config", "--services"});
  EXPECT_EQ(names.out, "api\n");
}

// Operators find the daemon by name: ps and top show "slipway" (not "exe", the name of the
// /proc/self/exe link), and each proxy worker thread is "proxy-<index>".
TEST(UpTest, DaemonAndProxyWorkerThreadsAreNamed) {
  const int port = FreePort();
  Project p(
      "services:\n  api:\n    command: [\"sleep\", \"30\"]\n"
      "    ports: [\"127.0.0.1:" +
      std::to_string(port) +
      ":8080\"]\n"
      "x-slipway:\n  proxy: {workers: 2}\n");
  CmdResult up = p.Slipway({"up", "-d"});
  ASSERT_EQ(up.rc, 0) << up.err;
  const pid_t pid = p.DaemonPid();
  ASSERT_TRUE(PidAlive(pid));
  auto comm = [](const std::filesystem::path& f) {
    std::ifstream in(f);
    std::string name;
    std::getline(in, name);
    return name;
  };
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  EXPECT_EQ(comm(proc / "comm"), "slipway");
  std::set<std::string> threads;
  for (const auto& t : std::filesystem::directory_iterator(proc / "task")) {
    threads.insert(comm(t.path() / "comm"));
  }
  EXPECT_TRUE(threads.count("proxy-0") && threads.count("proxy-1"))
      << ::testing::PrintToString(threads);
}

}  // namespace
}  // namespace slipway::testing
