// End to end: a project whose service exposes Prometheus metrics (two testapp instances), the
// daemon scraping them into its series store, and the store read back through `slipway query`,
// Prometheus' HTTP API and, where it is installed, promtool. Every wait is bounded.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "base/test_require.h"
#include "harness.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kTestapp = TESTAPP_BIN;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_port_ = FreePort();
    project_ = std::make_unique<Project>(R"(services:
  app:
    command: [")" + kTestapp + R"("]
    ports: ["127.0.0.1:)" + std::to_string(web_port_) +
                                         R"(:8080"]
    environment: {QUEUE_DEPTH: "7", VERSION: "2.1"}
    deploy: {replicas: 2}
    healthcheck: {interval: 200ms, start_interval: 100ms, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      metrics: {interval: 1s}
x-slipway:
  alerts: {interval: 1s}
  scrape: {retention: 10m, memory_limit: 8MiB}
)");
    CmdResult up = project_->Slipway({"up", "-d", "--wait"});
    ASSERT_EQ(up.rc, 0) << up.out << up.err;
    api_port_ = project_->ApiPort();
  }

  json Query(const std::string& expr, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"query", expr, "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return project_->Json(args, /*require_ok=*/true);
  }

  // The result rows of an instant query, waiting (bounded) until there are `n` of them.
  json WaitRows(const std::string& expr, size_t n) {
    json rows;
    WaitFor(
        [&] {
          rows = Query(expr)["data"]["result"];
          return rows.is_array() && rows.size() == n;
        },
        20s);
    return rows;
  }

  std::unique_ptr<Project> project_;
  int web_port_ = 0;
  int api_port_ = 0;
};

TEST_F(MetricsTest, ScrapesBothInstancesAndAnswersPromQL) {
  json up = WaitRows("up{job=\"app\"} == 1", 2);
  ASSERT_EQ(up.size(), 2u) << up.dump();
  std::set<std::string> instances;
  for (const json& s : up) {
    EXPECT_EQ(s["metric"]["service"], "app");
    EXPECT_EQ(s["metric"]["job"], "app");
    EXPECT_TRUE(s["metric"].contains("release")) << s.dump();
    instances.insert(s["metric"]["instance"].get<std::string>());
    EXPECT_EQ(s["value"][1], "1");
  }
  EXPECT_EQ(instances.size(), 2u);

  // The app's own label `instance` is kept apart, as Prometheus does (honor_labels: false).
  json info = WaitRows("testapp_build_info", 2);
  ASSERT_EQ(info.size(), 2u);
  for (const json& s : info) {
    EXPECT_TRUE(s["metric"].contains("exported_instance")) << s.dump();
    EXPECT_EQ(s["metric"]["version"], "2.1");
  }
  json gauge = Query("sum(testapp_queue_depth)")["data"]["result"];
  ASSERT_EQ(gauge.size(), 1u);
  EXPECT_EQ(gauge[0]["value"][1], "14");

  // Traffic through the proxy moves the app's counter; rate() over the scrapes sees it.
  for (int i = 0; i < 40; ++i) EXPECT_EQ(HttpGet(web_port_, "/"), 200);
  double rate = 0;
  WaitFor(
      [&] {
        json r = Query("sum(rate(testapp_requests_total{code=\"200\"}[20s]))")["data"]["result"];
        if (r.size() != 1) return false;
        rate = std::stod(r[0]["value"][1].get<std::string>());
        return rate > 0;
      },
      20s);
  EXPECT_GT(rate, 0);
  json q = Query("histogram_quantile(0.5, sum by (le) (testapp_request_duration_seconds_bucket))");
  EXPECT_EQ(q["data"]["result"].size(), 1u) << q.dump();

  // The text form, a range query, and the daemon's own metrics from the same store.
  CmdResult text = project_->Slipway({"query", "up{job=\"app\"}"});
  EXPECT_EQ(text.rc, 0) << text.err;
  EXPECT_NE(text.out.find("up{"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("=> 1 @ "), std::string::npos) << text.out;
  // Both targets scraped at least twice within the range (the first scrapes can be a second
  // apart on a fast machine): every series has a value at two steps or more.
  json range;
  WaitFor(
      [&] {
        range = Query("up{job=\"app\"}", {"--range", "30s", "--step", "1s"});
        const json& rows = range["data"]["result"];
        if (rows.size() != 2u) return false;
        for (const json& row : rows) {
          if (row["values"].size() < 2u) return false;
        }
        return true;
      },
      20s);
  EXPECT_EQ(range["data"]["resultType"], "matrix");
  ASSERT_EQ(range["data"]["result"].size(), 2u) << range.dump();
  EXPECT_GE(range["data"]["result"][0]["values"].size(), 2u) << range.dump();
  EXPECT_GE(range["data"]["result"][1]["values"].size(), 2u) << range.dump();
  json own = WaitRows("slipway_scrape_targets", 1);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0]["value"][1], "2");

  // A bad expression is the user's input: exit 2 with the parser's message.
  CmdResult bad = project_->Slipway({"query", "rate(up"});
  EXPECT_EQ(bad.rc, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("invalid parameter \"query\""), std::string::npos) << bad.err;
}

TEST_F(MetricsTest, PrometheusHttpApiShapesAndBounds) {
  WaitRows("up{job=\"app\"} == 1", 2);
  std::string body;
  auto get = [&](const std::string& target) { return HttpGet(api_port_, target, &body); };
  ASSERT_EQ(get("/api/v1/series?match[]=up"), 200) << body;
  json j = json::parse(body);
  EXPECT_EQ(j["status"], "success");
  EXPECT_GE(j["data"].size(), 2u);
  ASSERT_EQ(get("/api/v1/labels"), 200);
  j = json::parse(body);
  EXPECT_NE(std::find(j["data"].begin(), j["data"].end(), "exported_instance"), j["data"].end());
  ASSERT_EQ(get("/api/v1/label/job/values"), 200);
  EXPECT_NE(body.find("\"app\""), std::string::npos) << body;
  ASSERT_EQ(get("/api/v1/targets"), 200);
  EXPECT_NE(body.find("\"health\":\"up\""), std::string::npos) << body;

  // Hostile parameters: Prometheus' error shape, 400 bad_data, and the daemon serves on.
  const std::vector<std::string> bad = {
      "/api/v1/query?query=rate(up",
      "/api/v1/query?query=up&time=yesterday",
      "/api/v1/query_range?query=up&start=0&end=100000000&step=1",
      "/api/v1/query_range?query=up&start=10&end=0&step=1",
      "/api/v1/query_range?query=up&start=0&end=10&step=0",
      "/api/v1/query_range?query=up[5m]&start=0&end=10&step=1",
      "/api/v1/query_range?query=up&start=0&end=10",
      "/api/v1/series",
      "/api/v1/series?match[]=%7B%7D",
      "/api/v1/label/9bad/values",
      "/api/v1/query?query=%zz",
  };
  for (const std::string& target : bad) {
    EXPECT_EQ(get(target), 400) << target << " " << body;
    json e = json::parse(body, nullptr, false);
    EXPECT_EQ(e.value("status", ""), "error") << target;
    EXPECT_EQ(e.value("errorType", ""), "bad_data") << target;
  }
  EXPECT_EQ(get("/api/v1/query?query=1%2B1&time=1700000000"), 200);
  EXPECT_EQ(body,
            R"({"data":{"result":[1700000000.0,"2"],"resultType":"scalar"},"status":"success"})"
            "\n");
}

TEST_F(MetricsTest, PromtoolQueriesTheDaemon) {
  SLIPWAY_REQUIRE(std::filesystem::exists("/usr/bin/promtool"), "promtool (Debian prometheus)");
  WaitRows("up{job=\"app\"} == 1", 2);
  // Both instances' gauges stored before the range is asked for: each target is scraped on
  // its own schedule, so `up` of both can be known before the second gauge sample is.
  WaitRows("sum(testapp_queue_depth) == 14", 1);
  const std::string server = "http://127.0.0.1:" + std::to_string(api_port_);
  CmdResult r = RunCmd({"/usr/bin/promtool", "query", "instant", server, "up{job=\"app\"}"},
                       project_->dir(), {}, 30s);
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("up{"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("=> 1 @"), std::string::npos) << r.out;
  r = RunCmd({"/usr/bin/promtool", "query", "series", server, "--match=testapp_build_info"},
             project_->dir(), {}, 30s);
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("exported_instance"), std::string::npos) << r.out;
  r = RunCmd(
      {"/usr/bin/promtool", "query", "range", "--start=" + std::to_string(time(nullptr) - 30),
       "--end=" + std::to_string(time(nullptr) + 5), "--step=5s", server,
       "sum(testapp_queue_depth)"},
      project_->dir(), {}, 30s);
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("14 @"), std::string::npos) << r.out;
  r = RunCmd({"/usr/bin/promtool", "query", "instant", server, "rate(up"}, project_->dir(), {},
             30s);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE((r.out + r.err).find("bad_data"), std::string::npos) << r.out << r.err;
}

// The series store survives the daemon: `down` then `up`, and a `kill -9` then `up`, and the
// samples scraped before are still answered (`@` pins each query before the restart, so only
// restored samples count). A damaged snapshot is one warning and an empty store.
TEST(MetricsPersistence, HistorySurvivesDownUpAndKill9) {
  const int web_port = FreePort();
  Project p(R"(services:
  app:
    command: [")" +
            kTestapp + R"("]
    ports: ["127.0.0.1:)" +
            std::to_string(web_port) + R"(:8080"]
    healthcheck: {interval: 200ms, start_interval: 100ms, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      metrics: {interval: 1s}
x-slipway:
  alerts: {interval: 1s}
  scrape: {retention: 10m, memory_limit: 8MiB, snapshot_interval: 1s}
)");
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  // How many `up` samples the store holds at t (seconds), read through `slipway query`.
  auto count_at = [&](int64_t t) -> int {
    CmdResult r =
        p.Slipway({"query", "count_over_time(up{job=\"app\"}[10m] @ " + std::to_string(t) + ")",
                   "--format", "json"});
    json j = json::parse(r.out, nullptr, false);
    if (r.rc != 0 || j.is_discarded() || j["data"]["result"].size() != 1) return 0;
    return std::stoi(j["data"]["result"][0]["value"][1].get<std::string>());
  };
  const std::filesystem::path snap = p.dir() / ".slipway" / "series.snapshot";
  // A moment a few scrapes old: no scrape still in flight can add a sample at or before it.
  auto settled = [&](int samples) {
    int64_t t = 0;
    int n = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          t = time(nullptr) - 3;
          n = count_at(t);
          return n >= samples;
        },
        30s));
    return std::make_pair(t, n);
  };
  auto [t1, c1] = settled(3);
  ASSERT_GE(c1, 3);

  const pid_t first = p.DaemonPid();
  CmdResult down = p.Slipway({"down"});
  ASSERT_EQ(down.rc, 0) << down.out << down.err;
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(first); }, 20s));
  ASSERT_TRUE(std::filesystem::exists(snap));
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  EXPECT_EQ(count_at(t1), c1) << "the samples before `down` are answered after `up`";

  // kill -9: what the last periodic snapshot (1 s) held survives.
  auto [t2, c2] = settled(c1 + 3);
  ASSERT_GT(c2, c1);
  ASSERT_TRUE(WaitFor(
      [&] {
        struct stat sb {};
        return ::stat(snap.c_str(), &sb) == 0 && sb.st_mtime > t2 + 3;
      },
      20s));
  const pid_t second = p.DaemonPid();
  ASSERT_TRUE(PidAlive(second));
  ASSERT_EQ(kill(second, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(second); }, 10s));
  ASSERT_EQ(p.Slipway({"up", "-d", "--wait"}).rc, 0);
  EXPECT_TRUE(WaitFor([&] { return count_at(t2) == c2; }, 10s))
      << count_at(t2) << " samples at " << t2 << ", " << c2 << " before the kill";
  EXPECT_EQ(count_at(t1), c1);
  // The snapshot's own metrics, through the same store.
  json bytes;
  EXPECT_TRUE(WaitFor(
      [&] {
        bytes = p.Json({"query", "slipway_tsdb_snapshot_bytes > 0", "--format", "json"});
        return bytes["data"]["result"].size() == 1;
      },
      20s))
      << bytes.dump();

  // A damaged snapshot: the daemon starts all the same, empty, and says why in one line.
  const pid_t third = p.DaemonPid();
  ASSERT_EQ(p.Slipway({"down"}).rc, 0);
  ASSERT_TRUE(WaitFor([&] { return !PidAlive(third); }, 20s));
  {
    std::fstream f(snap, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  CmdResult again = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(again.rc, 0) << again.out << again.err;
  EXPECT_EQ(count_at(t1), 0);
  std::ifstream log(p.dir() / ".slipway" / "logs" / "daemon.log");
  std::string line, warning;
  while (std::getline(log, line)) {
    if (line.find("metrics history not restored") != std::string::npos) warning = line;
  }
  EXPECT_NE(warning.find("checksum mismatch"), std::string::npos) << warning;
}

}  // namespace
}  // namespace slipway::testing
