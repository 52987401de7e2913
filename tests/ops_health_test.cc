// Operations surface end to end: the daemon's JSON log (--log-format json and
// SLIPWAY_LOG_FORMAT) and database health in /health/detailed and `slipway status`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string Service(int port) {
  return R"(services:
  api:
    command: [")" +
         std::string(TESTAPP_BIN) + R"("]
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
)";
}

std::vector<std::string> LogLines(const Project& p) {
  std::ifstream in(p.dir() / ".slipway" / "logs" / "daemon.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Every line is one JSON object with ts, level and msg; returns them.
std::vector<json> ParseJsonLog(const Project& p) {
  std::vector<json> out;
  for (const std::string& line : LogLines(p)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << line;
    if (!j.is_object()) continue;
    EXPECT_TRUE(j.contains("ts") && j["ts"].is_string()) << line;
    EXPECT_TRUE(j.contains("level") && j["level"].is_string()) << line;
    EXPECT_TRUE(j.contains("msg") && j["msg"].is_string()) << line;
    out.push_back(std::move(j));
  }
  return out;
}

TEST(OpsLogTest, LogFormatJsonFlagMakesEveryDaemonLogLineAJsonObject) {
  int port = FreePort();
  Project p(Service(port) + R"(      deploy: {strategy: blue-green, monitor: 200ms, drain: 100ms,
               analysis: {min_requests: 1000}}
)");
  CmdResult up = p.Slipway({"up", "-d", "--wait", "--log-format", "json"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }));
  // A deploy prints progress lines from the deployer (wrapped into JSON too).
  CmdResult d = p.Slipway({"deploy", "api"});
  EXPECT_EQ(d.rc, 0) << d.out << d.err;
  CmdResult down = p.Slipway({"down"});
  ASSERT_EQ(down.rc, 0) << down.out << down.err;
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(p.DaemonPid()); }, 10s));

  std::vector<json> lines = ParseJsonLog(p);
  ASSERT_GE(lines.size(), 3u);
  bool serving = false, stopped = false, deploy = false;
  for (const json& j : lines) {
    std::string msg = j["msg"];
    if (msg.rfind("serving project", 0) == 0) {
      serving = true;
      EXPECT_EQ(j["level"], "info");
      EXPECT_TRUE(j["pid"].is_number()) << j.dump();
      EXPECT_TRUE(j.contains("api")) << j.dump();
    }
    if (msg == "stopped") stopped = true;
    // The deployer logs through base/log.h: its own JSON object, with component and fields.
    if (j.value("component", "") == "deploy" && j.value("service", "") == "api") {
      deploy = true;
      EXPECT_TRUE(j["release"].is_number()) << j.dump();
      EXPECT_FALSE(j.contains("source")) << j.dump();  // not wrapped by the stderr filter
    }
  }
  EXPECT_TRUE(serving && stopped && deploy) << json(lines).dump(1);
}

TEST(OpsLogTest, EnvironmentVariableSelectsJsonAndTextStaysTheDefault) {
  int port = FreePort();
  Project p(Service(port));
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 60s, {"SLIPWAY_LOG_FORMAT=json"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  CmdResult down = p.Slipway({"down"});
  ASSERT_EQ(down.rc, 0) << down.out << down.err;
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(p.DaemonPid()); }, 10s));
  EXPECT_GE(ParseJsonLog(p).size(), 2u);

  int port2 = FreePort();
  Project text(Service(port2));
  up = text.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  std::vector<std::string> lines = LogLines(text);
  ASSERT_FALSE(lines.empty());
  // The keeper's and the daemon's lines share the file, both in text.
  auto serving = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find(" slipwayd: serving project") != std::string::npos;
  });
  ASSERT_NE(serving, lines.end()) << lines[0];
  for (const std::string& l : lines) EXPECT_NE(l.front(), '{') << l;

  CmdResult bad = text.Slipway({"ps", "--log-format", "xml"});
  EXPECT_EQ(bad.rc, 2) << bad.out << bad.err;
}

TEST(OpsHealthTest, DatabasesAreProbedAndADownOneDegradesStatus) {
  int port = FreePort();
  int closed = FreePort();  // nothing listens there
  Project p(Service(port) + R"(x-slipway:
  databases:
    main:
      url: sqlite:data/app.db
    cache:
      url: sqlite:missing/cache.db
    pg:
      url: postgres://app:secret@127.0.0.1:)" +
            std::to_string(closed) + R"(/app
)");
  std::filesystem::create_directories(p.dir() / "data");
  CmdResult mk = RunCmd(
      {"/usr/bin/sqlite3", (p.dir() / "data" / "app.db").string(), "CREATE TABLE t (x INT);"},
      p.dir());
  if (mk.rc != 0) {
    // No sqlite3 shell: an empty file is a valid (empty) SQLite database as well.
    std::ofstream(p.dir() / "data" / "app.db");
  }
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;

  json health;
  ASSERT_TRUE(WaitFor(
      [&] {
        CmdResult s = p.Slipway({"status", "--format", "json"});
        health = json::parse(s.out, nullptr, false);
        if (!health.is_object()) return false;
        for (const char* db : {"main", "cache", "pg"}) {
          if (health["databases"][db].value("status", "unknown") == "unknown") return false;
        }
        return true;
      },
      10s))
      << health.dump(2);
  EXPECT_EQ(health["status"], "degraded") << health.dump(2);
  EXPECT_EQ(health["databases"]["main"]["status"], "ok") << health.dump(2);
  EXPECT_EQ(health["databases"]["cache"]["status"], "down");
  EXPECT_EQ(health["databases"]["pg"]["status"], "down");
  EXPECT_EQ(health["databases"]["pg"]["kind"], "postgres");
  EXPECT_LT(health["databases"]["pg"].value("latency_ms", 1e9), 1000) << health.dump(2);
  EXPECT_FALSE(std::filesystem::exists(p.dir() / "missing"));
  EXPECT_EQ(health["services"]["api"]["status"], "ok");

  // The detailed view over HTTP answers 200 for degraded.
  int api_port = p.ApiPort();
  // It names databases and services: a read of the API, so it needs a token over TCP.
  EXPECT_EQ(HttpGet(api_port, "/health/detailed"), 401);
  std::ifstream token_in(p.dir() / ".slipway" / "read-token");
  std::string token;
  token_in >> token;
  EXPECT_EQ(HttpGet(api_port, "/health/detailed", nullptr, token), 200);

  CmdResult table = p.Slipway({"status"});
  EXPECT_EQ(table.rc, 0) << table.out << table.err;
  EXPECT_NE(table.out.find("overall: degraded"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("(database cache)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("(database main)"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("secret"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace slipway::testing
