// Scraper: pulls the services' and static targets' /metrics into the series store.
//
// Targets are the ready instances of every service with `x-slipway.metrics` (every instance
// group, so a canary's release is scraped beside the primary) and the `x-slipway.scrape.targets`.
// Each is scraped on its own interval, offset by a hash of its key as Prometheus spreads its
// targets, with the loop's async HTTP client (nothing blocks the control loop), bounded in time
// (the target's timeout) and size (max_body). The text is parsed with promql/exposition.h under
// limits; a parse error, a limit, a non-200 or a timeout makes the scrape fail: `up` 0 and the
// target's series stale. Every sample gets the target's labels `job` (the service or the
// target's name), `instance` (host:port), `service` and `release` (service targets); a scraped
// label of one of those names is kept as `exported_<name>` (Prometheus' honor_labels: false).
// Per target, every scrape writes `up`, `scrape_duration_seconds`, `scrape_samples_scraped`.
// A target that leaves (an instance stopped, a service removed) gets its series marked stale.
//
// Ownership: the daemon owns the Scraper; it borrows the loop, the store and the registry.
// Threads: the control loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "config/project.h"
#include "engine/engine.h"
#include "http/client.h"
#include "net/event_loop.h"
#include "promql/exposition.h"
#include "promql/series_store.h"
#include "telemetry/metrics.h"

namespace slipway::scrape {

// Adds the target's labels to scraped samples: a conflicting scraped label becomes
// exported_<name> (exported_exported_<name> if that is taken too). Sorts each sample's labels.
void AddTargetLabels(const promql::Labels& target, std::vector<promql::ExpositionSample>* samples);

class Scraper {
 public:
  struct Options {
    net::EventLoop* loop = nullptr;
    Clock* clock = Clock::Real();
    promql::SeriesStore* store = nullptr;
    telemetry::Registry* registry = nullptr;  // scrape and store metrics (nullptr: none)
    std::function<std::vector<engine::ServiceEndpoints>()> endpoints;  // Engine::Endpoints
    std::function<const config::Project&()> project;                   // the project as now loaded
    uint64_t max_body = 16u << 20;  // bytes of one answer (decoded)
    promql::ExpositionLimits limits;
    Duration tick{250};  // how often due targets are looked for
  };

  explicit Scraper(Options opts);
  ~Scraper();

  // Re-reads the project's settings (the store's retention and budget, which services are
  // scraped, the static targets) and the ready instances: call it when the engine's topology
  // changed; the tick also does every 5 s, so a reload that changes only settings is seen.
  void Refresh();
  // Asks for a Refresh() at the next tick (safe from any callback, even during teardown).
  void MarkChanged() { changed_ = true; }
  // Refreshes, then starts the tick timer on the loop.
  void Start();

  // The targets and their last scrape, for GET /api/v1/targets (Prometheus' shape).
  nlohmann::json TargetsJson() const;
  size_t target_count() const { return targets_.size(); }

 private:
  struct Target {
    std::string key;        // source key in the store
    promql::Labels labels;  // job, instance, service?, release?
    http::Endpoint ep;      // host:port, built once
    std::string path;
    Duration interval{15'000}, timeout{10'000};
    int64_t next_ms = 0;
    bool in_flight = false;
    int64_t last_ms = 0;
    double last_duration_s = 0;
    std::string last_error;
    bool up = false;
    bool scraped = false;
  };
  void Arm();
  void Tick();
  void Scrape(const std::shared_ptr<Target>& t, int64_t now);
  void Finish(const std::shared_ptr<Target>& t, int64_t start_ms, Result<std::string> body);
  // Sets the store's gauges and counters: after each ingest and each Refresh (not per tick:
  // nothing else of the scraper changes the store).
  void ExportStoreMetrics();

  // The registry's children, looked up once (all nullptr without a registry).
  struct StoreMetrics {
    telemetry::Gauge* series = nullptr;
    telemetry::Gauge* bytes = nullptr;
    telemetry::Gauge* budget_bytes = nullptr;
    telemetry::Gauge* samples = nullptr;
    telemetry::Gauge* targets = nullptr;
    telemetry::Counter* evicted_chunks = nullptr;
    telemetry::Counter* evicted_samples = nullptr;
    telemetry::Counter* out_of_order = nullptr;
  };

  Options opts_;
  StoreMetrics metrics_;
  int64_t last_refresh_ms_ = 0;
  bool changed_ = false;
  std::map<std::string, std::shared_ptr<Target>> targets_;  // by key
  uint64_t exported_evicted_chunks_ = 0, exported_evicted_samples_ = 0, exported_ooo_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::scrape
