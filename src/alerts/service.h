// AlertingService: what the daemon constructs to get alerting and the detailed health view.
//
// Owns the RuleEvaluator (project rules + enabled built-ins) and the Notifier, ticks them on
// the control loop (evaluation every `x-slipway.alerts.interval`, or the greatest common
// divisor of it and the rule files' group intervals, each group evaluated when due;
// notifications every second)
// after refreshing the service and disk metrics the built-in rules read, and provides what
// these routes answer:
//   GET /api/v1/alerts                 {"rules", "alerts", "history", "notifications"}; each
//                                      alert has "silenced_by": the ids of the live silences
//                                      that match it ([] for none)
//   /api/v1/silences                   list, add, expire (silences.h; the routes read
//                                      silences())
//   GET /api/v1/alerts/test?q=RULE|EXPR  {"result": [{"labels", "value"}] | "scalar"}
//   GET /health/detailed               services, proxy, store, databases, overall
//                                      ok|degraded|down (HTTP 200 for ok and degraded, 503
//                                      for down). A database that does not answer makes it
//                                      degraded, not down: the daemon and the services still
//                                      serve (some requests may fail), and a 503 here would
//                                      make a load balancer drop the whole host.
// Deploy outcomes become one-shot notifications through the same routes (NotifyDeploy()):
// labels {alertname="SlipwayDeploy", service, kind, severity}; never an alert state.
// Daemon wiring: construct after the engine and call Start(); the admin API's routes
// (api/alerts_routes.cc) answer from AlertsJson(), Test() and HealthDetailed().
//
// Ownership: the daemon owns this; it borrows the loop, store, registry and the callbacks.
// Threads: the control loop's thread only.
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerts/builtin.h"
#include "alerts/db_probe.h"
#include "alerts/notifier.h"
#include "alerts/rules.h"
#include "alerts/silences.h"
#include "config/project.h"
#include "http/server.h"
#include "net/event_loop.h"
#include "store/store.h"
#include "telemetry/metrics.h"

namespace slipway::alerts {

struct ServiceDeps {
  net::EventLoop* loop = nullptr;
  store::Store* store = nullptr;
  telemetry::Registry* registry = nullptr;
  promql::SeriesStore* series = nullptr;  // the daemon's series store (nullptr: the evaluator's)
  Clock* clock = Clock::Real();
  std::filesystem::path state_dir;  // for the disk-space metric
  // Engine::Ps() rows: typed for the service metrics, as the API shows them (api::PsJson) for
  // /health/detailed, which lists them.
  std::function<std::vector<ServiceInstanceRow>()> service_rows;
  std::function<nlohmann::json()> ps;
  std::function<bool()> proxy_ok;    // the proxy runs (nullptr: not reported)
  std::string external_url;          // the API address, for notification links
  Duration db_probe_timeout{3000};   // per `SELECT 1` of a database
  Duration db_probe_interval{5000};  // pause between probe rounds
};

// A finished deploy or rollback (mirrors deploy::DeployEvent; alerts does not depend on the
// deployer). kind: deployed | rolled-back | failed | manual-rollback.
struct DeployNotice {
  std::string service;
  int64_t release = 0;
  std::string version;
  std::string strategy;
  std::string kind;
  std::string reason;
  nlohmann::json numbers = nlohmann::json::object();
};

class AlertingService {
 public:
  static Result<std::unique_ptr<AlertingService>> Create(const config::Project& project,
                                                         ServiceDeps deps);
  ~AlertingService();

  // Schedules the evaluation and notification timers on the loop.
  void Start();
  // One evaluation round now (also what the timer runs).
  Status EvaluateOnce();

  // Sends a deploy outcome through the notification routes at once (a one-shot: resolved
  // from the start, so Alertmanager gets endsAt and nothing shows as firing). Severity is
  // "info" for deployed and manual-rollback, "warning" for failed and rolled-back.
  void NotifyDeploy(const DeployNotice& e);

  // Evaluates a rule name or an expression now: {"result": [...]} or {"scalar": ...}.
  Result<nlohmann::json> Test(const std::string& expr);

  // An alert as listed: the evaluator's, and the live silences that hold it back.
  struct ListedAlert {
    Alert alert;
    std::vector<std::string> silenced_by;  // silence ids
  };
  // Pending, firing and recently resolved alerts, firing first (typed: what AlertsJson lists).
  std::vector<ListedAlert> ListAlerts() const;
  // {"rules", "alerts" (ListAlerts, each with "silenced_by"), "history", "notifications"}.
  nlohmann::json AlertsJson() const;
  // The /health/detailed body and its HTTP status.
  std::pair<int, nlohmann::json> HealthDetailed() const;

  RuleEvaluator& evaluator() { return *evaluator_; }
  Notifier& notifier() { return *notifier_; }
  Silences& silences() { return *silences_; }
  Clock* clock() const { return deps_.clock; }
  DatabaseProber* databases() { return prober_.get(); }  // nullptr: no databases

 private:
  explicit AlertingService(ServiceDeps deps) : deps_(std::move(deps)) {}
  void ScheduleEval();
  void ScheduleNotify();

  ServiceDeps deps_;
  Duration interval_{15'000};
  std::unique_ptr<RuleEvaluator> evaluator_;
  std::unique_ptr<Silences> silences_;  // before the notifier, which borrows it
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<DatabaseProber> prober_;
  std::deque<nlohmann::json> events_;  // the last deploy notices, newest last
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::alerts
