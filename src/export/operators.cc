#include "export/operators.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "config/flags_settings.h"
#include "config/node.h"
#include "config/resources_settings.h"
#include "export/extensions.h"
#include "export/kubernetes.h"

namespace slipway::exporter {

using nlohmann::json;

namespace {

// Prometheus duration text ("5m", "1h30m", "1500ms"), as the PrometheusRule CRD's pattern
// accepts it.
std::string PromDuration(Duration d) {
  long long ms = d.count();
  if (ms <= 0) return "0";
  std::string out;
  const std::pair<long long, const char*> units[] = {
      {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, unit] : units) {
    if (ms >= size) {
      out += std::to_string(ms / size) + unit;
      ms %= size;
    }
  }
  return out;
}

ObjectMeta ProjectMeta(const config::Project& p, const std::string& ns, const std::string& name) {
  return ObjectMeta{p.name, ns, "", name};
}

// The keys of one flagd flag the FeatureFlag CRD holds (anything else is pruned by the
// API server, so it is left out here and noted).
const std::set<std::string>& FlagKeys() {
  static const std::set<std::string> k = {"state", "variants", "defaultVariant", "targeting",
                                          "metadata"};
  return k;
}

// Why the CRD cannot hold `flag`, or "" when it can.
std::string FlagProblem(const json& flag) {
  if (!flag.is_object()) return "is not a mapping";
  auto state = flag.find("state");
  if (state == flag.end() || !state->is_string() || (*state != "ENABLED" && *state != "DISABLED")) {
    return "state must be ENABLED or DISABLED";
  }
  auto variants = flag.find("variants");
  if (variants == flag.end() || !variants->is_object()) return "variants must be a mapping";
  auto dv = flag.find("defaultVariant");
  if (dv == flag.end() || !dv->is_string()) {
    return "defaultVariant must be a variant name (the FeatureFlag CRD has no code default)";
  }
  for (const char* k : {"targeting", "metadata"}) {
    if (auto it = flag.find(k); it != flag.end() && !it->is_object()) {
      return std::string(k) + " must be a mapping";
    }
  }
  return "";
}

}  // namespace

std::string CpuQuantity(double cpus) {
  const long long milli = static_cast<long long>(std::ceil(cpus * 1000 - 1e-9));
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

std::string MemoryQuantity(long long bytes) {
  const std::pair<int, const char*> units[] = {
      {50, "Pi"}, {40, "Ti"}, {30, "Gi"}, {20, "Mi"}, {10, "Ki"}};
  for (const auto& [shift, suffix] : units) {
    const long long size = 1LL << shift;
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + suffix;
  }
  return std::to_string(bytes);
}

json ContainerResources(const config::Service& s, std::vector<std::string>* notes) {
  const config::ResourceSettings& r = s.resources;
  json limits = json::object(), requests = json::object();
  if (r.cpus) limits["cpu"] = CpuQuantity(*r.cpus);
  if (r.memory_bytes) limits["memory"] = MemoryQuantity(*r.memory_bytes);
  if (r.reserved_cpus) requests["cpu"] = CpuQuantity(*r.reserved_cpus);
  if (r.reserved_memory_bytes) requests["memory"] = MemoryQuantity(*r.reserved_memory_bytes);
  if (r.pids) {
    notes->push_back("services." + s.name +
                     ".deploy.resources.limits.pids: a container has no pids limit in "
                     "Kubernetes (the kubelet's podPidsLimit applies to every pod)");
  }
  json out = json::object();
  if (!limits.empty()) out["limits"] = std::move(limits);
  if (!requests.empty()) out["requests"] = std::move(requests);
  if (out.empty()) return json(nullptr);
  return out;
}

Result<std::vector<json>> RenderFlags(const config::Project& p, const std::string& namespace_name,
                                      const ReadFileFn& read_file,
                                      std::vector<std::string>* notes) {
  std::vector<json> out;
  if (!p.flags.configured) return out;
  for (const auto& [env, source] : p.flags.environments) {
    const std::string where = "x-slipway.flags (environment " + env + ")";
    std::string text = source.definitions;
    if (!source.file.empty()) {
      Result<std::string> content = read_file(source.file);
      if (!content.ok()) return InvalidInput(where + ": " + content.status().message());
      Result<std::string> as_json = config::FlagsFileAsJson(source.file, *content);
      if (!as_json.ok()) return InvalidInput(where + ": " + as_json.status().message());
      text = *as_json;
    }
    const std::string origin = source.file.empty() ? "inline definitions" : source.file;
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      return InvalidInput(where + ": " + origin + " is not valid JSON (expected a flagd document)");
    }
    if (!doc.is_object() || !doc.contains("flags") || !doc["flags"].is_object()) {
      return InvalidInput(where + ": " + origin +
                          " has no \"flags\" mapping (expected a flagd document: "
                          "{\"flags\": {NAME: {state, variants, defaultVariant}}})");
    }
    const std::string name = KubeName(p.name + "-flags-" + env);
    json flags = json::object();
    for (const auto& [flag, def] : doc["flags"].items()) {
      std::string problem = FlagProblem(def);
      if (!problem.empty()) {
        notes->push_back(where + ": flag " + flag + ": " + problem + "; left out of FeatureFlag " +
                         name);
        continue;
      }
      json kept = json::object();
      for (const auto& [k, v] : def.items()) {
        if (FlagKeys().count(k)) {
          kept[k] = v;
        } else {
          notes->push_back(where + ": flag " + flag + ": key " + k +
                           " is not part of the FeatureFlag CRD; left out");
        }
      }
      flags[flag] = kept;
    }
    json flag_spec = {{"flags", flags}};
    for (const auto& [k, v] : doc.items()) {
      if (k == "flags" || k == "$schema") continue;
      if ((k == "$evaluators" || k == "metadata") && v.is_object()) {
        flag_spec[k] = v;
      } else {
        notes->push_back(where + ": " + k + " is not part of the FeatureFlag CRD; left out");
      }
    }
    ObjectMeta m = ProjectMeta(p, namespace_name, name);
    json md = Metadata(m, name, "flags");
    out.push_back(
        Object("core.openfeature.dev/v1beta1", "FeatureFlag", md, {{"flagSpec", flag_spec}}));
    // The operator's kubernetes sync reads the FeatureFlag as "namespace/name" (the
    // source's own namespace when no namespace is given).
    json src = {{"provider", "kubernetes"},
                {"source", namespace_name.empty() ? name : namespace_name + "/" + name}};
    out.push_back(Object("core.openfeature.dev/v1beta1", "FeatureFlagSource", md,
                         {{"sources", json::array({src})}}));
    out.push_back(Object("core.openfeature.dev/v1beta1", "Flagd", md,
                         {{"featureFlagSource", name}, {"serviceType", "ClusterIP"}}));
  }
  notes->push_back(
      "x-slipway.flags: served by the OpenFeature Operator's flagd (Service " +
      KubeName(p.name + "-flags-" + p.flags.default_environment) + ", OFREP on port " +
      std::to_string(kFlagdOfrepPort) +
      ") instead of Slipway's API; point the services' OFREP provider at it (one flagd per "
      "environment; the operator and its CRDs must be installed)");
  if (!p.flags.tokens.empty()) {
    notes->push_back(
        "x-slipway.flags.tokens: flagd has no read tokens; restrict access with a "
        "NetworkPolicy");
  }
  if (p.flags.rate_per_second > 0) {
    notes->push_back("x-slipway.flags.rate_per_second: flagd has no rate limit");
  }
  return out;
}

json RenderPrometheusRule(const config::Project& p, const std::string& namespace_name,
                          std::vector<std::string>* notes) {
  const config::AlertsSettings& a = p.alerts;
  const bool alerting = !a.rules.empty() || !a.groups.empty() || p.notifications.configured;
  if (a.builtin && alerting) {
    notes->push_back(
        "x-slipway.alerts.builtin: Slipway's built-in rules read its daemon's own metrics "
        "(slipway_service_healthy, slipway_service_restarts_total, ...) and are not exported; "
        "in a cluster kube-prometheus' rules (KubePodNotReady, KubePodCrashLooping, ...) "
        "cover the same ground");
  }
  if (p.notifications.configured) {
    std::vector<std::string> names;
    for (const config::ReceiverSpec& r : p.notifications.receivers) names.push_back(r.name);
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    notes->push_back("x-slipway.notifications: the route and receivers (" + list +
                     ") are not exported; configure Alertmanager (its config or an "
                     "AlertmanagerConfig) to deliver the PrometheusRule's alerts");
  }
  if (a.rules.empty() && a.groups.empty()) return nullptr;
  const std::string name = KubeName(p.name + "-alerts");
  json rules = json::array();
  for (size_t i = 0; i < a.rules.size(); ++i) {
    const config::AlertRuleSpec& r = a.rules[i];
    json rule = json::object();
    rule["alert"] = r.name;
    rule["expr"] = r.expr;
    if (r.for_duration.count() > 0) rule["for"] = PromDuration(r.for_duration);
    if (!r.labels.empty()) rule["labels"] = r.labels;
    if (!r.annotations.empty()) rule["annotations"] = r.annotations;
    rules.push_back(rule);
    if (r.expr.find("slipway_") != std::string::npos) {
      notes->push_back("x-slipway.alerts.rules[" + std::to_string(i) + "] " + r.name +
                       ": reads slipway_* metrics, which Slipway's proxy and daemon export and "
                       "a cluster does not; the rule stays silent until a recording rule "
                       "publishes them (e.g. from the ingress controller's metrics) or the "
                       "expression is rewritten");
    }
  }
  json groups = json::array();
  std::set<std::string> group_names;
  if (!rules.empty()) {
    groups.push_back({{"name", p.name}, {"interval", PromDuration(a.interval)}, {"rules", rules}});
    group_names.insert(p.name);
  }
  // The rule files' groups as they are (one PrometheusRule holds them all, so a group name
  // another file also uses gets a suffix).
  for (const config::RuleGroupSpec& g : a.groups) {
    std::string gname = g.name;
    for (int n = 2; !group_names.insert(gname).second; ++n) {
      gname = g.name + "-" + std::to_string(n);
    }
    if (gname != g.name) {
      notes->push_back(g.file + ": group " + g.name + " is exported as " + gname +
                       " (a PrometheusRule needs unique group names)");
    }
    json grules = json::array();
    for (const config::AlertRuleSpec& r : g.rules) {
      json rule = json::object();
      rule[r.kind == config::RuleKind::kRecord ? "record" : "alert"] = r.name;
      rule["expr"] = r.expr;
      if (r.for_duration.count() > 0) rule["for"] = PromDuration(r.for_duration);
      if (r.keep_firing_for.count() > 0) rule["keep_firing_for"] = PromDuration(r.keep_firing_for);
      if (!r.labels.empty()) rule["labels"] = r.labels;
      if (!r.annotations.empty()) rule["annotations"] = r.annotations;
      grules.push_back(rule);
    }
    json group = {{"name", gname}, {"rules", grules}};
    if (g.interval) group["interval"] = PromDuration(*g.interval);
    if (g.limit > 0) group["limit"] = g.limit;
    groups.push_back(group);
  }
  ObjectMeta m = ProjectMeta(p, namespace_name, name);
  json md = Metadata(m, name, "alerts");
  notes->push_back("PrometheusRule " + name +
                   ": a Prometheus loads only the rules its ruleSelector matches "
                   "(kube-prometheus-stack: the label release: <release name>); add that "
                   "label (prometheus-operator and its CRDs must be installed)");
  return Object("monitoring.coreos.com/v1", "PrometheusRule", md, {{"groups", groups}});
}

}  // namespace slipway::exporter
