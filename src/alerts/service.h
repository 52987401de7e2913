// AlertingService: what the daemon constructs to get alerting and the detailed health view.
//
// Owns the RuleEvaluator (project rules + enabled built-ins) and the Notifier, ticks them on
// the control loop (evaluation every `x-slipway.alerts.interval`, notifications every second)
// after refreshing the service and disk metrics the built-in rules read, and answers:
//   GET /api/v1/alerts                 {"rules", "alerts", "history", "notifications"}
//   GET /api/v1/alerts/test?q=RULE|EXPR  {"result": [{"labels", "value"}] | "scalar"}
//   GET /health/detailed               services, proxy, store, overall ok|degraded|down
//                                      (HTTP 200 for ok and degraded, 503 for down)
// Daemon wiring (three lines): construct after the engine, call Start(), and route requests
// through Handle() (it returns false for paths it does not own).
//
// Ownership: the daemon owns this; it borrows the loop, store, registry and the callbacks.
// Threads: the control loop's thread only.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "alerts/notifier.h"
#include "alerts/rules.h"
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
  Clock* clock = Clock::Real();
  std::filesystem::path state_dir;     // for the disk-space metric
  std::function<nlohmann::json()> ps;  // Engine::Ps()
  std::function<bool()> proxy_ok;      // the proxy runs (nullptr: not reported)
  std::string external_url;            // the API address, for notification links
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

  // Answers the routes above; false when `req` is not one of them.
  bool Handle(const http::Request& req, http::ResponseWriter& w);

  nlohmann::json AlertsJson() const;
  // The /health/detailed body and its HTTP status.
  std::pair<int, nlohmann::json> HealthDetailed() const;

  RuleEvaluator& evaluator() { return *evaluator_; }
  Notifier& notifier() { return *notifier_; }

 private:
  explicit AlertingService(ServiceDeps deps) : deps_(std::move(deps)) {}
  void ScheduleEval();
  void ScheduleNotify();

  ServiceDeps deps_;
  Duration interval_{15'000};
  std::unique_ptr<RuleEvaluator> evaluator_;
  std::unique_ptr<Notifier> notifier_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace slipway::alerts
