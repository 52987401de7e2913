// The wire shapes of ps rows and events: the CLI, the alerting gauges and the end-to-end tests
// read these keys, so they are pinned here.
#include "api/views.h"

#include <gtest/gtest.h>

namespace slipway::api {
namespace {

TEST(ViewsTest, APsRowKeepsItsWireShape) {
  engine::PsRow row;
  row.service = "web";
  row.instance = 2;
  row.state = engine::PsState::kRunning;
  row.health = health::HealthState::kHealthy;
  row.pid = 4242;
  row.port = 40001;
  config::PortMapping p;
  p.published = 8080;
  p.target = 80;
  p.protocol = config::TransportProtocol::kTcp;
  row.published.push_back(p);
  p.host_ip = "127.0.0.1";
  p.published = 8443;
  row.published.push_back(p);
  row.restarts = 1;
  row.uptime_s = 1.5;
  row.release = 7;
  row.set = "r7";
  nlohmann::json j = PsRowJson(row);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"service": "web", "instance": 2, "state": "running",
      "health": "healthy", "pid": 4242, "port": 40001,
      "ports": ["0.0.0.0:8080->80/tcp", "127.0.0.1:8443->80/tcp"], "restarts": 1,
      "uptime_s": 1.5, "release": 7, "set": "r7", "exit": ""})"));
}

TEST(ViewsTest, RowsWithoutInstancesOrHealthSayItInText) {
  engine::PsRow never;
  never.service = "idle";
  engine::PsRow failed;
  failed.service = "bad";
  failed.state = engine::PsState::kFailed;
  failed.exit = "exec: no such file";
  engine::PsRow job;
  job.service = "migrate";
  job.instance = 1;
  job.state = engine::PsState::kCompleted;
  job.exit = "exited 0";
  nlohmann::json j = PsJson({never, failed, job});
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["state"], "not started");
  EXPECT_EQ(j[0]["health"], "");
  EXPECT_EQ(j[0]["ports"], nlohmann::json::array());
  EXPECT_EQ(j[1]["state"], "failed");
  EXPECT_EQ(j[1]["exit"], "exec: no such file");
  EXPECT_EQ(j[2]["state"], "completed");
  EXPECT_TRUE(PsJson({}).is_array());
}

TEST(ViewsTest, AnEventHasItsTimeInRfc3339) {
  store::Event e;
  e.id = 12;
  e.wall_ms = 1764700000123;
  e.service = "web";
  e.instance = 1;
  e.kind = "started";
  e.message = "pid 4242";
  EXPECT_EQ(EventJson(e), nlohmann::json::parse(R"({"id": 12,
      "time": "2025-12-02T18:26:40.123Z", "service": "web", "instance": 1, "kind": "started",
      "message": "pid 4242"})"));
}

// The deploy view's live numbers of both sets: the keys the page reads; no error rate without
// responses.
TEST(ViewsTest, LiveNumbersKeepTheirWireShape) {
  deploy::LiveNumbers n;
  n.at_ms = 1'700'000'000'000;
  n.window_s = 1.5;
  n.new_set.requests = 40;
  n.new_set.errors_5xx = 10;
  n.new_set.p95_ms = 12.5;
  n.new_set.error_rate = 0.25;
  nlohmann::json j = LiveNumbersJson(n);
  EXPECT_EQ(j["t"], 1'700'000'000'000);
  EXPECT_EQ(j["window_s"], 1.5);
  EXPECT_EQ(j["new"]["requests"], 40);
  EXPECT_EQ(j["new"]["errors_5xx"], 10);
  EXPECT_EQ(j["new"]["p95_ms"], 12.5);
  EXPECT_EQ(j["new"]["error_rate"], 0.25);
  EXPECT_EQ(j["old"]["requests"], 0);
  EXPECT_FALSE(j["old"].contains("error_rate")) << j.dump();
  EXPECT_EQ(j.size(), 4u) << j.dump();
}

}  // namespace
}  // namespace slipway::api
