#include "export/extensions.h"

#include <map>

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

Strategy StrategyOf(const config::Project&, const config::Service&) {
  // x-slipway.deploy (blue-green / canary, analysis thresholds) is not in the
  // Project model yet: every service rolls.
  return Strategy{};
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
  if (st.kind == Strategy::Kind::kBlueGreen) {
    json bg = json::object();
    bg["activeService"] = active_service;
    if (!preview_service.empty()) bg["previewService"] = preview_service;
    bg["autoPromotionEnabled"] = st.auto_promote;
    if (!analysis_template.empty()) {
      bg["prePromotionAnalysis"] = {
          {"templates", json::array({{{"templateName", analysis_template}}})}};
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
    if (!analysis_template.empty()) {
      canary["analysis"] = {{"templates", json::array({{{"templateName", analysis_template}}})}};
    }
    strategy["canary"] = canary;
  }
  spec["strategy"] = strategy;
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
  return t;
}

std::vector<Route> RoutesOf(const config::Project&) {
  // x-slipway.routes is not in the Project model yet.
  return {};
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

std::vector<Migration> MigrationsOf(const config::Project&) {
  // x-slipway.databases (migrations) is not in the Project model yet.
  return {};
}

std::vector<BackupSchedule> BackupsOf(const config::Project&) {
  // x-slipway.backups is not in the Project model yet.
  return {};
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
  std::vector<std::string> args = {"migrate", "up"};
  if (!mig.database.empty()) args.insert(args.end(), {"--database", mig.database});
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
  std::vector<std::string> args = {"backup", "create"};
  if (!b.database.empty()) args.insert(args.end(), {"--database", b.database});
  json tmpl = {{"metadata", {{"labels", Labels(m, "backup")}}},
               {"spec", ToolPod(pod_spec, args)}};
  cj["spec"] = {{"schedule", b.cron},
                {"concurrencyPolicy", "Forbid"},
                {"jobTemplate", {{"spec", {{"backoffLimit", 0}, {"template", tmpl}}}}}};
  return cj;
}

}  // namespace slipway::exporter
