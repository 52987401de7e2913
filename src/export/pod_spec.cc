#include "export/pod_spec.h"

#include <cctype>
#include <csignal>
#include <cstring>
#include <set>

#include "config/compose_names.h"
#include "export/kubernetes.h"

namespace slipway::exporter {

using config::Healthcheck;
using nlohmann::json;

namespace {

bool AllDigits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

json ProbeAction(const Healthcheck& h, int port) {
  json p = json::object();
  switch (h.kind) {
    case Healthcheck::Kind::kCmd:
      p["exec"] = {{"command", h.test}};
      break;
    case Healthcheck::Kind::kCmdShell:
      p["exec"] = {{"command", json::array({"/bin/sh", "-c", h.test.empty() ? "" : h.test[0]})}};
      break;
    case Healthcheck::Kind::kHttp:
      p["httpGet"] = {{"path", h.http_path}, {"port", h.port != 0 ? h.port : port}};
      // Kubernetes' HTTPS probes do not verify the certificate, as slipway's default.
      if (h.scheme == Healthcheck::Scheme::kHttps) p["httpGet"]["scheme"] = "HTTPS";
      break;
    case Healthcheck::Kind::kTcp:
      p["tcpSocket"] = {{"port", h.port != 0 ? h.port : port}};
      break;
    case Healthcheck::Kind::kGrpc:
      // Kubernetes' grpc probes speak clear HTTP/2 only (the export notes it for https).
      p["grpc"] = {{"port", h.port != 0 ? h.port : port}};
      if (!h.grpc_service.empty()) p["grpc"]["service"] = h.grpc_service;
      break;
    case Healthcheck::Kind::kNone:
      return nullptr;
  }
  return p;
}

}  // namespace

bool IsConfigMapKey(const std::string& k) {
  if (k.empty() || k.size() > 253) return false;
  for (char c : k) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

int Seconds(Duration d, int min) {
  long long ms = d.count();
  long long s = ms <= 0 ? 0 : (ms + 999) / 1000;
  return static_cast<int>(s < min ? min : s);
}

int ContainerPort(const config::Service& s, Notes* notes) {
  if (!s.ports.empty()) return s.ports.front().target;
  const Healthcheck& h = s.healthcheck;
  if (h.kind != Healthcheck::Kind::kHttp && h.kind != Healthcheck::Kind::kTcp &&
      h.kind != Healthcheck::Kind::kGrpc) {
    return 0;
  }
  if (h.port != 0) return h.port;
  notes->push_back("services." + s.name +
                   ": no ports and a health check on $PORT; the container gets PORT=8080 "
                   "(add a ports: entry to choose another)");
  return 8080;
}

json ReadinessProbe(const Healthcheck& h, int port) {
  json p = ProbeAction(h, port);
  if (p.is_null()) return p;
  p["periodSeconds"] = Seconds(h.interval, 1);
  p["timeoutSeconds"] = Seconds(h.timeout, 1);
  p["failureThreshold"] = h.retries < 1 ? 1 : h.retries;
  return p;
}

json StartupProbe(const Healthcheck& h, int port) {
  if (h.start_period.count() <= 0) return nullptr;
  json p = ProbeAction(h, port);
  if (p.is_null()) return p;
  // Compose ignores failures during start_period (probing every start_interval),
  // then counts `retries`; the startupProbe allows the same total before a restart.
  int period = Seconds(h.start_interval, 1);
  int during = (Seconds(h.start_period, 1) + period - 1) / period;
  p["periodSeconds"] = period;
  p["timeoutSeconds"] = Seconds(h.timeout, 1);
  p["failureThreshold"] = during + (h.retries < 1 ? 1 : h.retries);
  return p;
}

json SecurityContext(const config::Service& s, Notes* notes) {
  if (s.user.empty()) return nullptr;
  std::string uid = s.user, gid;
  if (size_t colon = uid.find(':'); colon != std::string::npos) {
    gid = uid.substr(colon + 1);
    uid = uid.substr(0, colon);
  }
  if (!AllDigits(uid) || (!gid.empty() && !AllDigits(gid))) {
    notes->push_back("services." + s.name + ".user: \"" + s.user +
                     "\" is not numeric; Kubernetes needs securityContext.runAsUser as a uid "
                     "(set it by hand)");
    return nullptr;
  }
  json sc = json::object();
  sc["runAsUser"] = std::stoll(uid);
  if (!gid.empty()) sc["runAsGroup"] = std::stoll(gid);
  return sc;
}

std::string ConfigMapName(const ObjectMeta& m) { return m.name + "-env"; }
std::string EnvSecretName(const ObjectMeta& m) { return m.name + "-secret-env"; }

std::string FileSecretName(const std::string& project, const std::string& secret) {
  return KubeName(project + "-" + secret);
}

std::string DataKey(const std::string& name) {
  std::string k;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    k += ok ? c : '_';
  }
  return k.empty() ? "value" : k;
}

bool IsQualifiedName(const std::string& key) {
  std::string prefix, name = key;
  if (size_t slash = key.find('/'); slash != std::string::npos) {
    prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253) return false;
    for (char c : prefix) {
      if (!std::islower(static_cast<unsigned char>(c)) &&
          !std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
        return false;
      }
    }
  }
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string KubernetesProtocol(config::TransportProtocol p) {
  std::string name(config::kTransportProtocolNames.Name(p));
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

json PodSpec(const PodInput& in, Notes* notes) {
  const config::Service& s = *in.service;
  const std::string where = "services." + s.name;
  json c = json::object();
  c["name"] = in.meta.name;
  c["image"] = in.image;
  // entrypoint replaces the image's ENTRYPOINT (command), command its CMD (args),
  // exactly as in compose.
  if (s.entrypoint) c["command"] = *s.entrypoint;
  if (s.command) c["args"] = *s.command;
  if (s.host_command && !s.entrypoint && !s.command) {
    notes->push_back(where +
                     ".x-slipway.command: runs on the host only; in the cluster the "
                     "image's own command runs (set compose command: to change it)");
  }

  // Explicit variables: what Slipway hands every instance, plus environment keys a
  // ConfigMap cannot hold.
  json env = json::array();
  std::map<std::string, std::string> explicit_env;
  if (in.port > 0) explicit_env["PORT"] = std::to_string(in.port);
  explicit_env["SLIPWAY_PROJECT"] = in.meta.project;
  explicit_env["SLIPWAY_SERVICE"] = s.name;
  for (const auto& [k, v] : s.environment) {
    // secret_keys holds every variable a declared secret feeds (SecretKeys).
    if (!IsConfigMapKey(k) && !in.secret_keys.count(k) && !explicit_env.count(k)) {
      explicit_env[k] = v;
    }
  }
  for (const auto& [k, v] : explicit_env) env.push_back({{"name", k}, {"value", v}});
  c["env"] = env;
  json env_from = json::array();
  if (in.has_config) env_from.push_back({{"configMapRef", {{"name", ConfigMapName(in.meta)}}}});
  if (in.has_env_secret) {
    env_from.push_back({{"secretRef", {{"name", EnvSecretName(in.meta)}}}});
  }
  if (!env_from.empty()) c["envFrom"] = env_from;

  json ports = json::array();
  std::set<std::pair<int, std::string>> seen;
  for (const config::PortMapping& pm : s.ports) {
    std::string proto = KubernetesProtocol(pm.protocol);
    if (!seen.insert({pm.target, proto}).second) continue;
    ports.push_back({{"containerPort", pm.target}, {"protocol", proto}});
  }
  if (ports.empty() && in.port > 0) {
    ports.push_back({{"containerPort", in.port}, {"protocol", "TCP"}});
  }
  if (!ports.empty()) c["ports"] = ports;

  if (in.probes) {
    json rp = ReadinessProbe(s.healthcheck, in.port);
    if (!rp.is_null()) c["readinessProbe"] = rp;
    json sp = StartupProbe(s.healthcheck, in.port);
    if (!sp.is_null()) c["startupProbe"] = sp;
    if (s.healthcheck.kind == Healthcheck::Kind::kGrpc &&
        s.healthcheck.scheme == Healthcheck::Scheme::kHttps) {
      notes->push_back(where +
                       ".healthcheck: Kubernetes' grpc probes do not speak TLS; with scheme: "
                       "https the probe fails unless the port also serves clear HTTP/2");
    }
  } else if (s.healthcheck.kind != Healthcheck::Kind::kNone) {
    notes->push_back(where + ".healthcheck: not used for a Job (it runs to completion)");
  }

  if (!in.resources.is_null()) c["resources"] = in.resources;

  json sc = SecurityContext(s, notes);
  if (!sc.is_null()) c["securityContext"] = sc;

  json pod = json::object();
  if (!s.secrets.empty()) {
    // Compose mounts secrets as files under /run/secrets/<target>: one projected volume.
    json sources = json::array();
    for (const config::SecretRef& ref : s.secrets) {
      json item = {{"key", DataKey(ref.source)}, {"path", ref.target}};
      sources.push_back({{"secret",
                          {{"name", FileSecretName(in.meta.project, ref.source)},
                           {"items", json::array({item})}}}});
    }
    c["volumeMounts"] =
        json::array({{{"name", "secrets"}, {"mountPath", "/run/secrets"}, {"readOnly", true}}});
    pod["volumes"] = json::array({{{"name", "secrets"}, {"projected", {{"sources", sources}}}}});
  }

  pod["containers"] = json::array({c});
  pod["terminationGracePeriodSeconds"] = Seconds(s.stop_grace_period);
  if (s.stop_signal != SIGTERM) {
    notes->push_back(where + ".stop_signal: " + SignalName(s.stop_signal) +
                     " is not configurable in Kubernetes 1.27 (pods get SIGTERM); handle "
                     "SIGTERM or add a preStop hook");
  }

  json annotations = json::object();
  for (const auto& [k, v] : s.labels) {
    if (IsQualifiedName(k)) {
      annotations[k] = v;
    } else {
      std::string note = where;
      note.append(".labels.")
          .append(k)
          .append(": not a valid Kubernetes annotation key; left out of the pod");
      notes->push_back(std::move(note));
    }
  }
  if (!annotations.empty()) pod["x-annotations"] = annotations;  // moved by the caller
  return pod;
}

}  // namespace slipway::exporter
