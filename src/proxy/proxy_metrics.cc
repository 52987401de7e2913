#include "proxy/proxy_metrics.h"

namespace slipway::proxy {

std::string_view UpstreamErrorName(UpstreamError e) {
  switch (e) {
    case UpstreamError::kConnectRefused:
      return "connect_refused";
    case UpstreamError::kConnectTimeout:
      return "connect_timeout";
    case UpstreamError::kReset:
      return "reset";
    case UpstreamError::kResponseTimeout:
      return "response_timeout";
    case UpstreamError::kBadResponse:
      return "bad_response";
    case UpstreamError::kNoBackend:
      return "no_backend";
    case UpstreamError::kTls:
      return "tls";
    case UpstreamError::kCount:
      break;
  }
  return "unknown";
}

namespace {
const char* const kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
}

SetMetrics SetMetrics::Create(telemetry::Registry* reg, const std::string& route,
                              const std::string& set) {
  SetMetrics m;
  for (int c = 0; c < 5; ++c)
    m.requests[c] = reg->GetCounter(kRequestsTotal, "HTTP responses sent through the proxy.",
                                    {"route", "set", "code_class"}, {route, set, kClasses[c]});
  m.duration = reg->GetHistogram(kRequestDuration,
                                 "Time from a request's first byte to its response's last byte.",
                                 {"route", "set"}, {route, set});
  m.bytes_in = reg->GetCounter(kRequestBytes, "Request bytes received from clients.",
                               {"route", "set"}, {route, set});
  m.bytes_out = reg->GetCounter(kResponseBytes, "Response bytes sent to clients.", {"route", "set"},
                                {route, set});
  m.retries = reg->GetCounter(kRetries, "Requests retried on another backend.", {"route", "set"},
                              {route, set});
  for (size_t e = 0; e < m.errors.size(); ++e)
    m.errors[e] =
        reg->GetCounter(kUpstreamErrors, "Upstream failures by kind.", {"route", "set", "kind"},
                        {route, set, std::string(UpstreamErrorName(UpstreamError(e)))});
  return m;
}

SetStats ReadSetStats(const telemetry::Registry& reg, std::string_view route,
                      std::string_view set) {
  SetStats s;
  for (int c = 0; c < 5; ++c) {
    const telemetry::Counter* ctr =
        reg.FindCounter(kRequestsTotal, {std::string(route), std::string(set), kClasses[c]});
    if (!ctr) continue;
    uint64_t v = ctr->Value();
    s.requests += v;
    if (c == 4) s.errors_5xx = v;
  }
  if (const telemetry::Histogram* h =
          reg.FindHistogram(kRequestDuration, {std::string(route), std::string(set)})) {
    s.latency = h->Snapshot();
    s.p50_seconds = s.latency.Quantile(0.5);
    s.p90_seconds = s.latency.Quantile(0.9);
    s.p99_seconds = s.latency.Quantile(0.99);
  }
  return s;
}

}  // namespace slipway::proxy
