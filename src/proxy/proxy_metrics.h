// Proxy metrics: the metric handles of one route's instance set, and the read API the deploy
// engine uses to judge a set (request count, 5xx count, latency quantiles).
//
// Handles are created on the control thread by Proxy::Apply() (Registry lookups take a lock)
// and then written lock-free by workers, each into its own shard. ReadSetStats() may be called
// from any thread.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "telemetry/metrics.h"

namespace slipway::proxy {

// Metric names, shared by the proxy and whoever reads them.
inline constexpr char kRequestsTotal[] = "slipway_http_requests_total";
inline constexpr char kRequestDuration[] = "slipway_http_request_duration_seconds";
inline constexpr char kRequestBytes[] = "slipway_http_request_bytes_total";
inline constexpr char kResponseBytes[] = "slipway_http_response_bytes_total";
inline constexpr char kActiveConnections[] = "slipway_http_active_connections";
inline constexpr char kUpstreamErrors[] = "slipway_http_upstream_errors_total";
inline constexpr char kRetries[] = "slipway_http_retries_total";

// Label values for requests that matched no route or no set.
inline constexpr char kNoRoute[] = "_none";

enum class UpstreamError {
  kConnectRefused,
  kConnectTimeout,
  kReset,            // closed or reset before a complete response
  kResponseTimeout,  // no response head in time
  kBadResponse,      // malformed response head or body
  kNoBackend,        // no backend up in rotation
  kTls,              // TLS to an https:// upstream failed (handshake, certificate)
  kCount,
};
std::string_view UpstreamErrorName(UpstreamError e);

struct SetMetrics {
  std::array<telemetry::Counter*, 5> requests{};  // by code class 1xx..5xx
  telemetry::Histogram* duration = nullptr;
  telemetry::Counter* bytes_in = nullptr;   // request bytes from clients (head + body)
  telemetry::Counter* bytes_out = nullptr;  // response bytes to clients (head + body)
  telemetry::Counter* retries = nullptr;
  std::array<telemetry::Counter*, static_cast<size_t>(UpstreamError::kCount)> errors{};

  // Finds or creates every child for labels {route, set}.
  static SetMetrics Create(telemetry::Registry* reg, const std::string& route,
                           const std::string& set);
  void CountResponse(int shard, int status, double seconds) const {
    int cls = status / 100;
    if (cls < 1 || cls > 5) cls = 5;
    requests[cls - 1]->Add(shard);
    duration->Observe(shard, seconds);
  }
  void CountError(int shard, UpstreamError e) const { errors[static_cast<size_t>(e)]->Add(shard); }
};

// What the deploy engine reads about one instance set of one route (route = service name).
struct SetStats {
  uint64_t requests = 0;    // all responses
  uint64_t errors_5xx = 0;  // 5xx responses, including the proxy's own 502/503/504
  double p50_seconds = 0;   // estimated from the histogram
  double p90_seconds = 0;
  double p99_seconds = 0;
  telemetry::HistogramSnapshot latency;
};
// Zeroes when the set has served nothing yet. Counters are cumulative: the caller takes
// differences between two reads to judge a window.
SetStats ReadSetStats(const telemetry::Registry& reg, std::string_view route, std::string_view set);

}  // namespace slipway::proxy
