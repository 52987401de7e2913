#include "export/extensions.h"

#include <algorithm>
#include <map>
#include <set>

#include "config/deploy_strategy.h"

namespace slipway::exporter {

using nlohmann::json;

namespace {

// Go-style duration text for Argo ("30s", "2m", "1500ms").
std::string GoDuration(Duration d) {
  long long ms = d.count();
  if (ms % 60'000 == 0 && ms > 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// The service's pod spec turned into a one-shot pod running `slipway <args>`.
json ToolPod(const json& pod_spec, const std::vector<std::string>& args) {
  json pod = pod_spec;
  pod["restartPolicy"] = "Never";
  if (pod.contains("containers") && !pod["containers"].empty()) {
    json& c = pod["containers"][0];
    c["command"] = json::array({"slipway"});
    c["args"] = args;
    c.erase("readinessProbe");
    c.erase("livenessProbe");
    c.erase("startupProbe");
    c.erase("ports");
  }
  return pod;
}

}  // namespace

json Labels(const ObjectMeta& m, const std::string& component) {
  json l = SelectorLabels(m);
  l["app.kubernetes.io/managed-by"] = "slipway";
  l["app.kubernetes.io/part-of"] = m.project;
  if (!component.empty()) l["app.kubernetes.io/component"] = component;
  return l;
}

json SelectorLabels(const ObjectMeta& m) {
  json l = json::object();
  l["app.kubernetes.io/instance"] = m.project;
  l["app.kubernetes.io/name"] = m.name;
  return l;
}

json Metadata(const ObjectMeta& m, const std::string& name, const std::string& component) {
  json md = json::object();
  md["name"] = name;
  if (!m.namespace_name.empty()) md["namespace"] = m.namespace_name;
  md["labels"] = Labels(m, component);
  return md;
}

json Object(const std::string& api, const std::string& kind, json metadata, json spec,
            const std::string& spec_name) {
  json o = json::object();
  o["apiVersion"] = api;
  o["kind"] = kind;
  o["metadata"] = std::move(metadata);
  o[spec_name] = std::move(spec);
  return o;
}

std::string ErrorRateQuery(const std::string& route, const std::string& set) {
  const std::string sel = "route=\"" + route + "\",set=\"" + set + "\"";
  return "sum(rate(slipway_http_requests_total{" + sel + ",code_class=\"5xx\"}[1m])) / " +
         "sum(rate(slipway_http_requests_total{" + sel + "}[1m]))";
}

std::string LatencyQuantileQuery(const std::string& route, const std::string& set, double q) {
  std::string qs = nlohmann::json(q).dump();
  return "histogram_quantile(" + qs +
         ", sum by (le) (rate(slipway_http_request_duration_seconds_bucket{route=\"" + route +
         "\",set=\"" + set + "\"}[1m])))";
}

namespace {

// successCondition over a query that is NaN without traffic (0/0, empty histogram): no
// traffic is no verdict, as in Slipway's analysis below min_requests.
std::string AtMost(double limit) {
  return "isNaN(result[0]) || result[0] <= " + nlohmann::json(limit).dump();
}

// Argo's metric interval: Prometheus needs a few scrapes per rate window.
Duration MetricInterval(Duration window) { return std::max(window, Duration(30'000)); }

bool UsesSetArg(const Strategy& st) {
  return std::any_of(st.analysis.begin(), st.analysis.end(), [](const AnalysisMetric& a) {
    return a.query.find(kSetArg) != std::string::npos;
  });
}

}  // namespace

Strategy StrategyOf(const config::Project&, const config::Service& s) {
  const config::DeploySettings& d = s.deploy;
  Strategy st;
  const std::string where = "services." + s.name + ".x-slipway.deploy";
  if (!d.smoke.empty()) {
    st.unmapped.push_back(where +
                          ".smoke: not run in the cluster (add a Job metric to the "
                          "Rollout's AnalysisTemplate)");
  }
  // A built-in `migrate` step is what the migration Job (a PreSync hook) does there.
  bool commands = !d.post_hook.empty();
  for (const config::HookStep& step : d.pre_hook) {
    if (step.kind == config::HookStep::Kind::kRun) commands = true;
    if (step.kind == config::HookStep::Kind::kBackup) {
      st.unmapped.push_back(where +
                            ".hooks.pre: the backup step does not run before the migration "
                            "Job (take one with `slipway backup create` in a PreSync Job)");
    }
  }
  if (commands) {
    st.unmapped.push_back(where +
                          ".hooks: not run in the cluster (Argo CD PreSync/PostSync "
                          "hook Jobs do this)");
  }
  using config::DeployStrategy;
  const std::optional<DeployStrategy> kind = d.strategy;
  if (kind == DeployStrategy::kRecreate) st.kind = Strategy::Kind::kRecreate;
  if (kind != DeployStrategy::kBlueGreen && kind != DeployStrategy::kCanary) return st;
  st.progress_deadline = d.health_timeout;
  if (kind == DeployStrategy::kBlueGreen) {
    st.kind = Strategy::Kind::kBlueGreen;
    st.auto_promote = true;  // Slipway switches as soon as the new set is ready
    st.scale_down_delay = d.rollback_window;
  } else {
    st.kind = Strategy::Kind::kCanary;
    for (int w : d.steps) st.steps.push_back({w, d.step_duration});
    if (!d.sticky_cookie.empty()) {
      st.unmapped.push_back(where +
                            ".sticky_cookie: a Rollout without a traffic router does "
                            "not pin clients to a set");
    }
  }
  const config::DeployAnalysis& a = d.analysis;
  const Duration interval = MetricInterval(a.window);
  // An empty result (no series yet) becomes NaN, so result[0] exists and means "no verdict".
  auto or_nan = [](const std::string& q) { return "(" + q + ") or on() vector(NaN)"; };
  st.analysis.push_back({"error_rate", or_nan(ErrorRateQuery(s.name, kSetArg)),
                         AtMost(a.max_error_rate), interval, 0});
  st.analysis.push_back({"p95_latency", or_nan(LatencyQuantileQuery(s.name, kSetArg, 0.95)),
                         AtMost(static_cast<double>(a.max_p95.count()) / 1000.0), interval, 0});
  st.unmapped.push_back(where +
                        ".analysis: p95_factor (relative to the old set), min_requests "
                        "and health_failures have no AnalysisTemplate equivalent (the template "
                        "checks max_error_rate and max_p95; unready pods stop the Rollout)");
  if (a.window < Duration(30'000)) {
    st.unmapped.push_back(where +
                          ".analysis.window: measured every 30s in the cluster "
                          "(Prometheus rates need several scrapes)");
  }
  return st;
}

json RenderRollout(const ObjectMeta& m, const json& deployment, const Strategy& st,
                   const std::string& active_service, const std::string& preview_service,
                   const std::string& analysis_template) {
  json r = json::object();
  r["apiVersion"] = "argoproj.io/v1alpha1";
  r["kind"] = "Rollout";
  r["metadata"] = deployment.at("metadata");
  json spec = json::object();
  const json& d = deployment.at("spec");
  for (const char* k : {"replicas", "selector", "template", "minReadySeconds"}) {
    if (d.contains(k)) spec[k] = d.at(k);
  }
  json strategy = json::object();
  json analysis = {{"templates", json::array({{{"templateName", analysis_template}}})}};
  if (UsesSetArg(st)) {
    analysis["args"] =
        json::array({{{"name", "set"}, {"valueFrom", {{"podTemplateHashValue", "Latest"}}}}});
  }
  if (st.kind == Strategy::Kind::kBlueGreen) {
    json bg = json::object();
    bg["activeService"] = active_service;
    if (!preview_service.empty()) bg["previewService"] = preview_service;
    bg["autoPromotionEnabled"] = st.auto_promote;
    if (st.scale_down_delay.count() > 0) {
      bg["scaleDownDelaySeconds"] = (st.scale_down_delay.count() + 999) / 1000;
    }
    if (!analysis_template.empty()) {
      // Slipway judges the new set after the switch, with the old one kept warm.
      bg["postPromotionAnalysis"] = analysis;
    }
    strategy["blueGreen"] = bg;
  } else {
    json canary = json::object();
    json steps = json::array();
    for (const CanaryStep& s : st.steps) {
      if (s.weight > 0) steps.push_back({{"setWeight", s.weight}});
      if (s.pause.count() > 0) {
        steps.push_back({{"pause", {{"duration", GoDuration(s.pause)}}}});
      } else if (s.pause.count() < 0) {
        steps.push_back({{"pause", json::object()}});
      }
    }
    canary["steps"] = steps;
    if (!active_service.empty()) canary["stableService"] = active_service;
    if (!preview_service.empty()) canary["canaryService"] = preview_service;
    if (!analysis_template.empty()) canary["analysis"] = analysis;
    strategy["canary"] = canary;
  }
  spec["strategy"] = strategy;
  if (st.progress_deadline.count() > 0) {
    // Abort (back to the stable set) when the new pods are not ready in time, as Slipway does.
    spec["progressDeadlineSeconds"] =
        std::max<long long>(1, (st.progress_deadline.count() + 999) / 1000);
    spec["progressDeadlineAbort"] = true;
  }
  r["spec"] = spec;
  (void)m;
  return r;
}

json RenderAnalysisTemplate(const ObjectMeta& m, const Strategy& st,
                            const std::string& prometheus_address) {
  json t = json::object();
  t["apiVersion"] = "argoproj.io/v1alpha1";
  t["kind"] = "AnalysisTemplate";
  t["metadata"] = Metadata(m, m.name + "-analysis", "analysis");
  json metrics = json::array();
  for (const AnalysisMetric& a : st.analysis) {
    json mt = json::object();
    mt["name"] = a.name;
    mt["interval"] = GoDuration(a.interval);
    mt["failureLimit"] = a.failure_limit;
    mt["successCondition"] = a.condition;
    mt["provider"] = {{"prometheus", {{"address", prometheus_address}, {"query", a.query}}}};
    metrics.push_back(mt);
  }
  t["spec"] = {{"metrics", metrics}};
  if (UsesSetArg(st)) t["spec"]["args"] = json::array({{{"name", "set"}}});
  return t;
}

std::vector<Route> RoutesOf(const config::Project& p) {
  std::vector<Route> out;
  for (size_t i = 0; i < p.routes.size(); ++i) {
    const config::RouteSettings& r = p.routes[i];
    Route o;
    o.service = r.service;
    o.host = r.host;
    o.path = r.path.empty() ? "/" : r.path;
    o.port = r.port;
    o.listen_port = r.listen_port;
    o.listen_host = r.listen_host;
    o.strip_prefix = r.strip_prefix;
    o.where = "x-slipway.routes[" + std::to_string(i) + "]";
    out.push_back(std::move(o));
  }
  return out;
}

json RenderIngress(const std::string& project, const std::string& namespace_name,
                   const std::vector<Route>& routes,
                   const std::map<std::string, std::string>& service_names) {
  // host → paths, both sorted, so the output does not depend on declaration order.
  std::map<std::string, std::map<std::string, json>> by_host;
  for (const Route& r : routes) {
    auto it = service_names.find(r.service);
    std::string svc = it == service_names.end() ? r.service : it->second;
    json path = json::object();
    path["path"] = r.path.empty() ? "/" : r.path;
    path["pathType"] = "Prefix";
    path["backend"] = {{"service", {{"name", svc}, {"port", {{"number", r.port}}}}}};
    by_host[r.host][path["path"].get<std::string>()] = path;
  }
  json rules = json::array();
  for (auto& [host, paths] : by_host) {
    json rule = json::object();
    if (!host.empty()) rule["host"] = host;
    json list = json::array();
    for (auto& [_, p] : paths) list.push_back(p);
    rule["http"] = {{"paths", list}};
    rules.push_back(rule);
  }
  json ing = json::object();
  ing["apiVersion"] = "networking.k8s.io/v1";
  ing["kind"] = "Ingress";
  json md = json::object();
  md["name"] = project;
  if (!namespace_name.empty()) md["namespace"] = namespace_name;
  json labels = json::object();
  labels["app.kubernetes.io/managed-by"] = "slipway";
  labels["app.kubernetes.io/part-of"] = project;
  md["labels"] = labels;
  ing["metadata"] = md;
  ing["spec"] = {{"rules", rules}};
  return ing;
}

using Owner = config::DatabaseOwner;
using config::OwnerOf;

std::vector<Migration> MigrationsOf(const config::Project& p) {
  std::vector<Migration> out;
  for (const auto& [name, db] : p.databases) {
    Owner o = OwnerOf(p, db);
    Migration m;
    m.service = o.service;
    m.database = name;
    m.url_env = o.url_env;
    m.dir = db.migrations;
    if (db.format != config::MigrationFormat::kAuto) {
      m.format = std::string(config::kMigrationFormatNames.Name(db.format));
    }
    if (db.lock_timeout != Duration(60'000)) m.lock_timeout = GoDuration(db.lock_timeout);
    m.sqlite = db.url.rfind("sqlite:", 0) == 0;
    if (db.tool.tool != config::MigrationTool::kNone) {
      m.tool = std::string(config::MigrationToolName(db.tool.tool));
      m.tool_up = db.tool.up;
      m.tool_dir = db.tool.dir;
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<BackupSchedule> BackupsOf(const config::Project& p) {
  std::vector<BackupSchedule> out;
  if (p.backups.schedule.empty()) return out;
  std::vector<std::string> names = p.backups.databases;
  if (names.empty()) {
    for (const auto& [name, _] : p.databases) names.push_back(name);
  }
  for (const std::string& name : names) {
    auto it = p.databases.find(name);
    // An unknown name gets no owner; the export notes it.
    Owner o = it == p.databases.end() ? Owner{} : OwnerOf(p, it->second);
    out.push_back({name, o.service, name, p.backups.schedule, o.url_env, p.backups.catch_up});
  }
  return out;
}

json RenderMigrationJob(const ObjectMeta& m, const Migration& mig, const json& pod_spec) {
  json job = json::object();
  job["apiVersion"] = "batch/v1";
  job["kind"] = "Job";
  json md = Metadata(m, m.name + "-migrate" + (mig.database.empty() ? "" : "-" + mig.database),
                     "migration");
  // Run before the workloads: Helm pre-install/pre-upgrade hook, Argo CD PreSync hook;
  // the old Job is deleted before the next run (Jobs are immutable).
  md["annotations"] = {{"helm.sh/hook", "pre-install,pre-upgrade"},
                       {"helm.sh/hook-weight", "-5"},
                       {"helm.sh/hook-delete-policy", "before-hook-creation"},
                       {"argocd.argoproj.io/hook", "PreSync"},
                       {"argocd.argoproj.io/hook-delete-policy", "BeforeHookCreation"}};
  job["metadata"] = md;
  if (!mig.tool_up.empty()) {
    // The team's own tool, in the service's image: its `up` command as the container's, with
    // the url's variable (as the service sees it) also under SLIPWAY_DATABASE_URL.
    json pod = ToolPod(pod_spec, {});
    if (pod.contains("containers") && !pod["containers"].empty()) {
      json& c = pod["containers"][0];
      c["command"] = json::array({"/bin/sh", "-c", mig.tool_up});
      c.erase("args");
      if (!mig.tool_dir.empty() && mig.tool_dir.front() == '/') c["workingDir"] = mig.tool_dir;
      if (!mig.url_env.empty()) {
        if (!c.contains("env")) c["env"] = json::array();
        c["env"].push_back({{"name", "SLIPWAY_DATABASE_URL"}, {"value", "$(" + mig.url_env + ")"}});
      }
    }
    json tmpl = {{"metadata", {{"labels", Labels(m, "migration")}}}, {"spec", pod}};
    job["spec"] = {{"backoffLimit", 0}, {"template", tmpl}};
    return job;
  }
  // Parent options go before the subcommand: `slipway migrate --url ... up`.
  std::vector<std::string> args = {"migrate"};
  if (!mig.url_env.empty()) {
    // $(VAR) is expanded by the kubelet from the container's environment.
    args.insert(args.end(), {"--url", "$(" + mig.url_env + ")"});
    if (!mig.dir.empty()) args.insert(args.end(), {"--dir", mig.dir});
    if (!mig.format.empty()) args.insert(args.end(), {"--migrations-format", mig.format});
  } else if (!mig.database.empty()) {
    args.insert(args.end(), {"--db", mig.database});
  }
  if (!mig.lock_timeout.empty()) args.insert(args.end(), {"--lock-timeout", mig.lock_timeout});
  args.push_back("up");
  json tmpl = {{"metadata", {{"labels", Labels(m, "migration")}}},
               {"spec", ToolPod(pod_spec, args)}};
  job["spec"] = {{"backoffLimit", 0}, {"template", tmpl}};
  return job;
}

json RenderBackupCronJob(const ObjectMeta& m, const BackupSchedule& b, const json& pod_spec) {
  json cj = json::object();
  cj["apiVersion"] = "batch/v1";
  cj["kind"] = "CronJob";
  cj["metadata"] = Metadata(m, m.name + "-backup-" + b.name, "backup");
  std::vector<std::string> args = {"backup"};
  if (!b.url_env.empty()) args.insert(args.end(), {"--url", "$(" + b.url_env + ")"});
  args.push_back("create");
  if (!b.database.empty()) args.push_back(b.database);
  json tmpl = {{"metadata", {{"labels", Labels(m, "backup")}}}, {"spec", ToolPod(pod_spec, args)}};
  cj["spec"] = {{"schedule", b.cron},
                {"timeZone", "Etc/UTC"},  // Slipway's schedules are UTC
                {"concurrencyPolicy", "Forbid"},
                {"jobTemplate", {{"spec", {{"backoffLimit", 0}, {"template", tmpl}}}}}};
  // Without a deadline the controller still starts a missed run (catch-up); with one, a run
  // missed by more than 5 minutes is skipped.
  if (!b.catch_up) cj["spec"]["startingDeadlineSeconds"] = 300;
  return cj;
}

}  // namespace slipway::exporter
