#include "config/render.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "config/compose_names.h"
#include "config/duration.h"
#include "config/node.h"
#include "config/values.h"

namespace slipway::config {
namespace {

std::string ConditionName(DependsCondition c) {
  return std::string(kDependsConditionNames.Name(c));
}

std::string RestartName(const RestartPolicy& r) {
  std::string name(kRestartModeNames.Name(r.mode));
  if (r.mode == RestartPolicy::Mode::kOnFailure && r.max_attempts > 0) {
    name.push_back(':');
    name.append(std::to_string(r.max_attempts));
  }
  return name;
}

// What the rendering shows of values that may hold secrets.
class Masker {
 public:
  explicit Masker(const RenderOptions& o) : o_(o) {}

  // An environment variable's value: "***" for a secret one (an empty value stays empty:
  // there is nothing to hide and it helps to see it).
  std::string Env(const Service& s, const std::string& key, const std::string& value) const {
    if (o_.show_secrets) return value;
    if (!value.empty() && (s.secret_env.count(key) || IsSecretName(key))) {
      return std::string(kRedacted);
    }
    return Text(value);
  }
  // Any other string: known secret values and URL passwords masked.
  std::string Text(const std::string& value) const {
    if (o_.show_secrets) return value;
    return o_.redactor != nullptr ? o_.redactor->Scrub(value) : RedactUrlPasswords(value);
  }

 private:
  const RenderOptions& o_;
};

// Built as an ordered document so the YAML reads in a natural order.
template <typename J>
J UpdateJson(const UpdateConfig& u) {
  J j;
  j["parallelism"] = u.parallelism;
  j["delay"] = FormatDuration(u.delay);
  j["failure_action"] = std::string(FailureActionName(u.failure_action));
  j["monitor"] = FormatDuration(u.monitor);
  j["max_failure_ratio"] = u.max_failure_ratio;
  j["order"] = std::string(UpdateOrderName(u.order));
  return j;
}

template <typename J>
J HealthJson(const Healthcheck& h, const Masker& m) {
  J j;
  // The TLS settings of an http or grpc probe, each only when set, so that the spec hash of a
  // probe without them is what it was before they existed.
  auto add_tls = [&] {
    if (h.scheme == Healthcheck::Scheme::kHttps) j["x-slipway"]["scheme"] = "https";
    if (!h.ca_file.empty()) j["x-slipway"]["ca_file"] = h.ca_file;
    if (!h.server_name.empty()) j["x-slipway"]["server_name"] = h.server_name;
    if (h.insecure_skip_verify) j["x-slipway"]["insecure_skip_verify"] = *h.insecure_skip_verify;
  };
  switch (h.kind) {
    case Healthcheck::Kind::kNone:
      j["disable"] = true;
      return j;
    case Healthcheck::Kind::kCmd: {
      J test = J::array();
      test.push_back("CMD");
      for (const std::string& t : h.test) test.push_back(m.Text(t));
      j["test"] = test;
      break;
    }
    case Healthcheck::Kind::kCmdShell: {
      J test = J::array();
      test.push_back("CMD-SHELL");
      for (const std::string& t : h.test) test.push_back(m.Text(t));
      j["test"] = test;
      break;
    }
    case Healthcheck::Kind::kHttp:
      j["x-slipway"]["http"] = h.http_path;
      j["x-slipway"]["port"] = h.port;
      add_tls();
      break;
    case Healthcheck::Kind::kTcp:
      j["x-slipway"]["tcp"] = true;
      j["x-slipway"]["port"] = h.port;
      break;
    case Healthcheck::Kind::kGrpc:
      j["x-slipway"]["grpc"] = h.grpc_service;
      j["x-slipway"]["port"] = h.port;
      add_tls();
      break;
  }
  j["interval"] = FormatDuration(h.interval);
  j["timeout"] = FormatDuration(h.timeout);
  j["retries"] = h.retries;
  j["start_period"] = FormatDuration(h.start_period);
  j["start_interval"] = FormatDuration(h.start_interval);
  return j;
}

template <typename J>
J ServiceJson(const Service& s, const Masker& m) {
  J j;
  auto list = [&m](const std::vector<std::string>& v) {
    J a = J::array();
    for (const std::string& x : v) a.push_back(m.Text(x));
    return a;
  };
  if (!s.image.empty()) j["image"] = s.image;
  if (s.build) {
    j["build"]["context"] = s.build->context.string();
    if (!s.build->dockerfile.empty()) j["build"]["dockerfile"] = s.build->dockerfile;
  }
  if (s.entrypoint) j["entrypoint"] = list(*s.entrypoint);
  if (s.command) j["command"] = list(*s.command);
  if (!s.profiles.empty()) j["profiles"] = list(s.profiles);
  j["working_dir"] = s.working_dir.string();
  if (!s.user.empty()) j["user"] = s.user;
  J env = J::object();
  for (const auto& [k, v] : s.environment) env[k] = m.Env(s, k, v);
  j["environment"] = env;
  if (!s.ports.empty()) {
    J ports = J::array();
    for (const PortMapping& p : s.ports) {
      J pj;
      pj["target"] = p.target;
      if (p.published != 0) pj["published"] = p.published;
      if (!p.host_ip.empty()) pj["host_ip"] = p.host_ip;
      pj["protocol"] = kTransportProtocolNames.Name(p.protocol);
      if (!p.published_var.empty()) pj["x-slipway-published-var"] = p.published_var;
      ports.push_back(pj);
    }
    j["ports"] = ports;
  }
  if (!s.depends_on.empty()) {
    J deps = J::object();
    for (const Dependency& d : s.depends_on) {
      J dj;
      dj["condition"] = ConditionName(d.condition);
      dj["required"] = d.required;
      dj["restart"] = d.restart;
      deps[d.service] = dj;
    }
    j["depends_on"] = deps;
  }
  j["healthcheck"] = HealthJson<J>(s.healthcheck, m);
  j["restart"] = RestartName(s.restart);
  j["stop_signal"] = SignalName(s.stop_signal);
  j["stop_grace_period"] = FormatDuration(s.stop_grace_period);
  J deploy;
  deploy["replicas"] = s.replicas;
  if (s.restart.delay.count() > 0)
    deploy["restart_policy"]["delay"] = FormatDuration(s.restart.delay);
  deploy["update_config"] = UpdateJson<J>(s.update_config);
  deploy["rollback_config"] = UpdateJson<J>(s.rollback_config);
  const ResourceSettings& r = s.resources;
  auto cpus = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return std::string(buf);
  };
  if (r.cpus) deploy["resources"]["limits"]["cpus"] = cpus(*r.cpus);
  if (r.memory_bytes) deploy["resources"]["limits"]["memory"] = *r.memory_bytes;
  if (r.pids) deploy["resources"]["limits"]["pids"] = *r.pids;
  if (r.reserved_cpus) deploy["resources"]["reservations"]["cpus"] = cpus(*r.reserved_cpus);
  if (r.reserved_memory_bytes) {
    deploy["resources"]["reservations"]["memory"] = *r.reserved_memory_bytes;
  }
  j["deploy"] = deploy;
  if (!s.labels.empty()) {
    J labels = J::object();
    for (const auto& [k, v] : s.labels) labels[k] = m.Text(v);
    j["labels"] = labels;
  }
  if (!s.secrets.empty()) {
    J secrets = J::array();
    for (const SecretRef& r : s.secrets) {
      J rj;
      rj["source"] = r.source;
      rj["target"] = r.target;
      secrets.push_back(rj);
    }
    j["secrets"] = secrets;
  }
  if (s.host_command) j["x-slipway"]["command"] = list(*s.host_command);
  return j;
}

template <typename J>
J ProjectJson(const Project& p, const RenderOptions& options) {
  const Masker m(options);
  J j;
  j["name"] = p.name;
  J services = J::object();
  for (const auto& [name, s] : p.services) services[name] = ServiceJson<J>(s, m);
  j["services"] = services;
  if (!p.secrets.empty()) {
    J secrets = J::object();
    for (const auto& [name, s] : p.secrets) {
      J sj = J::object();
      if (!s.file.empty()) sj["file"] = s.file.string();
      if (!s.environment.empty()) sj["environment"] = s.environment;
      secrets[name] = sj;
    }
    j["secrets"] = secrets;
  }
  j["x-slipway"]["api"]["listen"] = p.api.listen;
  if (!p.api.hosts.empty()) j["x-slipway"]["api"]["hosts"] = p.api.hosts;
  if (!p.api.public_metrics) j["x-slipway"]["api"]["public_metrics"] = false;
  if (p.api.tls) {
    j["x-slipway"]["api"]["tls"]["cert"] = p.api.tls->cert;
    j["x-slipway"]["api"]["tls"]["key"] = p.api.tls->key;
  }
  return j;
}

// Strings a YAML reader would take for another type are quoted.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* kWords[] = {"true", "false", "yes", "no", "on", "off", "null", "~",
                                 "True", "False", "Yes", "No", "On", "Off", "Null", "NULL",
                                 "TRUE", "FALSE", "YES", "NO", "ON", "OFF"};
  for (const char* w : kWords) {
    if (s == w) return true;
  }
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

void Emit(YAML::Emitter& out, const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        Emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case nlohmann::ordered_json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& v : j) Emit(out, v);
      out << YAML::EndSeq;
      break;
    case nlohmann::ordered_json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case nlohmann::ordered_json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      break;
    case nlohmann::ordered_json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << j.dump();  // numbers
  }
}

// A scalar of the model as it is printed: masked, and a literal `$` doubled so that reading
// the output interpolates it back to itself.
std::string ModelText(const std::string& value, const std::string* env_key, const Service& svc,
                      const Masker& m) {
  std::string shown = env_key != nullptr ? m.Env(svc, *env_key, value) : m.Text(value);
  if (shown.find('$') == std::string::npos) return shown;
  std::string out;
  out.reserve(shown.size() + 8);
  for (char c : shown) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

bool IsPlainInt(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size() || s.size() - i > 15) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return !(s.size() > 1 && s[0] == '0');  // 0755 stays a string, as YAML 1.1 would read it
}

// Walks the model; `env_of` is the service whose `environment` mapping `n` is, if it is one.
class ModelWriter {
 public:
  ModelWriter(const Project& p, const Masker& m) : p_(p), m_(m) {}

  void Yaml(YAML::Emitter& out, const Node& n, const std::vector<std::string>& path) {
    switch (n.kind) {
      case Node::Kind::kNull:
        out << YAML::Null;
        return;
      case Node::Kind::kScalar: {
        const std::string text = Text(n, path);
        // As written; a value the rendering changed (masked, `$` doubled) is quoted.
        if (n.quoted || text != n.scalar) out << YAML::DoubleQuoted;
        out << text;
        return;
      }
      case Node::Kind::kSeq:
        out << YAML::BeginSeq;
        for (const Node& c : n.children) Yaml(out, c, Child(path, "[]"));
        out << YAML::EndSeq;
        return;
      case Node::Kind::kMap:
        out << YAML::BeginMap;
        for (const Node& c : n.children) {
          out << YAML::Key << c.key << YAML::Value;
          Yaml(out, c, Child(path, c.key));
        }
        out << YAML::EndMap;
        return;
    }
  }

  nlohmann::ordered_json Json(const Node& n, const std::vector<std::string>& path) {
    switch (n.kind) {
      case Node::Kind::kNull:
        return nullptr;
      case Node::Kind::kScalar: {
        const std::string text = Text(n, path);
        if (!n.quoted && text == n.scalar) {
          if (text == "true" || text == "false") return text == "true";
          if (IsPlainInt(text)) return std::stoll(text);
        }
        return text;
      }
      case Node::Kind::kSeq: {
        nlohmann::ordered_json a = nlohmann::ordered_json::array();
        for (const Node& c : n.children) a.push_back(Json(c, Child(path, "[]")));
        return a;
      }
      case Node::Kind::kMap: {
        nlohmann::ordered_json o = nlohmann::ordered_json::object();
        for (const Node& c : n.children) o[c.key] = Json(c, Child(path, c.key));
        return o;
      }
    }
    return nullptr;
  }

 private:
  static std::vector<std::string> Child(const std::vector<std::string>& path,
                                        const std::string& k) {
    // Only the first levels matter (services.<name>.environment.<key>); deeper paths are
    // not spelled out.
    if (path.size() >= 4) return path;
    std::vector<std::string> c = path;
    c.push_back(k);
    return c;
  }

  std::string Text(const Node& n, const std::vector<std::string>& path) {
    const bool env = path.size() == 4 && path[0] == "services" && path[2] == "environment";
    const Service* svc = &none_;
    if (env) {
      auto it = p_.services.find(path[1]);
      if (it != p_.services.end()) svc = &it->second;
    }
    return ModelText(n.scalar, env ? &path[3] : nullptr, *svc, m_);
  }

  const Project& p_;
  const Masker& m_;
  const Service none_;
};

// The model with `name:` first (the project name however it was chosen).
Node ModelWithName(const Project& p) {
  Node doc = Node::Map();
  Node name = Node::Scalar(p.name);
  name.quoted = true;
  doc.Set("name", std::move(name));
  for (const Node& c : p.model->children) {
    if (c.key != "name") doc.children.push_back(c);
  }
  return doc;
}

}  // namespace

std::string RenderComposeYaml(const Project& p, const RenderOptions& options) {
  if (p.model == nullptr) return RenderYaml(p, options);
  const Masker m(options);
  ModelWriter w(p, m);
  YAML::Emitter out;
  w.Yaml(out, ModelWithName(p), {});
  std::string s = out.c_str();
  s += '\n';
  return s;
}

nlohmann::ordered_json RenderComposeJson(const Project& p, const RenderOptions& options) {
  if (p.model == nullptr) return ProjectJson<nlohmann::ordered_json>(p, options);
  const Masker m(options);
  ModelWriter w(p, m);
  return w.Json(ModelWithName(p), {});
}

nlohmann::json RenderJson(const Project& p, const RenderOptions& options) {
  return ProjectJson<nlohmann::json>(p, options);
}

std::string RenderYaml(const Project& p, const RenderOptions& options) {
  YAML::Emitter out;
  Emit(out, ProjectJson<nlohmann::ordered_json>(p, options));
  std::string s = out.c_str();
  s += '\n';
  return s;
}

}  // namespace slipway::config
