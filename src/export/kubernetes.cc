#include "export/kubernetes.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "base/redact.h"
#include "config/compose_names.h"
#include "config/deploy_strategy.h"
#include "config/secrets_of.h"
#include "export/extensions.h"
#include "export/operators.h"
#include "export/pod_spec.h"
#include "export/yaml_emit.h"

namespace slipway::exporter {

namespace fs = std::filesystem;
using config::DependsCondition;
using config::Project;
using config::Service;
using nlohmann::json;

namespace {

// Apply order: configuration first, then one-shot and migration jobs, workloads,
// their Services, routes, schedules.
int KindRank(const std::string& kind) {
  static const char* kOrder[] = {
      "ConfigMap",     "Secret",  "FeatureFlag", "FeatureFlagSource", "Job",     "AnalysisTemplate",
      "Deployment",    "Rollout", "Flagd",       "Service",           "Ingress", "CronJob",
      "PrometheusRule"};
  for (int i = 0; i < static_cast<int>(std::size(kOrder)); ++i) {
    if (kind == kOrder[i]) return i;
  }
  return 100;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

Result<std::string> ReadFromDisk(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFound("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Differs(const config::UpdateConfig& u) {
  config::UpdateConfig d;
  return u.parallelism != d.parallelism || u.delay != d.delay ||
         u.failure_action != d.failure_action || u.monitor != d.monitor ||
         u.max_failure_ratio != d.max_failure_ratio || u.order != d.order;
}

json RollingUpdate(const Service& s, Notes* notes) {
  const config::UpdateConfig& u = s.update_config;
  const std::string where = "services." + s.name + ".deploy.update_config";
  json step = u.parallelism == 0 ? json("100%") : json(u.parallelism);
  json ru = json::object();
  if (u.order == config::UpdateOrder::kStartFirst) {
    ru["maxSurge"] = step;
    ru["maxUnavailable"] = 0;
  } else {
    ru["maxSurge"] = 0;
    ru["maxUnavailable"] = step;
  }
  if (u.delay.count() > 0) {
    notes->push_back(where +
                     ".delay: Kubernetes has no pause between batches (minReadySeconds "
                     "is the closest; use --rollouts argo for paced steps)");
  }
  if (u.failure_action == config::FailureAction::kRollback) {
    notes->push_back(where +
                     ".failure_action: rollback: a Deployment stops a failed rollout "
                     "but does not roll back (kubectl rollout undo, or --rollouts argo)");
  } else if (u.failure_action == config::FailureAction::kContinue) {
    notes->push_back(where + ".failure_action: continue: a Deployment always waits for ready pods");
  }
  if (u.max_failure_ratio > 0) {
    notes->push_back(where + ".max_failure_ratio: no Deployment equivalent");
  }
  if (Differs(s.rollback_config)) {
    notes->push_back("services." + s.name +
                     ".deploy.rollback_config: no Deployment equivalent (kubectl rollout undo "
                     "uses the update strategy)");
  }
  return {{"type", "RollingUpdate"}, {"rollingUpdate", ru}};
}

class Exporter {
 public:
  Exporter(const Project& p, const ExportOptions& o)
      : p_(p), o_(o), known_secrets_(config::SecretsOf(p)) {
    if (!o_.read_file) o_.read_file = ReadFromDisk;
  }

  Result<Export> Run() {
    RETURN_IF_ERROR(CheckFlags());
    RETURN_IF_ERROR(ResolveNamesAndImages());
    FindJobs();
    CollectRoutes();
    for (const auto& [name, s] : p_.services) RETURN_IF_ERROR(ExportService(s));
    RETURN_IF_ERROR(ExportFileSecrets());
    if (!no_restart_.empty()) {
      notes_.push_back("restart \"no\"/on-failure (services " + Join(no_restart_, ", ") +
                       "): a Deployment always restarts its pods");
    }
    ExportRoutes();
    ExportMigrationsAndBackups();
    RETURN_IF_ERROR(ExportFlagsAndAlerts());
    if (o_.rollouts == Rollouts::kArgo && !any_rollout_) {
      notes_.push_back(
          "--rollouts argo: no service uses a blue-green or canary strategy; "
          "every service stays a Deployment");
    }
    for (const std::string& w : p_.warnings) notes_.push_back(w);

    Export e;
    e.project = p_.name;
    e.objects = std::move(objects_);
    std::stable_sort(e.objects.begin(), e.objects.end(), [](const Manifest& a, const Manifest& b) {
      int ra = KindRank(a.kind), rb = KindRank(b.kind);
      return ra != rb ? ra < rb : a.name < b.name;
    });
    std::set<std::string> unique(notes_.begin(), notes_.end());
    e.unmapped.assign(unique.begin(), unique.end());
    return e;
  }

 private:
  Status CheckFlags() {
    for (const auto& [svc, ref] : o_.images) {
      if (!p_.services.count(svc)) {
        std::vector<std::string> names;
        for (const auto& [n, _] : p_.services) names.push_back(n);
        return InvalidInput("--image " + svc + "=" + ref + ": no service \"" + svc +
                            "\" (expected one of " + Join(names, ", ") + ")");
      }
      if (ref.empty()) return InvalidInput("--image " + svc + "=: the image reference is empty");
    }
    return Status::OK();
  }

  Status ResolveNamesAndImages() {
    std::map<std::string, std::string> owner;  // kube name → service
    std::vector<std::string> missing;
    for (const auto& [name, s] : p_.services) {
      std::string kn = KubeName(name);
      if (auto [it, fresh] = owner.emplace(kn, name); !fresh) {
        return InvalidInput("services " + it->second + " and " + name +
                            " both become the Kubernetes name \"" + kn +
                            "\" (rename one: lower-case letters, digits and '-')");
      }
      names_[name] = kn;
      if (auto it = o_.images.find(name); it != o_.images.end()) {
        images_[name] = it->second;
      } else if (!s.export_image.empty()) {
        images_[name] = s.export_image;
      } else if (!s.image.empty()) {
        images_[name] = s.image;
        if (s.build) {
          notes_.push_back("services." + name +
                           ".build: Kubernetes does not build images; build "
                           "and push " +
                           s.image + " where the cluster can pull it");
        }
      } else {
        missing.push_back(name);
      }
    }
    if (!missing.empty()) {
      std::vector<std::string> flags;
      for (const std::string& m : missing) flags.push_back("--image " + m + "=REF");
      return InvalidInput(
          "export kubernetes: " + std::string(missing.size() == 1 ? "service " : "services ") +
          Join(missing, ", ") + (missing.size() == 1 ? " has" : " have") +
          " no image to run in the cluster (they run on the host here); set "
          "x-slipway.image: REF on each, or pass " +
          Join(flags, " "));
    }
    return Status::OK();
  }

  // A service others wait on with service_completed_successfully runs once: a Job.
  void FindJobs() {
    for (const auto& [name, s] : p_.services) {
      for (const config::Dependency& d : s.depends_on) {
        if (d.condition == DependsCondition::kCompletedSuccessfully) jobs_.insert(d.service);
      }
    }
  }

  ObjectMeta Meta(const Service& s) const {
    return ObjectMeta{p_.name, o_.namespace_name, s.name, names_.at(s.name)};
  }

  void Add(json doc) {
    Manifest m;
    m.kind = doc["kind"].get<std::string>();
    m.name = doc["metadata"]["name"].get<std::string>();
    m.doc = std::move(doc);
    objects_.push_back(std::move(m));
  }

  // True when variable `k` = `v` can carry a secret: a declared secret feeds it, its name
  // says so (DB_PASSWORD, API_KEY), it holds a URL or conninfo password (DATABASE_URL,
  // x-slipway.databases urls) or a value the project knows as secret (config::SecretsOf).
  bool CarriesSecret(const Service& s, const std::string& k, const std::string& v) const {
    return s.secret_env.count(k) || IsSecretName(k) || !UrlPasswords(v).empty() ||
           known_secrets_.Scrub(v) != v;
  }

  // The variables of `s` that go to its Secret (never to the ConfigMap or the pod spec).
  std::set<std::string> SecretKeys(const Service& s) const {
    std::set<std::string> out;
    for (const auto& [k, v] : s.environment) {
      if (k != "PORT" && CarriesSecret(s, k, v)) out.insert(k);
    }
    return out;
  }

  // A command, entrypoint or health check test is written into the workload as it is:
  // a secret in one is noted so it can be moved into a variable (which goes to a Secret).
  void SecretInCommandNotes(const Service& s) {
    auto check = [&](const std::optional<std::vector<std::string>>& words, const char* key) {
      if (!words) return;
      for (const std::string& w : *words) {
        if (known_secrets_.Scrub(w) != w) {
          notes_.push_back("services." + s.name + "." + key +
                           ": holds a secret value, written into the pod spec as it is; move "
                           "it into an environment variable (exported to a Secret)");
          return;
        }
      }
    };
    check(s.entrypoint, "entrypoint");
    check(s.command, "command");
    if (s.healthcheck.kind == config::Healthcheck::Kind::kCmd ||
        s.healthcheck.kind == config::Healthcheck::Kind::kCmdShell) {
      check(s.healthcheck.test, "healthcheck.test");
    }
  }

  // ConfigMap and Secret for the environment; `secret_keys` is SecretKeys(s). Returns
  // {has_config, has_secret}.
  std::pair<bool, bool> ExportEnvironment(const Service& s, const ObjectMeta& m,
                                          const std::set<std::string>& secret_keys) {
    json data = json::object(), secret = json::object();
    for (const auto& [k, v] : s.environment) {
      if (k == "PORT") continue;  // inline in the container (pod_spec.cc)
      if (!IsConfigMapKey(k)) {
        // Inline in the container (pod_spec.cc), unless it carries a secret.
        if (secret_keys.count(k)) {
          notes_.push_back("services." + s.name + ".environment." + k +
                           ": carries a secret but is not a valid Secret key; left out");
        }
        continue;
      }
      if (secret_keys.count(k)) {
        secret[k] = o_.secret_values ? v : "";
      } else {
        data[k] = v;
      }
    }
    if (!data.empty()) {
      Add(Object("v1", "ConfigMap", Metadata(m, ConfigMapName(m), "config"), data, "data"));
    }
    if (!secret.empty()) {
      json doc =
          Object("v1", "Secret", Metadata(m, EnvSecretName(m), "config"), secret, "stringData");
      doc["type"] = "Opaque";
      Add(doc);
      if (!o_.secret_values) UnwrittenSecret(EnvSecretName(m));
    }
    if (s.environment.count("PORT")) {
      notes_.push_back("services." + s.name +
                       ".environment.PORT: replaced by the container port, as slipway does");
    }
    return {!data.empty(), !secret.empty()};
  }

  void UnwrittenSecret(const std::string& name) {
    notes_.push_back("Secret " + name +
                     ": values left empty (pass --secret-values to write them, or fill them "
                     "with kubectl create secret)");
  }

  void DependencyNotes(const Service& s) {
    for (const config::Dependency& d : s.depends_on) {
      std::string where = "services." + s.name + ".depends_on." + d.service;
      if (d.condition == DependsCondition::kCompletedSuccessfully) {
        notes_.push_back(where + ": service_completed_successfully: Job " + names_.at(d.service) +
                         " runs first under Argo CD (sync wave -1); plain kubectl apply "
                         "starts both at once");
      } else {
        notes_.push_back(where + ": " +
                         std::string(config::kDependsConditionNames.Name(d.condition)) +
                         ": Kubernetes does not order pods; " + s.name + " must retry until " +
                         d.service + " is ready");
      }
    }
  }

  Status ExportService(const Service& s) {
    ObjectMeta m = Meta(s);
    const bool job = jobs_.count(s.name) > 0;
    std::set<std::string> secret_keys = SecretKeys(s);
    auto [has_config, has_secret] = ExportEnvironment(s, m, secret_keys);
    PodInput in;
    in.service = &s;
    in.meta = m;
    in.image = images_.at(s.name);
    in.port = ContainerPort(s, &notes_);
    in.has_config = has_config;
    in.has_env_secret = has_secret;
    in.secret_keys = std::move(secret_keys);
    in.probes = !job;
    in.resources = ContainerResources(s, &notes_);
    SecretInCommandNotes(s);
    json pod = PodSpec(in, &notes_);
    json tmpl_meta = {{"labels", Labels(m, job ? "job" : "server")}};
    if (pod.contains("x-annotations")) {
      tmpl_meta["annotations"] = pod["x-annotations"];
      pod.erase("x-annotations");
    }
    pod_specs_[s.name] = pod;
    DependencyNotes(s);
    const std::string where = "services." + s.name;
    for (const std::string& secret : UsedSecrets(s)) used_secrets_.insert(secret);

    if (job) {
      ExportJob(s, m, pod, tmpl_meta);
      return Status::OK();
    }
    using Mode = config::RestartPolicy::Mode;
    if (s.restart.mode == Mode::kNo || s.restart.mode == Mode::kOnFailure) {
      no_restart_.push_back(s.name);  // one note for all of them (compose's default is "no")
    }
    if (s.restart.delay.count() > 0) {
      notes_.push_back(where + ".deploy.restart_policy.delay: Kubernetes uses its own back-off");
    }
    json spec = json::object();
    spec["replicas"] = s.replicas;
    spec["selector"] = {{"matchLabels", SelectorLabels(m)}};
    spec["strategy"] = RollingUpdate(s, &notes_);
    if (s.update_config.monitor.count() > 0) {
      spec["minReadySeconds"] = Seconds(s.update_config.monitor);
    }
    spec["template"] = {{"metadata", tmpl_meta}, {"spec", pod}};
    json deployment = Object("apps/v1", "Deployment", Metadata(m, m.name, "server"), spec);

    std::vector<std::string> services = ExportServices(s, m);
    Strategy st = StrategyOf(p_, s);
    const bool rollout = o_.rollouts == Rollouts::kArgo && (st.kind == Strategy::Kind::kBlueGreen ||
                                                            st.kind == Strategy::Kind::kCanary);
    for (const std::string& n : st.unmapped) {
      // Analysis notes describe the AnalysisTemplate, which only a Rollout gets.
      if (rollout || n.find(".analysis") == std::string::npos) notes_.push_back(n);
    }
    if (st.kind == Strategy::Kind::kRecreate) {
      // x-slipway.deploy.strategy: recreate wins over compose's update_config.
      deployment["spec"]["strategy"] = {{"type", "Recreate"}};
      Add(deployment);
      return Status::OK();
    }
    if (st.kind == Strategy::Kind::kRolling) {
      Add(deployment);
      return Status::OK();
    }
    const std::string kind(config::DeployStrategyName(st.kind == Strategy::Kind::kBlueGreen
                                                          ? config::DeployStrategy::kBlueGreen
                                                          : config::DeployStrategy::kCanary));
    if (o_.rollouts != Rollouts::kArgo) {
      notes_.push_back(where + ": " + kind +
                       " strategy rendered as a RollingUpdate Deployment (pass --rollouts argo "
                       "for an Argo Rollouts Rollout)");
      Add(deployment);
      return Status::OK();
    }
    any_rollout_ = true;
    std::string active;
    std::string preview;
    if (st.kind == Strategy::Kind::kCanary) {
      // Without a traffic router Argo splits by pod counts; the Service selects both sets.
      notes_.push_back(where + ": canary weights are approximated by pod counts (" +
                       std::to_string(s.replicas) +
                       " replicas); add spec.strategy.canary.trafficRouting for exact weights");
    }
    if (st.kind == Strategy::Kind::kBlueGreen) {
      active = services.empty() ? "" : services.front();
      if (active.empty()) {
        notes_.push_back(where +
                         ": blue-green needs a published port for its active Service; "
                         "rendered as a Deployment");
        Add(deployment);
        return Status::OK();
      }
      preview = active + "-preview";
      json svc = objects_by_name_.at(active);
      svc["metadata"]["name"] = preview;
      Add(svc);
    }
    std::string tmpl;
    if (!st.analysis.empty()) {
      tmpl = m.name + "-analysis";
      Add(RenderAnalysisTemplate(m, st, "http://prometheus.monitoring:9090"));
      notes_.push_back(where + ": AnalysisTemplate " + tmpl +
                       " queries http://prometheus.monitoring:9090; change the address to "
                       "your Prometheus");
    }
    Add(RenderRollout(m, deployment, st, active,
                      st.kind == Strategy::Kind::kBlueGreen ? preview : "", tmpl));
    return Status::OK();
  }

  std::vector<std::string> UsedSecrets(const Service& s) {
    std::vector<std::string> out;
    for (const config::SecretRef& r : s.secrets) out.push_back(r.source);
    return out;
  }

  void ExportJob(const Service& s, const ObjectMeta& m, json pod, const json& tmpl_meta) {
    using Mode = config::RestartPolicy::Mode;
    int backoff = 0;
    if (s.restart.mode == Mode::kNo) {
      pod["restartPolicy"] = "Never";
    } else {
      pod["restartPolicy"] = "OnFailure";
      backoff = s.restart.max_attempts > 0 ? s.restart.max_attempts : 6;
    }
    json md = Metadata(m, m.name, "job");
    // Argo CD applies wave -1 and waits for the Job before the workloads of wave 0.
    md["annotations"] = {{"argocd.argoproj.io/sync-wave", "-1"}};
    json spec = {{"backoffLimit", backoff}, {"template", {{"metadata", tmpl_meta}, {"spec", pod}}}};
    Add(Object("batch/v1", "Job", md, spec));
    if (s.replicas != 1) {
      notes_.push_back("services." + s.name + ".deploy.replicas: a one-shot Job runs once");
    }
    if (!s.ports.empty()) {
      notes_.push_back("services." + s.name + ".ports: a one-shot Job gets no Service");
    }
  }

  // A ClusterIP Service per published port, and one per container port a route sends to
  // that no published port covers; returns their names (first = the service's own name).
  std::vector<std::string> ExportServices(const Service& s, const ObjectMeta& m) {
    struct Port {
      int port;
      int target;
      config::TransportProtocol protocol;
    };
    std::vector<Port> ports;
    for (const config::PortMapping& pm : s.ports) {
      ports.push_back({pm.published != 0 ? pm.published : pm.target, pm.target, pm.protocol});
      if (!pm.host_ip.empty()) {
        notes_.push_back("services." + s.name + ".ports: host_ip " + pm.host_ip +
                         " has no ClusterIP equivalent (the Service is cluster-internal; expose "
                         "it with an Ingress or a LoadBalancer)");
      }
    }
    for (int target : route_targets_[s.name]) {
      bool covered = std::any_of(ports.begin(), ports.end(), [&](const Port& p) {
        return p.target == target && p.protocol == config::TransportProtocol::kTcp;
      });
      if (!covered) ports.push_back({target, target, config::TransportProtocol::kTcp});
    }
    std::vector<std::string> names;
    for (const Port& pt : ports) {
      std::string name = names.empty() ? m.name : m.name + "-" + std::to_string(pt.port);
      const std::string proto(config::kTransportProtocolNames.Name(pt.protocol));
      json p = {{"name", proto + "-" + std::to_string(pt.port)},
                {"port", pt.port},
                {"protocol", KubernetesProtocol(pt.protocol)},
                {"targetPort", pt.target}};
      json spec = {
          {"type", "ClusterIP"}, {"selector", SelectorLabels(m)}, {"ports", json::array({p})}};
      json svc = Object("v1", "Service", Metadata(m, name, "server"), spec);
      objects_by_name_[name] = svc;
      Add(svc);
      names.push_back(name);
      if (pt.protocol == config::TransportProtocol::kTcp)
        backends_.emplace(std::make_pair(s.name, pt.target), std::make_pair(name, pt.port));
    }
    if (!ports.empty()) {
      first_backend_[s.name] = {names.front(), ports.front().port};
    }
    return names;
  }

  Status ExportFileSecrets() {
    for (const std::string& name : used_secrets_) {
      const config::Secret& sec = p_.secrets.at(name);
      std::string value;
      if (o_.secret_values) {
        if (!sec.environment.empty()) {
          bool found = false;
          for (const auto& [_, s] : p_.services) {
            if (auto it = s.environment.find(sec.environment); it != s.environment.end()) {
              value = it->second;
              found = true;
              break;
            }
          }
          if (!found) {
            notes_.push_back("secrets." + name + ": variable " + sec.environment +
                             " is not in any service's environment; value left empty");
          }
        } else {
          Result<std::string> content = o_.read_file(sec.file);
          if (!content.ok()) {
            return InvalidInput("secrets." + name + ": " + content.status().message());
          }
          value = *content;
        }
      }
      ObjectMeta m{p_.name, o_.namespace_name, name, FileSecretName(p_.name, name)};
      json md = Metadata(m, m.name, "secret");
      md["labels"].erase("app.kubernetes.io/name");
      json doc = Object("v1", "Secret", md, {{DataKey(name), value}}, "stringData");
      doc["type"] = "Opaque";
      Add(doc);
      if (!o_.secret_values) UnwrittenSecret(m.name);
    }
    return Status::OK();
  }

  // Container ports routes send to, before the Services are rendered.
  void CollectRoutes() {
    routes_ = RoutesOf(p_);
    for (const Route& r : routes_) {
      if (r.port != 0 && p_.services.count(r.service) && !jobs_.count(r.service)) {
        route_targets_[r.service].insert(r.port);
      }
    }
  }

  void ExportRoutes() {
    if (routes_.empty()) return;
    std::vector<Route> out;
    std::set<std::pair<std::string, std::string>> seen;  // host, path
    std::set<int> listeners;
    for (const Route& r : routes_) {
      listeners.insert(r.listen_port);
      std::pair<std::string, int> backend;
      if (auto it = backends_.find({r.service, r.port}); it != backends_.end()) {
        backend = it->second;
      } else if (auto f = first_backend_.find(r.service);
                 r.port == 0 && f != first_backend_.end()) {
        backend = f->second;
      } else {
        notes_.push_back(r.where + ": service " + r.service +
                         " has no port to route to (a one-shot Job, or no port: set the "
                         "route's port); left out of the Ingress");
        continue;
      }
      if (!seen.insert({r.host, r.path}).second) {
        notes_.push_back(r.where + ": the Ingress already routes host \"" + r.host + "\" path " +
                         r.path + " (from another listener); left out");
        continue;
      }
      if (r.strip_prefix) {
        notes_.push_back(r.where +
                         ".strip_prefix: an Ingress has no portable prefix "
                         "stripping; " +
                         r.service +
                         " receives the full path (ingress-nginx: "
                         "a regex path with nginx.ingress.kubernetes.io/rewrite-target; Traefik: "
                         "a StripPrefix middleware)");
      }
      if (!r.listen_host.empty() && r.listen_host != "0.0.0.0") {
        notes_.push_back(r.where + ".listen: address " + r.listen_host +
                         " has no Ingress equivalent (the ingress controller decides)");
      }
      Route k = r;
      k.service = backend.first;  // already the Kubernetes Service name
      k.port = backend.second;
      out.push_back(std::move(k));
    }
    if (listeners.size() > 1) {
      std::vector<std::string> ls;
      for (int l : listeners) ls.push_back(std::to_string(l));
      notes_.push_back("x-slipway.routes: listeners " + Join(ls, ", ") +
                       " are merged into one Ingress (it serves the controller's ports, "
                       "usually 80/443)");
    }
    if (!out.empty()) Add(RenderIngress(p_.name, o_.namespace_name, out, {}));
  }

  // The owner's pod spec for a migration Job or backup CronJob; null (noted) when the
  // database has no owner.
  const json* ToolPodOf(const std::string& what, const std::string& database,
                        const std::string& service) {
    const std::string where = "x-slipway.databases." + database;
    if (!p_.databases.count(database)) {
      notes_.push_back("x-slipway.backups.databases: no database \"" + database +
                       "\"; no backup CronJob");
      return nullptr;
    }
    if (service.empty()) {
      notes_.push_back(where + ": no service's environment holds its url, so no " + what +
                       " (give the service that uses the database its url in a variable, "
                       "e.g. DATABASE_URL)");
      return nullptr;
    }
    return &pod_specs_.at(service);
  }

  Status ExportFlagsAndAlerts() {
    ASSIGN_OR_RETURN(std::vector<json> flags,
                     RenderFlags(p_, o_.namespace_name, o_.read_file, &notes_));
    for (json& f : flags) Add(std::move(f));
    json rule = RenderPrometheusRule(p_, o_.namespace_name, &notes_);
    if (!rule.is_null()) Add(std::move(rule));
    return Status::OK();
  }

  void ExportMigrationsAndBackups() {
    for (const Migration& mig : MigrationsOf(p_)) {
      const json* pod = ToolPodOf("migration Job", mig.database, mig.service);
      if (!pod) continue;
      Add(RenderMigrationJob(Meta(p_.services.at(mig.service)), mig, *pod));
      if (mig.sqlite) {
        notes_.push_back("x-slipway.databases." + mig.database +
                         ": SQLite is a file in one "
                         "pod; the migration Job and the service's pods do not share it (mount "
                         "one PersistentVolumeClaim in both, or use PostgreSQL)");
      }
    }
    bool any_backup = false;
    for (const BackupSchedule& b : BackupsOf(p_)) {
      const json* pod = ToolPodOf("backup CronJob", b.database, b.service);
      if (!pod) continue;
      Add(RenderBackupCronJob(Meta(p_.services.at(b.service)), b, *pod));
      any_backup = true;
    }
    if (any_backup) {
      notes_.push_back(
          "x-slipway.backups.dir: the CronJob's pod writes the backups (and "
          "their catalog under .slipway) into its own file system; mount a "
          "PersistentVolumeClaim there or they are lost with the pod");
      const config::RetentionSettings& r = p_.backups.retention;
      if (r.keep_last || r.hourly || r.daily || r.weekly || r.monthly || r.yearly) {
        notes_.push_back(
            "x-slipway.backups.retention: not applied by the CronJob (run "
            "slipway backup prune where the backups are kept)");
      }
    }
  }

  const Project& p_;
  ExportOptions o_;
  std::map<std::string, std::string> names_;   // compose → kube name
  std::map<std::string, std::string> images_;  // compose → image
  std::set<std::string> jobs_;
  std::set<std::string> used_secrets_;
  std::map<std::string, json> pod_specs_;
  std::map<std::string, json> objects_by_name_;         // Services by name
  std::vector<Route> routes_;                           // x-slipway.routes
  std::map<std::string, std::set<int>> route_targets_;  // compose → routed container ports
  // (compose, container port) → (Service name, Service port), TCP only.
  std::map<std::pair<std::string, int>, std::pair<std::string, int>> backends_;
  std::map<std::string, std::pair<std::string, int>> first_backend_;  // compose → first
  std::vector<Manifest> objects_;
  Notes notes_;
  bool any_rollout_ = false;
  Redactor known_secrets_;               // every secret value the project knows (config::SecretsOf)
  std::vector<std::string> no_restart_;  // Deployments whose compose restart is no/on-failure
};

}  // namespace

std::string Manifest::FileName() const { return Lower(kind) + "-" + name + ".yaml"; }

std::string KubeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = std::isalnum(static_cast<unsigned char>(l));
    out += ok ? l : '-';
  }
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "s-" + out;
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

Result<Export> ExportKubernetes(const Project& project, const ExportOptions& options) {
  return Exporter(project, options).Run();
}

std::string HeaderComment(const Export& e) {
  std::map<std::string, int> counts;
  for (const Manifest& m : e.objects) counts[m.kind]++;
  std::vector<std::string> parts;
  for (const auto& [k, n] : counts) parts.push_back(std::to_string(n) + " " + k);
  std::string out = "# Kubernetes manifests of the Compose project \"" + e.project +
                    "\", rendered by `slipway export kubernetes`.\n";
  out += "# Objects: " + Join(parts, ", ") + ".\n";
  if (e.unmapped.empty()) {
    out += "# Every setting of the project was mapped.\n";
  } else {
    out += "# Not mapped (" + std::to_string(e.unmapped.size()) + "), review before applying:\n";
    for (const std::string& n : e.unmapped) out += "#   - " + n + "\n";
  }
  return out;
}

std::string RenderStream(const Export& e) {
  std::string out = HeaderComment(e);
  for (const Manifest& m : e.objects) out += "---\n" + EmitYaml(m.doc);
  return out;
}

std::map<std::string, std::string> RenderFolder(const Export& e, const ExportOptions& options) {
  std::map<std::string, std::string> files;
  json resources = json::array();
  for (const Manifest& m : e.objects) {
    files[m.FileName()] = EmitYaml(m.doc);
    resources.push_back(m.FileName());
  }
  json k = json::object();
  k["apiVersion"] = "kustomize.config.k8s.io/v1beta1";
  k["kind"] = "Kustomization";
  if (!options.namespace_name.empty()) k["namespace"] = options.namespace_name;
  k["resources"] = resources;
  files["kustomization.yaml"] = HeaderComment(e) + EmitYaml(k);
  return files;
}

Status WriteFolder(const fs::path& dir, const std::map<std::string, std::string>& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  for (const auto& [name, content] : files) {
    fs::path p = dir / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return Internal("cannot write " + p.string());
  }
  return Status::OK();
}

Result<std::pair<std::string, std::string>> ParseImageFlag(const std::string& flag) {
  size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size()) {
    return InvalidInput("--image " + flag + ": expected SERVICE=IMAGE, e.g. api=registry/app:1.2");
  }
  return std::make_pair(flag.substr(0, eq), flag.substr(eq + 1));
}

}  // namespace slipway::exporter
