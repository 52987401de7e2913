// ResourceMetrics: per-instance CPU, memory, open files and restarts, and each service's
// deploy.resources, written into the metrics registry (so /metrics, the series store, rules
// and /api/v1/query see them like Slipway's other metrics):
//
//   slipway_instance_cpu_seconds_total{service,instance,release}   counter (user + system)
//   slipway_instance_memory_rss_bytes{service,instance,release}    gauge
//   slipway_instance_open_fds{service,instance,release}            gauge
//   slipway_instance_restarts_total{service,instance,release}      counter
//   slipway_service_resource_limit{service,resource}               gauge (cpus, memory_bytes, pids)
//   slipway_service_resource_reservation{service,resource}         gauge (cpus, memory_bytes)
//
// `instance` is "127.0.0.1:<PORT>", as the scraper labels the instance's own metrics, so the
// two join on (service, instance); `release` is the release number ("" before releases). The
// figures come from runtime/proc_stats.h (the instance's process tree, or its own cgroup v2
// group); a container's tree is its conmon's child, found by the container's name. An instance
// that is gone (stopped, replaced by a deploy) has its series removed at the next Sample().
//
// Ownership: the daemon owns it; it borrows the registry. Threads: the control loop only
// (Sample() reads /proc: a few files per process, once per call).
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/project.h"
#include "engine/engine.h"
#include "runtime/proc_stats.h"
#include "telemetry/metrics.h"

namespace slipway::scrape {

struct ResourceTarget {
  std::string service;
  std::string instance;   // label: "127.0.0.1:<PORT>"
  std::string release;    // label: "7", "" without releases
  pid_t pid = 0;          // the supervised process (0: not running)
  std::string container;  // the container's name when it runs in one ("" on the host)
  int restarts = 0;
};

// One target per instance of the engine's `ps` rows (rows without an instance are skipped).
std::vector<ResourceTarget> ResourceTargets(const std::string& project,
                                            const std::vector<engine::PsRow>& rows);

class ResourceMetrics {
 public:
  explicit ResourceMetrics(telemetry::Registry* registry,
                           runtime::ProcReader reader = runtime::ProcReader(),
                           runtime::ProcUnits units = runtime::ProcUnits::Machine());

  // One sampling round over `targets`; the series of instances not among them are removed.
  void Sample(const std::vector<ResourceTarget>& targets);
  // The services' limits and reservations as gauges (services without any have none).
  void ReportResources(const config::Project& project);

 private:
  telemetry::Registry* reg_;
  runtime::ProcReader reader_;
  runtime::ProcUnits units_;
  std::string cgroup_mount_;
  std::string own_cgroup_;
  std::set<std::vector<std::string>> live_;  // label values of the series written last
  std::set<std::vector<std::string>> resource_series_;
};

}  // namespace slipway::scrape
