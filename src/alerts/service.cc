#include "alerts/service.h"

#include <fmt/format.h>

#include <numeric>

#include "alerts/builtin.h"
#include "base/log.h"

namespace slipway::alerts {

using nlohmann::json;

namespace {

json ValueJson(const promql::Value& v) {
  if (v.type == promql::ValueType::kScalar) return {{"scalar", promql::FormatValue(v.scalar)}};
  json rows = json::array();
  for (const promql::Sample& s : v.vector) {
    rows.push_back(
        {{"labels", promql::LabelsToString(s.labels)}, {"value", promql::FormatValue(s.value)}});
  }
  return {{"result", rows}};
}

}  // namespace

AlertingService::~AlertingService() { *alive_ = false; }

Result<std::unique_ptr<AlertingService>> AlertingService::Create(const config::Project& project,
                                                                 ServiceDeps deps) {
  std::unique_ptr<AlertingService> s(new AlertingService(std::move(deps)));
  // The implicit group (built-ins and inline rules) at alerts.interval, then each rule file's
  // groups at their own; the timer ticks at the intervals' greatest common divisor.
  std::vector<RuleGroup> groups(1);
  groups[0].interval_ms = project.alerts.interval.count();
  groups[0].rules = ProjectRules(project.alerts, &groups[0].builtin);
  int64_t tick = project.alerts.interval.count();
  for (const config::RuleGroupSpec& g : project.alerts.groups) {
    RuleGroup rg;
    rg.name = g.name;
    rg.file = g.file;
    rg.interval_ms = g.interval.value_or(project.alerts.interval).count();
    rg.limit = g.limit;
    rg.rules = g.rules;
    tick = std::gcd(tick, rg.interval_ms);
    groups.push_back(std::move(rg));
  }
  s->interval_ = Duration(std::max<int64_t>(tick, 1000));
  RuleEvaluator::Options ro;
  ro.clock = s->deps_.clock;
  ro.store = s->deps_.store;
  ro.series = s->deps_.series;
  ro.registry = s->deps_.registry;
  // Every group's `x[5m:]` steps at the project's evaluation interval, whatever the group's
  // own interval: Prometheus' global evaluation_interval plays that part there.
  ro.subquery_step_ms = project.alerts.interval.count();
  AlertingService* self = s.get();
  ro.scrape = [self] {
    if (self->deps_.service_rows) {
      UpdateServiceMetrics(self->deps_.registry, self->deps_.service_rows());
    }
    if (self->prober_) {
      for (const DatabaseHealth& h : self->prober_->Snapshot()) {
        if (h.status == "unknown") continue;
        self->deps_.registry
            ->GetGauge("slipway_database_up", "1 when the database answered SELECT 1.",
                       {"database"}, {h.name})
            ->Set(0, h.status == "ok" ? 1 : 0);
      }
    }
    if (!self->deps_.state_dir.empty())
      UpdateDiskMetrics(self->deps_.registry, self->deps_.state_dir);
    if (self->deps_.store) {
      UpdateStoreMetrics(self->deps_.registry, self->deps_.store->write_health());
    }
    return self->deps_.registry->RenderPrometheus();
  };
  ASSIGN_OR_RETURN(s->evaluator_, RuleEvaluator::Create(std::move(groups), std::move(ro)));
  ASSIGN_OR_RETURN(s->silences_, Silences::Open(s->deps_.store, s->deps_.clock));
  Notifier::Options no;
  no.silences = s->silences_.get();
  no.clock = s->deps_.clock;
  no.loop = s->deps_.loop;
  no.registry = s->deps_.registry;
  no.external_url = s->deps_.external_url;
  ASSIGN_OR_RETURN(s->notifier_, Notifier::Create(project.notifications, std::move(no)));
  if (!project.databases.empty()) {
    std::vector<DatabaseProbeTarget> targets;
    for (const auto& [name, db] : project.databases) targets.push_back({name, db.url});
    DatabaseProber::Options po;
    po.base_dir = project.dir;
    po.timeout = s->deps_.db_probe_timeout;
    po.interval = s->deps_.db_probe_interval;
    po.clock = s->deps_.clock;
    s->prober_ = std::make_unique<DatabaseProber>(std::move(targets), po);
  }
  return s;
}

void AlertingService::NotifyDeploy(const DeployNotice& e) {
  const bool bad = e.kind == "failed" || e.kind == "rolled-back";
  std::map<std::string, std::string> labels = {{"alertname", "SlipwayDeploy"},
                                               {"service", e.service},
                                               {"kind", e.kind},
                                               {"severity", bad ? "warning" : "info"}};
  std::string what = e.kind == "deployed"          ? "deployed"
                     : e.kind == "manual-rollback" ? "rolled back by hand"
                     : e.kind == "rolled-back"     ? "rolled back automatically"
                     : e.kind == "deploy-paused"   ? "deploy paused"
                     : e.kind == "deploy-resumed"  ? "deploy resumed"
                                                   : "failed";
  std::string summary = fmt::format("{} r{}{} {}{}", e.service, e.release,
                                    e.version.empty() ? "" : " (" + e.version + ")", what,
                                    e.strategy.empty() ? "" : " [" + e.strategy + "]");
  if (!e.reason.empty()) summary += ": " + e.reason;
  std::map<std::string, std::string> annotations = {
      {"summary", summary},   {"release", std::to_string(e.release)},
      {"version", e.version}, {"strategy", e.strategy},
      {"reason", e.reason},   {"numbers", e.numbers.is_null() ? "{}" : e.numbers.dump()}};
  for (auto it = annotations.begin(); it != annotations.end();) {
    it = it->second.empty() ? annotations.erase(it) : std::next(it);
  }
  notifier_->SendEvent(labels, std::move(annotations));
  // group_wait may be 0: deliver now rather than at the next notification tick.
  notifier_->Tick();
  events_.push_back({{"t", deps_.clock->WallMillis()},
                     {"service", e.service},
                     {"release", e.release},
                     {"version", e.version},
                     {"kind", e.kind},
                     {"severity", labels["severity"]},
                     {"summary", summary}});
  while (events_.size() > 20) events_.pop_front();
}

void AlertingService::Start() {
  if (prober_) prober_->Start();
  ScheduleEval();
  ScheduleNotify();
}

Status AlertingService::EvaluateOnce() {
  Status st = evaluator_->Tick();
  notifier_->Update(evaluator_->notify_set());
  notifier_->Tick();
  return st;
}

void AlertingService::ScheduleEval() {
  std::weak_ptr<bool> alive = alive_;
  deps_.loop->RunAfter(interval_, [this, alive] {
    if (alive.expired()) return;
    Status st = EvaluateOnce();
    if (!st.ok()) logging::Warn("alerts", "evaluation: " + st.message());
    ScheduleEval();
  });
}

void AlertingService::ScheduleNotify() {
  std::weak_ptr<bool> alive = alive_;
  deps_.loop->RunAfter(Duration(1000), [this, alive] {
    if (alive.expired()) return;
    notifier_->Tick();
    ScheduleNotify();
  });
}

std::vector<AlertingService::ListedAlert> AlertingService::ListAlerts() const {
  // Silenced alerts are listed all the same, marked with the silences that hold them back.
  const int64_t now = deps_.clock->WallMillis();
  std::vector<ListedAlert> out;
  for (Alert& a : evaluator_->Alerts()) {
    std::vector<std::string> by = silences_->Active(a.labels, now);
    out.push_back({std::move(a), std::move(by)});
  }
  return out;
}

json AlertingService::AlertsJson() const {
  json j = evaluator_->ToJson();
  json alerts = json::array();
  for (const ListedAlert& l : ListAlerts()) {
    json a = AlertJson(l.alert);
    a["silenced_by"] = l.silenced_by;
    alerts.push_back(std::move(a));
  }
  j["alerts"] = std::move(alerts);
  j["notifications"] = notifier_->Status();
  j["notifications"]["events"] = json(events_);
  return j;
}

std::pair<int, json> AlertingService::HealthDetailed() const {
  json services = json::object();
  bool degraded = false;
  bool down = false;
  if (deps_.ps) {
    json rows = deps_.ps();
    for (const json& row : rows) {
      std::string name = row.value("service", "");
      json& svc = services[name];
      if (!svc.contains("instances")) {
        svc = {{"status", "ok"}, {"instances", json::array()}, {"restarts", 0}};
      }
      svc["instances"].push_back(row);
      svc["restarts"] = svc["restarts"].get<int64_t>() + row.value("restarts", int64_t{0});
      std::string state = row.value("state", "");
      std::string health = row.value("health", "");
      // A one-shot job that exited 0 is done, not down (engine Ps(): state "completed").
      bool completed = state == "completed";
      bool bad = (state != "running" && !completed) ||
                 (!health.empty() && health != "healthy" && health != "starting");
      if (bad) {
        svc["status"] = "degraded";
        degraded = true;
      }
    }
  }
  json proxy = {{"status", "unknown"}};
  if (deps_.proxy_ok) {
    bool ok = deps_.proxy_ok();
    proxy["status"] = ok ? "ok" : "down";
    if (!ok) down = true;
  }
  // A store that cannot be read is down; one whose writes fail (disk full, read-only, I/O
  // errors) is degraded: the daemon and the services still run, but events and state are lost.
  json store = {{"status", "ok"}};
  if (deps_.store) {
    store::WriteHealthSnapshot wh = deps_.store->write_health();
    auto v = deps_.store->GetMeta("schema_probe");
    if (!v.ok()) {
      store = {{"status", "down"}, {"error", v.status().message()}};
      down = true;
    } else if (wh.degraded) {
      store = {{"status", "degraded"},
               {"error", wh.last_error},
               {"error_at", Rfc3339(wh.last_error_ms)},
               {"degraded_since", Rfc3339(wh.degraded_since_ms)}};
      degraded = true;
    }
    store["write_errors_total"] = wh.write_errors_total;
  }
  // A database that does not answer degrades (HTTP 200), it does not take the host down:
  // see the header.
  json databases = json::object();
  if (prober_) {
    std::vector<DatabaseHealth> dbs = prober_->Snapshot();
    for (const DatabaseHealth& h : dbs) degraded |= h.status == "down";
    databases = DatabasesJson(dbs);
  }
  size_t firing = 0;
  for (const Alert& a : evaluator_->Alerts()) firing += a.state == AlertState::kFiring;
  std::string overall = down ? "down" : degraded ? "degraded" : "ok";
  return {down ? 503 : 200,
          {{"status", overall},
           {"services", services},
           {"proxy", proxy},
           {"store", store},
           {"databases", databases},
           {"alerts_firing", firing}}};
}

Result<json> AlertingService::Test(const std::string& expr) {
  ASSIGN_OR_RETURN(promql::Value v, evaluator_->EvaluateNow(expr));
  return ValueJson(v);
}

}  // namespace slipway::alerts
