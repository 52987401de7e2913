// Export of the parts of a project that other modules own: deploy strategies
// (blue-green / canary → Argo Rollouts), HTTP routes (→ Ingress), migrations
// (→ a Job before the rollout) and backup schedules (→ CronJobs).
//
// Each part has a plain input struct and two functions: `...Of(project)` reads it
// from the Project model (an adapter: it is the only code that changes when the
// model's fields change) and `Render...` builds the objects from the struct, so
// the rendering is tested on its own. Stateless; any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "config/project.h"

namespace slipway::exporter {

// What every rendered object of one service shares.
struct ObjectMeta {
  std::string project;
  std::string namespace_name;  // "" = none
  std::string service;         // compose name
  std::string name;            // Kubernetes name (KubeName of the service)
};

// app.kubernetes.io/* labels; `selector` is the subset used in selectors.
nlohmann::json Labels(const ObjectMeta& m, const std::string& component);
nlohmann::json SelectorLabels(const ObjectMeta& m);
// {name, namespace?, labels} for an object called `name`.
nlohmann::json Metadata(const ObjectMeta& m, const std::string& name,
                        const std::string& component);

// ---- Deploy strategies -------------------------------------------------------

struct AnalysisMetric {
  std::string name;      // the metric Slipway's own analysis reads, e.g. "error_rate"
  std::string query;     // Prometheus query over the same metric names
  std::string condition; // successCondition, e.g. "result[0] <= 0.05"
  Duration interval{60'000};
  int failure_limit = 1;
};

struct CanaryStep {
  int weight = 0;          // setWeight; 0 with a pause = pause only
  Duration pause{0};       // 0 = no pause step; negative = pause until promoted
};

struct Strategy {
  enum class Kind { kRolling, kBlueGreen, kCanary };
  Kind kind = Kind::kRolling;
  std::vector<CanaryStep> steps;         // canary
  bool auto_promote = true;              // blue-green
  std::vector<AnalysisMetric> analysis;  // thresholds → AnalysisTemplate
};

// Prometheus queries over the metric names Slipway's proxy exports
// (slipway_http_requests_total{route,set,code_class},
// slipway_http_request_duration_seconds_bucket{route,set,le}), for `route` and the
// Argo Rollouts canary/preview pods' `set`. In a cluster something must export the
// same names (docs/kubernetes.md).
std::string ErrorRateQuery(const std::string& route, const std::string& set);
std::string LatencyQuantileQuery(const std::string& route, const std::string& set, double q);

// The service's strategy from the model (rolling while x-slipway.deploy is not modelled).
Strategy StrategyOf(const config::Project& p, const config::Service& s);

// A Rollout that replaces `deployment` (apps/v1 Deployment JSON): same pod template
// and replicas; blue-green uses `active_service` and `preview_service`, canary the steps.
// `analysis_template` names the AnalysisTemplate ("" = none).
nlohmann::json RenderRollout(const ObjectMeta& m, const nlohmann::json& deployment,
                             const Strategy& st, const std::string& active_service,
                             const std::string& preview_service,
                             const std::string& analysis_template);
// The AnalysisTemplate for the strategy's metrics (st.analysis must not be empty);
// `prometheus_address` is the Prometheus the cluster's Argo Rollouts queries.
nlohmann::json RenderAnalysisTemplate(const ObjectMeta& m, const Strategy& st,
                                      const std::string& prometheus_address);

// ---- Routes ------------------------------------------------------------------

struct Route {
  std::string service;  // compose service name
  std::string host;     // "" = any host
  std::string path = "/";
  int port = 0;         // Service port the Ingress sends to
};

std::vector<Route> RoutesOf(const config::Project& p);
// One Ingress for all routes (`service_names`: compose name → Service name).
nlohmann::json RenderIngress(const std::string& project, const std::string& namespace_name,
                             const std::vector<Route>& routes,
                             const std::map<std::string, std::string>& service_names);

// ---- Migrations and backups --------------------------------------------------

struct Migration {
  std::string service;   // whose image runs `slipway migrate up`
  std::string database;  // database name in x-slipway.databases
};

struct BackupSchedule {
  std::string name;      // schedule name
  std::string service;   // whose image runs `slipway backup create`
  std::string database;
  std::string cron;      // "0 3 * * *"
};

std::vector<Migration> MigrationsOf(const config::Project& p);
std::vector<BackupSchedule> BackupsOf(const config::Project& p);

// A Job running `slipway migrate up` in `pod_spec` (the service's pod spec),
// annotated so Helm and Argo CD run it before the rollout.
nlohmann::json RenderMigrationJob(const ObjectMeta& m, const Migration& mig,
                                  const nlohmann::json& pod_spec);
nlohmann::json RenderBackupCronJob(const ObjectMeta& m, const BackupSchedule& b,
                                   const nlohmann::json& pod_spec);

}  // namespace slipway::exporter
