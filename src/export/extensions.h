// Export of the parts of a project that other modules own: deploy strategies
// (blue-green / canary → Argo Rollouts), HTTP routes (→ Ingress), migrations
// (→ a Job before the rollout) and backup schedules (→ CronJobs).
//
// Each part has a plain input struct and two functions: `...Of(project)` reads it
// from the Project model (an adapter: it is the only code that changes when the
// model's fields change) and `Render...` builds the objects from the struct, so
// the rendering is tested on its own. Stateless; any thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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
nlohmann::json Metadata(const ObjectMeta& m, const std::string& name, const std::string& component);
// {apiVersion, kind, metadata, <spec_name>: spec}: one Kubernetes object.
nlohmann::json Object(const std::string& api, const std::string& kind, nlohmann::json metadata,
                      nlohmann::json spec, const std::string& spec_name = "spec");

// ---- Deploy strategies -------------------------------------------------------

struct AnalysisMetric {
  std::string name;       // the metric Slipway's own analysis reads, e.g. "error_rate"
  std::string query;      // Prometheus query over the same metric names
  std::string condition;  // successCondition, e.g. "result[0] <= 0.05"
  Duration interval{60'000};
  int failure_limit = 1;
};

struct CanaryStep {
  int weight = 0;     // setWeight; 0 with a pause = pause only
  Duration pause{0};  // 0 = no pause step; negative = pause until promoted
};

struct Strategy {
  // kRolling: compose update_config (also when x-slipway.deploy.strategy is unset);
  // kRecreate: a Deployment of type Recreate.
  enum class Kind { kRolling, kRecreate, kBlueGreen, kCanary };
  Kind kind = Kind::kRolling;
  std::vector<CanaryStep> steps;         // canary
  bool auto_promote = true;              // blue-green
  Duration scale_down_delay{0};          // blue-green: old set kept after the switch; 0 = Argo's
  Duration progress_deadline{0};         // the new set must be ready within; 0 = Argo's
  std::vector<AnalysisMetric> analysis;  // thresholds → AnalysisTemplate
  // Settings of x-slipway.deploy the Rollout cannot express ("smoke: ..."), for the notes.
  std::vector<std::string> unmapped;
};

// Queries may name the new pods' set as "{{args.set}}": the AnalysisTemplate then declares
// the argument and the Rollout passes the new ReplicaSet's pod-template-hash.
inline constexpr char kSetArg[] = "{{args.set}}";

// Prometheus queries over the metric names Slipway's proxy exports
// (slipway_http_requests_total{route,set,code_class},
// slipway_http_request_duration_seconds_bucket{route,set,le}), for `route` and the
// Argo Rollouts canary/preview pods' `set`. In a cluster something must export the
// same names (docs/kubernetes.md).
std::string ErrorRateQuery(const std::string& route, const std::string& set);
std::string LatencyQuantileQuery(const std::string& route, const std::string& set, double q);

// The service's strategy from x-slipway.deploy: blue-green / canary / recreate when set
// explicitly; unset or "rolling" is kRolling (compose update_config). The analysis
// thresholds become an error-rate and a p95 metric over the service's route and kSetArg.
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
  std::string service;  // compose service name (RenderIngress: mapped by service_names)
  std::string host;     // "" = any host
  std::string path = "/";
  int port = 0;         // RoutesOf: the container port (0 = unknown); RenderIngress: Service port
  int listen_port = 0;  // Slipway's listener (an Ingress serves 80/443)
  std::string listen_host;  // "0.0.0.0" = every interface
  bool strip_prefix = false;
  std::string where;  // "x-slipway.routes[2]", for notes
};

// x-slipway.routes, in declaration order.
std::vector<Route> RoutesOf(const config::Project& p);
// One Ingress for all routes (`service_names`: compose name → Service name).
nlohmann::json RenderIngress(const std::string& project, const std::string& namespace_name,
                             const std::vector<Route>& routes,
                             const std::map<std::string, std::string>& service_names);

// ---- Migrations and backups --------------------------------------------------

// The database a migration Job or backup CronJob works on. The model names no owning
// service: the owner is the service whose environment holds the database's url (a
// long-running one first, then by name), and the Job reads the url from that variable
// at run time (`--url $(VAR)`), so no credentials are written into the manifests.
struct Migration {
  std::string service;       // whose image runs `slipway migrate up`; "" = no owner found
  std::string database;      // database name in x-slipway.databases
  std::string url_env;       // the owner's variable holding the url ("" = use --db, not --url)
  std::string dir;           // migrations folder as written (relative to the image's workdir)
  std::string format;        // "" or "auto" = detect
  std::string lock_timeout;  // "" = default; else Go-style ("2m")
  bool sqlite = false;       // the url is a SQLite file (not shared between pods)
  // A team's own tool (migrations: {tool: ...}): the Job runs `tool_up` (`sh -c`) in the
  // service's image instead of `slipway migrate up`. "" = the built-in SQL runner.
  std::string tool;      // "alembic", ..., "commands"
  std::string tool_up;   // e.g. "alembic upgrade head"
  std::string tool_dir;  // working folder as written (only an absolute one is kept)
};

struct BackupSchedule {
  std::string name;     // names the CronJob: <service>-backup-<name> (the database)
  std::string service;  // whose image runs `slipway backup create`; "" = no owner found
  std::string database;
  std::string cron;      // "0 3 * * *" (UTC)
  std::string url_env;   // as Migration::url_env
  bool catch_up = true;  // false: a run missed by more than 5 minutes is skipped
};

// One per database in x-slipway.databases (each has a migrations folder).
std::vector<Migration> MigrationsOf(const config::Project& p);
// One per database x-slipway.backups.databases names (every database when empty), when
// x-slipway.backups.schedule is set.
std::vector<BackupSchedule> BackupsOf(const config::Project& p);

// A Job running `slipway migrate up` (or the database's own tool's `up` command) in
// `pod_spec` (the service's pod spec),
// annotated so Helm and Argo CD run it before the rollout.
nlohmann::json RenderMigrationJob(const ObjectMeta& m, const Migration& mig,
                                  const nlohmann::json& pod_spec);
nlohmann::json RenderBackupCronJob(const ObjectMeta& m, const BackupSchedule& b,
                                   const nlohmann::json& pod_spec);

}  // namespace slipway::exporter
