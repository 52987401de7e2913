// Alerting settings: `x-slipway.alerts` (rules) and `x-slipway.notifications` (routes and
// receivers), parsed and validated at load time.
//
//   x-slipway:
//     alerts:
//       interval: 15s                 # evaluation period
//       builtin: true                 # or false, or {disable: [SlipwayRestartLoop, ...]}
//       rule_files: [rules/*.yml]      # Prometheus rule files, unchanged (config/rule_files.h)
//       rules:
//         - alert: ApiErrors          # `name:` is accepted too
//           expr: sum by (route) (rate(slipway_http_requests_total{code_class="5xx"}[5m])) > 1
//           for: 5m
//           labels: {severity: critical}
//           annotations: {summary: "{{ $$labels.route }} fails at {{ $$value }}/s"}
//     notifications:
//       route:                        # Alertmanager's routing tree
//         receiver: chat
//         group_by: [alertname, service]
//         group_wait: 30s
//         group_interval: 5m
//         repeat_interval: 4h
//         routes:
//           - match: {severity: critical}
//             match_re: {service: "api|web"}
//             receiver: pager
//             continue: false
//       receivers:
//         - name: chat
//           slack: http://hooks.example/T000     # Slack incoming-webhook payload
//         - name: pager
//           webhook: http://127.0.0.1:9000/hook  # JSON, Alertmanager's webhook format
//         - name: am
//           alertmanager: http://127.0.0.1:9093  # POST /api/v2/alerts
//           max_queue: 100                       # undelivered notifications kept
//         - name: hooks
//           webhook: https://hooks.example/T0    # https:// uses the system CA store, or:
//           ca_file: certs/ca.pem                # a private CA (PEM), relative to the project
//           client_cert: certs/client.pem        # mutual TLS (both or neither)
//           client_key: certs/client.key
//
// The TLS files must be readable at load time (else file:line of the key); they are only
// allowed with an https:// URL.
// A rule whose expression does not parse is refused with the file:line:col of the `expr`
// value and the character position inside the expression. Compose interpolates these values
// like any other, so templates are written `{{ $$value }}` / `{{ $$labels.service }}` there.
// Plain data; any thread.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace slipway::config {

struct Node;

// Alerting rules raise alerts; recording rules write their result back to the series store
// under a new metric name (Prometheus' `record:`).
enum class RuleKind { kAlert, kRecord };

struct AlertRuleSpec {
  RuleKind kind = RuleKind::kAlert;
  std::string name;  // the alert name, or the recorded metric's name
  std::string expr;
  Duration for_duration{0};
  Duration keep_firing_for{0};  // an alert whose condition cleared fires this much longer
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string where;  // "compose.yaml:12:9" of the rule, for messages
};

// One Prometheus rule group: its rules run in order at one timestamp, every `interval`.
struct RuleGroupSpec {
  std::string name;
  std::string file;                  // the rule file it came from (as resolved), for messages
  std::optional<Duration> interval;  // unset: x-slipway.alerts.interval
  int limit = 0;                     // > 0: a rule giving more series than this fails
  std::vector<AlertRuleSpec> rules;
};

struct AlertsSettings {
  Duration interval{15'000};
  bool builtin = true;                     // built-in rules on
  std::set<std::string> builtin_disabled;  // built-in rule names turned off
  std::vector<AlertRuleSpec> rules;        // inline rules: one implicit group
  std::vector<std::string> rule_files;     // the patterns as written
  std::vector<RuleGroupSpec> groups;       // what the rule files hold, file by file
};

struct RouteSpec {
  std::string receiver;  // "" = the parent's
  std::optional<std::vector<std::string>> group_by;
  std::optional<Duration> group_wait, group_interval, repeat_interval;
  std::map<std::string, std::string> match;     // label = value
  std::map<std::string, std::string> match_re;  // label =~ regex (anchored)
  bool continue_matching = false;
  std::vector<RouteSpec> routes;
};

struct ReceiverSpec {
  enum class Kind { kWebhook, kSlack, kAlertmanager };
  std::string name;
  Kind kind = Kind::kWebhook;
  std::string url;  // http://host:port/path or https://host:port/path
  int max_queue = 100;
  Duration timeout{10'000};
  // https:// only: a PEM CA bundle replacing the system store, and a client certificate and
  // key (both or neither). Absolute paths (relative ones are resolved at load).
  std::string ca_file{};
  std::string client_cert{};
  std::string client_key{};
};

struct NotificationSettings {
  bool configured = false;  // the section was present
  RouteSpec route;
  std::vector<ReceiverSpec> receivers;
};

// Prometheus rule files, loaded unchanged (no compose interpolation: `{{ $value }}` as
// Prometheus writes it). Top level `groups:`; a group has name (unique in its file),
// interval, limit, rules; a rule is `alert:` (expr, for, keep_firing_for, labels,
// annotations) or `record:` (expr, labels). Durations are Prometheus' (30s, 5m, 1h30m, 1d).
// Every error is one line "file:line:col: groups[i].rules[j].key: what (expected ...)"; an
// expression using a function outside the supported subset names that function.
// A file is at most kMaxRuleFileBytes; a project holds at most kMaxRuleFileRules rules.
inline constexpr size_t kMaxRuleFileBytes = size_t{8} << 20;
inline constexpr size_t kMaxRuleFileRules = 20'000;
// The expression of a rule or a dashboard panel at `expr` (its text `text`): it parses, and
// gives an instant vector or a scalar; else file:line:col of the character itself when the
// expression sits on one line of the file.
Status CheckRuleExpr(const Node& expr, const std::string& path, const std::string& text);

Status ParseRuleFile(const std::string& text, const std::string& label,
                     std::vector<RuleGroupSpec>* out);
// Reads `file` (named `label` in messages) and parses it as above.
Status LoadRuleFile(const std::string& file, const std::string& label,
                    std::vector<RuleGroupSpec>* out);
// Expands one rule_files entry against `base_dir`: a glob (*, ?, [..]) gives its matches in
// order (none is fine, as in Prometheus); a plain name must exist. Paths as resolved.
Result<std::vector<std::string>> ExpandRuleFiles(const std::string& pattern,
                                                 const std::string& base_dir);

// `project_dir` resolves relative rule_files patterns ("" = the working directory); the files
// are read and checked here, so a bad rule file fails the load.
Status ParseAlertsSettings(const Node& n, const std::string& path, AlertsSettings* out,
                           const std::string& project_dir = "");
// `project_dir` resolves relative TLS file names of receivers ("" = the working directory).
Status ParseNotificationSettings(const Node& n, const std::string& path, NotificationSettings* out,
                                 const std::string& project_dir = "");

}  // namespace slipway::config
