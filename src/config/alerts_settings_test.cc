#include "config/alerts_settings.h"

#include <gtest/gtest.h>

#include "config/test_support.h"

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::LoadText;
using testing::OptionsFor;
using testing::TempDir;

constexpr char kHead[] =
    "services:\n"
    "  api:\n"
    "    command: [\"true\"]\n"
    "x-slipway:\n";

TEST(AlertsSettings, ParsesRulesAndNotifications) {
  auto p = LoadText(std::string(kHead) +
                    "  alerts:\n"
                    "    interval: 30s\n"
                    "    builtin: {disable: [SlipwayRestartLoop]}\n"
                    "    rules:\n"
                    "      - alert: ApiErrors\n"
                    "        expr: sum by (route) (rate(slipway_http_requests_total[5m])) > 1\n"
                    "        for: 2m\n"
                    "        labels: {severity: critical}\n"
                    "        annotations:\n"
                    "          summary: \"{{ $$labels.route }} at {{ $$value | humanize }}\"\n"
                    "  notifications:\n"
                    "    route:\n"
                    "      receiver: chat\n"
                    "      group_by: [alertname]\n"
                    "      group_wait: 1s\n"
                    "      routes:\n"
                    "        - match: {severity: critical}\n"
                    "          receiver: pager\n"
                    "          repeat_interval: 1h\n"
                    "    receivers:\n"
                    "      - name: chat\n"
                    "        slack: http://127.0.0.1:1/hook\n"
                    "      - name: pager\n"
                    "        alertmanager: http://127.0.0.1:9093\n"
                    "        max_queue: 5\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const AlertsSettings& a = p->alerts;
  EXPECT_EQ(a.interval, Duration(30'000));
  EXPECT_TRUE(a.builtin);
  EXPECT_EQ(a.builtin_disabled.count("SlipwayRestartLoop"), 1u);
  ASSERT_EQ(a.rules.size(), 1u);
  EXPECT_EQ(a.rules[0].name, "ApiErrors");
  EXPECT_EQ(a.rules[0].for_duration, Duration(120'000));
  EXPECT_EQ(a.rules[0].labels.at("severity"), "critical");
  EXPECT_EQ(a.rules[0].where, "compose.yaml:9:9");
  const NotificationSettings& n = p->notifications;
  EXPECT_TRUE(n.configured);
  EXPECT_EQ(n.route.receiver, "chat");
  EXPECT_EQ(*n.route.group_wait, Duration(1000));
  ASSERT_EQ(n.route.routes.size(), 1u);
  EXPECT_EQ(n.route.routes[0].match.at("severity"), "critical");
  EXPECT_EQ(n.receivers[1].kind, ReceiverSpec::Kind::kAlertmanager);
  EXPECT_EQ(n.receivers[1].max_queue, 5);
}

TEST(AlertsSettings, BadExpressionPointsAtTheCharacter) {
  auto p = LoadText(std::string(kHead) +
                    "  alerts:\n"
                    "    rules:\n"
                    "      - alert: Broken\n"
                    "        expr: rate(x[5m] > 1\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidInput);
  // `expr:` value starts at column 15; the error is at char 12 of the expression.
  EXPECT_EQ(ErrorOf(p),
            "compose.yaml:8:26: x-slipway.alerts.rules[0].expr: does not parse at char 12: "
            "operator > does not apply to a range vector (wrap a range selector in rate(), "
            "increase(), ...) (expected a PromQL expression (see docs/alerts.md))");
  auto q = LoadText(std::string(kHead) +
                    "  alerts:\n"
                    "    rules:\n"
                    "      - alert: Broken\n"
                    "        expr: \"sum by (a (x)\"\n");
  EXPECT_NE(ErrorOf(q).find("compose.yaml:8:26:"), std::string::npos) << ErrorOf(q);
  EXPECT_NE(ErrorOf(q).find("at char 11"), std::string::npos) << ErrorOf(q);
}

TEST(AlertsSettings, RefusesBadRulesAndReceivers) {
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {"  alerts:\n    rules:\n      - expr: up\n", "the rule has no name"},
      {"  alerts:\n    rules:\n      - alert: 9x\n        expr: up\n", "not a valid alert name"},
      {"  alerts:\n    rules:\n      - alert: A\n        expr: up\n        for: 5\n",
       "rules[0].for"},
      {"  alerts:\n    rules:\n      - alert: A\n        expr: up\n"
       "        annotations: {s: \"{{ $$nope }}\"}\n",
       "template does not render: at char 4"},
      {"  alerts:\n    rules:\n      - alert: A\n        expr: up\n      - alert: A\n"
       "        expr: up\n",
       "defined twice"},
      {"  alerts:\n    rules:\n      - alert: A\n        expr: x[5m]\n", "is a range vector"},
      {"  alerts:\n    colour: red\n", "unknown key \"colour\""},
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: ftp://x\n",
       "is not an http or https URL"},
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: http://x\n"
       "        slack: http://y\n",
       "exactly one of"},
      {"  notifications:\n    route: {receiver: nobody}\n    receivers:\n      - name: a\n"
       "        webhook: http://x\n",
       "receiver \"nobody\" is not defined"},
      {"  notifications:\n    route: {receiver: a, match_re: {x: \"(\"}}\n    receivers:\n"
       "      - name: a\n        webhook: http://x\n",
       "not a valid regular expression"},
  };
  for (const Case& c : cases) {
    auto p = LoadText(std::string(kHead) + c.yaml);
    EXPECT_NE(ErrorOf(p).find(c.want), std::string::npos) << c.yaml << "\n=> " << ErrorOf(p);
  }
}

TEST(AlertsSettings, HttpsReceiversTakeTlsFilesRelativeToTheProject) {
  TempDir dir;
  dir.Write("app/certs/ca.pem", "x");
  dir.Write("app/certs/client.pem", "x");
  dir.Write("app/certs/client.key", "x");
  dir.Write("app/compose.yaml", std::string(kHead) +
                                    "  notifications:\n    receivers:\n      - name: hook\n"
                                    "        webhook: https://hooks.example/T0/secret\n"
                                    "        ca_file: certs/ca.pem\n"
                                    "        client_cert: certs/client.pem\n"
                                    "        client_key: certs/client.key\n");
  auto p = LoadProject(OptionsFor(dir.path() / "app"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const ReceiverSpec& r = p->notifications.receivers.at(0);
  EXPECT_EQ(r.url, "https://hooks.example/T0/secret");
  EXPECT_EQ(r.ca_file, (dir.path() / "app/certs/ca.pem").string());
  EXPECT_EQ(r.client_cert, (dir.path() / "app/certs/client.pem").string());
  EXPECT_EQ(r.client_key, (dir.path() / "app/certs/client.key").string());
}

TEST(AlertsSettings, RefusesBadTlsSettingsWithTheirLine) {
  struct Case {
    std::string yaml;
    std::string want;
  } cases[] = {
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: https://x/y\n"
       "        ca_file: missing.pem\n",
       "compose.yaml:9:9: x-slipway.notifications.receivers[0].ca_file: \""},
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: https://x/y\n"
       "        ca_file: [a]\n",
       "receivers[0].ca_file"},
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: http://x/y\n"
       "        ca_file: compose.yaml\n",
       "receivers[0].ca_file: needs an https:// URL"},
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: https://x/y\n"
       "        client_cert: compose.yaml\n",
       "client_cert and client_key go together"},
      {"  notifications:\n    receivers:\n      - name: a\n"
       "        webhook: \"https://u:hunter22@x/y\"\n        timeout: 5\n",
       "receivers[0].timeout"},
      {"  notifications:\n    receivers:\n      - name: a\n        webhook: "
       "\"ftp://u:hunter22@x\"\n",
       "is not an http or https URL"},
  };
  for (const Case& c : cases) {
    auto p = LoadText(std::string(kHead) + c.yaml);
    EXPECT_NE(ErrorOf(p).find(c.want), std::string::npos) << c.yaml << "\n=> " << ErrorOf(p);
    EXPECT_EQ(ErrorOf(p).find("hunter22"), std::string::npos) << ErrorOf(p);
    EXPECT_EQ(ErrorOf(p).find('\n'), std::string::npos) << ErrorOf(p);
  }
}

TEST(AlertsSettings, OneReceiverNeedsNoRoute) {
  auto p = LoadText(std::string(kHead) +
                    "  alerts: {builtin: false}\n"
                    "  notifications:\n    receivers:\n      - name: hook\n"
                    "        webhook: http://127.0.0.1:9/x\n");
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  EXPECT_FALSE(p->alerts.builtin);
  EXPECT_EQ(p->notifications.route.receiver, "hook");
}

}  // namespace
}  // namespace slipway::config
