// Rule unit tests in promtool's format (`promtool test rules`), for `slipway alerts test FILE`.
//
// A test file names rule files (relative to itself) and test groups:
//   rule_files: [rules.yml]
//   evaluation_interval: 1m            # how often every group is evaluated (default 1m)
//   tests:
//     - name: ...                      # optional
//       interval: 1m                   # between input samples (default evaluation_interval)
//       input_series:
//         - series: 'up{job="api"}'
//           values: '1 1 0x5 _x2 stale 1+1x3'   # promtool's expanding notation
//       alert_rule_test:
//         - eval_time: 5m
//           alertname: InstanceDown
//           exp_alerts: [{exp_labels: {...}, exp_annotations: {...}}]
//       promql_expr_test:
//         - expr: sum(up)
//           eval_time: 2m
//           exp_samples: [{labels: '{job="api"}', value: 1}]
// As promtool: samples start at time 0; every group of every rule file is evaluated at 0,
// evaluation_interval, ... up to the latest eval_time, its rules in order (recording rules
// feed the rules after them); an alert test compares the firing alerts of that name at its
// eval_time (labels with alertname, and annotations); an expression test evaluates after
// that over everything stored, recorded series included. Values compare with a relative
// tolerance of 1e-6 (NaN equals NaN). The report mimics promtool's ("SUCCESS", or "FAILED:"
// with exp/got per failing case).
//
// Pure function of the files; any thread.
#pragma once

#include <string>
#include <vector>

namespace slipway::alerts {

enum class RuleUnitOutcome { kPassed = 0, kFailed = 1, kMalformed = 2 };

// Runs the tests of one file and appends the report to `*report`. kMalformed: the test file
// or a rule file it names does not load; the report's last line is "file:line:col: what".
RuleUnitOutcome RunRuleUnitTests(const std::string& file, std::string* report);

// "0+10x3" -> 0 10 20 30; "_x2" -> two missing samples; "stale" -> a staleness marker.
// Appended to `out`. False (and `*error`) when malformed.
struct UnitValue {
  enum class Kind { kValue, kMissing, kStale };
  Kind kind = Kind::kValue;
  double v = 0;
};
bool ExpandSeriesValues(const std::string& text, std::vector<UnitValue>* out, std::string* error);

}  // namespace slipway::alerts
