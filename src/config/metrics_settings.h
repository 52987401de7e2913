// Metrics settings: what the daemon scrapes into its series store, and how much it keeps.
//
//   services:
//     api:
//       x-slipway:
//         metrics:                 # scrape every ready instance of this service
//           path: /metrics         # default /metrics
//           port: 9100             # default: the instance's own PORT
//           interval: 15s          # default 15s
//           timeout: 10s           # default 10s, at most the interval
//   x-slipway:
//     scrape:
//       retention: 2h              # how long samples are kept (default 2h)
//       memory_limit: 64MiB        # the series store's budget; oldest chunks dropped over it
//       snapshot_interval: 5m      # how often the store is saved for a restart (0: never)
//       targets:                   # static targets: an exporter, another host's endpoint
//         - {name: node, address: 127.0.0.1:9100, path: /metrics, interval: 15s, timeout: 10s}
//
// The default interval is 15 s, not Prometheus' global 1 m: alert rules and the query API
// read the same store, and rules over `rate(x[1m])` need two samples in a minute (15 s is also
// what Prometheus' own example configuration sets).
//
// Plain data owned by config::Project; any thread may read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::config {

struct Node;

inline constexpr Duration kDefaultScrapeInterval{15'000};
inline constexpr Duration kDefaultScrapeTimeout{10'000};

// services.<service>.x-slipway.metrics
struct MetricsEndpoint {
  std::string path = "/metrics";
  int port = 0;  // 0: the instance's PORT
  Duration interval = kDefaultScrapeInterval;
  Duration timeout = kDefaultScrapeTimeout;
};

// x-slipway.scrape.targets[]
struct ScrapeTarget {
  std::string name;  // the `job` label
  std::string host;
  int port = 0;
  std::string path = "/metrics";
  Duration interval = kDefaultScrapeInterval;
  Duration timeout = kDefaultScrapeTimeout;
};

// x-slipway.scrape
struct ScrapeSettings {
  int64_t retention_ms = 2 * 3600 * 1000;
  uint64_t memory_limit = 64u << 20;
  // Time between snapshots of the series store (promql/series_snapshot.h), also written at a
  // clean stop and read at start; 0: the store is neither saved nor loaded.
  int64_t snapshot_interval_ms = 5 * 60 * 1000;
  std::vector<ScrapeTarget> targets;
};

Status ParseMetricsEndpoint(const Node& n, const std::string& path, MetricsEndpoint* out);
Status ParseScrapeSettings(const Node& n, const std::string& path, ScrapeSettings* out);

}  // namespace slipway::config
