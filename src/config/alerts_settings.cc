#include "config/alerts_settings.h"

#include <fmt/format.h>
#include <glob.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "base/redact.h"
#include "config/input_file.h"
#include "config/node.h"
#include "config/values.h"
#include "promql/parser.h"
#include "promql/regex.h"
#include "promql/template.h"

namespace slipway::config {
namespace {

bool ValidName(std::string_view s, bool colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':') ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Status UnknownKey(const Node& n, const std::string& path, const std::vector<std::string>& known) {
  return NodeError(n, JoinPath(path, n.key), "unknown key " + Quote(n.key),
                   "one of " + Joined(known));
}

// A label map whose values may be templates (`templated`) or plain strings.
Status ReadLabelMap(const Node& n, const std::string& path, bool templated,
                    std::map<std::string, std::string>* out) {
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping of label names to strings"));
  for (const Node& kv : n.children) {
    const std::string p = JoinPath(path, kv.key);
    if (!ValidName(kv.key, false)) {
      return NodeError(kv, p, Quote(kv.key) + " is not a valid label name",
                       "letters, digits and '_', not starting with a digit");
    }
    ASSIGN_OR_RETURN(std::string v, ReadString(kv, p));
    if (templated) {
      if (Status st = promql::CheckTemplate(v); !st.ok()) {
        return NodeError(kv, p, "template does not render: " + st.message(),
                         "{{ $value }}, {{ $labels.NAME }}, printf, humanize, ...");
      }
    }
    (*out)[kv.key] = std::move(v);
  }
  return Status::OK();
}

// A Prometheus duration (30s, 5m, 1h30m, 1d); `positive` refuses 0.
Result<Duration> ReadPromDuration(const Node& n, const std::string& path, bool positive) {
  constexpr std::string_view kExpected = "a duration such as 30s, 5m, 1h30m";
  if (!n.IsScalar()) return NodeError(n, path, "is " + n.Describe(), kExpected);
  int64_t ms = n.scalar == "0" ? 0 : promql::ParsePromDuration(n.scalar);  // "0" is Prometheus'
  if (ms < 0) return NodeError(n, path, Quote(n.scalar) + " is not a duration", kExpected);
  if (positive && ms == 0) return NodeError(n, path, "must be positive", kExpected);
  return Duration(ms);
}

// `prom_file`: a rule of a Prometheus rule file (alert or record, Prometheus' keys and
// durations); else an inline x-slipway rule (alert or name).
Status ParseRule(const Node& n, const std::string& path, AlertRuleSpec* r, bool prom_file = false) {
  static const std::vector<std::string> kKnown = {"alert", "name",   "expr",
                                                  "for",   "labels", "annotations"};
  static const std::vector<std::string> kKnownProm = {
      "alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"};
  RETURN_IF_ERROR(ExpectMap(n, path,
                            prom_file ? "a mapping with alert or record, expr, labels, ..."
                                      : "a mapping with alert, expr, for, labels, annotations"));
  r->where = n.loc.ToString();
  const Node* expr = nullptr;
  const Node* alert_only = nullptr;  // for, keep_firing_for or annotations
  bool alert = false, record = false;
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "alert" || (f.key == "name" && !prom_file)) {
      ASSIGN_OR_RETURN(r->name, ReadString(f, p));
      alert = true;
      if (!ValidName(r->name, true)) {
        return NodeError(f, p, Quote(r->name) + " is not a valid alert name",
                         "letters, digits, '_' and ':', not starting with a digit");
      }
    } else if (f.key == "record" && prom_file) {
      ASSIGN_OR_RETURN(r->name, ReadString(f, p));
      record = true;
      r->kind = RuleKind::kRecord;
      if (!ValidName(r->name, true)) {
        return NodeError(f, p, Quote(r->name) + " is not a valid metric name",
                         "letters, digits, '_' and ':', not starting with a digit");
      }
    } else if (f.key == "expr") {
      ASSIGN_OR_RETURN(r->expr, ReadString(f, p));
      expr = &f;
    } else if (f.key == "for") {
      ASSIGN_OR_RETURN(r->for_duration,
                       prom_file ? ReadPromDuration(f, p, false) : ReadDuration(f, p));
      alert_only = &f;
    } else if (f.key == "keep_firing_for" && prom_file) {
      ASSIGN_OR_RETURN(r->keep_firing_for, ReadPromDuration(f, p, false));
      alert_only = &f;
    } else if (f.key == "labels") {
      RETURN_IF_ERROR(ReadLabelMap(f, p, true, &r->labels));
    } else if (f.key == "annotations") {
      RETURN_IF_ERROR(ReadLabelMap(f, p, true, &r->annotations));
      alert_only = &f;
    } else {
      return UnknownKey(f, path, prom_file ? kKnownProm : kKnown);
    }
  }
  if (alert && record) {
    return NodeError(n, path, "the rule has both alert and record", "one of alert: or record:");
  }
  if (r->name.empty()) {
    return NodeError(n, path, "the rule has no name",
                     prom_file ? "alert: NAME or record: NAME" : "alert: NAME");
  }
  if (record && alert_only) {
    return NodeError(*alert_only, JoinPath(path, alert_only->key),
                     "is not allowed in a recording rule", "record, expr, labels");
  }
  if (!expr) return NodeError(n, path, "the rule has no expr", "expr: a PromQL expression");
  return CheckRuleExpr(*expr, JoinPath(path, "expr"), r->expr);
}

Status ParseGroup(const Node& n, const std::string& path, const std::string& file,
                  size_t* rule_count, RuleGroupSpec* g) {
  static const std::vector<std::string> kKnown = {"name", "interval", "limit", "rules"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with name, interval, limit, rules"));
  g->file = file;
  const Node* rules = nullptr;
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "name") {
      ASSIGN_OR_RETURN(g->name, ReadString(f, p));
      if (g->name.empty()) return NodeError(f, p, "is empty", "a group name");
    } else if (f.key == "interval") {
      ASSIGN_OR_RETURN(Duration d, ReadPromDuration(f, p, true));
      if (d < Duration(1000)) return NodeError(f, p, "is too short", "at least 1s");
      g->interval = d;
    } else if (f.key == "limit") {
      ASSIGN_OR_RETURN(g->limit, ReadInt(f, p));
      if (g->limit < 0) return NodeError(f, p, "is negative", "0 (no limit) or more");
    } else if (f.key == "rules") {
      rules = &f;
    } else {
      return UnknownKey(f, path, kKnown);
    }
  }
  if (g->name.empty()) return NodeError(n, path, "the group has no name", "name: NAME");
  if (!rules || rules->IsNull()) return Status::OK();  // an empty group is valid
  const std::string rp = JoinPath(path, "rules");
  if (!rules->IsSeq()) return NodeError(*rules, rp, "is " + rules->Describe(), "a list of rules");
  for (size_t i = 0; i < rules->children.size(); ++i) {
    if (++*rule_count > kMaxRuleFileRules) {
      return NodeError(rules->children[i], IndexPath(rp, i), "too many rules",
                       fmt::format("at most {} rules in all rule files", kMaxRuleFileRules));
    }
    AlertRuleSpec r;
    RETURN_IF_ERROR(ParseRule(rules->children[i], IndexPath(rp, i), &r, true));
    g->rules.push_back(std::move(r));
  }
  return Status::OK();
}

Status ParseRuleFileTree(const Node& doc, const std::string& label, size_t* rule_count,
                         std::vector<RuleGroupSpec>* out) {
  if (doc.IsNull()) return Status::OK();  // an empty file has no groups, as in Prometheus
  RETURN_IF_ERROR(ExpectMap(doc, "", "a mapping with groups"));
  std::set<std::string> names;
  for (const Node& f : doc.children) {
    if (f.key != "groups") return UnknownKey(f, "", {"groups"});
    if (f.IsNull()) continue;
    if (!f.IsSeq()) return NodeError(f, "groups", "is " + f.Describe(), "a list of rule groups");
    for (size_t i = 0; i < f.children.size(); ++i) {
      RuleGroupSpec g;
      const std::string gp = IndexPath("groups", i);
      RETURN_IF_ERROR(ParseGroup(f.children[i], gp, label, rule_count, &g));
      if (!names.insert(g.name).second) {
        const Node* name = f.children[i].Find("name");
        return NodeError(name ? *name : f.children[i], JoinPath(gp, "name"),
                         "group " + Quote(g.name) + " is defined twice in this file",
                         "unique group names per file");
      }
      out->push_back(std::move(g));
    }
  }
  return Status::OK();
}

Status ParseRoute(const Node& n, const std::string& path, RouteSpec* r) {
  static const std::vector<std::string> kKnown = {"receiver",       "group_by",        "group_wait",
                                                  "group_interval", "repeat_interval", "match",
                                                  "match_re",       "continue",        "routes"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with receiver, group_by, routes, ..."));
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "receiver") {
      ASSIGN_OR_RETURN(r->receiver, ReadString(f, p));
    } else if (f.key == "group_by") {
      ASSIGN_OR_RETURN(r->group_by, ReadStringList(f, p));
    } else if (f.key == "group_wait") {
      ASSIGN_OR_RETURN(r->group_wait, ReadDuration(f, p));
    } else if (f.key == "group_interval") {
      ASSIGN_OR_RETURN(r->group_interval, ReadDuration(f, p));
      if (*r->group_interval <= Duration(0)) return NodeError(f, p, "must be positive");
    } else if (f.key == "repeat_interval") {
      ASSIGN_OR_RETURN(r->repeat_interval, ReadDuration(f, p));
      if (*r->repeat_interval <= Duration(0)) return NodeError(f, p, "must be positive");
    } else if (f.key == "match") {
      RETURN_IF_ERROR(ReadLabelMap(f, p, false, &r->match));
    } else if (f.key == "match_re") {
      RETURN_IF_ERROR(ReadLabelMap(f, p, false, &r->match_re));
      for (const Node& kv : f.children) {
        // Alertmanager's syntax (Go's), anchored as it anchors: what the notifier compiles.
        auto re =
            promql::Regex::Compile(r->match_re[kv.key], promql::Regex::Dialect::kAlertmanager);
        if (!re.ok())
          return NodeError(kv, JoinPath(p, kv.key), "is not a valid regular expression");
      }
    } else if (f.key == "continue") {
      ASSIGN_OR_RETURN(r->continue_matching, ReadBool(f, p));
    } else if (f.key == "routes") {
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of routes");
      for (size_t i = 0; i < f.children.size(); ++i) {
        RouteSpec child;
        RETURN_IF_ERROR(ParseRoute(f.children[i], IndexPath(p, i), &child));
        r->routes.push_back(std::move(child));
      }
    } else {
      return UnknownKey(f, path, kKnown);
    }
  }
  return Status::OK();
}

// A receiver's TLS file: resolved against the project folder and readable now.
Status ReadTlsFile(const Node& f, const std::string& p, const std::string& project_dir,
                   std::string* out) {
  ASSIGN_OR_RETURN(std::string name, ReadString(f, p));
  if (name.empty()) return NodeError(f, p, "is empty", "a PEM file name");
  std::filesystem::path file(name);
  if (file.is_relative() && !project_dir.empty()) file = std::filesystem::path(project_dir) / file;
  if (access(file.c_str(), R_OK) != 0) {
    return NodeError(f, p, Quote(file.string()) + " is not a readable file", "a PEM file name");
  }
  *out = file.string();
  return Status::OK();
}

Status ParseReceiver(const Node& n, const std::string& path, const std::string& project_dir,
                     ReceiverSpec* r) {
  static const std::vector<std::string> kKnown = {"name",         "webhook",     "slack",
                                                  "alertmanager", "max_queue",   "timeout",
                                                  "ca_file",      "client_cert", "client_key"};
  RETURN_IF_ERROR(
      ExpectMap(n, path, "a mapping with name and one of webhook, slack, alertmanager"));
  int kinds = 0;
  const Node* url_node = nullptr;
  const Node* tls_node = nullptr;
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "name") {
      ASSIGN_OR_RETURN(r->name, ReadString(f, p));
    } else if (f.key == "webhook" || f.key == "slack" || f.key == "alertmanager") {
      ++kinds;
      r->kind = f.key == "webhook" ? ReceiverSpec::Kind::kWebhook
                : f.key == "slack" ? ReceiverSpec::Kind::kSlack
                                   : ReceiverSpec::Kind::kAlertmanager;
      ASSIGN_OR_RETURN(r->url, ReadString(f, p));
      url_node = &f;
    } else if (f.key == "max_queue") {
      ASSIGN_OR_RETURN(r->max_queue, ReadInt(f, p));
      if (r->max_queue < 1 || r->max_queue > 100000) {
        return NodeError(f, p, "is out of range", "1 to 100000");
      }
    } else if (f.key == "timeout") {
      ASSIGN_OR_RETURN(r->timeout, ReadDuration(f, p));
    } else if (f.key == "ca_file" || f.key == "client_cert" || f.key == "client_key") {
      std::string* dst = f.key == "ca_file"       ? &r->ca_file
                         : f.key == "client_cert" ? &r->client_cert
                                                  : &r->client_key;
      RETURN_IF_ERROR(ReadTlsFile(f, p, project_dir, dst));
      tls_node = &f;
    } else {
      return UnknownKey(f, path, kKnown);
    }
  }
  if (r->name.empty()) return NodeError(n, path, "the receiver has no name", "name: NAME");
  if (kinds != 1) {
    return NodeError(n, path, "needs exactly one of webhook, slack, alertmanager");
  }
  const bool https = r->url.rfind("https://", 0) == 0 && r->url.size() > 8;
  if (!https && (r->url.rfind("http://", 0) != 0 || r->url.size() <= 7)) {
    // The URL may hold a token: show only its scheme and host.
    return NodeError(*url_node, JoinPath(path, url_node->key),
                     Quote(RedactUrlPasswords(r->url)) + " is not an http or https URL",
                     "http://host:port/path or https://host/path");
  }
  if (tls_node && !https) {
    return NodeError(*tls_node, JoinPath(path, tls_node->key), "needs an https:// URL",
                     "https://host/path in " + url_node->key);
  }
  if (r->client_cert.empty() != r->client_key.empty()) {
    return NodeError(n, path, "client_cert and client_key go together", "both or neither");
  }
  return Status::OK();
}

Status CheckRouteReceivers(const RouteSpec& r, const Node& at, const std::string& path,
                           const std::set<std::string>& names) {
  if (!r.receiver.empty() && !names.count(r.receiver)) {
    std::vector<std::string> list(names.begin(), names.end());
    return NodeError(at, path, "receiver " + Quote(r.receiver) + " is not defined",
                     list.empty() ? "a receivers: list" : "one of " + Joined(list));
  }
  for (const RouteSpec& c : r.routes) RETURN_IF_ERROR(CheckRouteReceivers(c, at, path, names));
  return Status::OK();
}

}  // namespace

Status CheckRuleExpr(const Node& expr, const std::string& path, const std::string& text) {
  promql::ParseError err;
  auto parsed = promql::Parse(text, &err);
  if (!parsed.ok()) {
    SourceLoc loc = expr.loc;
    if (text.find('\n') == std::string::npos && loc.line > 0) {
      loc.column += static_cast<int>(err.pos) + (expr.quoted ? 1 : 0);
    }
    return ErrorAt(loc, path,
                   fmt::format("does not parse at char {}: {}", err.pos + 1, err.message),
                   "a PromQL expression (see docs/alerts.md)");
  }
  if ((*parsed)->type != promql::ValueType::kVector &&
      (*parsed)->type != promql::ValueType::kScalar) {
    return NodeError(expr, path, fmt::format("is a {}", promql::ValueTypeName((*parsed)->type)),
                     "an instant vector or a scalar");
  }
  return Status::OK();
}

Status ParseRuleFile(const std::string& text, const std::string& label,
                     std::vector<RuleGroupSpec>* out) {
  ASSIGN_OR_RETURN(Node doc, ParseYaml(text, label));
  size_t count = 0;
  return ParseRuleFileTree(doc, label, &count, out);
}

Status LoadRuleFile(const std::string& file, const std::string& label,
                    std::vector<RuleGroupSpec>* out) {
  ASSIGN_OR_RETURN(std::string text, ReadInputFile(file, label, kMaxRuleFileBytes));
  return ParseRuleFile(text, label, out);
}

Result<std::vector<std::string>> ExpandRuleFiles(const std::string& pattern,
                                                 const std::string& base_dir) {
  std::filesystem::path full(pattern);
  if (full.is_relative() && !base_dir.empty()) full = std::filesystem::path(base_dir) / full;
  std::vector<std::string> out;
  if (pattern.find_first_of("*?[") == std::string::npos) {
    out.push_back(full.string());
    return out;
  }
  glob_t g{};
  int rc = glob(full.c_str(), 0, nullptr, &g);  // a missing folder matches nothing
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    return InvalidInput(Quote(pattern) + ": the pattern cannot be expanded");
  }
  return out;
}

Status ParseAlertsSettings(const Node& n, const std::string& path, AlertsSettings* out,
                           const std::string& project_dir) {
  static const std::vector<std::string> kKnown = {"interval", "builtin", "rules", "rule_files"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with interval, builtin, rules, rule_files"));
  std::set<std::string> names;
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "interval") {
      ASSIGN_OR_RETURN(out->interval, ReadDuration(f, p));
      if (out->interval < Duration(1000)) return NodeError(f, p, "is too short", "at least 1s");
    } else if (f.key == "builtin") {
      if (f.IsMap()) {
        for (const Node& g : f.children) {
          if (g.key != "disable") return UnknownKey(g, p, {"disable"});
          ASSIGN_OR_RETURN(auto list, ReadStringList(g, JoinPath(p, "disable")));
          out->builtin_disabled.insert(list.begin(), list.end());
        }
      } else {
        ASSIGN_OR_RETURN(out->builtin, ReadBool(f, p));
      }
    } else if (f.key == "rules") {
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of rules");
      for (size_t i = 0; i < f.children.size(); ++i) {
        AlertRuleSpec r;
        const std::string rp = IndexPath(p, i);
        RETURN_IF_ERROR(ParseRule(f.children[i], rp, &r));
        if (!names.insert(r.name).second) {
          return NodeError(f.children[i], rp, "alert " + Quote(r.name) + " is defined twice",
                           "unique alert names");
        }
        out->rules.push_back(std::move(r));
      }
    } else if (f.key == "rule_files") {
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of rule file names");
      size_t count = 0;
      for (size_t i = 0; i < f.children.size(); ++i) {
        const Node& item = f.children[i];
        const std::string ip = IndexPath(p, i);
        ASSIGN_OR_RETURN(std::string pattern, ReadString(item, ip));
        if (pattern.empty()) return NodeError(item, ip, "is empty", "a rule file name or glob");
        out->rule_files.push_back(pattern);
        auto files = ExpandRuleFiles(pattern, project_dir);
        if (!files.ok()) return NodeError(item, ip, files.status().message());
        for (const std::string& file : *files) {
          // Messages name the file as written relative to the project.
          std::string label = file;
          if (!project_dir.empty()) {
            std::error_code ec;
            auto rel = std::filesystem::relative(file, project_dir, ec);
            if (!ec && !rel.empty() && rel.native().rfind("..", 0) != 0) label = rel.string();
          }
          auto text = ReadInputFile(file, label, kMaxRuleFileBytes);
          if (!text.ok()) {
            return NodeError(item, ip, text.status().message(), "a readable Prometheus rule file");
          }
          ASSIGN_OR_RETURN(Node doc, ParseYaml(*text, label));
          RETURN_IF_ERROR(ParseRuleFileTree(doc, label, &count, &out->groups));
        }
      }
    } else {
      return UnknownKey(f, path, kKnown);
    }
  }
  return Status::OK();
}

Status ParseNotificationSettings(const Node& n, const std::string& path, NotificationSettings* out,
                                 const std::string& project_dir) {
  static const std::vector<std::string> kKnown = {"route", "receivers"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with route and receivers"));
  out->configured = true;
  const Node* route = nullptr;
  std::set<std::string> names;
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "route") {
      RETURN_IF_ERROR(ParseRoute(f, p, &out->route));
      route = &f;
    } else if (f.key == "receivers") {
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of receivers");
      for (size_t i = 0; i < f.children.size(); ++i) {
        ReceiverSpec r;
        RETURN_IF_ERROR(ParseReceiver(f.children[i], IndexPath(p, i), project_dir, &r));
        if (!names.insert(r.name).second) {
          return NodeError(f.children[i], IndexPath(p, i),
                           "receiver " + Quote(r.name) + " is defined twice");
        }
        out->receivers.push_back(std::move(r));
      }
    } else {
      return UnknownKey(f, path, kKnown);
    }
  }
  if (!route) {
    if (out->receivers.size() == 1) {
      out->route.receiver = out->receivers[0].name;  // one receiver: everything goes there
      return Status::OK();
    }
    if (out->receivers.empty()) return Status::OK();
    return NodeError(n, path, "several receivers but no route", "route: {receiver: NAME}");
  }
  if (out->route.receiver.empty()) {
    return NodeError(*route, JoinPath(path, "route"), "the root route has no receiver",
                     "receiver: NAME");
  }
  return CheckRouteReceivers(out->route, *route, JoinPath(path, "route"), names);
}

}  // namespace slipway::config
