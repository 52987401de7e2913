// DeployMetrics: what deploys did, as metrics in the registry (so /metrics, the series store,
// rules and /api/v1/query see them):
//
//   slipway_deploys_total{service,strategy,result}   counter; result: succeeded, rolled_back,
//                                                     failed (a paused deploy counts as failed)
//   slipway_deploy_duration_seconds{service,strategy} histogram, start to end of the job
//   slipway_rollbacks_total{service,reason}           counter; reason: health, error_rate,
//                                                     latency, crash, manual
//   slipway_deploy_detection_seconds{service}         histogram: from the switch of traffic to
//                                                     the analysis' breach (from the job's start
//                                                     when no traffic had moved)
//
// The job runner (deploy/job_runner.h) and the deployer's warm rollback call it from their
// typed outcomes; nothing parses logs. Manual rollbacks count in slipway_rollbacks_total
// only, not as deploys.
//
// Ownership: the daemon owns it; it borrows the registry. Threads: the control loop (the
// registry itself may be read from any thread).
#pragma once

#include <string>
#include <string_view>

#include "telemetry/metrics.h"

namespace slipway::deploy {

enum class DeployResult { kSucceeded, kRolledBack, kFailed };
std::string_view DeployResultName(DeployResult r);  // "succeeded", "rolled_back", "failed"

enum class RollbackReason { kHealth, kErrorRate, kLatency, kCrash, kManual };
// "health", "error_rate", "latency", "crash", "manual".
std::string_view RollbackReasonName(RollbackReason r);

class DeployMetrics {
 public:
  explicit DeployMetrics(telemetry::Registry* registry) : reg_(registry) {}

  void Deployed(const std::string& service, std::string_view strategy, DeployResult result,
                double seconds);
  void RolledBack(const std::string& service, RollbackReason reason);
  void Detected(const std::string& service, double seconds);

  // Detection and duration buckets: a deploy takes seconds to many minutes.
  static const std::vector<double>& DurationBuckets();

 private:
  telemetry::Registry* reg_;
};

}  // namespace slipway::deploy
