#include "alerts/rule_unit.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "alerts/rules.h"
#include "base/clock.h"
#include "config/alerts_settings.h"
#include "config/input_file.h"
#include "config/node.h"
#include "config/values.h"
#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promql/series_store.h"

namespace slipway::alerts {

using config::Node;
using config::NodeError;

namespace {

// A test's evaluation may not run longer than this many steps (a hostile eval_time of 100y
// at 1s would be 3e9 rounds).
constexpr int64_t kMaxSteps = 1'000'000;
// At most this many samples per input series.
constexpr size_t kMaxSamples = 1'000'000;

std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view body = s;
  double sign = 1;
  if (body[0] == '+' || body[0] == '-') {
    sign = body[0] == '-' ? -1 : 1;
    body.remove_prefix(1);
  }
  std::string lower;
  for (char c : body) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "inf") return sign * std::numeric_limits<double>::infinity();
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return sign * v;
}

// Go's model.Duration format: "0s", "90s" -> "1m30s", "1d", "1w".
std::string PromDurationString(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::pair<int64_t, const char*> units[] = {{365LL * 86'400'000, "y"},
                                                   {7LL * 86'400'000, "w"},
                                                   {86'400'000, "d"},
                                                   {3'600'000, "h"},
                                                   {60'000, "m"},
                                                   {1'000, "s"},
                                                   {1, "ms"}};
  for (const auto& [size, name] : units) {
    if (ms >= size) {
      out += fmt::format("{}{}", ms / size, name);
      ms %= size;
    }
  }
  return out;
}

// Go's strconv.FormatFloat(v, 'E', -1, 64): the shortest round-trip form, "5E+01".
std::string FormatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string s(buf, ec == std::errc() ? end : buf);
  for (char& c : s) {
    if (c == 'e') c = 'E';
  }
  return s;
}

// `{a="1", b="2"}` with __name__ inside the braces, as Go's labels.Labels.String().
std::string GoLabels(const std::map<std::string, std::string>& l) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out += ", ";
    first = false;
    out += k + "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

bool SameValue(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-6 * std::max(std::fabs(a), std::fabs(b));
}

struct ExpAlert {
  std::map<std::string, std::string> labels, annotations;
  bool operator<(const ExpAlert& o) const {
    return std::tie(labels, annotations) < std::tie(o.labels, o.annotations);
  }
  bool operator==(const ExpAlert& o) const {
    return labels == o.labels && annotations == o.annotations;
  }
};

struct AlertTest {
  int64_t eval_ms = 0;
  std::string alertname;
  std::vector<ExpAlert> exp;
};

struct ExpSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct ExprTest {
  std::string expr;
  promql::ExprPtr parsed;
  int64_t eval_ms = 0;
  std::vector<ExpSample> exp;
};

struct InputSeries {
  promql::Labels labels;
  std::vector<UnitValue> values;
};

struct TestGroup {
  std::string name;
  int64_t interval_ms = 0;
  std::vector<InputSeries> series;
  std::vector<AlertTest> alerts;
  std::vector<ExprTest> exprs;
};

struct TestFile {
  std::vector<config::RuleGroupSpec> groups;
  int64_t eval_interval_ms = 60'000;
  std::vector<TestGroup> tests;
};

Status Unknown(const Node& f, const std::string& path, std::string_view known) {
  return NodeError(f, config::JoinPath(path, f.key), "unknown key " + config::Quote(f.key),
                   std::string("one of ") + std::string(known));
}

Result<int64_t> ReadTime(const Node& n, const std::string& path, bool positive) {
  constexpr std::string_view kExpected = "a duration such as 30s, 5m, 1h";
  if (!n.IsScalar()) return NodeError(n, path, "is " + n.Describe(), kExpected);
  int64_t ms = n.scalar == "0" ? 0 : promql::ParsePromDuration(n.scalar);
  if (ms < 0) return NodeError(n, path, config::Quote(n.scalar) + " is not a duration", kExpected);
  if (positive && ms == 0) return NodeError(n, path, "must be positive", kExpected);
  return ms;
}

// A series description: a selector with `=` matchers only, as promtool reads them.
Result<std::map<std::string, std::string>> ReadSeries(const Node& n, const std::string& path) {
  constexpr std::string_view kExpected = "a series such as 'up{job=\"api\"}'";
  ASSIGN_OR_RETURN(std::string text, config::ReadString(n, path));
  std::map<std::string, std::string> out;
  if (text.find_first_not_of(" {}") == std::string::npos && text.find('{') != std::string::npos) {
    return out;  // "{}": no labels (a scalar's result)
  }
  auto parsed = promql::Parse(text);
  if (!parsed.ok()) {
    return NodeError(n, path, "does not parse: " + parsed.status().message(), kExpected);
  }
  const promql::Expr& e = **parsed;
  if (e.kind != promql::Expr::Kind::kSelector || e.range_ms > 0) {
    return NodeError(n, path, "is not a series", kExpected);
  }
  for (const promql::Matcher& m : e.matchers) {
    if (m.op != promql::Matcher::Op::kEq) {
      return NodeError(n, path, "a series takes only = matchers", kExpected);
    }
    out[m.name] = m.value;
  }
  return out;
}

Result<std::map<std::string, std::string>> ReadStringMap(const Node& n, const std::string& path) {
  std::map<std::string, std::string> out;
  if (n.IsNull()) return out;
  RETURN_IF_ERROR(config::ExpectMap(n, path, "a mapping of names to strings"));
  for (const Node& kv : n.children) {
    ASSIGN_OR_RETURN(out[kv.key], config::ReadString(kv, config::JoinPath(path, kv.key)));
  }
  return out;
}

Status ParseAlertTest(const Node& n, const std::string& path, AlertTest* t) {
  RETURN_IF_ERROR(config::ExpectMap(n, path, "a mapping with eval_time, alertname, exp_alerts"));
  bool has_name = false;
  for (const Node& f : n.children) {
    const std::string p = config::JoinPath(path, f.key);
    if (f.key == "eval_time") {
      ASSIGN_OR_RETURN(t->eval_ms, ReadTime(f, p, false));
    } else if (f.key == "alertname") {
      ASSIGN_OR_RETURN(t->alertname, config::ReadString(f, p));
      has_name = true;
    } else if (f.key == "exp_alerts") {
      if (f.IsNull()) continue;
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of expected alerts");
      for (size_t i = 0; i < f.children.size(); ++i) {
        const Node& a = f.children[i];
        const std::string ap = config::IndexPath(p, i);
        RETURN_IF_ERROR(config::ExpectMap(a, ap, "a mapping with exp_labels, exp_annotations"));
        ExpAlert e;
        for (const Node& g : a.children) {
          const std::string gp = config::JoinPath(ap, g.key);
          if (g.key == "exp_labels") {
            ASSIGN_OR_RETURN(e.labels, ReadStringMap(g, gp));
          } else if (g.key == "exp_annotations") {
            ASSIGN_OR_RETURN(e.annotations, ReadStringMap(g, gp));
          } else {
            return Unknown(g, ap, "exp_labels, exp_annotations");
          }
        }
        t->exp.push_back(std::move(e));
      }
    } else {
      return Unknown(f, path, "eval_time, alertname, exp_alerts");
    }
  }
  if (!has_name || t->alertname.empty()) {
    return NodeError(n, path, "the test has no alertname", "alertname: NAME");
  }
  for (ExpAlert& e : t->exp) e.labels["alertname"] = t->alertname;
  return Status::OK();
}

Status ParseExprTest(const Node& n, const std::string& path, ExprTest* t) {
  RETURN_IF_ERROR(config::ExpectMap(n, path, "a mapping with expr, eval_time, exp_samples"));
  const Node* expr = nullptr;
  for (const Node& f : n.children) {
    const std::string p = config::JoinPath(path, f.key);
    if (f.key == "expr") {
      ASSIGN_OR_RETURN(t->expr, config::ReadString(f, p));
      expr = &f;
    } else if (f.key == "eval_time") {
      ASSIGN_OR_RETURN(t->eval_ms, ReadTime(f, p, false));
    } else if (f.key == "exp_samples") {
      if (f.IsNull()) continue;
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of expected samples");
      for (size_t i = 0; i < f.children.size(); ++i) {
        const Node& s = f.children[i];
        const std::string sp = config::IndexPath(p, i);
        RETURN_IF_ERROR(config::ExpectMap(s, sp, "a mapping with labels, value"));
        ExpSample e;
        for (const Node& g : s.children) {
          const std::string gp = config::JoinPath(sp, g.key);
          if (g.key == "labels") {
            ASSIGN_OR_RETURN(e.labels, ReadSeries(g, gp));
          } else if (g.key == "value") {
            std::optional<double> v = g.IsScalar() ? ParseNumber(g.scalar) : std::nullopt;
            if (!v) return NodeError(g, gp, "is " + g.Describe(), "a number");
            e.value = *v;
          } else {
            return Unknown(g, sp, "labels, value");
          }
        }
        t->exp.push_back(std::move(e));
      }
    } else {
      return Unknown(f, path, "expr, eval_time, exp_samples");
    }
  }
  if (!expr) return NodeError(n, path, "the test has no expr", "expr: a PromQL expression");
  promql::ParseError err;
  auto parsed = promql::Parse(t->expr, &err);
  if (!parsed.ok()) {
    return NodeError(*expr, config::JoinPath(path, "expr"),
                     fmt::format("does not parse at char {}: {}", err.pos + 1, err.message),
                     "a PromQL expression");
  }
  t->parsed = std::move(parsed).value();
  return Status::OK();
}

Status ParseTestGroup(const Node& n, const std::string& path, int64_t eval_interval, TestGroup* g) {
  RETURN_IF_ERROR(config::ExpectMap(
      n, path, "a mapping with interval, input_series, alert_rule_test, promql_expr_test"));
  g->interval_ms = eval_interval;
  for (const Node& f : n.children) {
    const std::string p = config::JoinPath(path, f.key);
    if (f.key == "name") {
      ASSIGN_OR_RETURN(g->name, config::ReadString(f, p));
    } else if (f.key == "interval") {
      ASSIGN_OR_RETURN(g->interval_ms, ReadTime(f, p, true));
    } else if (f.key == "input_series") {
      if (f.IsNull()) continue;
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of series");
      for (size_t i = 0; i < f.children.size(); ++i) {
        const Node& s = f.children[i];
        const std::string sp = config::IndexPath(p, i);
        RETURN_IF_ERROR(config::ExpectMap(s, sp, "a mapping with series, values"));
        InputSeries in;
        const Node* series = nullptr;
        for (const Node& h : s.children) {
          const std::string hp = config::JoinPath(sp, h.key);
          if (h.key == "series") {
            ASSIGN_OR_RETURN(auto labels, ReadSeries(h, hp));
            in.labels.assign(labels.begin(), labels.end());
            series = &h;
          } else if (h.key == "values") {
            ASSIGN_OR_RETURN(std::string text, config::ReadString(h, hp));
            std::string error;
            if (!ExpandSeriesValues(text, &in.values, &error)) {
              return NodeError(h, hp, error, "values such as '0+10x100 _x3 stale 5'");
            }
          } else {
            return Unknown(h, sp, "series, values");
          }
        }
        if (!series) return NodeError(s, sp, "the input has no series", "series: 'name{...}'");
        g->series.push_back(std::move(in));
      }
    } else if (f.key == "alert_rule_test") {
      if (f.IsNull()) continue;
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of alert tests");
      for (size_t i = 0; i < f.children.size(); ++i) {
        AlertTest t;
        RETURN_IF_ERROR(ParseAlertTest(f.children[i], config::IndexPath(p, i), &t));
        g->alerts.push_back(std::move(t));
      }
    } else if (f.key == "promql_expr_test") {
      if (f.IsNull()) continue;
      if (!f.IsSeq()) return NodeError(f, p, "is " + f.Describe(), "a list of expression tests");
      for (size_t i = 0; i < f.children.size(); ++i) {
        ExprTest t;
        RETURN_IF_ERROR(ParseExprTest(f.children[i], config::IndexPath(p, i), &t));
        g->exprs.push_back(std::move(t));
      }
    } else {
      return Unknown(f, path, "name, interval, input_series, alert_rule_test, promql_expr_test");
    }
  }
  return Status::OK();
}

Status LoadTestFile(const std::string& file, TestFile* out) {
  ASSIGN_OR_RETURN(std::string text, config::ReadInputFile(file, file));
  ASSIGN_OR_RETURN(Node doc, config::ParseYaml(text, file));
  RETURN_IF_ERROR(config::ExpectMap(doc, "", "a mapping with rule_files, tests"));
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  std::vector<std::string> order;  // group_eval_order
  const Node* order_node = nullptr;
  // evaluation_interval first: it is the tests' default interval.
  if (const Node* ei = doc.Find("evaluation_interval"); ei && !ei->IsNull()) {
    ASSIGN_OR_RETURN(out->eval_interval_ms, ReadTime(*ei, "evaluation_interval", true));
  }
  for (const Node& f : doc.children) {
    if (f.key == "evaluation_interval") continue;
    if (f.key == "rule_files") {
      if (!f.IsSeq()) return NodeError(f, "rule_files", "is " + f.Describe(), "a list of files");
      for (size_t i = 0; i < f.children.size(); ++i) {
        const std::string ip = config::IndexPath("rule_files", i);
        ASSIGN_OR_RETURN(std::string pattern, config::ReadString(f.children[i], ip));
        auto files = config::ExpandRuleFiles(pattern, dir.string());
        if (!files.ok()) return NodeError(f.children[i], ip, files.status().message());
        for (const std::string& rf : *files) {
          auto st = config::LoadRuleFile(rf, rf, &out->groups);
          if (!st.ok()) {
            // A missing or unreadable rule file is this entry's error; a bad one its own.
            if (st.code() == StatusCode::kNotFound || st.code() == StatusCode::kIoError) {
              return NodeError(f.children[i], ip, st.message(), "a readable rule file");
            }
            return st;
          }
        }
      }
    } else if (f.key == "group_eval_order") {
      ASSIGN_OR_RETURN(order, config::ReadStringList(f, "group_eval_order"));
      order_node = &f;
    } else if (f.key == "tests") {
      if (!f.IsSeq()) return NodeError(f, "tests", "is " + f.Describe(), "a list of tests");
      for (size_t i = 0; i < f.children.size(); ++i) {
        TestGroup g;
        RETURN_IF_ERROR(ParseTestGroup(f.children[i], config::IndexPath("tests", i),
                                       out->eval_interval_ms, &g));
        out->tests.push_back(std::move(g));
      }
    } else {
      return Unknown(f, "", "rule_files, evaluation_interval, group_eval_order, tests");
    }
  }
  if (order_node) {
    // Every group once, in the order given (promtool's rule).
    std::vector<config::RuleGroupSpec> sorted;
    for (const std::string& name : order) {
      auto it = std::find_if(out->groups.begin(), out->groups.end(),
                             [&](const auto& g) { return g.name == name; });
      if (it == out->groups.end()) {
        return NodeError(*order_node, "group_eval_order",
                         "group " + config::Quote(name) + " is not in the rule files (or twice)");
      }
      sorted.push_back(std::move(*it));
      out->groups.erase(it);
    }
    if (!out->groups.empty()) {
      return NodeError(*order_node, "group_eval_order",
                       "group " + config::Quote(out->groups[0].name) + " is missing",
                       "every group of the rule files");
    }
    out->groups = std::move(sorted);
  }
  return Status::OK();
}

std::string AlertsString(std::vector<ExpAlert> v) {
  if (v.empty()) return "[]";
  std::string out = "[\n";
  for (size_t i = 0; i < v.size(); ++i) {
    out += fmt::format("            {}:\n              Labels:{}\n              Annotations:{}\n",
                       i, GoLabels(v[i].labels), GoLabels(v[i].annotations));
  }
  return out + "            ]";
}

std::string SamplesString(const std::vector<ExpSample>& v) {
  if (v.empty()) return "nil";
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ",\n             ";
    out += GoLabels(v[i].labels) + " " + FormatE(v[i].value);
  }
  return out;
}

// Runs one test group; failures are appended to `errors`.
void RunGroup(const TestFile& tf, const TestGroup& tg, std::vector<std::string>* errors) {
  promql::SeriesStore store(int64_t{1} << 50, size_t{1} << 40);
  FakeClock clock(0);
  RuleEvaluator::Options opts;
  opts.clock = &clock;
  opts.series = &store;
  opts.subquery_step_ms = tf.eval_interval_ms;  // promtool's default subquery step
  std::vector<RuleGroup> groups;
  for (const config::RuleGroupSpec& g : tf.groups) {
    RuleGroup rg;
    rg.name = g.name;
    rg.file = g.file;
    rg.limit = g.limit;
    rg.interval_ms = 0;  // promtool evaluates every group at every evaluation_interval
    rg.rules = g.rules;
    groups.push_back(std::move(rg));
  }
  auto ev = RuleEvaluator::Create(std::move(groups), opts);
  if (!ev.ok()) {
    errors->push_back("    " + ev.status().message());
    return;
  }
  int64_t maxt = 0;
  for (const AlertTest& t : tg.alerts) maxt = std::max(maxt, t.eval_ms);
  for (const ExprTest& t : tg.exprs) maxt = std::max(maxt, t.eval_ms);
  size_t longest = 0;
  for (const InputSeries& s : tg.series) longest = std::max(longest, s.values.size());
  const int64_t last_sample = longest == 0 ? 0 : int64_t(longest - 1) * tg.interval_ms;
  std::vector<const AlertTest*> alert_tests;
  for (const AlertTest& t : tg.alerts) alert_tests.push_back(&t);
  std::stable_sort(alert_tests.begin(), alert_tests.end(),
                   [](const AlertTest* a, const AlertTest* b) { return a->eval_ms < b->eval_ms; });
  size_t next_alert = 0;
  size_t next_sample = 0;  // index of the next sample time to ingest
  auto ingest_till = [&](int64_t t) {
    while (next_sample < longest && int64_t(next_sample) * tg.interval_ms <= t) {
      const int64_t at = int64_t(next_sample) * tg.interval_ms;
      for (size_t i = 0; i < tg.series.size(); ++i) {
        const InputSeries& s = tg.series[i];
        if (next_sample >= s.values.size()) continue;
        const UnitValue& v = s.values[next_sample];
        const std::string source = fmt::format("input:{}", i);
        if (v.kind == UnitValue::Kind::kMissing) continue;
        if (v.kind == UnitValue::Kind::kStale) {
          store.MarkStale(source, at);
          continue;
        }
        store.Ingest(at, {{s.labels, v.v}}, source);
      }
      ++next_sample;
    }
  };
  for (int64_t ts = 0; ts <= maxt; ts += tf.eval_interval_ms) {
    ingest_till(ts);
    clock.AdvanceForTest(Duration(ts - clock.WallMillis()));
    if (Status st = (*ev)->Tick(); !st.ok()) {
      errors->push_back("    " + st.message());
      return;
    }
    // A rule's evaluation error is not a failure by itself (promtool's neither): the
    // expected alerts or samples then differ.
    // Alert tests whose eval_time falls in [ts, ts + evaluation_interval).
    while (next_alert < alert_tests.size() && alert_tests[next_alert]->eval_ms >= ts &&
           alert_tests[next_alert]->eval_ms < ts + tf.eval_interval_ms) {
      const AlertTest& t = *alert_tests[next_alert++];
      std::vector<ExpAlert> got;
      for (const Alert& a : (*ev)->Alerts()) {
        if (a.rule != t.alertname || a.state != AlertState::kFiring) continue;
        got.push_back({a.labels, a.annotations});
      }
      std::vector<ExpAlert> exp = t.exp;
      std::sort(got.begin(), got.end());
      std::sort(exp.begin(), exp.end());
      if (got != exp) {
        errors->push_back(fmt::format(
            "    alertname: {}, time: {}, \n        exp:{}, \n        got:{}", t.alertname,
            PromDurationString(t.eval_ms), AlertsString(exp), AlertsString(got)));
      }
    }
    if (ts + tf.eval_interval_ms <= ts) break;  // overflow guard
  }
  ingest_till(std::max(maxt, last_sample));
  for (const ExprTest& t : tg.exprs) {
    auto v =
        promql::Evaluate(*t.parsed, store, t.eval_ms, {t.eval_ms, t.eval_ms, tf.eval_interval_ms});
    if (!v.ok()) {
      errors->push_back(fmt::format("    expr: {:?}, time: {}, err: {}", t.expr,
                                    PromDurationString(t.eval_ms), v.status().message()));
      continue;
    }
    std::vector<ExpSample> got;
    if (v->type == promql::ValueType::kScalar) {
      got.push_back({{}, v->scalar});
    } else {
      for (const promql::Sample& s : v->vector) {
        got.push_back({{s.labels.begin(), s.labels.end()}, s.value});
      }
    }
    std::vector<ExpSample> exp = t.exp;
    auto by_labels = [](const ExpSample& a, const ExpSample& b) { return a.labels < b.labels; };
    std::sort(got.begin(), got.end(), by_labels);
    std::sort(exp.begin(), exp.end(), by_labels);
    bool same = got.size() == exp.size();
    for (size_t i = 0; same && i < got.size(); ++i) {
      same = got[i].labels == exp[i].labels && SameValue(got[i].value, exp[i].value);
    }
    if (!same) {
      errors->push_back(fmt::format("    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                                    t.expr, PromDurationString(t.eval_ms), SamplesString(exp),
                                    SamplesString(got)));
    }
  }
}

}  // namespace

bool ExpandSeriesValues(const std::string& text, std::vector<UnitValue>* out, std::string* error) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    const std::string tok = text.substr(i, j - i);
    i = j;
    if (tok == "stale") {
      out->push_back({UnitValue::Kind::kStale, 0});
    } else if (tok == "_") {
      out->push_back({UnitValue::Kind::kMissing, 0});
    } else if (auto x = tok.rfind('x'); x != std::string::npos && x > 0) {
      long long n = -1;
      const std::string count = tok.substr(x + 1);
      auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
      if (ec != std::errc() || end != count.data() + count.size() || n < 0) {
        *error = fmt::format("{} has a bad repeat count", config::Quote(tok));
        return false;
      }
      const std::string head = tok.substr(0, x);
      if (out->size() + static_cast<size_t>(n) + 1 > kMaxSamples) {
        *error = fmt::format("more than {} samples", kMaxSamples);
        return false;
      }
      if (head == "_") {  // _xN: N missing samples
        out->insert(out->end(), static_cast<size_t>(n), {UnitValue::Kind::kMissing, 0});
        continue;
      }
      // a+bxN / a-bxN / axN: N+1 samples a, a+b, ..., a+N*b. The sign of b is the first
      // + or - after the start that does not follow an exponent's e.
      size_t op = std::string::npos;
      for (size_t k = 1; k < head.size(); ++k) {
        if ((head[k] == '+' || head[k] == '-') && head[k - 1] != 'e' && head[k - 1] != 'E') {
          op = k;
          break;
        }
      }
      std::optional<double> a = ParseNumber(head.substr(0, op));
      std::optional<double> b = op == std::string::npos ? 0.0 : ParseNumber(head.substr(op + 1));
      if (!a || !b) {
        *error = fmt::format("{} is not a+bxN", config::Quote(tok));
        return false;
      }
      const double step = op != std::string::npos && head[op] == '-' ? -*b : *b;
      for (long long k = 0; k <= n; ++k) out->push_back({UnitValue::Kind::kValue, *a + k * step});
    } else if (std::optional<double> v = ParseNumber(tok)) {
      out->push_back({UnitValue::Kind::kValue, *v});
    } else {
      *error = fmt::format("{} is not a value", config::Quote(tok));
      return false;
    }
    if (out->size() > kMaxSamples) {
      *error = fmt::format("more than {} samples", kMaxSamples);
      return false;
    }
  }
  return true;
}

RuleUnitOutcome RunRuleUnitTests(const std::string& file, std::string* report) {
  *report += fmt::format("Unit Testing:  {}\n", file);
  TestFile tf;
  if (Status st = LoadTestFile(file, &tf); !st.ok()) {
    *report += "  FAILED:\n" + st.message() + "\n";
    return RuleUnitOutcome::kMalformed;
  }
  for (size_t i = 0; i < tf.tests.size(); ++i) {
    const TestGroup& tg = tf.tests[i];
    int64_t maxt = 0;
    for (const AlertTest& t : tg.alerts) maxt = std::max(maxt, t.eval_ms);
    for (const ExprTest& t : tg.exprs) maxt = std::max(maxt, t.eval_ms);
    if (maxt / tf.eval_interval_ms > kMaxSteps) {
      *report += fmt::format(
          "  FAILED:\n{}: tests[{}]: the latest eval_time {} is more than {} "
          "evaluation intervals away (expected a shorter test)\n",
          file, i, PromDurationString(maxt), kMaxSteps);
      return RuleUnitOutcome::kMalformed;
    }
  }
  std::vector<std::string> errors;
  for (const TestGroup& tg : tf.tests) {
    std::vector<std::string> group_errors;
    RunGroup(tf, tg, &group_errors);
    if (!group_errors.empty() && !tg.name.empty()) {
      errors.push_back(fmt::format("    name: {},", tg.name));
    }
    errors.insert(errors.end(), group_errors.begin(), group_errors.end());
  }
  if (errors.empty()) {
    *report += "  SUCCESS\n";
    return RuleUnitOutcome::kPassed;
  }
  *report += "  FAILED:\n";
  for (const std::string& e : errors) *report += e + "\n";
  return RuleUnitOutcome::kFailed;
}

}  // namespace slipway::alerts
