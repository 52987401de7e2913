// Alerting settings: `x-slipway.alerts` (rules) and `x-slipway.notifications` (routes and
// receivers), parsed and validated at load time.
//
//   x-slipway:
//     alerts:
//       interval: 15s                 # evaluation period
//       builtin: true                 # or false, or {disable: [SlipwayRestartLoop, ...]}
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

struct AlertRuleSpec {
  std::string name;
  std::string expr;
  Duration for_duration{0};
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string where;  // "compose.yaml:12:9" of the rule, for messages
};

struct AlertsSettings {
  Duration interval{15'000};
  bool builtin = true;                     // built-in rules on
  std::set<std::string> builtin_disabled;  // built-in rule names turned off
  std::vector<AlertRuleSpec> rules;
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

Status ParseAlertsSettings(const Node& n, const std::string& path, AlertsSettings* out);
// `project_dir` resolves relative TLS file names of receivers ("" = the working directory).
Status ParseNotificationSettings(const Node& n, const std::string& path, NotificationSettings* out,
                                 const std::string& project_dir = "");

}  // namespace slipway::config
