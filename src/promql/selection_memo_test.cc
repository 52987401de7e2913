#include "promql/selection_memo.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "promql/evaluator.h"
#include "promql/parser.h"

namespace slipway::promql {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

ExpositionSample Req(const std::string& job, const std::string& route, double v) {
  return {{{"__name__", "req_total"}, {"job", job}, {"route", route}}, v};
}

// The answer of `expr` at t, as text, evaluated with `memo` (null: without).
std::string Answer(const Expr& e, const SeriesStore& s, int64_t t, SelectionMemo* memo) {
  EvalContext ctx{t, t};
  ctx.memo = memo;
  auto v = Evaluate(e, s, t, ctx);
  if (!v.ok()) return "error: " + v.status().message();
  std::string out;
  for (const Sample& smp : v->vector)
    out += LabelsToString(smp.labels) + "=" + std::to_string(smp.value) + ";";
  return out;
}

TEST(SelectionMemo, MatchesOnceWhileTheSeriesStayTheSame) {
  SeriesStore s;
  auto scrape = [&](int k, bool with_new) {
    std::vector<ExpositionSample> in = {Req("b", "r1", k * 10.0), Req("a", "r1", k * 5.0),
                                        Req("a", "r2", k * 7.0)};
    if (with_new) in.push_back(Req("c", "r1", k * 3.0));
    s.Ingest(kT0 + k * 15'000, std::move(in), "t");
  };
  auto rate = Parse(R"(sum by (job) (rate(req_total{route="r1"}[1m])))");
  auto inst = Parse(R"(req_total{route=~"r1|r2", job!="b"})");
  ASSERT_TRUE(rate.ok() && inst.ok());
  SelectionMemo memo;
  for (int k = 0; k < 8; ++k) {
    scrape(k, false);
    const int64_t t = kT0 + k * 15'000;
    EXPECT_EQ(Answer(**rate, s, t, &memo), Answer(**rate, s, t, nullptr)) << k;
    EXPECT_EQ(Answer(**inst, s, t, &memo), Answer(**inst, s, t, nullptr)) << k;
  }
  EXPECT_EQ(memo.matches(), 2u);  // one per selector: the store's series never changed
  // A new series that matches: matched again, and in the answer at once.
  scrape(8, true);
  const int64_t t8 = kT0 + 8 * 15'000;
  EXPECT_EQ(Answer(**inst, s, t8, &memo), Answer(**inst, s, t8, nullptr));
  EXPECT_NE(Answer(**inst, s, t8, &memo).find(R"(job="c")"), std::string::npos);
  EXPECT_EQ(memo.matches(), 3u);
}

TEST(SelectionMemo, ForgottenSeriesAreNeverRead) {
  // Retention 1 min: "gone" is forgotten while "kept" goes on; the memo must match again
  // rather than read the freed series.
  SeriesStore s(60'000);
  auto sel = Parse("req_total");
  ASSERT_TRUE(sel.ok());
  SelectionMemo memo;
  s.Ingest(kT0, {Req("gone", "r", 1), Req("kept", "r", 1)}, "a");
  EXPECT_EQ(memo.Get(**sel, s).size(), 2u);
  for (int k = 1; k <= 10; ++k) s.Ingest(kT0 + k * 15'000, {Req("kept", "r", k)}, "b");
  ASSERT_EQ(s.series_count(), 1u);
  ASSERT_EQ(memo.Get(**sel, s).size(), 1u);
  EXPECT_EQ(LabelsToString(memo.Get(**sel, s)[0]->labels), R"(req_total{job="kept", route="r"})");
}

TEST(SelectionMemo, AnotherStoreIsMatchedAfresh) {
  SeriesStore one, two;
  one.Ingest(kT0, {Req("a", "r", 1)});
  two.Ingest(kT0, {Req("a", "r", 1), Req("b", "r", 1)});
  auto sel = Parse("req_total");
  ASSERT_TRUE(sel.ok());
  SelectionMemo memo;
  EXPECT_EQ(memo.Get(**sel, one).size(), 1u);
  EXPECT_EQ(memo.Get(**sel, two).size(), 2u);
}

}  // namespace
}  // namespace slipway::promql
