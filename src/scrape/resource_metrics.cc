#include "scrape/resource_metrics.h"

#include <fmt/format.h>

#include <utility>

#include "runtime/container.h"

namespace slipway::scrape {

namespace {

const std::vector<std::string> kLabels = {"service", "instance", "release"};
const std::vector<std::string> kResourceLabels = {"service", "resource"};

constexpr const char* kCpu = "slipway_instance_cpu_seconds_total";
constexpr const char* kRss = "slipway_instance_memory_rss_bytes";
constexpr const char* kFds = "slipway_instance_open_fds";
constexpr const char* kRestarts = "slipway_instance_restarts_total";
constexpr const char* kLimit = "slipway_service_resource_limit";
constexpr const char* kReservation = "slipway_service_resource_reservation";

}  // namespace

std::vector<ResourceTarget> ResourceTargets(const std::string& project,
                                            const std::vector<engine::PsRow>& rows) {
  std::vector<ResourceTarget> out;
  for (const engine::PsRow& r : rows) {
    if (r.instance == 0) continue;
    ResourceTarget t;
    t.service = r.service;
    t.instance = fmt::format("127.0.0.1:{}", r.port);
    t.release = r.release > 0 ? std::to_string(r.release) : "";
    t.pid = r.pid;
    if (r.container) {
      t.container =
          runtime::ContainerEngine::ContainerName(project, r.service, r.instance, r.made_for);
    }
    t.restarts = r.restarts;
    out.push_back(std::move(t));
  }
  return out;
}

ResourceMetrics::ResourceMetrics(telemetry::Registry* registry, runtime::ProcReader reader,
                                 runtime::ProcUnits units)
    : reg_(registry), reader_(std::move(reader)), units_(units) {
  cgroup_mount_ = runtime::CgroupV2Mount(reader_);
  own_cgroup_ = runtime::CgroupV2Path(reader_, "self");
}

void ResourceMetrics::Sample(const std::vector<ResourceTarget>& targets) {
  runtime::ProcTable table = runtime::ProcTable::Scan(reader_);
  std::set<std::vector<std::string>> now;
  for (const ResourceTarget& t : targets) {
    std::vector<std::string> values = {t.service, t.instance, t.release};
    reg_->GetSampledCounter(kRestarts, "Restarts of the instance by its restart policy.", kLabels,
                            values)
        ->Set(t.restarts);
    now.insert(values);
    pid_t root = 0;
    if (!t.container.empty()) {
      if (t.pid > 0) root = table.ContainerRoot(reader_, t.container);
    } else {
      root = t.pid;
    }
    std::optional<runtime::ResourceUsage> u;
    if (root > 0) u = runtime::Usage(reader_, table, root, cgroup_mount_, own_cgroup_, units_);
    if (!u) {
      // Not running (or its container not found yet): no figures rather than stale ones.
      for (const char* name : {kCpu, kRss, kFds}) reg_->Remove(name, values);
      continue;
    }
    reg_->GetSampledCounter(kCpu,
                            "CPU seconds (user + system) of the instance's processes, or of its "
                            "own cgroup.",
                            kLabels, values)
        ->Set(u->cpu_seconds);
    reg_->GetGauge(kRss,
                   "Resident memory of the instance's processes (its cgroup's memory.current "
                   "when it has its own group).",
                   kLabels, values)
        ->Set(0, u->memory_bytes);
    reg_->GetGauge(kFds, "Open file descriptors of the instance's processes.", kLabels, values)
        ->Set(0, u->open_fds);
  }
  for (const std::vector<std::string>& gone : live_) {
    if (now.count(gone)) continue;
    for (const char* name : {kCpu, kRss, kFds, kRestarts}) reg_->Remove(name, gone);
  }
  live_ = std::move(now);
}

void ResourceMetrics::ReportResources(const config::Project& project) {
  std::set<std::vector<std::string>> now;
  auto put = [&](const char* name, const char* help, const std::string& service,
                 const char* resource, double v) {
    std::vector<std::string> values = {service, resource};
    reg_->GetSampledGauge(name, help, kResourceLabels, values)->Set(v);
    now.insert({name, service, resource});
  };
  const char* limit_help =
      "deploy.resources.limits of the service (resource: cpus, memory_bytes, pids).";
  const char* reservation_help =
      "deploy.resources.reservations of the service (reported, not enforced).";
  for (const auto& [name, svc] : project.services) {
    const config::ResourceSettings& r = svc.resources;
    if (r.cpus) put(kLimit, limit_help, name, "cpus", *r.cpus);
    if (r.memory_bytes) {
      put(kLimit, limit_help, name, "memory_bytes", static_cast<double>(*r.memory_bytes));
    }
    if (r.pids) put(kLimit, limit_help, name, "pids", static_cast<double>(*r.pids));
    if (r.reserved_cpus) put(kReservation, reservation_help, name, "cpus", *r.reserved_cpus);
    if (r.reserved_memory_bytes) {
      put(kReservation, reservation_help, name, "memory_bytes",
          static_cast<double>(*r.reserved_memory_bytes));
    }
  }
  for (const std::vector<std::string>& gone : resource_series_) {
    if (!now.count(gone)) reg_->Remove(gone[0], {gone[1], gone[2]});
  }
  resource_series_ = std::move(now);
}

}  // namespace slipway::scrape
