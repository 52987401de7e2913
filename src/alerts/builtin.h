// Built-in alert rules, the Prometheus rule-file export, and the metrics those rules read.
//
// Built-in rules are on unless `x-slipway.alerts.builtin: false` or listed under
// `builtin: {disable: [...]}`:
//   SlipwayServiceUnhealthy   slipway_service_healthy == 0 for 1m          (critical)
//   SlipwayRestartLoop        increase(slipway_service_restarts_total[15m]) > 3   (warning)
//   SlipwayHigh5xxRatio       5xx share of proxied responses > 5% for 5m   (critical)
//   SlipwayHighLatencyP95     p95 of proxied requests > 1s for 10m         (warning)
//   SlipwayStateDiskFull      free space under .slipway < 10% for 5m       (warning)
//   SlipwayStoreDegraded      slipway_store_degraded == 1: writes to state.db fail  (critical)
//   SlipwayTlsCertExpiring    slipway_tls_cert_expiry_seconds < 14 days (x-slipway.tls)  (warning)
// (backup rules join once backups publish their metrics.)
//
// UpdateServiceMetrics/UpdateDiskMetrics/UpdateStoreMetrics keep the gauges and counters the rules
// read; the daemon calls them before each evaluation. Pure functions apart from the registry
// writes; the control loop's thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/alerts_settings.h"
#include "store/write_health.h"
#include "telemetry/metrics.h"

namespace slipway::alerts {

// Every built-in rule, whether enabled or not.
std::vector<config::AlertRuleSpec> BuiltinRules();

// The rules a project evaluates: enabled built-ins, then the project's own. `builtin[i]`
// tells which are built-in.
std::vector<config::AlertRuleSpec> ProjectRules(const config::AlertsSettings& s,
                                                std::vector<bool>* builtin);

// A Prometheus rule file (YAML, one group "slipway") that `promtool check rules` accepts.
std::string ExportPrometheusRules(const std::vector<config::AlertRuleSpec>& rules,
                                  const config::AlertsSettings& s);

// What the service metrics read of one Engine::Ps() row (alerts does not depend on the engine;
// the daemon converts).
struct ServiceInstanceRow {
  enum class State {
    kRunning,
    kCompleted,  // a one-shot job that exited 0: done, never unhealthy
    kDown,       // exited (not 0) or failed
    kOther,      // not started, created, backoff, stopping
  };
  std::string service;
  State state = State::kOther;
  bool healthy = true;  // no probe, or the probe passed; read while running
  int64_t restarts = 0;
};

// slipway_service_up{service} (running instances), slipway_service_healthy{service} (1 when
// every running instance is healthy or has no probe and none is down, 0 otherwise),
// slipway_service_completed{service} and slipway_service_restarts_total{service}.
void UpdateServiceMetrics(telemetry::Registry* reg, const std::vector<ServiceInstanceRow>& rows);

// slipway_state_disk_free_bytes / slipway_state_disk_size_bytes of the filesystem at `dir`.
void UpdateDiskMetrics(telemetry::Registry* reg, const std::filesystem::path& dir);

// slipway_store_degraded (1 while the state store's writes fail, store/write_health.h) and
// slipway_store_write_errors_total (failed writes; raised to the store's count, never lowered).
void UpdateStoreMetrics(telemetry::Registry* reg, const store::WriteHealthSnapshot& health);

}  // namespace slipway::alerts
