// End-to-end: `up` on a running project applies only what changed (deploy/up_plan.h). It keeps
// a release a deploy made while the compose file is unchanged, ships a changed file through the
// service's deploy strategy, and a refused `up` leaves what runs untouched. Real daemon, real
// testapp processes behind the proxy, a bounded client loop.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <string>
#include <thread>

#include "harness.h"
#include "net/socket.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTestapp = TESTAPP_BIN;

std::string WebProject(int port, const std::string& version, const std::string& extra = "") {
  return R"(services:
  web:
    command: [")" +
         kTestapp + R"("]
    environment: {VERSION: )" +
         version + R"(}
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      deploy: {strategy: blue-green, monitor: 300ms, drain: 200ms, health_timeout: 10s}
)" + extra;
}

std::string Version(int port) {
  std::string body;
  return HttpGet(port, "/version", &body) == 200 ? body : "(no answer)";
}

std::map<std::string, int> Pids(Project& p) {
  std::map<std::string, int> out;
  for (const auto& row : p.Ps()) {
    if (row.value("state", "") == "running") {
      out[row.value("service", "") + "." + std::to_string(row.value("instance", 0))] =
          row.value("pid", 0);
    }
  }
  return out;
}

TEST(UpSafeTest, UpAfterADeployKeepsItAndAChangedFileShipsWithTheStrategy) {
  const int port = FreePort();
  Project p(WebProject(port, "v1"));
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  CmdResult d = p.Slipway({"deploy", "web", "--env", "VERSION=v2"});
  ASSERT_EQ(d.rc, 0) << d.out << d.err;
  ASSERT_EQ(Version(port), "v2\n");
  const auto pids = Pids(p);

  // `up` twice, under load: the deployed release keeps serving, nothing restarts.
  CmdResult up1, up2;
  std::thread ups([&] {
    std::this_thread::sleep_for(300ms);
    up1 = p.Slipway({"up", "-d"});
    up2 = p.Slipway({"up", "-d"});
  });
  LoadResult load = RunLoad(port, 4, 2500ms);
  ups.join();
  std::printf("[ up ] up twice after a deploy: %d ok, %d failed, max %ld ms\n", load.ok,
              load.failed, load.max_ms);
  for (const auto& f : load.failures) std::printf("[ up ]   failure: %s\n", f.c_str());
  ASSERT_EQ(up1.rc, 0) << up1.err;
  ASSERT_EQ(up2.rc, 0) << up2.err;
  EXPECT_NE(up1.err.find("web keeps its deployed release"), std::string::npos) << up1.err;
  EXPECT_EQ(load.failed, 0);
  EXPECT_GT(load.ok, 0);
  EXPECT_EQ(Version(port), "v2\n");
  EXPECT_EQ(Pids(p), pids);
  EXPECT_EQ(p.Json({"releases", "web", "--format", "json"}).size(), 2u);

  // The file changes: `up` ships it as a blue-green deploy, not kill-and-start.
  p.Write("compose.yaml", WebProject(port, "v3"));
  CmdResult up3;
  std::thread changer([&] {
    std::this_thread::sleep_for(300ms);
    up3 = p.Slipway({"up", "-d"}, 60s);
  });
  load = RunLoad(port, 4, 4s);
  changer.join();
  std::printf("[ up ] up of a changed file after a deploy: %d ok, %d failed, max %ld ms\n", load.ok,
              load.failed, load.max_ms);
  for (const auto& f : load.failures) std::printf("[ up ]   failure: %s\n", f.c_str());
  ASSERT_EQ(up3.rc, 0) << up3.err;
  EXPECT_NE(up3.err.find("web changed since its deploy: shipped as r3 (blue-green)"),
            std::string::npos)
      << up3.err;
  EXPECT_EQ(load.failed, 0);
  EXPECT_EQ(Version(port), "v3\n");
  auto releases = p.Json({"releases", "web", "--format", "json"});
  ASSERT_EQ(releases.size(), 3u) << releases.dump();
  EXPECT_EQ(releases[0].value("strategy", ""), "blue-green");
}

TEST(UpSafeTest, ARefusedUpLeavesTheRunningServicesUntouched) {
  const int port = FreePort();
  Project p(WebProject(port, "v1"));
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  const auto pids = Pids(p);
  const pid_t daemon = p.DaemonPid();
  // The new file changes web (it would be recreated) and adds a service whose port is taken.
  auto busy = net::ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(busy.ok());
  const int taken = *net::LocalPort(busy->get());
  p.Write("compose.yaml", WebProject(port, "v9") + "  db:\n    command: [\"" + kTestapp +
                              "\"]\n    ports: [\"127.0.0.1:" + std::to_string(taken) +
                              ":8080\"]\n");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"up", "-d"}, std::vector<std::string>{"up"}}) {
    CmdResult up = p.Slipway(args, 30s);
    EXPECT_EQ(up.rc, 1) << up.err;
    EXPECT_NE(up.err.find("already in use"), std::string::npos) << up.err;
    EXPECT_EQ(Pids(p), pids) << "nothing stopped";
    EXPECT_EQ(Version(port), "v1\n");
    EXPECT_EQ(p.DaemonPid(), daemon);
    EXPECT_TRUE(PidAlive(daemon)) << "a foreground up of a running project does not down it";
  }
}

}  // namespace
}  // namespace slipway::testing
