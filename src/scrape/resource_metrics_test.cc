#include "scrape/resource_metrics.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/test_support.h"

namespace slipway::scrape {
namespace {

class ResourceMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-res-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    Write("proc/self/mountinfo", "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    Write("proc/self/cgroup", "0::/slipway.service\n");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void Write(const std::string& rel, const std::string& text) {
    std::filesystem::path p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  void Proc(int pid, int ppid, const std::string& comm, int ticks, int rss_kb, int fds) {
    const std::string d = "proc/" + std::to_string(pid);
    Write(d + "/stat", std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) +
                           " 1 1 0 -1 0 0 0 0 0 " + std::to_string(ticks) + " 0 0 0 20 0 1 0\n");
    Write(d + "/status", "VmRSS:\t" + std::to_string(rss_kb) + " kB\n");
    std::filesystem::create_directories(root_ / d / "fd");
    for (int i = 0; i < fds; ++i) Write(d + "/fd/" + std::to_string(i), "");
    Write(d + "/cgroup", "0::/slipway.service\n");
  }
  std::string Line(const std::string& prefix) const {
    std::string text = reg_.RenderPrometheus();
    size_t at = text.find(prefix);
    if (at == std::string::npos) return "";
    return text.substr(at, text.find('\n', at) - at);
  }

  std::filesystem::path root_;
  telemetry::Registry reg_;
};

TEST_F(ResourceMetricsTest, HostAndContainerInstancesGetTheirSeries) {
  Proc(100, 1, "api", 250, 2048, 5);
  Proc(300, 1, "podman", 7, 99999, 30);  // the client: not what the container uses
  Proc(310, 1, "conmon", 0, 100, 2);
  Write("proc/310/cmdline", std::string("conmon\0-n\0slipway-shop-web-r2-1\0", 32));
  Proc(311, 310, "catatonit", 0, 100, 1);
  Proc(312, 311, "nginx", 100, 4096, 9);

  engine::PsRow api;
  api.service = "api";
  api.instance = 1;
  api.pid = 100;
  api.port = 5000;
  api.release = 4;
  api.restarts = 2;
  engine::PsRow web;
  web.service = "web";
  web.instance = 1;
  web.pid = 300;
  web.port = 5001;
  web.release = 2;
  web.made_for = "r2";
  web.container = true;
  engine::PsRow idle;  // a service row without instances
  idle.service = "idle";
  std::vector<ResourceTarget> targets = ResourceTargets("shop", {api, web, idle});
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[1].container, "slipway-shop-web-r2-1");
  EXPECT_EQ(targets[0].instance, "127.0.0.1:5000");
  EXPECT_EQ(targets[0].release, "4");

  runtime::ProcUnits units;
  units.ticks_per_second = 100;
  ResourceMetrics m(&reg_, runtime::ProcReader(root_), units);
  m.Sample(targets);
  const std::string api_labels = "{service=\"api\",instance=\"127.0.0.1:5000\",release=\"4\"}";
  const std::string web_labels = "{service=\"web\",instance=\"127.0.0.1:5001\",release=\"2\"}";
  EXPECT_EQ(Line("slipway_instance_cpu_seconds_total" + api_labels),
            "slipway_instance_cpu_seconds_total" + api_labels + " 2.5");
  EXPECT_EQ(Line("slipway_instance_memory_rss_bytes" + api_labels),
            "slipway_instance_memory_rss_bytes" + api_labels + " 2097152");
  EXPECT_EQ(Line("slipway_instance_open_fds" + api_labels),
            "slipway_instance_open_fds" + api_labels + " 5");
  EXPECT_EQ(Line("slipway_instance_restarts_total" + api_labels),
            "slipway_instance_restarts_total" + api_labels + " 2");
  // The container: catatonit + nginx under its conmon, not the podman client.
  EXPECT_EQ(Line("slipway_instance_memory_rss_bytes" + web_labels),
            "slipway_instance_memory_rss_bytes" + web_labels + " " + std::to_string(4196 * 1024));
  EXPECT_EQ(Line("slipway_instance_open_fds" + web_labels),
            "slipway_instance_open_fds" + web_labels + " 10");

  // CPU grows; the web instance is gone (a deploy replaced it): its series go.
  Proc(100, 1, "api", 400, 2048, 5);
  targets.pop_back();
  m.Sample(targets);
  EXPECT_EQ(Line("slipway_instance_cpu_seconds_total" + api_labels),
            "slipway_instance_cpu_seconds_total" + api_labels + " 4");
  EXPECT_EQ(reg_.RenderPrometheus().find(web_labels), std::string::npos);

  // Not running (backing off): restarts stay, figures go rather than go stale.
  targets[0].pid = 0;
  targets[0].restarts = 3;
  m.Sample(targets);
  EXPECT_EQ(Line("slipway_instance_memory_rss_bytes" + api_labels), "");
  EXPECT_EQ(Line("slipway_instance_restarts_total" + api_labels),
            "slipway_instance_restarts_total" + api_labels + " 3");
}

TEST_F(ResourceMetricsTest, LimitsAndReservationsAreReported) {
  auto p = config::testing::LoadText(
      "services:\n  api:\n    command: ./api\n    deploy:\n      resources:\n        limits: "
      "{cpus: '1.5', memory: 256m, pids: 100}\n        reservations: {memory: 64m}\n  db:\n "
      "   command: ./db\n");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ResourceMetrics m(&reg_, runtime::ProcReader(root_));
  m.ReportResources(*p);
  EXPECT_EQ(Line("slipway_service_resource_limit{service=\"api\",resource=\"cpus\"}"),
            "slipway_service_resource_limit{service=\"api\",resource=\"cpus\"} 1.5");
  EXPECT_EQ(Line("slipway_service_resource_limit{service=\"api\",resource=\"memory_bytes\"}"),
            "slipway_service_resource_limit{service=\"api\",resource=\"memory_bytes\"} 268435456");
  EXPECT_EQ(Line("slipway_service_resource_limit{service=\"api\",resource=\"pids\"}"),
            "slipway_service_resource_limit{service=\"api\",resource=\"pids\"} 100");
  EXPECT_EQ(Line("slipway_service_resource_reservation{service=\"api\",resource=\"memory_bytes\"}"),
            "slipway_service_resource_reservation{service=\"api\",resource=\"memory_bytes\"} "
            "67108864");
  EXPECT_EQ(reg_.RenderPrometheus().find("service=\"db\""), std::string::npos);
  // The limits leave the file: their series go.
  p->services.at("api").resources = {};
  m.ReportResources(*p);
  EXPECT_EQ(reg_.RenderPrometheus().find("service=\"api\",resource"), std::string::npos);
}

}  // namespace
}  // namespace slipway::scrape
