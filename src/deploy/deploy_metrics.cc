#include "deploy/deploy_metrics.h"

namespace slipway::deploy {

std::string_view DeployResultName(DeployResult r) {
  switch (r) {
    case DeployResult::kSucceeded:
      return "succeeded";
    case DeployResult::kRolledBack:
      return "rolled_back";
    case DeployResult::kFailed:
      return "failed";
  }
  return "failed";
}

std::string_view RollbackReasonName(RollbackReason r) {
  switch (r) {
    case RollbackReason::kHealth:
      return "health";
    case RollbackReason::kErrorRate:
      return "error_rate";
    case RollbackReason::kLatency:
      return "latency";
    case RollbackReason::kCrash:
      return "crash";
    case RollbackReason::kManual:
      return "manual";
  }
  return "health";
}

const std::vector<double>& DeployMetrics::DurationBuckets() {
  static const std::vector<double> kBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,   10,
                                               30,  60,   120, 300, 600, 1800};
  return kBuckets;
}

void DeployMetrics::Deployed(const std::string& service, std::string_view strategy,
                             DeployResult result, double seconds) {
  const std::string s(strategy);
  reg_->GetCounter("slipway_deploys_total", "Deploys that ended, by strategy and result.",
                   {"service", "strategy", "result"},
                   {service, s, std::string(DeployResultName(result))})
      ->Add(0);
  reg_->GetHistogram("slipway_deploy_duration_seconds",
                     "How long deploys took, from their start to their end.",
                     {"service", "strategy"}, {service, s}, DurationBuckets())
      ->Observe(0, seconds);
}

void DeployMetrics::RolledBack(const std::string& service, RollbackReason reason) {
  reg_->GetCounter("slipway_rollbacks_total", "Rollbacks, by reason.", {"service", "reason"},
                   {service, std::string(RollbackReasonName(reason))})
      ->Add(0);
}

void DeployMetrics::Detected(const std::string& service, double seconds) {
  reg_->GetHistogram("slipway_deploy_detection_seconds",
                     "Time from the switch of traffic to the new release until the analysis "
                     "found it bad.",
                     {"service"}, {service}, DurationBuckets())
      ->Observe(0, seconds);
}

}  // namespace slipway::deploy
