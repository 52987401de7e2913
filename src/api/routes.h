// The admin API's routes: what the daemon serves on `.slipway/api.sock` and on its TCP address.
// RegisterRoutes() (routes.cc) is the one table of every route with its access level and body
// limit; each topic's requests and handlers live in its own file:
//   project_routes.cc   /health /metrics ps up start stop restart down logs events
//   deploy_routes.cc    deploy, deploy progress, rollback, releases
//   flags_routes.cc     the flags admin API and OFREP (its own read tokens)
//   alerts_routes.cc    alerts, rule tests, /health/detailed
//   maintenance_routes.cc  maintenance mode
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

#include "api/fields.h"
#include "api/router.h"
#include "config/loader.h"

namespace slipway {
class Redactor;
namespace engine {
class Engine;
}
namespace runtime {
class LogStore;
}
namespace store {
class Store;
}
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
  // Secret values of the project, scrubbed from every answer that can carry them; routes
  // that load the project again add what it declares (config::SecretsOf).
  Redactor* redactor = nullptr;
  std::function<std::string()> metrics;                   // Prometheus text of the registry
  std::function<void(nlohmann::json* rows)> decorate_ps;  // adds traffic columns to `ps`
  std::function<void()> shutdown;                         // after `down` answered
  bool public_metrics = true;                             // x-slipway.api.public_metrics
};

void RegisterRoutes(Router& router, const RouteDeps& deps);

// Topic registrations (called by RegisterRoutes; each file's routes in one place).
void RegisterProjectRoutes(Router& router, const RouteDeps& deps);
void RegisterDeployRoutes(Router& router, const RouteDeps& deps);
void RegisterFlagsRoutes(Router& router, const RouteDeps& deps);
void RegisterAlertsRoutes(Router& router, const RouteDeps& deps);
void RegisterMaintenanceRoutes(Router& router, const RouteDeps& deps);

// LoadOptions travel from the CLI to the daemon so `up` and `deploy` load the project with
// the caller's files, profiles and environment.
nlohmann::json LoadOptionsToJson(const config::LoadOptions& o);
// Reads `load` (checked, errors as "load.files[1]: expected a string, got an integer").
config::LoadOptions LoadOptionsFromFields(const nlohmann::json& load, BodyFields* parent);

}  // namespace slipway::api
