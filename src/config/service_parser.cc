#include "config/service_parser.h"

#include <algorithm>
#include <cctype>

#include "config/compose_names.h"
#include "config/dotenv.h"
#include "config/duration.h"
#include "config/resources_settings.h"
#include "config/service_addresses.h"
#include "config/values.h"
#include "config/volumes_settings.h"
#include "net/tls_client_context.h"

namespace slipway::config {
namespace {

namespace fs = std::filesystem;

bool IsExtension(const std::string& key) { return key.rfind("x-", 0) == 0; }

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The variable behind bytes [begin, end) of an interpolated scalar, if one
// substitution produced exactly them.
std::string VarFor(const Node& n, size_t begin, size_t end) {
  for (const Substitution& s : n.substitutions) {
    if (s.begin == begin && s.end == end) return s.var;
  }
  return "";
}

Status CheckPortNumber(const Node& v, const std::string& path, const std::string& text,
                       bool allow_zero, int* out) {
  std::optional<long long> n = ParseInteger(text);
  if (!n) {
    return NodeError(v, path, Quote(text) + " is not a port number", "a number from 1 to 65535");
  }
  if (*n < (allow_zero ? 0 : 1) || *n > 65535) {
    return NodeError(v, path, "port " + text + " is out of range", "a number from 1 to 65535");
  }
  *out = static_cast<int>(*n);
  return Status::OK();
}

// Slipway proxies TCP only: a UDP port would be accepted and nothing would listen.
// "9100" or "9100-9101" (compose port ranges, inclusive).
Status CheckPortRange(const Node& v, const std::string& path, const std::string& text, int* first,
                      int* last) {
  size_t dash = text.find('-');
  if (dash == std::string::npos || dash == 0) {
    RETURN_IF_ERROR(CheckPortNumber(v, path, text, false, first));
    *last = *first;
    return Status::OK();
  }
  std::string a = text.substr(0, dash), b = text.substr(dash + 1);
  for (const std::string* part : {&a, &b}) {
    if (!ParseInteger(*part) || part->find_first_of("+-") != std::string::npos) {
      return NodeError(v, path, Quote(text) + " is not a port range",
                       "FIRST-LAST, e.g. \"9100-9101\"");
    }
  }
  RETURN_IF_ERROR(CheckPortNumber(v, path, a, false, first));
  RETURN_IF_ERROR(CheckPortNumber(v, path, b, false, last));
  if (*last < *first) {
    return NodeError(v, path, "port range " + Quote(text) + " ends before it starts",
                     "FIRST-LAST with FIRST <= LAST");
  }
  if (*last - *first >= 1024) {
    return NodeError(v, path, "port range " + Quote(text) + " is too long", "at most 1024 ports");
  }
  return Status::OK();
}

// A port's protocol: only tcp loads (UDP and SCTP are not proxied).
Status CheckProtocol(const Node& v, const std::string& path, const std::string& proto,
                     const std::string& shown, TransportProtocol* out) {
  const std::optional<TransportProtocol> p = kTransportProtocolNames.Parse(proto);
  if (p == TransportProtocol::kTcp) {
    *out = *p;
    return Status::OK();
  }
  if (p == TransportProtocol::kUdp) {
    return NodeError(v, path, shown + " \u2014 UDP is not proxied by slipway", "a TCP port");
  }
  return NodeError(v, path, "protocol " + Quote(proto) + " is not supported",
                   std::string(kTransportProtocolNames.Name(TransportProtocol::kTcp)));
}

Status CheckHostName(const Node& v, const std::string& path, const std::string& name) {
  if (IsValidHostName(name)) return Status::OK();
  return NodeError(v, path, Quote(name) + " is not a host name",
                   "letters, digits, '-', '.', '_', not starting with '-' or '.'");
}

constexpr char kProbeShapes[] =
    "{http: /path, port: N}, {tcp: true, port: N} or {grpc: service, port: N}";
constexpr size_t kMaxGrpcServiceName = 1024;

// healthcheck.grpc: the service name as a string ("" = the whole server), or `true` for "".
// A plain number, false, a list or a mapping is a mistake, not a name.
Status ReadGrpcService(const Node& g, const std::string& path, std::string* out) {
  static const char kExpected[] = "a service name such as pkg.Service, \"\" or true for the server";
  if (!g.IsScalar()) return NodeError(g, path, "is " + g.Describe(), kExpected);
  const std::string& v = g.scalar;
  if (!g.quoted) {
    Result<bool> b = ReadBool(g, path);
    if (b.ok()) {
      if (!*b) {
        return NodeError(g, path, "is false (to probe otherwise, leave grpc out)", kExpected);
      }
      out->clear();
      return Status::OK();
    }
    const size_t digit = !v.empty() && (v[0] == '-' || v[0] == '+') ? 1 : 0;
    if (digit < v.size() &&
        (std::isdigit(static_cast<unsigned char>(v[digit])) || v[digit] == '.')) {
      return NodeError(g, path, "is the number " + v, kExpected);
    }
  }
  if (v.size() > kMaxGrpcServiceName) {
    return NodeError(g, path, "is " + std::to_string(v.size()) + " bytes long",
                     "at most " + std::to_string(kMaxGrpcServiceName));
  }
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return NodeError(g, path, "has a control character", kExpected);
  }
  *out = v;
  return Status::OK();
}

}  // namespace

// A TLS server name: a DNS name (letters, digits, '-', '.', '*' not allowed) or an IP literal.
static bool IsTlsServerName(const std::string& n) {
  if (n.empty() || n.size() > 253) return false;
  if (net::IsIpLiteral(n)) return true;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return n.front() != '.' && n.front() != '-';
}

const std::vector<std::string>& KnownServiceSlipwayKeys() {
  static const std::vector<std::string> kKeys = {"command", "deploy", "healthcheck", "image",
                                                 "metrics", "ports",  "runtime",     "upstream"};
  return kKeys;
}

void ServiceParser::Ignored(const std::string& path) {
  if (ctx_.warned != nullptr && !ctx_.warned->insert(path).second) return;
  if (ctx_.warnings != nullptr) ctx_.warnings->push_back(path + ": ignored by slipway");
}

Result<std::map<std::string, Secret>> ServiceParser::ParseSecrets(const Node& secrets) {
  // config/volumes_settings.h: file, environment or external.
  return ParseSecretSources(secrets, /*configs=*/false, ctx_.environment,
                            [this](const std::string& p) { Ignored(p); });
}

Result<Service> ServiceParser::Parse(const std::string& name, const Node& node,
                                     const std::map<std::string, Secret>& secrets) {
  const std::string path = JoinPath("services", name);
  RETURN_IF_ERROR(ExpectMap(node, path, "a mapping of service settings"));
  Service s;
  s.name = name;
  s.loc = node.ErrorLoc();
  for (const Node& v : node.children) {
    RETURN_IF_ERROR(ParseKey(v, JoinPath(path, v.key), v.key, &s, secrets));
  }
  // env_file first, then `environment` over it.
  if (const Node* ef = node.Find("env_file")) {
    RETURN_IF_ERROR(ParseEnvFiles(*ef, JoinPath(path, "env_file"), &s, node.Find("environment")));
  }
  if (const Node* env = node.Find("environment")) {
    RETURN_IF_ERROR(ParseEnvironment(*env, JoinPath(path, "environment"), &s));
  }
  if (const Node* sr = node.Find("secrets")) {
    RETURN_IF_ERROR(ParseSecretRefs(*sr, JoinPath(path, "secrets"), &s, secrets));
  }
  if (const Node* x = node.Find("x-slipway")) {
    RETURN_IF_ERROR(ParseSlipway(*x, JoinPath(path, "x-slipway"), &s, node.Find("healthcheck")));
  }
  RETURN_IF_ERROR(ParseContainerKeys(node, path, &s));
  if (s.working_dir.empty()) {
    if (s.build && !s.build->context.empty() && s.build->context.is_absolute()) {
      s.working_dir = s.build->context;
    } else {
      s.working_dir = ctx_.project_dir;
    }
  }
  if (!s.command && s.image.empty() && !s.build && !s.host_command) {
    return NodeError(node, path, "has no command, image, build or x-slipway.command",
                     "at least one, so slipway knows what to run");
  }
  // Environment keys that carry a declared secret: the secret's variable
  // itself, or a key whose whole value came from that variable.
  for (const SecretRef& ref : s.secrets) {
    auto it = secrets.find(ref.source);
    if (it == secrets.end() || it->second.environment.empty()) continue;
    const std::string& var = it->second.environment;
    if (s.environment.count(var)) s.secret_env.insert(var);
    if (const Node* env = node.Find("environment")) {
      for (const Node& e : env->children) {
        if (e.IsScalar() && VarFor(e, 0, e.scalar.size()) == var && s.environment.count(e.key)) {
          s.secret_env.insert(e.key);
        }
      }
    }
  }
  return s;
}

Status ServiceParser::ParseKey(const Node& v, const std::string& path, const std::string& key,
                               Service* s, const std::map<std::string, Secret>& secrets) {
  if (key == "command") {
    if (v.IsNull()) return Status::OK();
    ASSIGN_OR_RETURN(s->command, ReadCommand(v, path));
  } else if (key == "entrypoint") {
    if (v.IsNull()) return Status::OK();
    ASSIGN_OR_RETURN(s->entrypoint, ReadCommand(v, path));
  } else if (key == "working_dir") {
    ASSIGN_OR_RETURN(std::string wd, ReadString(v, path));
    s->working_dir = wd;
  } else if (key == "user") {
    ASSIGN_OR_RETURN(s->user, ReadString(v, path));
  } else if (key == "ports") {
    return ParsePorts(v, path, s);
  } else if (key == "expose") {
    return ParseExpose(v, path, s);
  } else if (key == "hostname") {
    ASSIGN_OR_RETURN(s->hostname, ReadString(v, path));
    return CheckHostName(v, path, s->hostname);
  } else if (key == "container_name") {
    ASSIGN_OR_RETURN(s->container_name, ReadString(v, path));
    return CheckHostName(v, path, s->container_name);
  } else if (key == "networks") {
    return ParseNetworks(v, path, s);
  } else if (key == "links") {
    return ParseLinks(v, path, s);
  } else if (key == "depends_on") {
    return ParseDependsOn(v, path, s);
  } else if (key == "healthcheck") {
    return ParseHealthcheck(v, path, &s->healthcheck);
  } else if (key == "restart") {
    return ParseRestart(v, path, &s->restart);
  } else if (key == "stop_signal") {
    ASSIGN_OR_RETURN(std::string sig, ReadString(v, path));
    std::optional<int> n = ParseSignal(sig);
    if (!n) return NodeError(v, path, Quote(sig) + " is not a signal", "e.g. SIGTERM, TERM or 15");
    s->stop_signal = *n;
  } else if (key == "stop_grace_period") {
    ASSIGN_OR_RETURN(s->stop_grace_period, ReadDuration(v, path));
  } else if (key == "deploy") {
    return ParseDeploy(v, path, s);
  } else if (key == "image") {
    ASSIGN_OR_RETURN(s->image, ReadString(v, path));
  } else if (key == "build") {
    RETURN_IF_ERROR(ExpectMap(v, path, "a folder path or a mapping with context, dockerfile"));
    BuildSpec b;
    for (const Node& f : v.children) {
      const std::string fpath = JoinPath(path, f.key);
      if (f.key == "context") {
        ASSIGN_OR_RETURN(std::string ctx, ReadString(f, fpath));
        b.context = ctx;
      } else if (f.key == "dockerfile") {
        ASSIGN_OR_RETURN(b.dockerfile, ReadString(f, fpath));
      } else if (f.key == "target") {
        ASSIGN_OR_RETURN(b.target, ReadString(f, fpath));
      } else if (f.key == "args") {
        // A mapping, or a KEY=VALUE list (a KEY alone takes the value from the environment).
        if (f.IsMap()) {
          for (const Node& a : f.children) {
            if (a.IsNull()) {
              if (auto val = ctx_.environment(a.key)) b.args[a.key] = *val;
              continue;
            }
            ASSIGN_OR_RETURN(b.args[a.key], ReadString(a, JoinPath(fpath, a.key)));
          }
        } else {
          ASSIGN_OR_RETURN(std::vector<std::string> list, ReadStringList(f, fpath));
          for (const std::string& a : list) {
            size_t eq = a.find('=');
            if (eq == std::string::npos) {
              if (auto val = ctx_.environment(a)) b.args[a] = *val;
            } else {
              b.args[a.substr(0, eq)] = a.substr(eq + 1);
            }
          }
        }
      } else if (!IsExtension(f.key)) {
        Ignored(fpath);
      }
    }
    s->build = std::move(b);
  } else if (key == "labels") {
    for (const Node& l : v.children) {
      ASSIGN_OR_RETURN(s->labels[l.key], ReadString(l, JoinPath(path, l.key)));
    }
  } else if (key == "profiles") {
    ASSIGN_OR_RETURN(s->profiles, ReadStringList(v, path));
    for (size_t i = 0; i < s->profiles.size(); ++i) {
      const std::string& p = s->profiles[i];
      bool ok = !p.empty() && std::isalnum(static_cast<unsigned char>(p[0]));
      for (char c : p)
        ok =
            ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
      if (!ok) {
        return NodeError(v.children[i], IndexPath(path, i),
                         Quote(p) + " is not a valid profile name",
                         "letters, digits, '_', '.', '-', starting with a letter or digit");
      }
    }
  } else if (key == "volumes" || key == "tmpfs" || key == "configs") {
    // Handled after the loop (ParseContainerKeys): they read the top-level declarations.
  } else if (key == "env_file" || key == "environment" || key == "secrets" || key == "x-slipway" ||
             key == "extends") {
    // Handled after the loop, in their required order (extends is resolved).
  } else if (!IsExtension(key)) {
    Ignored(path);
  }
  return Status::OK();
}

Status ServiceParser::ParsePorts(const Node& v, const std::string& path, Service* s) {
  if (!v.IsSeq()) {
    return NodeError(v, path, "is " + v.Describe(), "a list of ports, e.g. [\"8080:80\"]");
  }
  for (size_t i = 0; i < v.children.size(); ++i) {
    const Node& p = v.children[i];
    const std::string ipath = IndexPath(path, i);
    if (p.IsMap()) {
      ASSIGN_OR_RETURN(PortMapping pm, ParseLongPort(p, ipath));
      pm.loc = p.loc;
      s->ports.push_back(std::move(pm));
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<PortMapping> pms, ParseShortPort(p, ipath));
    for (PortMapping& pm : pms) {
      pm.loc = p.loc;
      s->ports.push_back(std::move(pm));
    }
  }
  return Status::OK();
}

Result<std::vector<PortMapping>> ServiceParser::ParseShortPort(const Node& v,
                                                               const std::string& path) {
  if (!v.IsScalar()) {
    return NodeError(v, path, "is " + v.Describe(),
                     "a port like \"8080:80\" or a mapping with target, published");
  }
  PortMapping pm;
  const std::string& full = v.scalar;
  std::string spec = full;
  if (size_t slash = spec.find('/'); slash != std::string::npos) {
    const std::string proto = spec.substr(slash + 1);
    spec = spec.substr(0, slash);
    RETURN_IF_ERROR(CheckProtocol(v, path, proto, Quote(full), &pm.protocol));
  }
  // [host_ip:][published:]target, host_ip possibly "[v6]".
  size_t published_at = 0;
  std::string rest = spec;
  size_t offset = 0;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find("]:");
    if (close == std::string::npos) {
      return NodeError(v, path, Quote(full) + " is not a valid port", "e.g. \"[::1]:8080:80\"");
    }
    pm.host_ip = rest.substr(1, close - 1);
    offset = close + 2;
    rest = rest.substr(offset);
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t c = rest.find(':', start);
    parts.push_back(rest.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  std::string published;
  if (parts.size() == 1) {
    // target only
  } else if (parts.size() == 2 && pm.host_ip.empty() && offset == 0) {
    published = parts[0];
    published_at = 0;
  } else if (parts.size() == 2 && offset > 0) {
    published = parts[0];
    published_at = offset;
  } else if (parts.size() == 3 && offset == 0) {
    pm.host_ip = parts[0];
    published = parts[1];
    published_at = parts[0].size() + 1;
  } else {
    return NodeError(v, path, Quote(full) + " is not a valid port",
                     "[host_ip:][published:]target[/protocol], e.g. \"127.0.0.1:8080:80\"");
  }
  int target_first = 0, target_last = 0, pub_first = 0, pub_last = 0;
  RETURN_IF_ERROR(CheckPortRange(v, path, parts.back(), &target_first, &target_last));
  if (!published.empty()) {
    RETURN_IF_ERROR(CheckPortRange(v, path, published, &pub_first, &pub_last));
    pm.published_var = VarFor(v, published_at, published_at + published.size());
    if (pub_last - pub_first != target_last - target_first) {
      return NodeError(v, path,
                       Quote(full) + ": the published range and the target range differ in length",
                       "ranges of the same length, e.g. \"9100-9101:9100-9101\"");
    }
  }
  std::vector<PortMapping> out;
  for (int i = 0; i <= target_last - target_first; ++i) {
    PortMapping one = pm;
    one.target = target_first + i;
    if (!published.empty()) one.published = pub_first + i;
    out.push_back(std::move(one));
  }
  return out;
}

Result<PortMapping> ServiceParser::ParseLongPort(const Node& v, const std::string& path) {
  PortMapping pm;
  bool has_target = false;
  for (const Node& f : v.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "target") {
      ASSIGN_OR_RETURN(std::string t, ReadString(f, fpath));
      RETURN_IF_ERROR(CheckPortNumber(f, fpath, t, false, &pm.target));
      has_target = true;
    } else if (f.key == "published") {
      ASSIGN_OR_RETURN(std::string p, ReadString(f, fpath));
      RETURN_IF_ERROR(CheckPortNumber(f, fpath, p, false, &pm.published));
      pm.published_var = VarFor(f, 0, f.scalar.size());
    } else if (f.key == "host_ip") {
      ASSIGN_OR_RETURN(pm.host_ip, ReadString(f, fpath));
    } else if (f.key == "protocol") {
      ASSIGN_OR_RETURN(std::string proto, ReadString(f, fpath));
      RETURN_IF_ERROR(CheckProtocol(f, fpath, proto, "protocol " + Quote(proto), &pm.protocol));
    } else if (f.key == "app_protocol") {
      ASSIGN_OR_RETURN(pm.app_protocol, ReadString(f, fpath));
    } else if (f.key == "mode") {
      ASSIGN_OR_RETURN(std::string mode, ReadEnum(f, fpath, {"host", "ingress"}));
    } else if (!IsExtension(f.key)) {
      Ignored(fpath);
    }
  }
  if (!has_target) return NodeError(v, path, "has no target", "target: <container port>");
  return pm;
}

Status ServiceParser::ParseExpose(const Node& v, const std::string& path, Service* s) {
  if (!v.IsSeq())
    return NodeError(v, path, "is " + v.Describe(), "a list of ports, e.g. [\"5432\"]");
  for (size_t i = 0; i < v.children.size(); ++i) {
    const Node& p = v.children[i];
    const std::string ipath = IndexPath(path, i);
    ASSIGN_OR_RETURN(std::string text, ReadString(p, ipath));
    std::string spec = text;
    if (size_t slash = spec.find('/'); slash != std::string::npos) {
      TransportProtocol proto = TransportProtocol::kTcp;
      RETURN_IF_ERROR(CheckProtocol(p, ipath, spec.substr(slash + 1), Quote(text), &proto));
      spec = spec.substr(0, slash);
    }
    int first = 0, last = 0;
    RETURN_IF_ERROR(CheckPortRange(p, ipath, spec, &first, &last));
    for (int port = first; port <= last; ++port) s->expose.push_back(port);
  }
  return Status::OK();
}

Status ServiceParser::ParseNetworks(const Node& v, const std::string& path, Service* s) {
  if (v.IsSeq()) {  // [front, back]: every service shares the loopback; networks are moot
    RETURN_IF_ERROR(ReadStringList(v, path));
    Ignored(path);
    return Status::OK();
  }
  RETURN_IF_ERROR(ExpectMap(v, path, "a list of network names or a mapping of networks"));
  for (const Node& n : v.children) {
    const std::string npath = JoinPath(path, n.key);
    if (n.IsNull() || (n.IsMap() && n.children.empty())) {
      Ignored(npath);
      continue;
    }
    RETURN_IF_ERROR(ExpectMap(n, npath, "a mapping with aliases"));
    for (const Node& f : n.children) {
      const std::string fpath = JoinPath(npath, f.key);
      if (f.key == "aliases") {
        ASSIGN_OR_RETURN(std::vector<std::string> aliases, ReadStringList(f, fpath));
        for (size_t i = 0; i < aliases.size(); ++i) {
          RETURN_IF_ERROR(CheckHostName(f.children[i], IndexPath(fpath, i), aliases[i]));
          s->network_aliases.push_back(aliases[i]);
        }
      } else if (!IsExtension(f.key)) {
        Ignored(fpath);
      }
    }
  }
  return Status::OK();
}

Status ServiceParser::ParseLinks(const Node& v, const std::string& path, Service* s) {
  ASSIGN_OR_RETURN(std::vector<std::string> links, ReadStringList(v, path));
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string ipath = IndexPath(path, i);
    std::string service = links[i], alias = links[i];
    if (size_t colon = links[i].find(':'); colon != std::string::npos) {
      service = links[i].substr(0, colon);
      alias = links[i].substr(colon + 1);
    }
    if (!IsValidHostName(service) || !IsValidHostName(alias)) {
      return NodeError(v.children[i], ipath, Quote(links[i]) + " is not a link",
                       "SERVICE or SERVICE:ALIAS, e.g. \"db:database\"");
    }
    s->links.emplace_back(service, alias);
  }
  return Status::OK();
}

Status ServiceParser::ParseDependsOn(const Node& v, const std::string& path, Service* s) {
  for (const Node& d : v.children) {
    const std::string dpath = JoinPath(path, d.key);
    Dependency dep;
    dep.service = d.key;
    for (const Node& f : d.children) {
      const std::string fpath = JoinPath(dpath, f.key);
      if (f.key == "condition") {
        ASSIGN_OR_RETURN(dep.condition, ReadEnum(f, fpath, kDependsConditionNames));
      } else if (f.key == "required") {
        ASSIGN_OR_RETURN(dep.required, ReadBool(f, fpath));
      } else if (f.key == "restart") {
        ASSIGN_OR_RETURN(dep.restart, ReadBool(f, fpath));
      } else if (!IsExtension(f.key)) {
        Ignored(fpath);
      }
    }
    s->depends_on.push_back(std::move(dep));
  }
  return Status::OK();
}

Status ServiceParser::ParseHealthcheck(const Node& v, const std::string& path, Healthcheck* h) {
  RETURN_IF_ERROR(ExpectMap(v, path, "a mapping with test, interval, timeout, retries"));
  bool disabled = false;
  for (const Node& f : v.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "test") {
      if (f.IsScalar()) {
        h->kind = Healthcheck::Kind::kCmdShell;
        h->test = {f.scalar};
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<std::string> t, ReadStringList(f, fpath));
      const std::string expected = "[\"CMD\", args...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"]";
      if (t.empty()) return NodeError(f, fpath, "is an empty list", expected);
      if (t[0] == "NONE") {
        h->kind = Healthcheck::Kind::kNone;
        h->test.clear();
      } else if (t[0] == "CMD" && t.size() > 1) {
        h->kind = Healthcheck::Kind::kCmd;
        h->test.assign(t.begin() + 1, t.end());
      } else if (t[0] == "CMD-SHELL" && t.size() > 1) {
        h->kind = Healthcheck::Kind::kCmdShell;
        std::string cmd;
        for (size_t i = 1; i < t.size(); ++i) cmd += (i > 1 ? " " : "") + t[i];
        h->test = {cmd};
      } else {
        return NodeError(f, fpath, "starts with " + Quote(t[0]), expected);
      }
    } else if (f.key == "interval") {
      ASSIGN_OR_RETURN(h->interval, ReadDuration(f, fpath));
    } else if (f.key == "timeout") {
      ASSIGN_OR_RETURN(h->timeout, ReadDuration(f, fpath));
    } else if (f.key == "start_period") {
      ASSIGN_OR_RETURN(h->start_period, ReadDuration(f, fpath));
    } else if (f.key == "start_interval") {
      ASSIGN_OR_RETURN(h->start_interval, ReadDuration(f, fpath));
    } else if (f.key == "retries") {
      ASSIGN_OR_RETURN(h->retries, ReadInt(f, fpath));
      if (h->retries < 0) return NodeError(f, fpath, "is negative", "0 or more");
    } else if (f.key == "disable") {
      ASSIGN_OR_RETURN(disabled, ReadBool(f, fpath));
    } else if (!IsExtension(f.key)) {
      Ignored(fpath);
    }
  }
  if (disabled) {
    h->kind = Healthcheck::Kind::kNone;
    h->test.clear();
  }
  return Status::OK();
}

Status ServiceParser::ParseRestart(const Node& v, const std::string& path, RestartPolicy* r) {
  ASSIGN_OR_RETURN(std::string s, ReadString(v, path));
  const std::string on_failure =
      std::string(kRestartModeNames.Name(RestartPolicy::Mode::kOnFailure)) + ":";
  if (std::optional<RestartPolicy::Mode> mode = kRestartModeNames.Parse(s)) {
    r->mode = *mode;
  } else if (s.rfind(on_failure, 0) == 0) {
    std::optional<long long> n = ParseInteger(s.substr(on_failure.size()));
    if (!n || *n < 0 || *n > 1'000'000) {
      return NodeError(v, path, Quote(s) + " has no valid retry count", kRestartExpected);
    }
    r->mode = RestartPolicy::Mode::kOnFailure;
    r->max_attempts = static_cast<int>(*n);
  } else {
    return NodeError(v, path, Quote(s) + " is not a restart policy", kRestartExpected);
  }
  return Status::OK();
}

Status ServiceParser::ParseDeploy(const Node& v, const std::string& path, Service* s) {
  RETURN_IF_ERROR(ExpectMap(v, path, "a mapping with replicas, update_config, ..."));
  for (const Node& f : v.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "replicas") {
      ASSIGN_OR_RETURN(s->replicas, ReadInt(f, fpath));
      if (s->replicas < 0) {
        return NodeError(f, fpath, "replicas " + f.scalar + " is negative", "0 or more");
      }
    } else if (f.key == "restart_policy") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, "a mapping with condition, delay, max_attempts"));
      RestartPolicy r;
      r.mode = RestartPolicy::Mode::kAlways;  // condition defaults to `any`
      for (const Node& g : f.children) {
        const std::string gpath = JoinPath(fpath, g.key);
        if (g.key == "condition") {
          ASSIGN_OR_RETURN(r.mode, ReadEnum(g, gpath, kRestartConditionNames));
        } else if (g.key == "delay") {
          ASSIGN_OR_RETURN(r.delay, ReadDuration(g, gpath));
        } else if (g.key == "max_attempts") {
          ASSIGN_OR_RETURN(r.max_attempts, ReadInt(g, gpath));
          if (r.max_attempts < 0) return NodeError(g, gpath, "is negative", "0 or more");
        } else if (!IsExtension(g.key)) {
          Ignored(gpath);
        }
      }
      s->restart = r;  // deploy.restart_policy takes precedence over `restart`
    } else if (f.key == "update_config") {
      RETURN_IF_ERROR(ParseUpdateConfig(f, fpath, false, &s->update_config));
    } else if (f.key == "rollback_config") {
      RETURN_IF_ERROR(ParseUpdateConfig(f, fpath, true, &s->rollback_config));
    } else if (f.key == "resources") {
      std::vector<std::string> unused;
      RETURN_IF_ERROR(ParseResources(f, fpath, &s->resources, &unused));
      for (const std::string& u : unused) Ignored(u);
    } else if (!IsExtension(f.key)) {
      Ignored(fpath);
    }
  }
  return Status::OK();
}

Status ServiceParser::ParseUpdateConfig(const Node& v, const std::string& path, bool rollback,
                                        UpdateConfig* u) {
  RETURN_IF_ERROR(ExpectMap(v, path, "a mapping with parallelism, delay, order, ..."));
  for (const Node& f : v.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "parallelism") {
      ASSIGN_OR_RETURN(u->parallelism, ReadInt(f, fpath));
      if (u->parallelism < 0) return NodeError(f, fpath, "is negative", "0 (all at once) or more");
    } else if (f.key == "delay") {
      ASSIGN_OR_RETURN(u->delay, ReadDuration(f, fpath));
    } else if (f.key == "monitor") {
      ASSIGN_OR_RETURN(u->monitor, ReadDuration(f, fpath));
    } else if (f.key == "failure_action") {
      // A rollback that fails cannot roll back in turn.
      ASSIGN_OR_RETURN(u->failure_action,
                       ReadEnum(f, fpath, kFailureActionNames,
                                rollback ? std::optional(FailureAction::kRollback) : std::nullopt));
    } else if (f.key == "max_failure_ratio") {
      ASSIGN_OR_RETURN(u->max_failure_ratio, ReadDouble(f, fpath));
      if (u->max_failure_ratio < 0 || u->max_failure_ratio > 1) {
        return NodeError(f, fpath, Quote(f.scalar) + " is out of range", "a ratio from 0 to 1");
      }
    } else if (f.key == "order") {
      ASSIGN_OR_RETURN(u->order, ReadEnum(f, fpath, kUpdateOrderNames));
    } else if (!IsExtension(f.key)) {
      Ignored(fpath);
    }
  }
  return Status::OK();
}

Status ServiceParser::ParseEnvFiles(const Node& v, const std::string& path, Service* s,
                                    const Node* environment) {
  if (!v.IsSeq()) return NodeError(v, path, "is " + v.Describe(), "a path or a list of paths");
  // As compose: the service's env files are read into one variable set, in order, and a value
  // is interpolated with the project's environment first, then the service's `environment`,
  // then what the files before it set.
  std::map<std::string, std::string> vars;
  const Lookup lookup = [this, environment](const std::string& k) -> std::optional<std::string> {
    if (std::optional<std::string> v = ctx_.environment(k)) return v;
    if (environment != nullptr && environment->IsMap()) {
      if (const Node* e = environment->Find(k); e != nullptr && e->IsScalar()) return e->scalar;
    }
    return std::nullopt;
  };
  for (size_t i = 0; i < v.children.size(); ++i) {
    const Node& item = v.children[i];
    const std::string ipath = IndexPath(path, i);
    std::string file;
    bool required = true;
    if (item.IsScalar()) {
      file = item.scalar;
    } else if (item.IsMap()) {
      const Node* p = item.Find("path");
      if (p == nullptr) return NodeError(item, ipath, "has no path", "path: ./file.env");
      ASSIGN_OR_RETURN(file, ReadString(*p, JoinPath(ipath, "path")));
      if (const Node* r = item.Find("required")) {
        ASSIGN_OR_RETURN(required, ReadBool(*r, JoinPath(ipath, "required")));
      }
      for (const Node& f : item.children) {
        if (f.key != "path" && f.key != "required" && !IsExtension(f.key)) {
          Ignored(JoinPath(ipath, f.key));
        }
      }
    } else {
      return NodeError(item, ipath, "is " + item.Describe(), "a path or {path, required}");
    }
    const std::string label = ctx_.display ? ctx_.display(file) : file;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      if (!required) continue;
      return NodeError(item, ipath, "file " + Quote(label) + " not found",
                       "an existing file, or required: false");
    }
    Status read = ReadDotenvFileInto(file, label, lookup, &vars);
    if (!read.ok()) {
      if (read.code() == StatusCode::kInvalidInput) return read;
      return NodeError(item, ipath, read.message(), "a readable file");
    }
  }
  for (auto& [k, val] : vars) s->environment[k] = std::move(val);
  return Status::OK();
}

Status ServiceParser::ParseEnvironment(const Node& v, const std::string& path, Service* s) {
  for (const Node& e : v.children) {
    if (e.IsNull()) {
      // `KEY` without a value: from the environment, else left out.
      std::optional<std::string> val = ctx_.environment(e.key);
      if (val) {
        s->environment[e.key] = *val;
      } else {
        s->environment.erase(e.key);
      }
      continue;
    }
    ASSIGN_OR_RETURN(s->environment[e.key], ReadString(e, JoinPath(path, e.key)));
  }
  return Status::OK();
}

Status ServiceParser::ParseSecretRefs(const Node& v, const std::string& path, Service* s,
                                      const std::map<std::string, Secret>& secrets, bool configs) {
  const std::string kind = configs ? "config" : "secret";
  if (!v.IsSeq()) return NodeError(v, path, "is " + v.Describe(), "a list of " + kind + " names");
  for (size_t i = 0; i < v.children.size(); ++i) {
    const Node& item = v.children[i];
    const std::string ipath = IndexPath(path, i);
    SecretRef ref;
    if (item.IsScalar()) {
      ref.source = item.scalar;
    } else if (item.IsMap()) {
      for (const Node& f : item.children) {
        const std::string fpath = JoinPath(ipath, f.key);
        if (f.key == "source") {
          ASSIGN_OR_RETURN(ref.source, ReadString(f, fpath));
        } else if (f.key == "target") {
          ASSIGN_OR_RETURN(ref.target, ReadString(f, fpath));
        } else if (!IsExtension(f.key)) {
          Ignored(fpath);
        }
      }
      if (ref.source.empty()) {
        return NodeError(item, ipath, "has no source", "source: <" + kind + ">");
      }
    } else {
      return NodeError(item, ipath, "is " + item.Describe(),
                       "a " + kind + " name or {source, target}");
    }
    if (!secrets.count(ref.source)) {
      std::vector<std::string> names;
      names.reserve(secrets.size());
      for (const auto& [n, _] : secrets) names.push_back(n);
      return NodeError(item, ipath, kind + " " + Quote(ref.source) + " is not declared",
                       names.empty() ? "a top-level " + kind + "s: entry"
                                     : "one of the top-level " + kind + "s: " + Joined(names));
    }
    if (ref.target.empty()) ref.target = ref.source;
    if (ref.target.find(',') != std::string::npos) {
      return NodeError(item, ipath, "target " + Quote(ref.target) + " has a comma",
                       "a file name or path without ','");
    }
    (configs ? s->configs : s->secrets).push_back(std::move(ref));
  }
  return Status::OK();
}

Status ServiceParser::ParseContainerKeys(const Node& node, const std::string& path, Service* s) {
  static const std::map<std::string, NamedVolume> kNoVolumes;
  static const std::map<std::string, Secret> kNoSecrets;
  const Project* p = ctx_.project;
  const auto ignored = [this](const std::string& q) { Ignored(q); };
  if (const Node* v = node.Find("volumes")) {
    RETURN_IF_ERROR(ParseServiceVolumes(*v, JoinPath(path, "volumes"), ctx_.project_dir,
                                        p ? p->volumes : kNoVolumes, ctx_.environment, ignored,
                                        &s->mounts));
  }
  if (const Node* t = node.Find("tmpfs")) {
    RETURN_IF_ERROR(ParseServiceTmpfs(*t, JoinPath(path, "tmpfs"), &s->mounts));
  }
  if (const Node* c = node.Find("configs"); c && !c->IsNull()) {
    RETURN_IF_ERROR(ParseSecretRefs(*c, JoinPath(path, "configs"), s, p ? p->configs : kNoSecrets,
                                    /*configs=*/true));
  }
  AddSecretMounts(s->secrets, p ? p->secrets : kNoSecrets, false, ctx_.project_dir, s);
  AddSecretMounts(s->configs, p ? p->configs : kNoSecrets, true, ctx_.project_dir, s);
  for (size_t i = 0; i < s->mounts.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (s->mounts[i].target == s->mounts[j].target) {
        return ErrorAt(s->mounts[i].loc, s->mounts[i].key_path,
                       "container path " + Quote(s->mounts[i].target) + " is also mounted by " +
                           s->mounts[j].key_path,
                       "one mount per container path (secrets.target, configs.target)");
      }
    }
  }
  // The project's x-slipway.runtime chooses for services that can run either way.
  const bool can_host = s->host_command || s->command || s->entrypoint;
  const bool can_container = !s->image.empty() || s->build;
  if (s->runtime == RuntimeChoice::kAuto && p != nullptr && can_host && can_container) {
    s->runtime = p->runtime;
  }
  const Node* x = node.Find("x-slipway");
  const Node* rt = x && x->IsMap() ? x->Find("runtime") : nullptr;
  const std::string rpath = rt ? JoinPath(path, "x-slipway.runtime") : "x-slipway.runtime";
  const SourceLoc& rloc = rt ? rt->ErrorLoc() : s->loc;
  if (s->runtime == RuntimeChoice::kContainer && s->image.empty() && !s->build) {
    return ErrorAt(rloc, rpath,
                   "service " + s->name + " runs in a container but has no image or build",
                   "image: or build:, or runtime: host");
  }
  if (s->runtime == RuntimeChoice::kHost && !can_host) {
    return ErrorAt(rloc, rpath,
                   "service " + s->name + " runs on the host but has nothing to run there",
                   "x-slipway.command, command or entrypoint, or runtime: container");
  }
  return Status::OK();
}

Status ServiceParser::ParseSlipway(const Node& v, const std::string& path, Service* s,
                                   const Node* compose_healthcheck) {
  RETURN_IF_ERROR(ExpectMap(v, path, "a mapping with " + Joined(KnownServiceSlipwayKeys())));
  for (const Node& f : v.children) {
    const std::string fpath = JoinPath(path, f.key);
    if (f.key == "command") {
      ASSIGN_OR_RETURN(s->host_command, ReadCommand(f, fpath));
    } else if (f.key == "runtime") {
      ASSIGN_OR_RETURN(s->runtime, ReadRuntimeChoice(f, fpath));
    } else if (f.key == "image") {
      ASSIGN_OR_RETURN(s->export_image, ReadString(f, fpath));
      if (s->export_image.empty()) {
        return NodeError(f, fpath, "is empty", "an image reference, e.g. registry/app:1.2");
      }
    } else if (f.key == "deploy") {
      RETURN_IF_ERROR(ParseDeploySettings(f, fpath, &s->deploy));
    } else if (f.key == "upstream") {
      RETURN_IF_ERROR(ParseUpstreamSettings(f, fpath, ctx_.project_dir.string(), &s->upstream));
    } else if (f.key == "metrics") {  // config/metrics_settings.h
      s->metrics.emplace();
      RETURN_IF_ERROR(ParseMetricsEndpoint(f, fpath, &*s->metrics));
    } else if (f.key == "ports") {
      RETURN_IF_ERROR(ParsePortsSettings(
          f, fpath, TargetPorts(*s),
          // x-slipway.tls (certificate files or acme) is parsed before the services.
          ctx_.project && (ctx_.project->tls.enabled() || ctx_.project->tls.acme),
          &s->port_protocols));
    } else if (f.key == "healthcheck") {
      RETURN_IF_ERROR(ExpectMap(f, fpath, kProbeShapes));
      Healthcheck& h = s->healthcheck;
      if (compose_healthcheck == nullptr) h = Healthcheck{};  // compose defaults
      bool http = false, tcp = false, grpc = false;
      h.port = 0;
      h.grpc_service.clear();
      h.scheme = Healthcheck::Scheme::kHttp;
      h.ca_file.clear();
      h.server_name.clear();
      h.insecure_skip_verify.reset();
      const Node* tls_key = nullptr;  // the first of scheme's companions given
      const Node* scheme_node = nullptr;
      const Node* ca_node = nullptr;
      const Node* skip_node = nullptr;
      static const char kHealthKeys[] =
          "one of http, tcp, grpc, port, scheme, ca_file, server_name, insecure_skip_verify";
      for (const Node& g : f.children) {
        const std::string gpath = JoinPath(fpath, g.key);
        if (g.key == "http") {
          ASSIGN_OR_RETURN(h.http_path, ReadString(g, gpath));
          if (h.http_path.empty() || h.http_path[0] != '/') {
            return NodeError(g, gpath, Quote(h.http_path) + " is not a path", "e.g. /health");
          }
          http = true;
        } else if (g.key == "tcp") {
          ASSIGN_OR_RETURN(tcp, ReadBool(g, gpath));
        } else if (g.key == "grpc") {
          RETURN_IF_ERROR(ReadGrpcService(g, gpath, &h.grpc_service));
          grpc = true;
        } else if (g.key == "port") {
          ASSIGN_OR_RETURN(std::string p, ReadString(g, gpath));
          RETURN_IF_ERROR(CheckPortNumber(g, gpath, p, true, &h.port));
        } else if (g.key == "scheme") {
          ASSIGN_OR_RETURN(std::string scheme, ReadString(g, gpath));
          if (scheme == "https") {
            h.scheme = Healthcheck::Scheme::kHttps;
          } else if (scheme != "http") {
            return NodeError(g, gpath, Quote(scheme) + " is not a scheme", "http or https");
          }
          scheme_node = &g;
        } else if (g.key == "ca_file") {
          ASSIGN_OR_RETURN(std::string file, ReadString(g, gpath));
          if (file.empty()) return NodeError(g, gpath, "is empty", "a PEM file of CA certificates");
          h.ca_file = (ctx_.project_dir / file).lexically_normal().string();
          // Read now, as certificates are: a typo is a load error, not a probe failing later.
          auto ca = net::TlsClientContext::Create({h.ca_file, true});
          if (!ca.ok()) return NodeError(g, gpath, ca.status().message());
          ca_node = &g;
          if (!tls_key) tls_key = &g;
        } else if (g.key == "server_name") {
          ASSIGN_OR_RETURN(h.server_name, ReadString(g, gpath));
          if (!IsTlsServerName(h.server_name)) {
            return NodeError(g, gpath, Quote(h.server_name) + " is not a server name",
                             "a host name such as app.example.com or an IP address, without "
                             "scheme or port");
          }
          if (!tls_key) tls_key = &g;
        } else if (g.key == "insecure_skip_verify") {
          ASSIGN_OR_RETURN(bool skip, ReadBool(g, gpath));
          h.insecure_skip_verify = skip;
          skip_node = &g;
          if (!tls_key) tls_key = &g;
        } else {
          return NodeError(g, gpath, "unknown key " + Quote(g.key), kHealthKeys);
        }
      }
      if (int(http) + int(tcp) + int(grpc) != 1) {
        return NodeError(f, fpath,
                         !http && !tcp && !grpc ? "has none of http, tcp and grpc"
                         : !grpc                ? "has both http and tcp"
                         : http                 ? "has both http and grpc"
                                                : "has both tcp and grpc",
                         kProbeShapes);
      }
      if (tcp && scheme_node) {
        return NodeError(*scheme_node, JoinPath(fpath, "scheme"), "applies to http probes only",
                         "http: /path with scheme: https");
      }
      if (tls_key && h.scheme != Healthcheck::Scheme::kHttps) {
        return NodeError(*tls_key, JoinPath(fpath, tls_key->key), "applies to https probes only",
                         "scheme: https beside it");
      }
      if (ca_node && skip_node && h.insecure_skip_verify.value_or(false)) {
        return NodeError(*skip_node, JoinPath(fpath, "insecure_skip_verify"),
                         "contradicts ca_file (a CA file is there to verify with)",
                         "one of ca_file and insecure_skip_verify: true");
      }
      h.kind = http   ? Healthcheck::Kind::kHttp
               : grpc ? Healthcheck::Kind::kGrpc
                      : Healthcheck::Kind::kTcp;
      h.test.clear();
    } else {
      return NodeError(f, fpath, "unknown key " + Quote(f.key),
                       "one of " + Joined(KnownServiceSlipwayKeys()));
    }
  }
  if (s->upstream.protocol == UpstreamProtocol::kH2) {
    // The proxy speaks HTTP/2 on HTTP listeners only: a port forced to TCP would never see it.
    for (const auto& [target, protocol] : s->port_protocols) {
      if (protocol != PortProtocol::kTcp) continue;
      const Node* up = v.Find("upstream");
      const Node* proto = up && up->IsMap() ? up->Find("protocol") : nullptr;
      return NodeError(proto ? *proto : v, JoinPath(path, "upstream.protocol"),
                       "h2 needs an HTTP port, and x-slipway.ports makes port " +
                           std::to_string(target) + " TCP",
                       "protocol: http1, or that port as http");
    }
  }
  const bool grpc = s->healthcheck.kind == Healthcheck::Kind::kGrpc;
  if (s->upstream.https && (s->healthcheck.kind == Healthcheck::Kind::kHttp || grpc) &&
      s->healthcheck.scheme == Healthcheck::Scheme::kHttp) {
    // A clear-text probe against a TLS port would never pass.
    const Node* hc = v.Find("healthcheck");
    const char* key = grpc ? "grpc" : "http";
    const Node* probe = hc && hc->IsMap() ? hc->Find(key) : nullptr;
    return NodeError(probe ? *probe : v, JoinPath(path, std::string("healthcheck.") + key),
                     "probes in clear, and the service speaks TLS (upstream.scheme: https)",
                     "scheme: https, tcp: true, or a compose healthcheck test");
  }
  // A server that speaks HTTP/2 only is probed in HTTP/2 (health/probe.h).
  s->healthcheck.http2 = s->healthcheck.kind == Healthcheck::Kind::kHttp &&
                         s->upstream.protocol == UpstreamProtocol::kH2;
  return Status::OK();
}

}  // namespace slipway::config
