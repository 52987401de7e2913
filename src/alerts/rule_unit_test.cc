#include "alerts/rule_unit.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "alerts/rules.h"
#include "base/test_require.h"

namespace slipway::alerts {
namespace {

class Dir {
 public:
  Dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slipway-unit-XXXXXX").string();
    SLIPWAY_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

constexpr char kRules[] =
    "groups:\n"
    "  - name: g\n"
    "    rules:\n"
    "      - record: job:up:sum\n"
    "        expr: sum by (job) (up)\n"
    "      - alert: JobDown\n"  // reads what the rule before it recorded, same timestamp
    "        expr: job:up:sum == 0\n"
    "        for: 2m\n"
    "        keep_firing_for: 1m\n"
    "        labels: {severity: page}\n"
    "        annotations:\n"
    "          summary: \"{{ $labels.job }} down ({{ $value }})\"\n";

TEST(ExpandSeriesValues, PromtoolNotation) {
  std::vector<UnitValue> v;
  std::string err;
  ASSERT_TRUE(ExpandSeriesValues("0+10x3 _x2 stale 5 -1-1x2 7x1 1e3 Inf", &v, &err)) << err;
  ASSERT_EQ(v.size(), 4u + 2 + 1 + 1 + 3 + 2 + 1 + 1);
  EXPECT_EQ(v[3].v, 30);
  EXPECT_EQ(v[4].kind, UnitValue::Kind::kMissing);
  EXPECT_EQ(v[5].kind, UnitValue::Kind::kMissing);
  EXPECT_EQ(v[6].kind, UnitValue::Kind::kStale);
  EXPECT_EQ(v[7].v, 5);
  EXPECT_EQ(v[8].v, -1);
  EXPECT_EQ(v[10].v, -3);
  EXPECT_EQ(v[11].v, 7);
  EXPECT_EQ(v[12].v, 7);
  EXPECT_EQ(v[13].v, 1000);
  EXPECT_TRUE(std::isinf(v[14].v));
  for (const char* bad : {"1+x3", "abc", "1x-2", "1+2xq", "0+1x99999999"}) {
    std::vector<UnitValue> w;
    EXPECT_FALSE(ExpandSeriesValues(bad, &w, &err)) << bad;
  }
}

TEST(RuleUnitTests, PassingFileRecordingFeedsAlertAndKeepFiringFor) {
  Dir d;
  d.Write("rules.yml", kRules);
  const std::string f = d.Write("t.yml",
                                "rule_files: [rules.yml]\n"
                                "evaluation_interval: 1m\n"
                                "tests:\n"
                                "  - interval: 1m\n"
                                "    input_series:\n"
                                "      - series: 'up{job=\"a\", instance=\"x\"}'\n"
                                "        values: '1 1 0x5 1x3'\n"
                                "      - series: 'gap{job=\"a\"}'\n"
                                "        values: '1 _x3 stale'\n"
                                "    alert_rule_test:\n"
                                "      - eval_time: 3m\n"
                                "        alertname: JobDown\n"  // pending: not listed
                                "      - eval_time: 5m\n"
                                "        alertname: JobDown\n"
                                "        exp_alerts:\n"
                                "          - exp_labels: {severity: page, job: a}\n"
                                "            exp_annotations: {summary: \"a down (0)\"}\n"
                                "      - eval_time: 8m\n"  // cleared at 8m, kept firing 1m
                                "        alertname: JobDown\n"
                                "        exp_alerts:\n"
                                "          - exp_labels: {severity: page, job: a}\n"
                                "            exp_annotations: {summary: \"a down (0)\"}\n"
                                "      - eval_time: 9m\n"
                                "        alertname: JobDown\n"
                                "    promql_expr_test:\n"
                                "      - expr: job:up:sum\n"
                                "        eval_time: 2m\n"
                                "        exp_samples:\n"
                                "          - labels: 'job:up:sum{job=\"a\"}'\n"
                                "            value: 0\n"
                                "      - expr: gap\n"
                                "        eval_time: 3m\n"  // the 0m sample, within lookback
                                "        exp_samples:\n"
                                "          - labels: 'gap{job=\"a\"}'\n"
                                "            value: 1\n"
                                "      - expr: gap\n"
                                "        eval_time: 4m\n"  // stale: gone at once
                                "      - expr: count_over_time(gap[10m])\n"
                                "        eval_time: 5m\n"
                                "        exp_samples:\n"
                                "          - labels: '{job=\"a\"}'\n"
                                "            value: 1\n");
  std::string report;
  EXPECT_EQ(RunRuleUnitTests(f, &report), RuleUnitOutcome::kPassed) << report;
  EXPECT_NE(report.find("SUCCESS"), std::string::npos) << report;
}

TEST(RuleUnitTests, FailingCaseGivesAPromtoolLikeDiff) {
  Dir d;
  d.Write("rules.yml", kRules);
  const std::string f = d.Write("t.yml",
                                "rule_files: [rules.yml]\n"
                                "tests:\n"
                                "  - input_series:\n"
                                "      - series: 'up{job=\"a\"}'\n"
                                "        values: '0x10'\n"
                                "    alert_rule_test:\n"
                                "      - eval_time: 1m\n"  // still pending at 1m
                                "        alertname: JobDown\n"
                                "        exp_alerts:\n"
                                "          - exp_labels: {severity: page, job: a}\n"
                                "    promql_expr_test:\n"
                                "      - expr: up\n"
                                "        eval_time: 1m\n"
                                "        exp_samples:\n"
                                "          - labels: 'up{job=\"b\"}'\n"
                                "            value: 0\n");
  std::string report;
  EXPECT_EQ(RunRuleUnitTests(f, &report), RuleUnitOutcome::kFailed) << report;
  EXPECT_NE(report.find("alertname: JobDown, time: 1m"), std::string::npos) << report;
  EXPECT_NE(report.find("Labels:{alertname=\"JobDown\", job=\"a\", severity=\"page\"}"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("got:[]"), std::string::npos) << report;
  EXPECT_NE(report.find("exp: {__name__=\"up\", job=\"b\"} 0E+00"), std::string::npos) << report;
  EXPECT_NE(report.find("got: {__name__=\"up\", job=\"a\"} 0E+00"), std::string::npos) << report;
}

TEST(RuleUnitTests, MalformedFilesAreOneLineWithFileAndLine) {
  Dir d;
  d.Write("rules.yml", kRules);
  d.Write("bad_rules.yml", "groups:\n  - name: g\n    interval: abc\n");
  struct Case {
    std::string text;
    std::string want;
  } cases[] = {
      {"tests: [\n", "t.yml:"},
      {"rule_files: [missing.yml]\n", "t.yml:1:14: rule_files[0]: "},
      {"rule_files: [bad_rules.yml]\n", "bad_rules.yml:3:5: groups[0].interval"},
      {"evaluation_interval: abc\n", "t.yml:1:1: evaluation_interval: \"abc\" is not a duration"},
      {"tests:\n  - input_series:\n      - series: 'up'\n        values: '1 x 2'\n",
       "t.yml:4:9: tests[0].input_series[0].values: \"x\" is not a value"},
      {"tests:\n  - input_series:\n      - series: 'up{a=~\"x\"}'\n        values: '1'\n",
       "t.yml:3:9: tests[0].input_series[0].series: a series takes only = matchers"},
      {"tests:\n  - promql_expr_test:\n      - expr: 'rate(up[5m]'\n",
       "t.yml:3:9: tests[0].promql_expr_test[0].expr: does not parse"},
      {"tests:\n  - alert_rule_test:\n      - eval_time: 1m\n",
       "tests[0].alert_rule_test[0]: the test has no alertname"},
      {"tests:\n  - promql_expr_test:\n      - expr: up\n        eval_time: 100y\n",
       "evaluation intervals away"},
      {"testz: []\n", "t.yml:1:1: testz: unknown key"},
  };
  for (const Case& c : cases) {
    const std::string f = d.Write("t.yml", c.text);
    std::string report;
    EXPECT_EQ(RunRuleUnitTests(f, &report), RuleUnitOutcome::kMalformed) << c.text << report;
    EXPECT_NE(report.find(c.want), std::string::npos) << c.text << "\n=> " << report;
  }
  std::string report;
  EXPECT_EQ(
      RunRuleUnitTests((std::filesystem::temp_directory_path() / "nope.yml").string(), &report),
      RuleUnitOutcome::kMalformed);
  EXPECT_NE(report.find("file not found"), std::string::npos) << report;
}

// Groups run at their own intervals; a group's limit fails a rule giving too many series.
TEST(RuleEvaluatorGroups, OwnIntervalsAndLimits) {
  FakeClock clock(1'700'000'000'000);
  promql::SeriesStore store;
  RuleEvaluator::Options o;
  o.clock = &clock;
  o.series = &store;
  auto tick = [&](int64_t ms) {
    clock.AdvanceForTest(Duration(ms));
    store.Ingest(clock.WallMillis(),
                 {{{{"__name__", "up"}, {"job", "a"}}, 1}, {{{"__name__", "up"}, {"job", "b"}}, 1}},
                 "scrape");
  };
  tick(0);
  std::vector<RuleGroup> groups(2);
  groups[0].name = "fast";
  groups[0].file = "r.yml";
  groups[0].interval_ms = 10'000;
  config::AlertRuleSpec rec;
  rec.kind = config::RuleKind::kRecord;
  rec.name = "fast_count";
  rec.expr = "count(up)";
  groups[0].rules = {rec};
  groups[1].name = "slow";
  groups[1].file = "r.yml";
  groups[1].interval_ms = 30'000;
  groups[1].limit = 1;
  config::AlertRuleSpec slow = rec;
  slow.name = "slow_count";
  config::AlertRuleSpec wide;
  wide.name = "TooWide";
  wide.expr = "up == 1";
  groups[1].rules = {slow, wide};
  auto ev = RuleEvaluator::Create(std::move(groups), o);
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  int fast = 0, slowed = 0;
  int64_t last_fast = 0, last_slow = 0;
  for (int i = 0; i < 7; ++i) {  // t = 0, 10s, ..., 60s
    ASSERT_TRUE((*ev)->Tick().ok());
    const auto& rs = (*ev)->rules();
    if (rs[0].last_eval_ms != last_fast) ++fast, last_fast = rs[0].last_eval_ms;
    if (rs[1].last_eval_ms != last_slow) ++slowed, last_slow = rs[1].last_eval_ms;
    tick(10'000);
  }
  EXPECT_EQ(fast, 7);
  EXPECT_EQ(slowed, 3);  // 0s, 30s, 60s
  EXPECT_NE((*ev)->rules()[2].last_error.find("exceeded limit of 1 with 2 alerts"),
            std::string::npos)
      << (*ev)->rules()[2].last_error;
  EXPECT_TRUE((*ev)->Alerts().empty());
  auto v = (*ev)->EvaluateNow("fast_count");
  ASSERT_TRUE(v.ok());
  auto q = (*ev)->EvaluateNow("fast_count + 0");
  ASSERT_TRUE(q.ok()) << q.status().message();
  ASSERT_EQ(q->vector.size(), 1u);
  EXPECT_EQ(q->vector[0].value, 2);
}

}  // namespace
}  // namespace slipway::alerts
