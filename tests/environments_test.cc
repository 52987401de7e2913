// End-to-end tests of environments and remembered files (`--env`, SLIPWAY_ENV, what `up`
// named is what later commands load) and of depends_on restart, with the real binary, testapp
// instances and sleeping host processes. Each test has its own project folder and port.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
const std::string kTestapp = TESTAPP_BIN;

std::string Compose(int port) {
  return R"(services:
  api:
    command: [")" +
         kTestapp + R"("]
    environment:
      VERSION: base
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      deploy:
        strategy: recreate
        health_timeout: 10s
)";
}

// "service=api instance=1 version=v2" → "v2"; "" when nothing answers.
std::string Version(int port) {
  std::string body;
  if (HttpGet(port, "/", &body) != 200) return "";
  size_t at = body.find("version=");
  if (at == std::string::npos) return "";
  std::string v = body.substr(at + 8);
  return v.substr(0, v.find_first_of(" \n"));
}

size_t Lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

TEST(EnvironmentsTest, UpWithAnEnvironmentIsWhatLaterCommandsLoadUntilUpChangesIt) {
  const int port = FreePort();
  Project p(Compose(port));
  p.Write("compose.staging.yaml",
          "services:\n  api:\n    environment:\n      VERSION: staging-${STAGE}\n");
  p.Write(".env", "STAGE=dev\n");
  p.Write(".env.staging", "STAGE=1\n");
  p.Write("other.yaml", "services:\n  api:\n    environment:\n      VERSION: other\n");

  CmdResult up = p.Slipway({"up", "-d", "--wait", "--env", "staging"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return Version(port) == "staging-1"; }, 10s)) << Version(port);

  // `config --files` with no flags: the files the daemon runs with, overlay and .env.NAME last.
  CmdResult files = p.Slipway({"config", "--files"});
  ASSERT_EQ(files.rc, 0) << files.err;
  const std::string d = p.dir().string();
  EXPECT_EQ(files.out, d + "/compose.yaml\n" + d + "/compose.staging.yaml\n" + d + "/.env\n" + d +
                           "/.env.staging\n");

  // A deploy that names nothing loads staging's files: the new .env.staging value ships.
  p.Write(".env.staging", "STAGE=2\n");
  CmdResult dep = p.Slipway({"deploy", "api"});
  ASSERT_EQ(dep.rc, 0) << dep.out << dep.err;
  EXPECT_TRUE(WaitFor([&] { return Version(port) == "staging-2"; }, 10s)) << Version(port);

  // Other files than the daemon's: refused in one line that says how to change them.
  CmdResult other = p.Slipway({"deploy", "-f", "other.yaml"});
  EXPECT_EQ(other.rc, 2) << other.out << other.err;
  EXPECT_EQ(Lines(other.err), 1u) << other.err;
  EXPECT_NE(other.err.find("slipway up -f other.yaml"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("compose.staging.yaml"), std::string::npos) << other.err;
  CmdResult prod = p.Slipway({"ps", "--env", "prod"});
  EXPECT_EQ(prod.rc, 2) << prod.out << prod.err;
  EXPECT_NE(prod.err.find("slipway up --env prod"), std::string::npos) << prod.err;
  CmdResult via_var = p.Slipway({"logs", "api"}, 60s, {"SLIPWAY_ENV=prod"});
  EXPECT_EQ(via_var.rc, 2) << via_var.err;
  // Naming the same ones is no change.
  CmdResult same = p.Slipway({"ps", "--env", "staging"});
  EXPECT_EQ(same.rc, 0) << same.err;

  // Hostile names and the clash with deploy's own --env K=V.
  CmdResult bad = p.Slipway({"ps", "--env", "../../etc"});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_EQ(Lines(bad.err), 1u) << bad.err;
  EXPECT_NE(bad.err.find("[a-z0-9][a-z0-9_-]{0,62}"), std::string::npos) << bad.err;
  CmdResult bad_var = p.Slipway({"ps"}, 60s, {"SLIPWAY_ENV=Prod"});
  EXPECT_EQ(bad_var.rc, 2);
  EXPECT_NE(bad_var.err.find("SLIPWAY_ENV \"Prod\""), std::string::npos) << bad_var.err;
  CmdResult clash = p.Slipway({"deploy", "api", "--env", "staging"});
  EXPECT_EQ(clash.rc, 2);
  EXPECT_NE(clash.err.find("slipway --env staging deploy"), std::string::npos) << clash.err;

  // `up` naming other files applies them; they are remembered in place of the first ones.
  up = p.Slipway({"up", "-d", "--wait", "-f", "compose.yaml", "-f", "other.yaml", "--env", "prod"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return Version(port) == "other"; }, 15s)) << Version(port);
  files = p.Slipway({"config", "--files"});
  EXPECT_EQ(files.out, d + "/compose.yaml\n" + d + "/other.yaml\n" + d + "/.env\n") << files.err;

  // A daemon restart (a handover: the keeper's command line still says --env staging) runs
  // the project with what the last `up` named, from the state database.
  const pid_t before = p.DaemonPid();
  CmdResult restart = p.Slipway({"daemon", "restart"}, 90s);
  ASSERT_EQ(restart.rc, 0) << restart.out << restart.err;
  ASSERT_TRUE(WaitFor([&] { return p.DaemonPid() != before && PidAlive(p.DaemonPid()); }, 20s));
  files = p.Slipway({"config", "--files"});
  EXPECT_EQ(files.out, d + "/compose.yaml\n" + d + "/other.yaml\n" + d + "/.env\n") << files.err;
  auto remembered = p.Json({"config", "--files", "--format", "json"});
  EXPECT_EQ(remembered.value("env", ""), "prod") << remembered.dump();
  EXPECT_EQ(Version(port), "other");
  CmdResult dep2 = p.Slipway({"deploy", "api"});
  ASSERT_EQ(dep2.rc, 0) << dep2.out << dep2.err;
  EXPECT_EQ(Version(port), "other");

  // A remembered file deleted since: one line naming it.
  std::filesystem::remove(p.dir() / "other.yaml");
  CmdResult gone = p.Slipway({"ps"});
  EXPECT_EQ(gone.rc, 2) << gone.out;
  EXPECT_EQ(Lines(gone.err), 1u) << gone.err;
  EXPECT_NE(gone.err.find(d + "/other.yaml no longer exists"), std::string::npos) << gone.err;
}

// Without a daemon nothing is remembered for a command: each loads what it names, as before.
TEST(EnvironmentsTest, WithoutADaemonTheEnvironmentSelectsFilesForConfig) {
  Project p("services:\n  web:\n    command: [\"sleep\", \"60\"]\n    environment: {A: base}\n");
  p.Write("compose.qa.yaml", "services:\n  web:\n    environment: {A: \"qa-${Q}\"}\n");
  p.Write(".env.qa", "Q=7\n");
  CmdResult plain = p.Slipway({"config"});
  ASSERT_EQ(plain.rc, 0) << plain.err;
  EXPECT_NE(plain.out.find("A: base"), std::string::npos) << plain.out;
  CmdResult qa = p.Slipway({"config"}, 60s, {"SLIPWAY_ENV=qa"});
  ASSERT_EQ(qa.rc, 0) << qa.err;
  EXPECT_NE(qa.out.find("A: \"qa-7\""), std::string::npos) << qa.out;
  // An environment with neither file is no error: it adds nothing.
  CmdResult none = p.Slipway({"--env", "nothing-here", "config"});
  ASSERT_EQ(none.rc, 0) << none.err;
  EXPECT_NE(none.out.find("A: base"), std::string::npos) << none.out;
}

// `slipway restart db`: api (depends_on db with restart: true) is restarted after db is up
// again; worker (no restart) keeps its process.
TEST(DependsOnRestartTest, RestartingADependencyRestartsTheDependentsThatAskForIt) {
  Project p(R"(services:
  db:
    command: ["sleep", "600"]
  api:
    command: ["sleep", "601"]
    depends_on:
      db: {condition: service_started, restart: true}
  worker:
    command: ["sleep", "602"]
    depends_on: [db]
)");
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  auto pids = [&] {
    std::map<std::string, int64_t> out;
    for (const auto& row : p.Ps()) {
      if (row.value("state", "") == "running") out[row.value("service", "")] = row.value("pid", 0);
    }
    return out;
  };
  std::map<std::string, int64_t> before;
  ASSERT_TRUE(WaitFor(
      [&] {
        before = pids();
        return before.size() == 3;
      },
      10s));
  CmdResult r = p.Slipway({"restart", "db"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  std::map<std::string, int64_t> after;
  ASSERT_TRUE(WaitFor(
      [&] {
        after = pids();
        return after.size() == 3 && after["api"] != before["api"] && after["db"] != before["db"];
      },
      15s))
      << p.Ps().dump();
  EXPECT_EQ(after["worker"], before["worker"]);
  auto events = p.Events();
  EXPECT_GE(EventIndex(events, "api", "restarting"), 0) << events.dump();
}

}  // namespace
}  // namespace slipway::testing
