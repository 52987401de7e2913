// End to end: resource metrics of running instances, deploy.resources.limits applied (a
// container's podman flags, a host process's own cgroup where the machine delegates one), and
// deploy metrics after a good and a bad deploy, read through GET /metrics and /api/v1/query.
// Every wait is bounded; the daemon is stopped by the harness (by PID).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"
#include "podman_storage.h"

namespace slipway::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kTestapp = TESTAPP_BIN;

int ApiPort(Project& p) {
  std::ifstream in(p.dir() / ".slipway" / "api.addr");
  std::string addr;
  in >> addr;
  return std::stoi(addr.substr(addr.rfind(':') + 1));
}

// The value of the exposition line that starts with `series` (-1 when there is none).
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string Metrics(int api_port) {
  std::string body;
  EXPECT_EQ(HttpGet(api_port, "/metrics", &body), 200);
  return body;
}

// /api/v1/query's result rows for `expr` (URL-escaped by the caller).
json Query(int api_port, const std::string& escaped_expr) {
  std::string body;
  if (HttpGet(api_port, "/api/v1/query?query=" + escaped_expr, &body) != 200) return json();
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return json();
  return j["data"]["result"];
}

std::string Compose(int port, const std::string& resources) {
  return R"(services:
  api:
    command: [")" +
         kTestapp + R"("]
    environment: {VERSION: v1}
    ports: ["127.0.0.1:)" +
         std::to_string(port) + R"(:8080"]
    healthcheck: {interval: 100ms, timeout: 5s, retries: 3, start_period: 5s}
    deploy:
      resources:
)" + resources +
         R"(    x-slipway:
      healthcheck: {http: /health}
      deploy:
        strategy: blue-green
        monitor: 6s
        drain: 200ms
        rollback_window: 60s
        health_timeout: 10s
        analysis: {min_requests: 6, window: 2s, interval: 100ms}
x-slipway:
  alerts: {interval: 1s}
)";
}

TEST(ResourceMetricsTest, InstancesAndDeploysShowInMetricsAndQueries) {
  const int port = FreePort();
  Project p(Compose(port, R"(        limits: {memory: 512m, pids: 500}
        reservations: {cpus: '0.25'}
)"));
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/health") == 200; }));
  const int api = ApiPort(p);
  const json ps = p.Ps();
  int pid = 0, inst_port = 0;
  for (const json& row : ps) {
    if (row.value("service", "") == "api") {
      pid = row.value("pid", 0);
      inst_port = row.value("port", 0);
    }
  }
  ASSERT_GT(pid, 0) << ps.dump();
  const std::string labels =
      "{service=\"api\",instance=\"127.0.0.1:" + std::to_string(inst_port) + "\",release=\"1\"}";

  // Resource figures of the running instance, as the kernel reports them.
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    text = Metrics(api);
    return Sample(text, "slipway_instance_memory_rss_bytes" + labels) > 0;
  })) << text;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  long rss_kb = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stol(line.substr(6));
  }
  const double rss = Sample(text, "slipway_instance_memory_rss_bytes" + labels);
  EXPECT_GT(rss, 1 << 20);
  EXPECT_LT(std::abs(rss - rss_kb * 1024.0), 64.0 * 1024 * 1024) << rss << " vs " << rss_kb;
  EXPECT_GE(Sample(text, "slipway_instance_open_fds" + labels), 3);
  EXPECT_GE(Sample(text, "slipway_instance_cpu_seconds_total" + labels), 0);
  EXPECT_EQ(Sample(text, "slipway_instance_restarts_total" + labels), 0);
  EXPECT_EQ(
      Sample(text, "slipway_service_resource_limit{service=\"api\",resource=\"memory_bytes\"}"),
      512.0 * 1024 * 1024);
  EXPECT_EQ(Sample(text, "slipway_service_resource_limit{service=\"api\",resource=\"pids\"}"), 500);
  EXPECT_EQ(Sample(text, "slipway_service_resource_reservation{service=\"api\",resource=\"cpus\"}"),
            0.25);
  // The same series through the series store and PromQL.
  json rows;
  ASSERT_TRUE(WaitFor(
      [&] {
        rows = Query(api, "slipway_instance_memory_rss_bytes%7Bservice%3D%22api%22%7D");
        return rows.is_array() && rows.size() == 1;
      },
      20s))
      << rows.dump();
  EXPECT_EQ(rows[0]["metric"]["release"], "1");
  EXPECT_GT(std::stod(rows[0]["value"][1].get<std::string>()), 1 << 20);

  // A good deploy, then a bad one (every request a 500) under load.
  CmdResult good = p.Slipway({"deploy", "api", "--env", "VERSION=v2"}, 60s);
  ASSERT_EQ(good.rc, 0) << good.out << good.err;
  LoadResult load;
  std::thread traffic([&] { load = RunLoad(port, 2, 12s); });
  CmdResult bad = p.Slipway({"deploy", "api", "--env", "ERROR_RATE=1"}, 60s);
  traffic.join();
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("5xx rate"), std::string::npos) << bad.err;

  text = Metrics(api);
  const std::string bg = "{service=\"api\",strategy=\"blue-green\"";
  EXPECT_EQ(Sample(text, "slipway_deploys_total" + bg + ",result=\"succeeded\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "slipway_deploys_total" + bg + ",result=\"rolled_back\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "slipway_rollbacks_total{service=\"api\",reason=\"error_rate\"}"), 1)
      << text;
  EXPECT_EQ(Sample(text, "slipway_deploy_duration_seconds_count" + bg + "}"), 2) << text;
  EXPECT_GT(Sample(text, "slipway_deploy_duration_seconds_sum" + bg + "}"), 0);
  EXPECT_EQ(Sample(text, "slipway_deploy_detection_seconds_count{service=\"api\"}"), 1) << text;
  const double detect_s = Sample(text, "slipway_deploy_detection_seconds_sum{service=\"api\"}");
  EXPECT_GT(detect_s, 0);
  EXPECT_LT(detect_s, 6);  // before the 6 s monitor window ended
  std::cout << "[ measure ] switch to detection: " << detect_s << " s\n";

  ASSERT_TRUE(WaitFor(
      [&] {
        rows = Query(api, "slipway_rollbacks_total%7Breason%3D%22error_rate%22%7D");
        return rows.is_array() && rows.size() == 1;
      },
      20s))
      << rows.dump();
  EXPECT_EQ(rows[0]["value"][1], "1");
  rows = Query(api, "sum%20by%20(result)%20(slipway_deploys_total)");
  ASSERT_TRUE(rows.is_array());
  EXPECT_EQ(rows.size(), 2u) << rows.dump();
}

TEST(ResourceLimitsTest, HostProcessRunsInItsOwnCgroupWhereDelegated) {
  const int port = FreePort();
  Project p(Compose(port, R"(        limits: {memory: 300m, pids: 64, cpus: '1.5'}
)"));
  CmdResult up = p.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  const std::string warning =
      "deploy.resources.limits (cpus 1.5, memory 300MiB, pids 64) not "
      "applied to the host process: ";
  size_t at = up.err.find(warning);
  if (at != std::string::npos) {
    // One line, naming the service and why; the limits stay reported.
    std::string why = up.err.substr(at + warning.size());
    why = why.substr(0, why.find('\n'));
    EXPECT_NE(up.err.find("services.api: " + warning), std::string::npos) << up.err;
    const std::string text = Metrics(ApiPort(p));
    EXPECT_EQ(Sample(text, "slipway_service_resource_limit{service=\"api\",resource=\"pids\"}"),
              64);
    GTEST_SKIP() << "this machine gives the daemon no cgroup v2 group to delegate: " << why;
  }
  int pid = 0;
  for (const json& row : p.Ps()) {
    if (row.value("service", "") == "api") pid = row.value("pid", 0);
  }
  ASSERT_GT(pid, 0);
  std::ifstream cg("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, group;
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) == 0) group = line.substr(3);
  }
  ASSERT_NE(group.find("/slipway-"), std::string::npos) << group;
  std::ifstream mounts("/proc/self/mountinfo");
  std::string mount;
  while (std::getline(mounts, line)) {
    if (line.find(" - cgroup2 ") != std::string::npos) {
      std::istringstream f(line);
      std::string a, b, c, d, e;
      f >> a >> b >> c >> d >> e;
      mount = e;
    }
  }
  auto read = [&](const std::string& file) {
    std::ifstream in(mount + group + "/" + file);
    std::string v;
    std::getline(in, v);
    return v;
  };
  EXPECT_EQ(read("memory.max"), std::to_string(300 << 20));
  EXPECT_EQ(read("pids.max"), "64");
  EXPECT_EQ(read("cpu.max"), "150000 100000");
}

TEST(ResourceLimitsTest, ContainerLimitsShowInPodmanInspect) {
  PodmanStorage storage("pmres");  // declared first: outlives the project
  REQUIRE_PODMAN(storage);
  std::filesystem::path rootfs = storage.dir() / "rootfs";
  std::filesystem::create_directories(rootfs / "bin");
  std::filesystem::copy_file("/bin/busybox", rootfs / "bin" / "busybox");
  CmdResult imported = RunCmd({"/bin/sh", "-c",
                               "tar -C \"$1\" -c . | \"$2\" " +
                                   [&] {
                                     std::string f;
                                     for (const std::string& x : storage.flags()) f += x + " ";
                                     return f;
                                   }() +
                                   "import - slipwayres:1",
                               "sh", rootfs.string(), storage.podman()},
                              storage.dir(), {}, 60s);
  ASSERT_EQ(imported.rc, 0) << imported.out << imported.err;

  Project p(R"(services:
  box:
    image: slipwayres:1
    command: ["/bin/busybox", "sleep", "600"]
    deploy:
      resources:
        limits: {cpus: '0.5', memory: 64m, pids: 50}
        reservations: {memory: 16m}
)");
  CmdResult up = p.Slipway({"up", "-d", "--wait"}, 120s, {storage.FlagsEnv()});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;
  EXPECT_EQ(up.err.find("not applied"), std::string::npos) << up.err;
  // `up` returns once the podman client runs; the container follows.
  std::string name;
  WaitFor(
      [&] {
        CmdResult names = storage.Podman({"ps", "--format", "{{.Names}}"});
        name = names.out.substr(0, names.out.find('\n'));
        return name.find("slipway-") != std::string::npos;
      },
      60s);
  ASSERT_NE(name.find("slipway-"), std::string::npos)
      << storage.Podman({"ps", "-a"}).out << p.Slipway({"logs", "box"}).out << p.Ps().dump();
  CmdResult inspect =
      storage.Podman({"inspect", name, "--format",
                      "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"});
  ASSERT_EQ(inspect.rc, 0) << inspect.err;
  EXPECT_EQ(inspect.out.substr(0, inspect.out.find('\n')),
            std::to_string(64 << 20) + " 500000000 50");

  // Its figures come from the container's processes (found through its conmon), not from the
  // podman client the daemon supervises.
  const int api = ApiPort(p);
  std::string text;
  EXPECT_TRUE(WaitFor(
      [&] {
        text = Metrics(api);
        return text.find("slipway_instance_memory_rss_bytes{service=\"box\"") != std::string::npos;
      },
      20s))
      << text;
  EXPECT_EQ(Sample(text,
                   "slipway_service_resource_reservation{service=\"box\",resource=\"memory_"
                   "bytes\"}"),
            16 << 20);
}

}  // namespace
}  // namespace slipway::testing
