#include "telemetry/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/test_require.h"

namespace slipway::telemetry {
namespace {

TEST(MetricsTest, CounterShardsAreSummed) {
  Registry reg(4);
  Counter* c = reg.GetCounter("x_total", "help", {"a"}, {"1"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([c, t] {
      for (int i = 0; i < 100000; ++i) c->Add(t);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), 400000u);
  // Same labels give the same child.
  EXPECT_EQ(reg.GetCounter("x_total", "help", {"a"}, {"1"}), c);
  EXPECT_NE(reg.GetCounter("x_total", "help", {"a"}, {"2"}), c);
  EXPECT_EQ(reg.FindCounter("x_total", {"1"}), c);
  EXPECT_EQ(reg.FindCounter("x_total", {"3"}), nullptr);
}

TEST(MetricsTest, GaugeAddsAcrossShards) {
  Registry reg(2);
  Gauge* g = reg.GetGauge("active", "active things");
  g->Add(0, 5);
  g->Add(1, 3);
  g->Add(0, -2);
  EXPECT_EQ(g->Value(), 6);
  g->Set(1, 10);
  EXPECT_EQ(g->Value(), 13);
}

TEST(MetricsTest, HistogramBucketsAndQuantile) {
  Registry reg(2);
  Histogram* h = reg.GetHistogram("lat_seconds", "latency", {"route"}, {"r"});
  for (int i = 0; i < 90; ++i) h->Observe(i % 2, 0.003);  // bucket le=0.005
  for (int i = 0; i < 10; ++i) h->Observe(0, 0.7);        // bucket le=1
  HistogramSnapshot s = h->Snapshot();
  EXPECT_EQ(s.count, 100u);
  EXPECT_NEAR(s.sum, 90 * 0.003 + 10 * 0.7, 1e-9);
  EXPECT_EQ(s.buckets[0], 90u);
  EXPECT_EQ(s.buckets.back(), 100u);
  EXPECT_LE(s.Quantile(0.5), 0.005);
  double p95 = s.Quantile(0.95);
  EXPECT_GT(p95, 0.5);
  EXPECT_LE(p95, 1.0);
  h->Observe(1, 100);  // into +Inf
  EXPECT_EQ(h->Snapshot().Quantile(1.0), 10);
  EXPECT_EQ(HistogramSnapshot{}.Quantile(0.5), 0);
}

TEST(MetricsTest, RenderFormat) {
  Registry reg(2);
  reg.GetCounter("slipway_requests_total", "Requests.", {"route", "code_class"}, {"a\"b", "2xx"})
      ->Add(1, 7);
  reg.GetGauge("slipway_active", "Active.")->Add(0, 3);
  reg.GetHistogram("slipway_d_seconds", "D.", {}, {})->Observe(0, 0.2);
  std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE slipway_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_requests_total{route=\"a\\\"b\",code_class=\"2xx\"} 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("slipway_active 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_d_seconds_bucket{le=\"0.25\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_d_seconds_bucket{le=\"0.1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_d_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_d_seconds_sum 0.2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("slipway_d_seconds_count 1\n"), std::string::npos) << text;
}

// Runs the real promtool over our exposition.
TEST(MetricsTest, PromtoolAcceptsExposition) {
  SLIPWAY_REQUIRE(std::system("command -v promtool >/dev/null 2>&1") == 0,
                  "promtool (Debian prometheus)");
  Registry reg(3);
  for (std::string set : {"blue", "green"}) {
    for (std::string cls : {"2xx", "5xx"})
      reg.GetCounter("slipway_http_requests_total", "HTTP requests proxied.",
                     {"route", "set", "code_class"}, {"web", set, cls})
          ->Add(2, 11);
    Histogram* h =
        reg.GetHistogram("slipway_http_request_duration_seconds",
                         "Request latency through the proxy.", {"route", "set"}, {"web", set});
    h->Observe(0, 0.01);
    h->Observe(1, 3);
  }
  reg.GetGauge("slipway_http_active_connections", "Open client connections.", {"listener"},
               {"0.0.0.0:80"})
      ->Add(1, 4);
  std::string path = ::testing::TempDir() + "/metrics_" + std::to_string(getpid()) + ".txt";
  {
    std::ofstream f(path);
    f << reg.RenderPrometheus();
  }
  int rc = std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str());
  std::system(("promtool check metrics < " + path).c_str());  // shows problems in the log
  unlink(path.c_str());
  EXPECT_EQ(rc, 0);
}

TEST(MetricsTest, SampledValuesRenderAsFloatsAndRemoveForgetsAChild) {
  Registry reg(2);
  const std::vector<std::string> labels = {"service", "instance", "release"};
  reg.GetSampledCounter("slipway_instance_cpu_seconds_total", "CPU.", labels,
                        {"api", "127.0.0.1:5000", "3"})
      ->Set(1.25);
  reg.GetSampledCounter("slipway_instance_cpu_seconds_total", "CPU.", labels,
                        {"api", "127.0.0.1:5001", "3"})
      ->Set(0.5);
  reg.GetSampledGauge("slipway_service_resource_limit", "Limit.", {"service", "resource"},
                      {"api", "cpus"})
      ->Set(0.25);
  std::string text = reg.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE slipway_instance_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("slipway_instance_cpu_seconds_total{service=\"api\",instance=\"127.0.0.1:"
                      "5000\",release=\"3\"} 1.25\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE slipway_service_resource_limit gauge\n"), std::string::npos);
  EXPECT_NE(text.find("slipway_service_resource_limit{service=\"api\",resource=\"cpus\"} 0.25"),
            std::string::npos);
  // Whole numbers read as such, not "1e+02".
  reg.GetSampledGauge("slipway_service_resource_limit", "Limit.", {"service", "resource"},
                      {"api", "pids"})
      ->Set(100);
  reg.GetSampledGauge("slipway_service_resource_limit", "Limit.", {"service", "resource"},
                      {"api", "memory_bytes"})
      ->Set(268435456);
  text = reg.RenderPrometheus();
  EXPECT_NE(text.find("resource=\"pids\"} 100\n"), std::string::npos) << text;
  EXPECT_NE(text.find("resource=\"memory_bytes\"} 268435456\n"), std::string::npos) << text;

  EXPECT_TRUE(reg.Remove("slipway_instance_cpu_seconds_total", {"api", "127.0.0.1:5000", "3"}));
  EXPECT_FALSE(reg.Remove("slipway_instance_cpu_seconds_total", {"api", "127.0.0.1:5000", "3"}));
  EXPECT_FALSE(reg.Remove("no_such_metric", {}));
  text = reg.RenderPrometheus();
  EXPECT_EQ(text.find("127.0.0.1:5000"), std::string::npos);
  EXPECT_NE(text.find("127.0.0.1:5001"), std::string::npos);
  // Counters and gauges go as well.
  reg.GetGauge("g", "G.", {"a"}, {"x"})->Set(0, 3);
  EXPECT_TRUE(reg.Remove("g", {"x"}));
  EXPECT_EQ(reg.RenderPrometheus().find("g{a=\"x\"}"), std::string::npos);
}

}  // namespace
}  // namespace slipway::telemetry
