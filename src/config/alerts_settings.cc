#include "config/alerts_settings.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <regex>

#include "base/redact.h"
#include "config/node.h"
#include "config/values.h"
#include "promql/parser.h"
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

Status ParseRule(const Node& n, const std::string& path, AlertRuleSpec* r) {
  static const std::vector<std::string> kKnown = {"alert", "name",   "expr",
                                                  "for",   "labels", "annotations"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with alert, expr, for, labels, annotations"));
  r->where = n.loc.ToString();
  const Node* expr = nullptr;
  for (const Node& f : n.children) {
    const std::string p = JoinPath(path, f.key);
    if (f.key == "alert" || f.key == "name") {
      ASSIGN_OR_RETURN(r->name, ReadString(f, p));
      if (!ValidName(r->name, true)) {
        return NodeError(f, p, Quote(r->name) + " is not a valid alert name",
                         "letters, digits, '_' and ':', not starting with a digit");
      }
    } else if (f.key == "expr") {
      ASSIGN_OR_RETURN(r->expr, ReadString(f, p));
      expr = &f;
    } else if (f.key == "for") {
      ASSIGN_OR_RETURN(r->for_duration, ReadDuration(f, p));
    } else if (f.key == "labels") {
      RETURN_IF_ERROR(ReadLabelMap(f, p, true, &r->labels));
    } else if (f.key == "annotations") {
      RETURN_IF_ERROR(ReadLabelMap(f, p, true, &r->annotations));
    } else {
      return UnknownKey(f, path, kKnown);
    }
  }
  if (r->name.empty()) return NodeError(n, path, "the rule has no name", "alert: NAME");
  if (!expr) return NodeError(n, path, "the rule has no expr", "expr: a PromQL expression");
  promql::ParseError err;
  auto parsed = promql::Parse(r->expr, &err);
  if (!parsed.ok()) {
    // Point at the character itself when the expression sits on one line of the file.
    SourceLoc loc = expr->loc;
    if (r->expr.find('\n') == std::string::npos && loc.line > 0) {
      loc.column += static_cast<int>(err.pos) + (expr->quoted ? 1 : 0);
    }
    return ErrorAt(loc, JoinPath(path, "expr"),
                   fmt::format("does not parse at char {}: {}", err.pos + 1, err.message),
                   "a PromQL expression (see docs/alerts.md)");
  }
  if ((*parsed)->type != promql::ValueType::kVector &&
      (*parsed)->type != promql::ValueType::kScalar) {
    return NodeError(*expr, JoinPath(path, "expr"),
                     fmt::format("is a {}", promql::ValueTypeName((*parsed)->type)),
                     "an instant vector or a scalar");
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
        try {
          std::regex re(r->match_re[kv.key]);
        } catch (const std::regex_error&) {
          return NodeError(kv, JoinPath(p, kv.key), "is not a valid regular expression");
        }
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

Status ParseAlertsSettings(const Node& n, const std::string& path, AlertsSettings* out) {
  static const std::vector<std::string> kKnown = {"interval", "builtin", "rules"};
  RETURN_IF_ERROR(ExpectMap(n, path, "a mapping with interval, builtin, rules"));
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
