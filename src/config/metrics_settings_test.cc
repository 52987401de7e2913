#include "config/metrics_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;

Result<Project> LoadMetrics(const std::string& service_flow, const std::string& scrape = "") {
  std::string text =
      "services:\n  api:\n    command: ./api\n    x-slipway:\n      metrics: " + service_flow +
      "\n";
  if (!scrape.empty()) text += "x-slipway:\n  scrape: " + scrape + "\n";
  return LoadText(text);
}

TEST(MetricsSettingsTest, DefaultsAreFifteenSecondsAndTheInstancePort) {
  auto none = LoadText("services:\n  api:\n    command: ./api\n");
  ASSERT_TRUE(none.ok()) << ErrorOf(none);
  EXPECT_FALSE(none->services.at("api").metrics.has_value());
  EXPECT_EQ(none->scrape.retention_ms, 2 * 3600 * 1000);
  EXPECT_EQ(none->scrape.memory_limit, 64u << 20);
  EXPECT_EQ(none->scrape.snapshot_interval_ms, 5 * 60 * 1000);

  auto p = LoadMetrics("{}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const MetricsEndpoint& m = *p->services.at("api").metrics;
  EXPECT_EQ(m.path, "/metrics");
  EXPECT_EQ(m.port, 0);
  EXPECT_EQ(m.interval, Duration(15'000));
  EXPECT_EQ(m.timeout, Duration(10'000));

  // A short interval pulls the default timeout down with it.
  p = LoadMetrics("{path: /m, port: 9100, interval: 2s}",
                  "{retention: 30m, memory_limit: 8MiB, targets: [{name: node, address: "
                  "'127.0.0.1:9100'}, {name: db, address: '[::1]:9187', path: /x, interval: "
                  "1m, timeout: 5s}]}");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_EQ(p->services.at("api").metrics->timeout, Duration(2'000));
  EXPECT_EQ(p->services.at("api").metrics->port, 9100);
  EXPECT_EQ(p->scrape.retention_ms, 30 * 60 * 1000);
  EXPECT_EQ(p->scrape.memory_limit, 8u << 20);
  ASSERT_EQ(p->scrape.targets.size(), 2u);
  EXPECT_EQ(p->scrape.targets[0].host, "127.0.0.1");
  EXPECT_EQ(p->scrape.targets[0].port, 9100);
  EXPECT_EQ(p->scrape.targets[0].path, "/metrics");
  EXPECT_EQ(p->scrape.targets[1].host, "::1");
  EXPECT_EQ(p->scrape.targets[1].timeout, Duration(5'000));
}

TEST(MetricsSettingsTest, ErrorsNameFileLineKeyAndExpectation) {
  EXPECT_NE(
      ErrorOf(LoadMetrics("{port: 0}")).find("services.api.x-slipway.metrics.port: is not a port"),
      std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{path: metrics}")).find("is not a URL path"), std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{interval: 500ms}")).find("shorter than 1s"), std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{interval: 5s, timeout: 6s}"))
                .find("metrics.timeout: is not between 100ms and the interval"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{bogus: 1}")).find("unknown key \"bogus\""), std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("[1]")).find("metrics"), std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{}", "{memory_limit: 10}")).find("is not a size"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{}", "{retention: 1s}")).find("not between 1m and 31d"),
            std::string::npos);
  for (const char* bad : {"{snapshot_interval: 500ms}", "{snapshot_interval: 25h}",
                          "{snapshot_interval: -1s}", "{snapshot_interval: [1]}",
                          "{snapshot_interval: yes}", "{snapshot_interval: 99999999999999999d}"}) {
    const std::string e = ErrorOf(LoadMetrics("{}", bad));
    EXPECT_NE(e.find("x-slipway.scrape.snapshot_interval"), std::string::npos) << bad << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  auto off = LoadMetrics("{}", "{snapshot_interval: 0s}");
  ASSERT_TRUE(off.ok()) << ErrorOf(off);
  EXPECT_EQ(off->scrape.snapshot_interval_ms, 0);
  auto two = LoadMetrics("{}", "{snapshot_interval: 2s}");
  ASSERT_TRUE(two.ok()) << ErrorOf(two);
  EXPECT_EQ(two->scrape.snapshot_interval_ms, 2'000);
  EXPECT_NE(ErrorOf(LoadMetrics("{}", "{targets: {a: 1}}")).find("is not a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{}", "{targets: [{name: a}]}"))
                .find("x-slipway.scrape.targets[0].address: is missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{}", "{targets: [{name: a, address: nohost}]}"))
                .find("is not an address"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{}", "{targets: [{name: 'a b', address: 'h:1'}]}"))
                .find("targets[0].name: is missing or not a name"),
            std::string::npos);
  EXPECT_NE(ErrorOf(LoadMetrics("{}",
                                "{targets: [{name: a, address: 'h:1'}, {name: a, "
                                "address: 'h:2'}]}"))
                .find("given twice"),
            std::string::npos);
  const std::string e = ErrorOf(LoadMetrics("{}", "{targets: [{name: a, address: 'h:1', x: 1}]}"));
  EXPECT_NE(e.find("compose.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("one of name, address, path, interval, timeout"), std::string::npos) << e;
}

}  // namespace
}  // namespace slipway::config
