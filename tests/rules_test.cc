// Prometheus rule files as they are (issue 19, item 4), through the real binary:
//   - promtool's rule unit-test files in tests/rules/ give the same verdict under
//     `promtool test rules` and `slipway alerts test` (a passing file, a file that fails on
//     purpose, a malformed one), and the PromQL coverage file passes under both;
//   - a project loads a rule file unchanged and its rules fire and resolve over the testapp's
//     own scraped metrics, delivered to a real Alertmanager (Debian's
//     prometheus-alertmanager, on a free loopback port) with their labels and rendered
//     annotations, firing and then resolved; `up{job="db"} == 0` fires when the static
//     target is stopped.
// Every wait is bounded; processes started here are stopped by PID.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "base/test_require.h"
#include "harness.h"

extern char** environ;

namespace slipway::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::filesystem::path kRulesDir = std::filesystem::path(SLIPWAY_SOURCE_DIR) / "tests/rules";
constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr char kAlertmanager[] = "/usr/bin/prometheus-alertmanager";

CmdResult Promtool(const std::string& file) {
  return RunCmd({kPromtool, "test", "rules", file}, kRulesDir, {}, 60s);
}
CmdResult SlipwayTest(const std::string& file) {
  return RunCmd({SLIPWAY_BIN, "alerts", "test", file}, kRulesDir, {}, 60s);
}

// The "alertname: X, time: T" and `expr: "E", time: T` heads of a report's failures.
std::set<std::string> FailureHeads(const std::string& report) {
  std::set<std::string> out;
  std::istringstream in(report);
  std::string line;
  while (std::getline(in, line)) {
    size_t at = line.find_first_not_of(' ');
    if (at == std::string::npos) continue;
    line = line.substr(at);
    if (line.rfind("alertname: ", 0) == 0 || line.rfind("expr: ", 0) == 0) {
      while (!line.empty() && (line.back() == ' ' || line.back() == ',')) line.pop_back();
      out.insert(line);
    }
  }
  return out;
}

TEST(RuleUnitFiles, PromtoolAndSlipwayAgree) {
  SLIPWAY_REQUIRE(std::filesystem::exists(kPromtool), "promtool (Debian prometheus)");
  for (const char* file :
       {"team_test.yml", "coverage_test.yml", "notation_test.yml", "regex_test.yml"}) {
    SCOPED_TRACE(file);
    CmdResult p = Promtool(file);
    CmdResult s = SlipwayTest(file);
    EXPECT_EQ(p.rc, 0) << p.out << p.err;
    EXPECT_EQ(s.rc, 0) << s.out << s.err;
    EXPECT_NE(s.out.find("SUCCESS"), std::string::npos) << s.out;
  }
  // Fails on purpose: both say so, about the same cases.
  CmdResult p = Promtool("team_failing_test.yml");
  CmdResult s = SlipwayTest("team_failing_test.yml");
  EXPECT_EQ(p.rc, 1) << p.out << p.err;
  EXPECT_EQ(s.rc, 1) << s.out << s.err;
  const std::set<std::string> heads = FailureHeads(p.out + p.err);
  EXPECT_EQ(heads.size(), 3u) << p.out << p.err;
  EXPECT_EQ(FailureHeads(s.out + s.err), heads) << s.out << s.err;
  // The diff names what each expected and got, as promtool's does.
  EXPECT_NE(s.err.find("Annotations:{summary=\"a fails at 233.3m/s\"}"), std::string::npos)
      << s.err;
  EXPECT_NE(s.err.find("got: {__name__=\"instance:app_creation_duration_seconds:p95\", "
                       "instance=\"a\"} 4.6E+00"),
            std::string::npos)
      << s.err;
}

TEST(RuleUnitFiles, MalformedTestFileIsExitTwoWithFileAndLine) {
  CmdResult s = SlipwayTest("malformed_test.yml");
  EXPECT_EQ(s.rc, 2) << s.out << s.err;
  EXPECT_NE(s.err.find("malformed_test.yml:6:9: tests[0].input_series[0].values: \"x3\""),
            std::string::npos)
      << s.err;
  CmdResult missing = SlipwayTest("no_such_test.yml");
  EXPECT_EQ(missing.rc, 2) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("no_such_test.yml: file not found"), std::string::npos) << missing.err;
}

// A testapp run outside slipway, as a static scrape target ("db"), stopped by PID.
class Exporter {
 public:
  explicit Exporter(int port) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    envs.push_back("PORT=" + std::to_string(port));
    std::vector<char*> envp;
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string bin = TESTAPP_BIN;
    char* argv[] = {bin.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    SLIPWAY_CHECK(posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv, envp.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Exporter() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  pid_t pid_ = 0;
};

// A real Alertmanager on 127.0.0.1:port with its own storage folder, stopped by PID.
// resolve_timeout is 5m: an alert it lists as active can only end within a test's bounds
// by the sender's own `endsAt` (the resolved notification), never by timing out.
class Alertmanager {
 public:
  Alertmanager() {
    char tmpl[] = "/tmp/slipway-am-XXXXXX";
    SLIPWAY_CHECK(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "am.yml") << "global:\n  resolve_timeout: 5m\n"
                                      "route:\n  receiver: blackhole\n"
                                      "receivers:\n  - name: blackhole\n";
    port_ = FreePort();
    pid_ = fork();
    if (pid_ == 0) {
      int log = open((dir_ / "am.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, 1);
      dup2(log, 2);
      std::string cfg = "--config.file=" + (dir_ / "am.yml").string();
      std::string storage = "--storage.path=" + (dir_ / "data").string();
      std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      execl(kAlertmanager, kAlertmanager, cfg.c_str(), storage.c_str(), listen.c_str(),
            "--cluster.listen-address=", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Alertmanager() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      bool gone = false;
      for (int i = 0; i < 100 && !gone; ++i) {  // 10 s, then SIGKILL
        gone = waitpid(pid_, nullptr, WNOHANG) == pid_;
        if (!gone) std::this_thread::sleep_for(100ms);
      }
      if (!gone) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  int port() const { return port_; }
  bool Ready() const { return HttpGet(port_, "/-/ready") == 200; }
  std::string Log() const { return ReadFile(dir_ / "am.log"); }
  // The alerts Alertmanager lists (active, not yet ended), named `alertname`.
  json Alerts(const std::string& alertname) const {
    std::string body;
    json out = json::array();
    if (HttpGet(port_, "/api/v2/alerts", &body) != 200) return out;
    json all = json::parse(body, nullptr, false);
    if (!all.is_array()) return out;
    for (const json& a : all) {
      if (a["labels"].value("alertname", "") == alertname) out.push_back(a);
    }
    return out;
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

constexpr char kAppRules[] = R"(groups:
  - name: app
    interval: 1s
    rules:
      - record: job:testapp_requests:rate10s
        expr: sum by (job) (rate(testapp_requests_total[10s]))
      - alert: AppErrors
        expr: sum by (job) (rate(testapp_requests_total{code="500"}[10s])) / job:testapp_requests:rate10s > 0.1
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} fails {{ $value | humanizePercentage }} of requests"
      - alert: AppQueueDeep
        expr: testapp_queue_depth > 5
        annotations:
          summary: "queue at {{ $value }}"
  - name: targets
    interval: 2s
    rules:
      - alert: TargetDown
        expr: up{job="db"} == 0
        labels:
          severity: critical
)";

// The alerts of `rule` in `state`, from `slipway alerts --format json`.
json AlertsOf(Project& p, const std::string& rule, const std::string& state) {
  json out = json::array();
  json all = p.Json({"alerts", "--format", "json"});
  for (const json& a : all.value("alerts", json::array())) {
    if (a.value("rule", "") == rule && a.value("state", "") == state) out.push_back(a);
  }
  return out;
}

TEST(RuleFilesE2E, FireAndResolveOverTheAppsMetrics) {
  SLIPWAY_REQUIRE(std::filesystem::exists(kAlertmanager), "prometheus-alertmanager");
  const int web_port = FreePort();
  const int db_port = FreePort();
  Exporter db(db_port);
  Alertmanager am;
  ASSERT_TRUE(WaitFor([&] { return am.Ready(); }, 30s)) << am.Log();
  Project project(R"(services:
  app:
    command: [")" +
                  std::string(TESTAPP_BIN) +
                  R"("]
    ports: ["127.0.0.1:)" +
                  std::to_string(web_port) +
                  R"(:8080"]
    environment: {QUEUE_DEPTH: "7"}
    healthcheck: {interval: 200ms, start_interval: 100ms, start_period: 5s}
    x-slipway:
      healthcheck: {http: /health}
      metrics: {interval: 1s}
x-slipway:
  alerts:
    interval: 5s
    builtin: false
    rule_files: [rules/*.yml]
  scrape:
    retention: 10m
    targets:
      - {name: db, address: "127.0.0.1:)" +
                  std::to_string(db_port) + R"(", interval: 1s, timeout: 500ms}
  notifications:
    route: {receiver: am, group_wait: 1s, group_interval: 1s, repeat_interval: 1m}
    receivers:
      - name: am
        alertmanager: http://127.0.0.1:)" +
                  std::to_string(am.port()) + R"(
        timeout: 2s
)");
  std::filesystem::create_directories(project.dir() / "rules");
  project.Write("rules/app.yml", kAppRules);
  CmdResult up = project.Slipway({"up", "-d", "--wait"});
  ASSERT_EQ(up.rc, 0) << up.out << up.err;

  // A gauge rule fires as soon as the app's metrics are scraped.
  json deep;
  WaitFor([&] { return !(deep = AlertsOf(project, "AppQueueDeep", "firing")).empty(); }, 30s);
  ASSERT_EQ(deep.size(), 1u) << project.Json({"alerts", "--format", "json"}).dump();
  EXPECT_EQ(deep[0]["annotations"]["summary"], "queue at 7");
  EXPECT_EQ(deep[0]["labels"]["service"], "app");

  // Errors through the proxy: the recording rule feeds AppErrors in the same group.
  json errors;
  WaitFor(
      [&] {
        for (int i = 0; i < 10; ++i) {
          HttpGet(web_port, "/status/500");
          HttpGet(web_port, "/");
        }
        return !(errors = AlertsOf(project, "AppErrors", "firing")).empty();
      },
      30s);
  ASSERT_EQ(errors.size(), 1u) << project.Json({"alerts", "--format", "json"}).dump();
  EXPECT_EQ(errors[0]["labels"]["severity"], "page");
  const std::string summary = errors[0]["annotations"]["summary"];
  EXPECT_EQ(summary.rfind("app fails ", 0), 0u) << summary;
  EXPECT_NE(summary.find("% of requests"), std::string::npos) << summary;
  // Delivered to Alertmanager as Prometheus would: its labels (the rule's, the series') and
  // the annotation rendered as Slipway shows it.
  json in_am;
  WaitFor([&] { return !(in_am = am.Alerts("AppErrors")).empty(); }, 30s);
  ASSERT_EQ(in_am.size(), 1u) << am.Log();
  EXPECT_EQ(in_am[0]["labels"]["severity"], "page") << in_am.dump();
  EXPECT_EQ(in_am[0]["labels"]["job"], "app") << in_am.dump();
  EXPECT_EQ(in_am[0]["status"]["state"], "active") << in_am.dump();
  const std::string am_summary = in_am[0]["annotations"].value("summary", "");
  EXPECT_EQ(am_summary.rfind("app fails ", 0), 0u) << in_am.dump();
  EXPECT_NE(am_summary.find("% of requests"), std::string::npos) << in_am.dump();
  // Rendered, not the template (the percentage itself moves from one evaluation to the next).
  EXPECT_EQ(am_summary.find("{{"), std::string::npos) << am_summary;
  EXPECT_NE(am_summary.find_first_of("0123456789"), std::string::npos) << am_summary;
  json deep_am = am.Alerts("AppQueueDeep");
  ASSERT_EQ(deep_am.size(), 1u) << am.Log();
  EXPECT_EQ(deep_am[0]["annotations"]["summary"], "queue at 7");
  EXPECT_EQ(deep_am[0]["labels"]["service"], "app");

  // The recorded series is in the store, for queries too.
  CmdResult q =
      project.Slipway({"query", "job:testapp_requests:rate10s{job=\"app\"}", "--format", "json"});
  ASSERT_EQ(q.rc, 0) << q.err;
  json rows = json::parse(q.out, nullptr, false)["data"]["result"];
  ASSERT_EQ(rows.size(), 1u) << q.out;
  EXPECT_EQ(rows[0]["metric"]["job"], "app");

  // No more traffic: once the 10s window holds none, the alert resolves.
  WaitFor([&] { return !AlertsOf(project, "AppErrors", "resolved").empty(); }, 40s);
  EXPECT_EQ(AlertsOf(project, "AppErrors", "resolved").size(), 1u)
      << project.Json({"alerts", "--format", "json"}).dump();
  // ... and Alertmanager ends it (the resolved notification's endsAt; its own timeout is 5m).
  EXPECT_TRUE(WaitFor([&] { return am.Alerts("AppErrors").empty(); }, 20s))
      << am.Alerts("AppErrors").dump();
  EXPECT_EQ(am.Alerts("AppQueueDeep").size(), 1u);  // still firing: still listed

  // The static target answers, then stops: up{job="db"} == 0 fires.
  EXPECT_TRUE(AlertsOf(project, "TargetDown", "firing").empty());
  db.Stop();
  json down;
  WaitFor([&] { return !(down = AlertsOf(project, "TargetDown", "firing")).empty(); }, 30s);
  ASSERT_EQ(down.size(), 1u) << project.Json({"alerts", "--format", "json"}).dump();
  EXPECT_EQ(down[0]["labels"]["job"], "db");
  EXPECT_EQ(down[0]["labels"]["severity"], "critical");
}

TEST(RuleFilesE2E, BadRuleFileStopsUpWithOneLine) {
  Project project(R"(services:
  app:
    command: [")" +
                  std::string(TESTAPP_BIN) +
                  R"("]
x-slipway:
  alerts:
    rule_files: [rules.yml]
)");
  project.Write("rules.yml",
                "groups:\n  - name: g\n    interval: abc\n    rules:\n"
                "      - alert: X\n        expr: up == 0\n");
  CmdResult up = project.Slipway({"up", "-d"});
  EXPECT_EQ(up.rc, 2) << up.out << up.err;
  EXPECT_NE(up.err.find("rules.yml:3:5: groups[0].interval: \"abc\" is not a duration"),
            std::string::npos)
      << up.err;
  EXPECT_FALSE(PidAlive(project.DaemonPid()));
  project.Write("rules.yml",
                "groups:\n  - name: g\n    rules:\n      - alert: X\n"
                "        expr: holt_winters(up[5m], 0.5, 0.5)\n");
  CmdResult cfg = project.Slipway({"config"});
  EXPECT_EQ(cfg.rc, 2) << cfg.out << cfg.err;
  EXPECT_NE(cfg.err.find("unknown function \"holt_winters\""), std::string::npos) << cfg.err;
}

}  // namespace
}  // namespace slipway::testing
