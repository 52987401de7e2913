// The admin API's routes: what the daemon serves on `.slipway/api.sock` and on its TCP address.
// RegisterRoutes() (routes.cc) is the one table of every route with its access level and body
// limit; each topic's requests and handlers live in its own file:
//   project_routes.cc   /health /metrics ps up start stop restart down logs events,
//                       events/stream (ps, live: Server-Sent Events, api/live.h),
//                       project/load (the files the project runs with)
//   deploy_routes.cc    deploy, deploy progress, rollback, releases
//   flags_routes.cc     the flags admin API and OFREP (its own read tokens)
//   alerts_routes.cc    alerts, rule tests, /health/detailed
//   maintenance_routes.cc  maintenance mode
//   daemon_routes.cc    the daemon itself: who runs, since when, from which binary; restart
//   certs_routes.cc     certificates from the ACME CA: state, expiry, next attempt
//   query_routes.cc     Prometheus' query API over the series store; scrape targets
//   ui_routes.cc        the dashboard's files at /ui/ and its logins (/api/v1/session)
//   access_routes.cc    per-user tokens (/api/v1/tokens) and the audit trail (/api/v1/audit)
//   databases_routes.cc backups (list, create, verify), migrations (status, tool runs)
//   dashboard_routes.cc the dashboard's panels (x-slipway.dashboard)
// Request and answer bodies are JSON; errors {"error": "...", "exit": 1|2} (api/reply.h).
//
// Ownership: RouteDeps borrows everything; the daemon keeps it all alive while its servers run.
// Threads: the control loop only.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/fields.h"
#include "api/router.h"
#include "config/loader.h"

namespace slipway {
class Redactor;
namespace api {
class TokenRegistry;
class AuditLog;
}  // namespace api
namespace engine {
class Engine;
}
namespace runtime {
class LogStore;
}
namespace store {
class Store;
struct ProjectLoad;
}  // namespace store
namespace deploy {
class Deployer;
class ReleaseStore;
}  // namespace deploy
namespace flags {
class FlagService;
class OfrepHandler;
}  // namespace flags
namespace alerts {
class AlertingService;
}
namespace acme {
struct CertStatusRow;
}
namespace net {
class EventLoop;
}  // namespace net
namespace promql {
class SeriesStore;
}
}  // namespace slipway

namespace slipway::api {

// Maintenance mode is the daemon's state (it shapes the proxy's routes): the routes reach it
// through this port.
class MaintenanceControl {
 public:
  virtual ~MaintenanceControl() = default;
  // service → the message its requests are answered with.
  virtual const std::map<std::string, std::string>& MaintenanceMessages() const = 0;
  // Turns maintenance of `service` on (with `message`, "" = the default text) or off.
  virtual Status SetMaintenance(const std::string& service, bool on, std::string message) = 0;
};

// What the daemon says of itself (GET /api/v1/daemon): `status`, and `up` deciding whether
// the binary on disk is newer than the one that runs.
struct DaemonInfo {
  int64_t pid = 0;
  int64_t started_ms = 0;   // Unix ms
  int generation = 0;       // the keeper's count of daemons started (0: no keeper)
  std::string start_cause;  // "first", "crash" or "handover" ("" without a keeper)
  int64_t keeper_pid = 0;   // 0: no keeper
  int64_t keeper_started_ms = 0;
  std::string binary;           // the file the daemon was started from
  int64_t binary_mtime_ns = 0;  // that file's mtime and inode when the daemon started
  uint64_t binary_inode = 0;
  bool handing_over = false;  // a restart is under way: a successor takes over
};

// DaemonInfo on the wire (GET /api/v1/daemon) and back. ParseDaemonInfo never throws: a field
// of the wrong type is an error naming it; fields it does not know (a newer daemon) are skipped.
nlohmann::json DaemonInfoJson(const DaemonInfo& info);
Result<DaemonInfo> ParseDaemonInfo(const nlohmann::json& body);

// The daemon's own life, reached by the routes through this port.
class DaemonControl {
 public:
  virtual ~DaemonControl() = default;
  virtual DaemonInfo Info() const = 0;
  // Starts a zero-downtime handover to a successor daemon (the binary on disk): this daemon
  // stops accepting, its keeper starts the successor, which adopts the services; this one
  // exits once its open connections have finished or after `drain_timeout`. Returns at once.
  // FailedPrecondition (nothing changes) without a keeper, during a deploy or a database job,
  // or while a handover is already under way.
  virtual Status Restart(Duration drain_timeout) = 0;
};

struct RouteDeps {
  engine::Engine* engine = nullptr;
  runtime::LogStore* logs = nullptr;
  store::Store* store = nullptr;
  deploy::Deployer* deployer = nullptr;
  deploy::ReleaseStore* releases = nullptr;
  flags::FlagService* flags = nullptr;
  flags::OfrepHandler* ofrep = nullptr;
  std::string default_flag_environment = "default";
  alerts::AlertingService* alerting = nullptr;
  MaintenanceControl* maintenance = nullptr;
  DaemonControl* daemon = nullptr;
  // Secret values of the project, scrubbed from every answer that can carry them; routes
  // that load the project again add what it declares (config::SecretsOf).
  Redactor* redactor = nullptr;
  // The environment the project was last loaded with (the daemon's start, `up`, a deploy). A
  // deploy that asks for it (`reuse_environ`: the dashboard's, whose browser has no shell)
  // loads the project with it, so `${VAR}` means what it meant for the running project.
  // Control loop only; never answered (it may hold secrets). nullptr: such a deploy has none.
  std::map<std::string, std::string>* load_environ = nullptr;
  std::function<std::string()> metrics;         // Prometheus text of the registry
  const promql::SeriesStore* series = nullptr;  // the scraped series (nullptr: no query API)
  // The step of a subquery written without one (`x[5m:]`): the project's evaluation interval
  // (x-slipway.alerts.interval), as Prometheus uses its global evaluation_interval.
  int64_t subquery_step_ms = 60'000;
  // The control loop the routes run on: long answers (range queries) are computed in slices
  // posted to it. nullptr computes them in one go (unit tests).
  net::EventLoop* loop = nullptr;
  std::function<nlohmann::json()> targets;  // the scrape targets (GET /api/v1/targets)
  std::function<void(nlohmann::json* rows)> decorate_ps;  // adds traffic columns to `ps`
  std::function<void()> shutdown;                         // after `down` answered
  // Publishes the proxy's routes now (the daemon's RoutePublisher::PublishUnlessHeld): `up`,
  // `start` and `restart` answer with its failure (a published port that cannot be bound). nullptr:
  // nothing to publish.
  std::function<Status()> publish_routes;
  bool public_metrics = true;  // x-slipway.api.public_metrics
  // The ACME certificates' state now; nullopt (or no function) when the project orders none
  // (x-slipway.tls.acme).
  std::function<std::optional<std::vector<acme::CertStatusRow>>()> certs;
  // Renews an ACME certificate now, whatever its plan: `done` is called on the loop, now or
  // later (the ingress answering), with OK once the renewal started (NotFound: not ordered;
  // FailedPrecondition: the project orders none). The attempt's outcome is an event.
  std::function<void(const std::string& name, std::function<void(Status)> done)> renew_cert;
  TokenRegistry* tokens = nullptr;  // per-user tokens (nullptr: their routes answer 503)
  AuditLog* audit = nullptr;        // the audit trail (nullptr: GET /api/v1/audit answers 503)
  // The project the daemon runs now (its databases, the dashboard's panels); may return
  // nullptr (no function: the same). The pointer is valid during the call on the loop.
  std::function<const config::Project*()> project;
  // Database work off the control loop (daemon/database_jobs.h), `done` called on the loop
  // with a one-line summary: a verified backup of `database` now, and a verify (restore and
  // check) of catalogued backup `id`. Unset: POST /api/v1/backups[/{id}/verify] answer 503.
  std::function<void(const std::string& database, std::function<void(Status, std::string)> done)>
      backup_now;
  std::function<void(int64_t id, std::function<void(Status, std::string)> done)> verify_backup;
  // Each database's migration status, asked off the loop (DatabaseJobs::MigrationStatus);
  // `done` on the loop with one object per database. Unset: GET /api/v1/migrations has none.
  std::function<void(std::function<void(nlohmann::json)> done)> migration_status;
};

void RegisterRoutes(Router& router, const RouteDeps& deps);

// Topic registrations (called by RegisterRoutes; each file's routes in one place).
void RegisterProjectRoutes(Router& router, const RouteDeps& deps);
void RegisterDeployRoutes(Router& router, const RouteDeps& deps);
void RegisterFlagsRoutes(Router& router, const RouteDeps& deps);
void RegisterAlertsRoutes(Router& router, const RouteDeps& deps);
void RegisterMaintenanceRoutes(Router& router, const RouteDeps& deps);
void RegisterDaemonRoutes(Router& router, const RouteDeps& deps);
void RegisterCertsRoutes(Router& router, const RouteDeps& deps);
void RegisterQueryRoutes(Router& router, const RouteDeps& deps);
void RegisterUiRoutes(Router& router, const RouteDeps& deps);
void RegisterAccessRoutes(Router& router, const RouteDeps& deps);
void RegisterDatabasesRoutes(Router& router, const RouteDeps& deps);
void RegisterDashboardRoutes(Router& router, const RouteDeps& deps);

// LoadOptions travel from the CLI to the daemon so `up` and `deploy` load the project with
// the caller's files, profiles and environment.
nlohmann::json LoadOptionsToJson(const config::LoadOptions& o);
// Reads `load` (checked, errors as "load.files[1]: expected a string, got an integer").
config::LoadOptions LoadOptionsFromFields(const nlohmann::json& load, BodyFields* parent);

// What the daemon remembers of a load that succeeded (store::ProjectLoad): the options as
// named, with the compose files made explicit (the found ones when none were named, so a
// later command cannot discover other files) and every file the project was read from.
store::ProjectLoad ProjectLoadOf(const config::LoadOptions& o, const config::Project& p);
// The options to load the remembered project with again, in `environ`.
config::LoadOptions LoadOptionsOf(const store::ProjectLoad& l,
                                  std::map<std::string, std::string> environ);
// GET /api/v1/project/load answers this; the CLI reads it back with ProjectLoadFromJson.
nlohmann::json ProjectLoadToJson(const store::ProjectLoad& l);
Result<store::ProjectLoad> ProjectLoadFromJson(const nlohmann::json& j);

}  // namespace slipway::api
