#include "promql/parser.h"

#include <gtest/gtest.h>

#include <cmath>

namespace slipway::promql {
namespace {

ParseError ErrorOf(std::string_view text) {
  ParseError err;
  auto r = Parse(text, &err);
  EXPECT_FALSE(r.ok()) << text;
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  }
  return err;
}

TEST(PromqlParser, Selectors) {
  auto r = Parse(R"(http_requests_total{code=~"5..", method!="GET", path!~"/health.*", job="a"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Expr& e = **r;
  EXPECT_EQ(e.kind, Expr::Kind::kSelector);
  EXPECT_EQ(e.type, ValueType::kVector);
  EXPECT_EQ(e.text, "http_requests_total");
  ASSERT_EQ(e.matchers.size(), 5u);
  EXPECT_EQ(e.matchers[1].op, Matcher::Op::kRe);
  EXPECT_TRUE(e.matchers[1].Matches("503"));
  EXPECT_FALSE(e.matchers[1].Matches("1503"));  // anchored
  EXPECT_EQ(e.matchers[2].op, Matcher::Op::kNeq);
  EXPECT_EQ(e.matchers[3].op, Matcher::Op::kNre);
  EXPECT_FALSE(e.matchers[3].Matches("/healthz"));
}

TEST(PromqlParser, RangeAndFunctions) {
  auto r = Parse("rate(x_total[5m])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->kind, Expr::Kind::kCall);
  EXPECT_EQ((*r)->args[0]->range_ms, 300'000);
  EXPECT_EQ(MaxRangeMs(**r), 300'000);
  EXPECT_EQ(ParsePromDuration("1h30m"), 5'400'000);
  EXPECT_EQ(ParsePromDuration("500ms"), 500);
  EXPECT_EQ(ParsePromDuration("5"), -1);
  auto q = Parse("histogram_quantile(0.95, sum by (route, le) (rate(d_bucket[5m]))) > 0.5");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ((*q)->kind, Expr::Kind::kBinary);
  EXPECT_EQ((*q)->op, BinOp::kGt);
}

TEST(PromqlParser, PrecedenceAndAssociativity) {
  auto r = Parse("x + 2 * 3 ^ 2 ^ 0.5 > bool 2 or vector(1)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Expr& top = **r;
  EXPECT_EQ(top.op, BinOp::kOr);
  const Expr& gt = *top.lhs;
  EXPECT_EQ(gt.op, BinOp::kGt);
  EXPECT_TRUE(gt.bool_mod);
  const Expr& plus = *gt.lhs;
  EXPECT_EQ(plus.op, BinOp::kAdd);
  const Expr& mul = *plus.rhs;
  EXPECT_EQ(mul.op, BinOp::kMul);
  const Expr& pow = *mul.rhs;
  EXPECT_EQ(pow.op, BinOp::kPow);
  EXPECT_EQ(pow.rhs->op, BinOp::kPow);  // right-associative
}

TEST(PromqlParser, AggregationForms) {
  for (const char* text : {"sum by (a, b) (x)", "sum(x) by (a,b)", "avg without (a) (x)",
                           "count(x)", "max(x{a=\"1\"})"}) {
    auto r = Parse(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().message();
    EXPECT_EQ((*r)->kind, Expr::Kind::kAggregate) << text;
  }
  auto r = Parse("sum without (a) (x)");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->without);
  EXPECT_EQ((*r)->grouping, std::vector<std::string>({"a"}));
}

TEST(PromqlParser, MatchingModifiers) {
  auto r = Parse("a / on(service) b");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->matching);
  EXPECT_TRUE((*r)->on);
  auto g = Parse("a / ignoring(code) group_left b");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->card, Expr::Card::kManyToOne);
  auto h = Parse("a * on(job) group_right(version, team) b");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ((*h)->card, Expr::Card::kOneToMany);
  EXPECT_EQ((*h)->include, std::vector<std::string>({"version", "team"}));
  EXPECT_FALSE(Parse("a and on(x) group_left b").ok());
  EXPECT_FALSE(Parse("a * on(x) group_left(x) b").ok());
}

TEST(PromqlParser, OffsetTopkAndUnsupportedFunctionsNamed) {
  auto r = Parse("rate(x[5m] offset 1h)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->args[0]->offset_ms, 3'600'000);
  auto n = Parse("x offset -30s");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ((*n)->offset_ms, -30'000);
  EXPECT_FALSE(Parse("x offset").ok());
  EXPECT_FALSE(Parse("sum(x) offset 5m").ok());
  auto k = Parse("topk by (job) (3, x)");
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ((*k)->args.size(), 2u);
  EXPECT_FALSE(Parse("topk(x)").ok());
  EXPECT_FALSE(Parse("topk(x, y)").ok());
  ParseError e;
  auto u = Parse("label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")", &e);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(e.message.find("unknown function \"label_replace\""), std::string::npos) << e.message;
  EXPECT_TRUE(Parse("quantile_over_time(0.9, x[5m])").ok());
  EXPECT_TRUE(Parse("absent_over_time(x{job=\"a\"}[5m])").ok());
}

TEST(PromqlParser, ErrorPositions) {
  ParseError e = ErrorOf("rate(x[5m]");
  EXPECT_EQ(e.pos, 10u);
  EXPECT_NE(e.message.find("expected"), std::string::npos);

  e = ErrorOf("sum(rate(x[5m])) by (service");
  EXPECT_EQ(e.pos, 28u);

  e = ErrorOf("x{a=\"1\" b=\"2\"}");
  EXPECT_EQ(e.pos, 8u);
  EXPECT_NE(e.message.find("expected \",\" or \"}\""), std::string::npos);

  e = ErrorOf("rate(x)");
  EXPECT_EQ(e.pos, 5u);
  EXPECT_NE(e.message.find("must be a range vector"), std::string::npos);

  e = ErrorOf("x[5m] > 1");
  EXPECT_EQ(e.pos, 6u);

  e = ErrorOf("nosuch(x)");
  EXPECT_EQ(e.pos, 0u);
  EXPECT_NE(e.message.find("unknown function \"nosuch\""), std::string::npos);

  e = ErrorOf("x{a=~\"(\"}");
  EXPECT_EQ(e.pos, 5u);
  EXPECT_NE(e.message.find("bad regular expression"), std::string::npos);

  e = ErrorOf("1 > 2");
  EXPECT_NE(e.message.find("bool"), std::string::npos);

  e = ErrorOf("x $ 1");
  EXPECT_EQ(e.pos, 2u);

  e = ErrorOf("");
  EXPECT_EQ(e.pos, 0u);

  e = ErrorOf("{a=~\".*\"}");
  EXPECT_NE(e.message.find("metric name"), std::string::npos);

  e = ErrorOf("histogram_quantile(0.9)");
  EXPECT_NE(e.message.find("takes 2 arguments"), std::string::npos);

  auto r = Parse("up ==");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "at char 6: expected an expression, found end of expression");
}

TEST(PromqlParser, StringsAndNumbers) {
  auto r = Parse("x{a='single', b=`raw\\d`} * -1.5e1");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->lhs->matchers[2].value, "raw\\d");
  EXPECT_DOUBLE_EQ((*r)->rhs->number, -15);
  auto inf = Parse("x > Inf");
  ASSERT_TRUE(inf.ok());
  EXPECT_TRUE(std::isinf((*inf)->rhs->number));
}

}  // namespace
}  // namespace slipway::promql
