#include "promql/evaluator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>

#include "promql/exposition.h"
#include "promql/template.h"

namespace slipway::promql {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

Value Eval(const SeriesStore& store, std::string_view text, int64_t t) {
  auto e = Parse(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().message();
  if (!e.ok()) return {};
  auto v = Evaluate(**e, store, t);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().message();
  return v.ok() ? *v : Value{};
}

double One(const SeriesStore& store, std::string_view text, int64_t t) {
  Value v = Eval(store, text, t);
  if (v.type == ValueType::kScalar) return v.scalar;
  EXPECT_EQ(v.vector.size(), 1u) << text;
  return v.vector.empty() ? NAN : v.vector[0].value;
}

TEST(Exposition, ParsesRegistryText) {
  auto r = ParseExposition(
      "# HELP a_total x\n# TYPE a_total counter\n"
      "a_total{route=\"api\",code_class=\"5xx\"} 12\n"
      "b 3.5 1700000000000\n"
      "c{l=\"q\\\"uote\\\\\"} +Inf\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ(LabelsToString((*r)[0].labels), "a_total{code_class=\"5xx\", route=\"api\"}");
  EXPECT_EQ((*r)[1].value, 3.5);
  EXPECT_EQ(LabelValue((*r)[2].labels, "l"), "q\"uote\\");
  EXPECT_TRUE(std::isinf((*r)[2].value));
  EXPECT_FALSE(ParseExposition("x{a=\"1} 2\n").ok());
  EXPECT_FALSE(ParseExposition("x abc\n").ok());
}

TEST(Evaluator, RateIncreaseWithResetsMatchPrometheus) {
  SeriesStore s(3'600'000);
  // A counter growing 10/15s, reset once at t=60s.
  double vals[] = {0, 10, 20, 30, 40, 5, 15, 25, 35};
  for (int i = 0; i < 9; ++i) {
    s.Ingest(kT0 + i * 15'000, {{{{"__name__", "req_total"}, {"service", "api"}}, vals[i]}});
  }
  int64_t t = kT0 + 8 * 15'000;
  // Window (t-120s, t]: all 9 points (first at exactly t-120s is excluded -> 8 points).
  // Points 15s..120s: 10,20,30,40,5,15,25,35 -> increase 30 + 40 (reset) = 65 over 105s,
  // extrapolated to 120s: 65 * 120 / 105... start gap 15s < 1.1*15 so it extends fully.
  double inc = One(s, "increase(req_total[2m])", t);
  EXPECT_NEAR(inc, 65.0 * 120.0 / 105.0, 1e-9);
  EXPECT_NEAR(One(s, "rate(req_total[2m])", t), 65.0 / 105.0, 1e-9);
  EXPECT_NEAR(One(s, "irate(req_total[2m])", t), 10.0 / 15.0, 1e-9);
  // Too few samples: no result.
  EXPECT_TRUE(Eval(s, "rate(req_total[10s])", t).vector.empty());
  // rate() drops the name, keeps the labels.
  Value v = Eval(s, "rate(req_total[2m])", t);
  EXPECT_EQ(LabelsToString(v.vector[0].labels), "{service=\"api\"}");
}

TEST(Evaluator, CounterStartExtrapolationStopsAtZero) {
  SeriesStore s(3'600'000);
  // Counter appears at t0 with value 2, so extrapolation to the window start stops at the
  // estimated zero crossing.
  for (int i = 0; i < 3; ++i) s.Ingest(kT0 + i * 10'000, {{{{"__name__", "c"}}, 2.0 + 4 * i}});
  // Window (t-60s, t]: points at 0,10,20s. to_start = 40s, avg gap 10s -> gap/2 = 5s;
  // to_zero = 20 * 2/8 = 5s -> min(40, 5) = 5 < 11 -> extend by 5. to_end = 0.
  EXPECT_NEAR(One(s, "increase(c[1m])", kT0 + 20'000), 8.0 * 25.0 / 20.0, 1e-9);
}

SeriesStore ProxyStore() {
  SeriesStore s(3'600'000);
  for (int i = 0; i <= 4; ++i) {
    double n = i * 60.0;
    std::vector<ExpositionSample> in = {
        {{{"__name__", "http_total"}, {"code_class", "2xx"}, {"route", "api"}}, 9 * n},
        {{{"__name__", "http_total"}, {"code_class", "5xx"}, {"route", "api"}}, 1 * n},
        {{{"__name__", "http_total"}, {"code_class", "2xx"}, {"route", "web"}}, 10 * n},
        {{{"__name__", "http_total"}, {"code_class", "5xx"}, {"route", "web"}}, 0},
        {{{"__name__", "lat_bucket"}, {"le", "0.1"}, {"route", "api"}}, 50 * n},
        {{{"__name__", "lat_bucket"}, {"le", "0.5"}, {"route", "api"}}, 90 * n},
        {{{"__name__", "lat_bucket"}, {"le", "1"}, {"route", "api"}}, 100 * n},
        {{{"__name__", "lat_bucket"}, {"le", "+Inf"}, {"route", "api"}}, 100 * n},
        {{{"__name__", "healthy"}, {"service", "api"}}, 1},
        {{{"__name__", "healthy"}, {"service", "db"}}, 0},
    };
    s.Ingest(kT0 + i * 15'000, std::move(in));
  }
  return s;
}

TEST(Evaluator, ErrorRatioBySum) {
  SeriesStore s = ProxyStore();
  int64_t t = kT0 + 60'000;
  Value v = Eval(s,
                 "sum by (route) (rate(http_total{code_class=\"5xx\"}[1m])) / sum by (route) "
                 "(rate(http_total[1m])) > 0.05",
                 t);
  ASSERT_EQ(v.vector.size(), 1u);
  EXPECT_EQ(LabelsToString(v.vector[0].labels), "{route=\"api\"}");
  EXPECT_NEAR(v.vector[0].value, 0.1, 1e-9);
  Value all = Eval(s, "sum(rate(http_total{code_class=~\"2..|5..\", route!~\"w.*\"}[1m]))", t);
  ASSERT_EQ(all.vector.size(), 1u);
  EXPECT_TRUE(all.vector[0].labels.empty());
  EXPECT_NEAR(all.vector[0].value, 600.0 / 15.0, 1e-9);  // api: 540 + 60 per 15 s
}

TEST(Evaluator, HistogramQuantile) {
  SeriesStore s = ProxyStore();
  int64_t t = kT0 + 60'000;
  // Rates per bucket: 0.1 -> 50k, 0.5 -> 90k, 1 -> 100k; p95 = 0.5 + 0.5 * (95-90)/(100-90).
  EXPECT_NEAR(One(s, "histogram_quantile(0.95, sum by (le, route) (rate(lat_bucket[1m])))", t),
              0.75, 1e-9);
  EXPECT_NEAR(One(s, "histogram_quantile(0.25, rate(lat_bucket[1m]))", t), 0.05, 1e-9);
  // Quantile in +Inf bucket: the highest finite bound.
  EXPECT_NEAR(One(s, "histogram_quantile(1, rate(lat_bucket[1m]))", t), 1.0, 1e-9);
}

TEST(Evaluator, ComparisonsArithmeticAndSets) {
  SeriesStore s = ProxyStore();
  int64_t t = kT0 + 60'000;
  Value f = Eval(s, "healthy == 0", t);
  ASSERT_EQ(f.vector.size(), 1u);
  EXPECT_EQ(LabelsToString(f.vector[0].labels), "healthy{service=\"db\"}");  // name kept
  Value b = Eval(s, "healthy == bool 0", t);
  ASSERT_EQ(b.vector.size(), 2u);
  EXPECT_EQ(LabelsToString(b.vector[0].labels), "{service=\"api\"}");
  EXPECT_EQ(b.vector[0].value, 0);
  EXPECT_EQ(b.vector[1].value, 1);
  EXPECT_EQ(One(s, "2 * healthy{service=\"api\"} + 1", t), 3);
  EXPECT_EQ(One(s, "-healthy{service=\"api\"} ^ 2", t), -1);
  EXPECT_EQ(One(s, "10 % 4 + 2 ^ 3", t), 10);
  EXPECT_EQ(Eval(s, "healthy and healthy == 1", t).vector.size(), 1u);
  EXPECT_EQ(Eval(s, "healthy unless healthy == 1", t).vector.size(), 1u);
  EXPECT_EQ(Eval(s, "healthy == 1 or healthy", t).vector.size(), 2u);
  EXPECT_EQ(Eval(s, "absent(nothing{service=\"x\"})", t).vector.size(), 1u);
  EXPECT_EQ(Eval(s, "absent(healthy)", t).vector.size(), 0u);
  EXPECT_EQ(One(s, "count(healthy)", t), 2);
  EXPECT_EQ(One(s, "max(healthy)", t), 1);
  EXPECT_EQ(One(s, "avg(healthy)", t), 0.5);
  EXPECT_EQ(One(s, "scalar(min(healthy)) + 1", t), 1);
  EXPECT_EQ(One(s, "max_over_time(healthy{service=\"api\"}[1m])", t), 1);
  EXPECT_EQ(One(s, "count_over_time(healthy{service=\"api\"}[1m])", t), 4);
}

TEST(Evaluator, ManyToManyIsAnError) {
  SeriesStore s = ProxyStore();
  auto e = Parse("http_total / on(route) http_total");
  ASSERT_TRUE(e.ok());
  auto v = Evaluate(**e, s, kT0 + 60'000);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("many-to-many"), std::string::npos);
}

TEST(Evaluator, StaleSeriesVanishAndOldPointsAreDropped) {
  SeriesStore s(60'000);
  s.Ingest(kT0, {{{{"__name__", "g"}, {"a", "1"}}, 1}, {{{"__name__", "g"}, {"a", "2"}}, 2}});
  s.Ingest(kT0 + 15'000, {{{{"__name__", "g"}, {"a", "1"}}, 1}});
  EXPECT_EQ(Eval(s, "g", kT0 + 15'000).vector.size(), 1u);
  EXPECT_EQ(s.series_count(), 2u);
  for (int i = 2; i < 20; ++i) s.Ingest(kT0 + i * 15'000, {{{{"__name__", "g"}, {"a", "1"}}, 1}});
  EXPECT_EQ(s.series_count(), 1u);  // forgotten after the retention
  EXPECT_LE(s.point_count(), 5u);   // 60 s of 15 s samples
}

TEST(Template, RendersValuesAndLabels) {
  std::map<std::string, std::string> labels = {{"service", "api"}};
  auto r = RenderTemplate(
      "{{ $labels.service }} is at {{ $value }} ({{ $value | humanizePercentage }}, "
      "{{ printf \"%.1f\" $value }}, {{ .Labels.missing }}{{.Value|humanize}})",
      labels, 0.256);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "api is at 0.256 (25.6%, 0.3, 256m)");
  EXPECT_EQ(Humanize(1234567), "1.235M");
  auto bad = CheckTemplate("x {{ $nope }}");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("at char 6"), std::string::npos) << bad.message();
  EXPECT_FALSE(CheckTemplate("{{ $value | nosuch }}").ok());
  EXPECT_FALSE(CheckTemplate("{{ $value ").ok());
  EXPECT_TRUE(CheckTemplate("plain text").ok());
}

}  // namespace
}  // namespace slipway::promql

namespace slipway::promql {
namespace {

// Values computed by hand; tests/rules/coverage_test.yml checks the same functions against
// promtool's answers.
TEST(Evaluator, OffsetTopkQuantileAndGroupLeftByHand) {
  SeriesStore s(3'600'000);
  for (int i = 0; i <= 10; ++i) {
    s.Ingest(kT0 + i * 60'000,
             {{{{"__name__", "req_total"}, {"code", "200"}, {"instance", "a"}}, 10.0 * i},
              {{{"__name__", "req_total"}, {"code", "500"}, {"instance", "a"}}, 1.0 * i},
              {{{"__name__", "req_total"}, {"code", "200"}, {"instance", "b"}}, 4.0 * i},
              {{{"__name__", "info"}, {"instance", "a"}, {"version", "1.2"}}, 1},
              {{{"__name__", "info"}, {"instance", "b"}, {"version", "1.3"}}, 1}});
  }
  const int64_t t = kT0 + 10 * 60'000;
  // offset 3m reads the samples of t-3m: 70, 7, 28.
  EXPECT_EQ(One(s, "sum(req_total offset 3m)", t), 105);
  EXPECT_EQ(One(s, "sum(req_total offset -3m)", kT0 + 5 * 60'000), 8 * 15);
  // rate over [5m] ending 5m ago: 10/min on code=200,a -> 1/6 per second.
  EXPECT_NEAR(One(s, "rate(req_total{code=\"200\",instance=\"a\"}[5m] offset 5m)", t), 1.0 / 6,
              1e-12);
  Value top = Eval(s, "topk(2, req_total)", t);
  ASSERT_EQ(top.vector.size(), 2u);
  EXPECT_EQ(top.vector[0].value, 100);
  EXPECT_EQ(top.vector[1].value, 40);
  EXPECT_EQ(LabelValue(top.vector[0].labels, "__name__"), "req_total");  // kept as is
  Value bottom = Eval(s, "bottomk by (instance) (1, req_total)", t);
  ASSERT_EQ(bottom.vector.size(), 2u);
  double lows = bottom.vector[0].value + bottom.vector[1].value;
  EXPECT_EQ(lows, 10 + 40);
  // quantile(0.5) of 100, 10, 40 = 40; of four values interpolates: 0.25*(4-1) = rank 0.75.
  EXPECT_EQ(One(s, "quantile(0.5, req_total)", t), 40);
  EXPECT_NEAR(One(s, "stddev(req_total)", t), std::sqrt((1600.0 + 2500 + 100) / 3), 1e-9);
  EXPECT_EQ(One(s, "group(req_total)", t), 1);
  // Many-to-one: each request series gains the version of its instance.
  Value joined = Eval(s, "req_total * on(instance) group_left(version) info", t);
  ASSERT_EQ(joined.vector.size(), 3u);
  for (const Sample& x : joined.vector) {
    EXPECT_EQ(LabelValue(x.labels, "version"),
              LabelValue(x.labels, "instance") == "a" ? "1.2" : "1.3");
    EXPECT_EQ(LabelValue(x.labels, "__name__"), "");
  }
  // One-to-one with two left series per instance is refused, as in Prometheus.
  auto e = Parse("req_total * on(instance) info");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(Evaluate(**e, s, t).ok());
  // ... unless a filter leaves one: only code=200,a exceeds 50 on instance a.
  Value f = Eval(s, "req_total > on(instance) (info * 50)", t);
  ASSERT_EQ(f.vector.size(), 1u);
  EXPECT_EQ(f.vector[0].labels, (Labels{{"instance", "a"}}));  // on() keeps only its labels
  EXPECT_EQ(One(s, "last_over_time(info{instance=\"a\"}[5m])", t), 1);
  EXPECT_EQ(Eval(s, "absent_over_time(info{instance=\"a\"}[5m])", t).vector.size(), 0u);
  Value absent = Eval(s, "absent_over_time(nothing{job=\"x\"}[5m])", t);
  ASSERT_EQ(absent.vector.size(), 1u);
  EXPECT_EQ(absent.vector[0].labels, (Labels{{"job", "x"}}));
}

TEST(Evaluator, LabelReplaceJoinAndCountValues) {
  SeriesStore s(3'600'000);
  s.Ingest(kT0, {{{{"__name__", "info"}, {"instance", "db-1:9187"}, {"version", "1.2"}}, 1},
                 {{{"__name__", "info"}, {"instance", "db-2:9187"}, {"version", "1.2"}}, 1},
                 {{{"__name__", "info"}, {"instance", "web:80"}, {"version", "1.3"}}, 2.5}});
  Value r =
      Eval(s, R"(label_replace(info, "host", "$1-${2}x$$", "instance", "(.*)-(\d+):.*"))", kT0);
  ASSERT_EQ(r.vector.size(), 3u);
  EXPECT_EQ(LabelValue(r.vector[0].labels, "host"), "db-1x$");
  EXPECT_EQ(LabelValue(r.vector[0].labels, "__name__"), "info");  // the name is kept
  EXPECT_EQ(LabelValue(r.vector[2].labels, "host"), "");          // no match: unchanged
  // `$1x` is the group named "1x" (Go's rule): empty, so the label is removed.
  Value gone = Eval(s, R"q(label_replace(info, "version", "$1x", "instance", "(.*)"))q", kT0);
  for (const Sample& x : gone.vector) EXPECT_EQ(LabelValue(x.labels, "version"), "");
  Value j =
      Eval(s, R"(label_join(info{instance="web:80"}, "id", "/", "version", "instance"))", kT0);
  ASSERT_EQ(j.vector.size(), 1u);
  EXPECT_EQ(LabelValue(j.vector[0].labels, "id"), "1.3/web:80");
  // Two series made the same: an error, as Prometheus'.
  auto dup = Parse(R"(label_replace(info, "instance", "x", "instance", ".*"))");
  ASSERT_TRUE(dup.ok());
  auto v = Evaluate(**dup, s, kT0);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("same labelset"), std::string::npos);

  // Go's syntax through RE2: named groups by name, `(?i)`, `\pL`, fully anchored.
  Value named = Eval(
      s,
      R"(label_replace(info, "host", "${name}/$num/$1/${nope}", "instance", "(?P<name>[a-z]+)-(?P<num>\d+):.*"))",
      kT0);
  ASSERT_EQ(named.vector.size(), 3u);
  EXPECT_EQ(LabelValue(named.vector[0].labels, "host"), "db/1/db/");
  EXPECT_EQ(LabelValue(named.vector[1].labels, "host"), "db/2/db/");
  EXPECT_EQ(LabelValue(named.vector[2].labels, "host"), "");
  Value ci = Eval(s, R"(label_replace(info, "h", "$0", "instance", "(?i)WEB:\d+"))", kT0);
  EXPECT_EQ(LabelValue(ci.vector[2].labels, "h"), "web:80");
  Value letters = Eval(s, R"(label_replace(info, "h", "$1", "instance", "(\pL+).*"))", kT0);
  EXPECT_EQ(LabelValue(letters.vector[0].labels, "h"), "db");
  // Anchored: "db" alone does not match "db-1:9187".
  Value anchored = Eval(s, R"(label_replace(info, "h", "x", "instance", "db"))", kT0);
  for (const Sample& x : anchored.vector) EXPECT_EQ(LabelValue(x.labels, "h"), "");
  EXPECT_EQ(Eval(s, R"(info{instance=~"(?i)WEB.*"})", kT0).vector.size(), 1u);
  EXPECT_EQ(Eval(s, R"(info{instance=~"db-\d"})", kT0).vector.size(), 0u);  // anchored
  EXPECT_EQ(Eval(s, R"(info{instance!~"db-\d:\d+"})", kT0).vector.size(), 1u);
  // `.` matches a newline, as Prometheus' (?s).
  SeriesStore nl(3'600'000);
  nl.Ingest(kT0, {{{{"__name__", "m"}, {"l", "a\nb"}}, 1}});
  EXPECT_EQ(Eval(nl, R"(m{l=~"a.b"})", kT0).vector.size(), 1u);

  Value c = Eval(s, R"(count_values("n", info))", kT0);
  ASSERT_EQ(c.vector.size(), 2u);
  EXPECT_EQ(c.vector[0].labels, (Labels{{"n", "1"}}));
  EXPECT_EQ(c.vector[0].value, 2);
  EXPECT_EQ(c.vector[1].labels, (Labels{{"n", "2.5"}}));
  Value cv = Eval(s, R"(count_values by (version) ("n", info))", kT0);
  ASSERT_EQ(cv.vector.size(), 2u);
  EXPECT_EQ(cv.vector[0].labels, (Labels{{"n", "1"}, {"version", "1.2"}}));
  Value cw = Eval(s, R"(count_values without (instance) ("version", info))", kT0);
  ASSERT_EQ(cw.vector.size(), 2u);  // the value label replaces `version`
  EXPECT_EQ(cw.vector[0].labels, (Labels{{"version", "1"}}));
  EXPECT_EQ(cw.vector[0].value, 2);
}

TEST(Evaluator, SubqueriesAndAtModifier) {
  SeriesStore s(3'600'000);
  // A counter +6 every 10 s from t = 0 (aligned to whole minutes from kT0's minute).
  const int64_t base = kT0 - kT0 % 60'000;
  for (int i = 0; i <= 60; ++i) {
    s.Ingest(base + i * 10'000, {{{{"__name__", "c_total"}, {"job", "a"}}, 6.0 * i}});
  }
  const int64_t t = base + 600'000 + 15'000;  // 10m15s: no step on a window edge
  // [5m:1m] at 10m15s: the points at 6m..10m (5m15s excluded, left-open): 5 of them.
  EXPECT_EQ(One(s, "count_over_time(c_total[5m:1m])", t), 5);
  EXPECT_EQ(One(s, "count_over_time(c_total[5m:])", t), 5);    // default step: 1m
  EXPECT_EQ(One(s, "max_over_time(c_total[5m:1m])", t), 360);  // at 10m
  EXPECT_EQ(One(s, "min_over_time(c_total[5m:1m])", t), 216);  // at 6m
  EXPECT_NEAR(One(s, "avg_over_time(rate(c_total[1m])[5m:30s])", t), 0.6, 1e-9);
  EXPECT_EQ(One(s, "max_over_time(c_total[5m:1m] offset 2m)", t), 288);  // at 8m
  // A subquery is a range vector in an instant query.
  auto m = Parse("c_total[2m:1m]");
  ASSERT_TRUE(m.ok());
  auto rows = EvaluateMatrix(**m, s, t, {t, t});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  ASSERT_EQ((*rows)[0].points.size(), 2u);
  EXPECT_EQ((*rows)[0].points[0].t_ms, base + 540'000);

  // @: a fixed time, start() and end() of the query, with offset after or before.
  EXPECT_EQ(One(s, fmt::format("c_total @ {}", (base + 100'000) / 1000), t), 60);
  EXPECT_EQ(One(s, fmt::format("c_total offset 1m @ {}", (base + 300'000) / 1000), t), 144);
  auto at = Parse("c_total @ start() - c_total @ end()");
  ASSERT_TRUE(at.ok());
  auto v = Evaluate(**at, s, t, {base + 100'000, base + 400'000});
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->vector.size(), 1u);
  EXPECT_EQ(v->vector[0].value, 60 - 240);
  EXPECT_NEAR(One(s, fmt::format("rate(c_total[1m] @ {})", (base + 300'000) / 1000), t), 0.6,
              1e-12);
  EXPECT_TRUE(Eval(s, fmt::format("c_total @ {}", (base - 3'600'000) / 1000), t).vector.empty());

  // A subquery without a step takes the evaluation's (the project's evaluation interval).
  auto nostep = Parse("count_over_time(c_total[5m:])");
  ASSERT_TRUE(nostep.ok());
  auto s30 = Evaluate(**nostep, s, t, {t, t, 30'000});
  ASSERT_TRUE(s30.ok());
  EXPECT_EQ(s30->vector.at(0).value, 10);  // 5m15s..10m15s at 30s: 5m30s..10m
  auto s15 = Evaluate(**nostep, s, t, {t, t, 15'000});
  ASSERT_TRUE(s15.ok());
  EXPECT_EQ(s15->vector.at(0).value, 20);
  auto given = Parse("count_over_time(c_total[5m:1m])");  // a written step wins
  ASSERT_TRUE(given.ok());
  auto g = Evaluate(**given, s, t, {t, t, 15'000});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->vector.at(0).value, 5);
  auto mx = EvaluateMatrix(**Parse("c_total[2m:]"), s, t, {t, t, 30'000});
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(mx->at(0).points.size(), 4u);

  // Nested subqueries that would evaluate too much: an error, not a stall.
  auto big = Parse("max_over_time(max_over_time(c_total[3h:1s])[1h:1s])");
  ASSERT_TRUE(big.ok()) << big.status().message();
  auto e = Evaluate(**big, s, t);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("subqueries would evaluate more than"), std::string::npos);
}

// A range query's steps share a SelectionCache; every step's answer must be the one computed
// without it: instant and range selectors, offsets, `@`, a subquery whose inner steps fall
// before the query (read from the store), staleness markers (a target gone mid-range) and
// series that start late.
TEST(Evaluator, SelectionCacheGivesTheSameAnswersAsTheStore) {
  SeriesStore s(3'600'000);
  for (int i = 0; i < 240; ++i) {
    std::vector<ExpositionSample> batch;
    for (int k = 0; k < 6; ++k) {
      if (k == 5 && i < 100) continue;  // starts late
      batch.push_back({{{"__name__", "req_total"}, {"i", std::to_string(k)}, {"job", "app"}},
                       static_cast<double>(i * (k + 1) % 997)});
    }
    s.Ingest(kT0 + i * 15'000, std::move(batch), "app");
    if (i == 150) s.MarkStale("app", kT0 + i * 15'000 + 7'000);  // a gap of one scrape
  }
  const char* queries[] = {
      "req_total",
      "req_total offset 2m",
      "rate(req_total[1m])",
      "sum by (job) (increase(req_total[5m]))",
      "max_over_time(req_total[3m] offset 1m)",
      "req_total @ 1700001800",
      "rate(req_total[2m] @ end())",
      "max_over_time(rate(req_total[1m])[10m:30s])",
      "req_total{i=~\"[0-3]\"} / on (i) group_left req_total",
      "absent(nothing)",
  };
  const int64_t start = kT0 + 20 * 60'000, end = kT0 + 59 * 60'000, step = 10'000;
  for (const char* q : queries) {
    auto e = Parse(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    SelectionCache cache;
    for (int64_t t = start; t <= end; t += step) {
      auto plain = Evaluate(**e, s, t, {start, end});
      auto cached = Evaluate(**e, s, t, {start, end, kDefaultSubqueryStepMs, &cache});
      ASSERT_TRUE(plain.ok() && cached.ok()) << q;
      ASSERT_EQ(plain->type, cached->type) << q;
      ASSERT_EQ(plain->vector.size(), cached->vector.size()) << q << " at " << t;
      for (size_t i = 0; i < plain->vector.size(); ++i) {
        EXPECT_EQ(plain->vector[i].labels, cached->vector[i].labels) << q << " at " << t;
        EXPECT_EQ(plain->vector[i].value, cached->vector[i].value) << q << " at " << t;
      }
      EXPECT_EQ(plain->scalar, cached->scalar) << q;
    }
  }
  // Over its budget, a cache reads the store: same answers.
  auto e = Parse("rate(req_total[1m])");
  ASSERT_TRUE(e.ok());
  SelectionCache tiny(10);
  auto plain = Evaluate(**e, s, end, {start, end});
  auto cached = Evaluate(**e, s, end, {start, end, kDefaultSubqueryStepMs, &tiny});
  ASSERT_TRUE(plain.ok() && cached.ok());
  ASSERT_EQ(plain->vector.size(), cached->vector.size());
  ASSERT_FALSE(plain->vector.empty());
}

// A store for the step evaluator's tests: counters with a reset, a gauge, a histogram, a
// target that goes away (staleness markers) and comes back, a series that starts late, one
// that stops early, a scrape that failed (a gap), a NaN value.
SeriesStore StepStore() {
  SeriesStore s(3'600'000);
  for (int i = 0; i < 240; ++i) {
    const int64_t t = kT0 + i * 15'000;
    if (i == 90) continue;  // a missed scrape
    std::vector<ExpositionSample> a;
    for (int k = 0; k < 4; ++k) {
      if (k == 3 && i < 100) continue;  // starts late
      if (k == 2 && i > 180) continue;  // goes away: a staleness marker
      const double c = i < 120 ? i * (k + 1) : (i - 120) * (k + 2);  // a reset at 120
      a.push_back({{{"__name__", "req_total"}, {"i", std::to_string(k)}, {"job", "app"}}, c});
      a.push_back({{{"__name__", "err_total"}, {"i", std::to_string(k)}, {"job", "app"}},
                   i % 7 == 0 ? 0.0 : c / 10});
      a.push_back({{{"__name__", "temp"}, {"i", std::to_string(k)}, {"job", "app"}},
                   k == 1 && i == 50 ? NAN : 20 + (i * 7 + k * 13) % 11});
    }
    const char* les[] = {"0.1", "0.5", "1", "+Inf"};
    for (int b = 0; b < 4; ++b) {
      for (int r = 0; r < 2; ++r) {
        a.push_back({{{"__name__", "lat_bucket"},
                      {"job", "app"},
                      {"le", les[b]},
                      {"route", std::to_string(r)}},
                     static_cast<double>(i * (b + 1) * (r + 2))});
      }
    }
    s.Ingest(t, std::move(a), "app");
    if (i < 150 || i > 170) {
      s.Ingest(t,
               {{{{"__name__", "req_total"}, {"i", "0"}, {"job", "other"}}, i * 3.0},
                {{{"__name__", "temp"}, {"i", "0"}, {"job", "other"}}, i % 5 * 1.5}},
               "other");
    } else if (i == 150) {
      s.MarkStale("other", t + 5'000);  // the target went down, and comes back at 171
    }
  }
  return s;
}

// A range query evaluated over all its steps at once gives, at every step, what an instant
// evaluation at that step gives: same series, labels and values (bit for bit), in one call
// or in chunks of steps.
TEST(Evaluator, StepsAtOnceEqualEachStep) {
  const SeriesStore s = StepStore();
  const char* queries[] = {
      "req_total",
      "temp offset 2m",
      "-temp",
      "rate(req_total[1m])",
      "increase(req_total[5m])",
      "delta(temp[3m])",
      "irate(req_total[2m])",
      "avg_over_time(temp[10m])",
      "sum_over_time(temp[4m])",
      "min_over_time(temp[5m] offset 1m)",
      "max_over_time(temp[5m])",
      "count_over_time(temp[2m])",
      "last_over_time(temp[1m])",
      "present_over_time(req_total[1m])",
      "stddev_over_time(temp[5m])",
      "stdvar_over_time(temp[5m])",
      "quantile_over_time(0.9, temp[5m])",
      "sum by (job) (rate(req_total[5m]))",
      "sum without (i) (rate(req_total[5m]))",
      "avg(temp)",
      "min by (i) (temp)",
      "max(temp)",
      "count(req_total)",
      "group by (job) (temp)",
      "stddev(temp)",
      "stdvar by (job) (temp)",
      "quantile(0.5, temp)",
      "topk(2, temp)",
      "bottomk(1, max by (job) (temp))",
      "topk(3, req_total)",
      "histogram_quantile(0.9, sum by (job, le) (rate(lat_bucket[5m])))",
      "histogram_quantile(0.5, rate(lat_bucket[2m]))",
      "sum(rate(err_total[5m])) / sum(rate(req_total[5m]))",
      "rate(err_total[5m]) / rate(req_total[5m])",
      "err_total / on (i, job) req_total",
      "err_total{job=\"app\"} / ignoring (job) req_total{job=\"app\"}",
      "req_total > 100",
      "req_total > bool 100",
      "100 < req_total",
      "temp * 2 + 1",
      "2 ^ 3",
      "sum(req_total) > 1000",
  };
  const int64_t start = kT0 + 20 * 60'000 + 3'000, end = kT0 + 59 * 60'000, step = 10'000;
  for (const char* q : queries) {
    auto e = Parse(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    // Step by step, as the query API merges each step's vector.
    std::map<Labels, std::vector<Point>> want;
    SelectionCache plain_cache;
    for (int64_t t = start; t <= end; t += step) {
      auto v = Evaluate(**e, s, t, {start, end, kDefaultSubqueryStepMs, &plain_cache});
      ASSERT_TRUE(v.ok()) << q;
      if (v->type == ValueType::kScalar) v->vector.push_back({{}, v->scalar});
      for (Sample& smp : v->vector) want[smp.labels].push_back({t, smp.value});
    }
    ASSERT_FALSE(want.empty()) << q;
    for (int64_t chunk : {int64_t{1}, int64_t{7}, int64_t{1000}}) {
      SelectionCache cache;
      std::map<Labels, std::vector<Point>> got;
      for (int64_t t = start; t <= end; t += chunk * step) {
        const int64_t last = std::min(end, t + (chunk - 1) * step);
        auto rows = EvaluateSteps(**e, s, t, last, step, {start, end, 60'000, &cache});
        ASSERT_TRUE(rows.has_value()) << q;
        ASSERT_TRUE(std::is_sorted(
            rows->begin(), rows->end(),
            [](const RangeSeries& a, const RangeSeries& b) { return a.labels < b.labels; }))
            << q;
        for (RangeSeries& r : *rows) {
          auto& pts = got[r.labels];
          pts.insert(pts.end(), r.points.begin(), r.points.end());
        }
      }
      ASSERT_EQ(want.size(), got.size()) << q << " chunk " << chunk;
      for (const auto& [labels, pts] : want) {
        const std::vector<Point>& g = got[labels];
        ASSERT_EQ(pts.size(), g.size()) << q << " " << LabelsToString(labels);
        for (size_t i = 0; i < pts.size(); ++i) {
          EXPECT_EQ(pts[i].t_ms, g[i].t_ms) << q << " " << LabelsToString(labels);
          if (std::isnan(pts[i].v)) {
            EXPECT_TRUE(std::isnan(g[i].v)) << q << " at " << pts[i].t_ms;
          } else {
            EXPECT_EQ(pts[i].v, g[i].v)
                << q << " " << LabelsToString(labels) << " at " << pts[i].t_ms;
          }
        }
      }
    }
  }
}

// What needs step-by-step evaluation says so (nullopt) instead of answering differently.
TEST(Evaluator, StepsAtOnceLeavesTheRestToEachStep) {
  const SeriesStore s = StepStore();
  const int64_t start = kT0 + 20 * 60'000, end = kT0 + 30 * 60'000, step = 15'000;
  const char* queries[] = {
      "max_over_time(rate(req_total[1m])[5m:30s])",  // a subquery
      "req_total @ 1700001800",                      // `@`
      "req_total and temp",                          // a set operator
      "req_total / on (i) group_left temp",          // group_left
      "{__name__=~\"req_total|temp\"}",              // several names
      "rate({__name__=~\"req_total|err_total\"}[5m])",
      "abs(temp)",
      "label_replace(temp, \"x\", \"$1\", \"i\", \"(.*)\")",
      "absent(nothing)",
      "absent_over_time(temp[1m])",
      "sum(topk(1, temp))",         // topk under another node
      "req_total / on (job) temp",  // several series per signature
      "err_total / ignoring (job) req_total",
      "count_values(\"v\", temp)",
      "time()",
  };
  for (const char* q : queries) {
    auto e = Parse(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    SelectionCache cache;
    EXPECT_FALSE(EvaluateSteps(**e, s, start, end, step, {start, end, 60'000, &cache}).has_value())
        << q;
  }
  // Without a cache, or over its budget: step by step.
  auto e = Parse("rate(req_total[1m])");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(EvaluateSteps(**e, s, start, end, step, {start, end}).has_value());
  SelectionCache tiny(10);
  EXPECT_FALSE(EvaluateSteps(**e, s, start, end, step, {start, end, 60'000, &tiny}).has_value());
  SelectionCache cache;
  EXPECT_TRUE(EvaluateSteps(**e, s, start, end, step, {start, end, 60'000, &cache}).has_value());
}

// A pattern that backtracking engines take exponential time over: RE2 is linear in the value.
TEST(Evaluator, PathologicalRegexFinishesFast) {
  SeriesStore s(3'600'000);
  const std::string long_value(100'000, 'a');
  s.Ingest(kT0, {{{{"__name__", "m"}, {"v", long_value}}, 1}});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(Eval(s, R"(m{v=~"(a*)*b"})", kT0).vector.empty());
  EXPECT_EQ(Eval(s, R"(m{v=~"(a|a)*(a|aa)*"})", kT0).vector.size(), 1u);
  Value r = Eval(s, R"(label_replace(m, "w", "$1", "v", "((a+)+)+b"))", kT0);
  ASSERT_EQ(r.vector.size(), 1u);
  EXPECT_EQ(LabelValue(r.vector[0].labels, "w"), "");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 2000);
}

}  // namespace
}  // namespace slipway::promql
