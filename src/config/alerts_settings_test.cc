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
      // Alertmanager's syntax is Go's: no look-arounds or back-references.
      {"  notifications:\n    route: {receiver: a, match_re: {x: \"(?=a)\"}}\n    receivers:\n"
       "      - name: a\n        webhook: http://x\n",
       "match_re.x: is not a valid regular expression"},
      {"  notifications:\n    route: {receiver: a, match_re: {x: \"(a)\\\\1\"}}\n    receivers:\n"
       "      - name: a\n        webhook: http://x\n",
       "match_re.x: is not a valid regular expression"},
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

namespace slipway::config {
namespace {

using testing::ErrorOf;
using testing::OptionsFor;
using testing::TempDir;

// A rule file shaped like a team's Prometheus file, loaded unchanged (no $$ escaping).
constexpr char kTeamRules[] =
    "groups:\n"
    "  - name: app\n"
    "    interval: 30s\n"
    "    rules:\n"
    "      - alert: AppCreationErrors\n"
    "        expr: rate(app_creation_errors_total[5m]) > 0.1\n"
    "        for: 5m\n"
    "        keep_firing_for: 10m\n"
    "        labels: {severity: page}\n"
    "        annotations:\n"
    "          summary: \"{{ $labels.instance }} fails {{ $value | humanizePercentage }}\"\n"
    "      - record: job:app_creation_duration_seconds:p95\n"
    "        expr: histogram_quantile(0.95, rate(app_creation_duration_seconds_bucket[5m]))\n"
    "        labels: {source: rules}\n"
    "      - alert: AppCreationErrors\n"  // duplicates are allowed, as in Prometheus
    "        expr: time() - app_last_run_timestamp_seconds > 600\n"
    "  - name: db\n"
    "    limit: 10\n"
    "    rules:\n"
    "      - alert: DbDown\n"
    "        expr: up{job=\"db\"} == 0\n"
    "      - alert: NoDuplicates\n"
    "        expr: rate(app_duplicates_total[1h]) == 0\n"
    "        for: 2h\n";

std::string Compose(const std::string& alerts) {
  return "services:\n  api:\n    command: [\"true\"]\nx-slipway:\n  alerts:\n" + alerts;
}

TEST(RuleFiles, LoadsPrometheusRuleFilesUnchangedWithGlobs) {
  TempDir dir;
  dir.Write("app/rules/team.rules.yml", kTeamRules);
  dir.Write("app/rules/other.rules.yml", "groups:\n  - name: app\n    rules: []\n");
  dir.Write("app/compose.yaml",
            Compose("    interval: 20s\n    rule_files: [\"rules/*.rules.yml\"]\n"));
  auto p = LoadProject(OptionsFor(dir.path() / "app"));
  ASSERT_TRUE(p.ok()) << ErrorOf(p);
  const AlertsSettings& a = p->alerts;
  ASSERT_EQ(a.rule_files.size(), 1u);
  ASSERT_EQ(a.groups.size(), 3u);  // other.rules.yml first (glob order), then team's two
  EXPECT_EQ(a.groups[0].file, "rules/other.rules.yml");
  const RuleGroupSpec& app = a.groups[1];
  EXPECT_EQ(app.name, "app");  // same name in another file is fine
  EXPECT_EQ(app.file, "rules/team.rules.yml");
  ASSERT_TRUE(app.interval.has_value());
  EXPECT_EQ(*app.interval, Duration(30'000));
  ASSERT_EQ(app.rules.size(), 3u);
  EXPECT_EQ(app.rules[0].kind, RuleKind::kAlert);
  EXPECT_EQ(app.rules[0].for_duration, Duration(300'000));
  EXPECT_EQ(app.rules[0].keep_firing_for, Duration(600'000));
  EXPECT_EQ(app.rules[0].annotations.at("summary"),
            "{{ $labels.instance }} fails {{ $value | humanizePercentage }}");
  EXPECT_EQ(app.rules[1].kind, RuleKind::kRecord);
  EXPECT_EQ(app.rules[1].name, "job:app_creation_duration_seconds:p95");
  EXPECT_EQ(app.rules[1].labels.at("source"), "rules");
  const RuleGroupSpec& db = a.groups[2];
  EXPECT_FALSE(db.interval.has_value());  // the evaluator uses alerts.interval
  EXPECT_EQ(db.limit, 10);
  EXPECT_EQ(db.rules[1].for_duration, Duration(7'200'000));
}

TEST(RuleFiles, HostileRuleFilesGiveOneLineWithFileLineAndKey) {
  struct Case {
    std::string file;
    std::string want;
  } cases[] = {
      {"groups: [\n", "rules.yml:"},  // malformed YAML
      {"groups: {a: 1}\n", "rules.yml:1:1: groups: is a mapping (expected a list of rule groups)"},
      {"grups: []\n", "rules.yml:1:1: grups: unknown key \"grups\" (expected one of groups)"},
      {"groups:\n  - name: a\n    interval: 0\n    rules: []\n",
       "rules.yml:3:5: groups[0].interval: must be positive"},
      {"groups:\n  - name: a\n    interval: abc\n    rules: []\n",
       "rules.yml:3:5: groups[0].interval: \"abc\" is not a duration"},
      {"groups:\n  - name: a\n    limit: many\n", "rules.yml:3:5: groups[0].limit"},
      {"groups:\n  - name: a\n  - name: a\n",
       "rules.yml:3:5: groups[1].name: group \"a\" is defined twice in this file"},
      {"groups:\n  - rules: []\n", "rules.yml:2:5: groups[0]: the group has no name"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: rate(x[5m]) >\n",
       "rules.yml:5:28: groups[0].rules[0].expr: does not parse at char 14"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: holt_winters(up[5m], "
       "0.5, 0.5)\n",
       "groups[0].rules[0].expr: does not parse at char 1: unknown function \"holt_winters\""},
      {"groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        for: 5m\n",
       "rules.yml:6:9: groups[0].rules[0].for: is not allowed in a recording rule"},
      {"groups:\n  - name: a\n    rules:\n      - record: x\n        alert: y\n        expr: up\n",
       "groups[0].rules[0]: the rule has both alert and record"},
      {"groups:\n  - name: a\n    rules:\n      - record: \"bad name\"\n        expr: up\n",
       "groups[0].rules[0].record: \"bad name\" is not a valid metric name"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: [up]\n",
       "rules.yml:5:9: groups[0].rules[0].expr"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n"
       "        keep_firing_for: soon\n",
       "groups[0].rules[0].keep_firing_for: \"soon\" is not a duration"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n"
       "        annotations: {s: \"{{ $value | nope }}\"}\n",
       "groups[0].rules[0].annotations.s: template does not render"},
      {"groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up[5m]\n",
       "groups[0].rules[0].expr: is a range vector"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    dir.Write("app/rules.yml", c.file);
    dir.Write("app/compose.yaml", Compose("    rule_files: [rules.yml]\n"));
    auto p = LoadProject(OptionsFor(dir.path() / "app"));
    const std::string err = ErrorOf(p);
    EXPECT_NE(err.find(c.want), std::string::npos) << c.file << "\n=> " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

TEST(RuleFiles, MissingHugeAndTooManyRulesAreRefused) {
  {
    TempDir dir;
    dir.Write("app/compose.yaml", Compose("    rule_files: [missing.yml]\n"));
    const std::string err = ErrorOf(LoadProject(OptionsFor(dir.path() / "app")));
    EXPECT_NE(err.find("compose.yaml:6:18: x-slipway.alerts.rule_files[0]: missing.yml: file not "
                       "found"),
              std::string::npos)
        << err;
  }
  {
    TempDir dir;
    dir.Write("app/compose.yaml", Compose("    rule_files: rules.yml\n"));
    const std::string err = ErrorOf(LoadProject(OptionsFor(dir.path() / "app")));
    EXPECT_NE(err.find("x-slipway.alerts.rule_files: is \"rules.yml\" (expected a list"),
              std::string::npos)
        << err;
  }
  {
    TempDir dir;  // 10 MB: over the bound, refused before parsing
    std::string big = "groups:\n";
    while (big.size() < 10'000'000) big += "# padding padding padding padding padding padding\n";
    dir.Write("app/big.yml", big);
    dir.Write("app/compose.yaml", Compose("    rule_files: [big.yml]\n"));
    const std::string err = ErrorOf(LoadProject(OptionsFor(dir.path() / "app")));
    EXPECT_NE(err.find("big.yml: file is larger than 8 MiB"), std::string::npos) << err;
  }
  {
    TempDir dir;  // 10k rules load (and fast enough to be a test)
    std::string many = "groups:\n  - name: many\n    rules:\n";
    for (int i = 0; i < 10'000; ++i) {
      many += "      - record: r" + std::to_string(i) + "\n        expr: sum(up) * " +
              std::to_string(i) + "\n";
    }
    dir.Write("app/many.yml", many);
    dir.Write("app/compose.yaml", Compose("    rule_files: [many.yml]\n"));
    auto p = LoadProject(OptionsFor(dir.path() / "app"));
    ASSERT_TRUE(p.ok()) << ErrorOf(p);
    EXPECT_EQ(p->alerts.groups.at(0).rules.size(), 10'000u);
  }
  {
    TempDir dir;  // past the bound on rules: one line, not a long load
    std::string many = "groups:\n  - name: many\n    rules:\n";
    for (size_t i = 0; i <= kMaxRuleFileRules; ++i) many += "      - {record: r, expr: up}\n";
    dir.Write("app/many.yml", many);
    dir.Write("app/compose.yaml", Compose("    rule_files: [many.yml]\n"));
    const std::string err = ErrorOf(LoadProject(OptionsFor(dir.path() / "app")));
    EXPECT_NE(err.find("too many rules"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace slipway::config
