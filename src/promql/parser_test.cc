#include "promql/parser.h"

#include <gtest/gtest.h>

#include <chrono>
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
  auto u = Parse("holt_winters(up[5m], 0.5, 0.5)", &e);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(e.message.find("unknown function \"holt_winters\""), std::string::npos) << e.message;
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
  EXPECT_NE(e.message.find("invalid regular expression \"(\": missing )"), std::string::npos);

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

namespace slipway::promql {
namespace {

TEST(PromqlParser, SubqueriesAndAtModifier) {
  auto r = Parse("max_over_time(rate(x_total[5m])[30m:1m] offset 5m)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Expr& sq = *(*r)->args[0];
  EXPECT_EQ(sq.kind, Expr::Kind::kSubquery);
  EXPECT_EQ(sq.type, ValueType::kMatrix);
  EXPECT_EQ(sq.range_ms, 1'800'000);
  EXPECT_EQ(sq.step_ms, 60'000);
  EXPECT_EQ(sq.offset_ms, 300'000);
  EXPECT_EQ(MaxRangeMs(**r), 1'800'000 + 300'000);
  auto d = Parse("x[10m:]");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ((*d)->step_ms, 0);
  EXPECT_TRUE(Parse("sum(x)[5m:30s]").ok());
  EXPECT_TRUE(Parse("(x + 1)[5m:1m] @ end()").ok());
  // A colon outside brackets still starts a recording rule's name.
  EXPECT_TRUE(Parse("job:x:rate5m[5m:1m]").ok());

  auto a = Parse("x @ 1700000000.5 offset 1m");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ((*a)->at, Expr::At::kTime);
  EXPECT_EQ((*a)->at_ms, 1'700'000'000'500);
  EXPECT_EQ((*a)->offset_ms, 60'000);
  auto b = Parse("rate(x[5m] offset 1m @ start())");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ((*b)->args[0]->at, Expr::At::kStart);
  auto n = Parse("x @ -100");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ((*n)->at_ms, -100'000);
}

TEST(PromqlParser, LabelFunctionsAndCountValues) {
  auto r = Parse("label_replace(up, \"host\", \"$1\", \"instance\", \"(.*):.*\")");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_NE((*r)->regex, nullptr);
  EXPECT_TRUE(Parse("label_join(up, \"x\", \"-\", \"a\", \"b\", \"c\")").ok());
  EXPECT_TRUE(Parse("label_join(up, \"x\", \"-\")").ok());
  EXPECT_TRUE(Parse("count_values(\"v\", build_info)").ok());
  EXPECT_TRUE(Parse("count_values without (instance) (\"v\", build_info)").ok());
}

// Hostile input: each is one error at the right place, nothing crashes.
TEST(PromqlParser, HostileSubqueryAtAndLabelFunctions) {
  struct Bad {
    const char* text;
    size_t pos;
    const char* what;
  };
  const Bad cases[] = {
      {"x[5m:1m:1m]", 7, "expected \"]\""},
      {"x[5m::]", 5, "expected \"]\""},
      {"x[:1m]", 2, "expected a duration"},
      {"x[5m:0s]", 5, "step must be positive"},
      {"x[0s:1m]", 2, "range must be positive"},
      {"x[5m:1m", 7, "expected \"]\""},
      {"x[5m:1m][5m:1m]", 8, "subquery is only allowed on instant vector, got range vector"},
      {"x[5m][5m]", 5, "a range [..] only follows a metric selector"},
      {"1[5m:1m]", 1, "subquery is only allowed on instant vector, got scalar"},
      {"x[1y:1ms]", 1, "subquery would evaluate 31536000000 steps, at most 11000"},
      {"x[30d:]", 1, "subquery would evaluate 43200 steps"},
      {"x @", 3, "expected a timestamp, start() or end()"},
      {"x @ start", 9, "expected \"(\""},
      {"x @ start(1)", 10, "expected \")\""},
      {"x @ \"1\"", 4, "expected a timestamp"},
      {"x @ 5m", 4, "expected a timestamp"},
      {"x @ 1 @ 2", 6, "@ <timestamp> may not be set multiple times"},
      {"x offset 1m offset 2m", 12, "offset may not be set multiple times"},
      {"x @ Inf", 4, "timestamp out of bounds for @ modifier"},
      {"x @ NaN", 4, "timestamp out of bounds for @ modifier"},
      {"x @ 1e300", 4, "timestamp out of bounds for @ modifier"},
      {"1 @ 5", 2, "@ modifier must be preceded by"},
      {"rate(x[5m]) @ 5", 12, "@ modifier must be preceded by"},
      {"sum(x) offset 5m", 7, "offset only follows"},
      {"label_replace(x, \"1bad\", \"\", \"a\", \"b\")", 17, "invalid destination label name"},
      {"label_replace(x, \"d\", \"$1\", \"a\", \"(\")", 33, "invalid regular expression"},
      {"label_replace(x, \"d\", \"$1\", \"a\")", 31, "takes 5 arguments, got 4"},
      {"label_replace(x, d, \"$1\", \"a\", \"b\")", 17, "argument 2 must be a string"},
      {"label_join(x, \"d\")", 17, "takes at least 3 arguments, got 2"},
      {"label_join(x, \"d\", \"-\", \"a-b\")", 24, "invalid source label name"},
      {"label_join(x, \"d\", \"-\", 1)", 24, "argument 4 must be a string"},
      {"count_values(5, x)", 13, "needs a string parameter first, got a scalar"},
      {"count_values(\"9x\", x)", 13, "invalid label name"},
      {"count_values(\"v\")", 16, "expected \",\""},
  };
  for (const Bad& b : cases) {
    ParseError e;
    auto r = Parse(b.text, &e);
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_NE(e.message.find(b.what), std::string::npos) << b.text << ": " << e.message;
    EXPECT_EQ(e.pos, b.pos) << b.text << ": " << e.message;
  }
}

// Regular expressions are Go's (RE2): what it accepts parses, what it rejects (ECMAScript's
// lookarounds and back-references, a repetition too large) is a one-line error at the string.
TEST(PromqlParser, RegexesInGoSyntax) {
  for (const char* ok :
       {R"q(x{a=~"(?P<n>b)c"})q", R"q(x{a=~"(?i)abc"})q", R"q(x{a=~"\\d+\\pL"})q",
        R"q(x{a!~"[[:alpha:]]+"})q", R"q(label_replace(x, "d", "${n}", "a", "(?P<n>.*)"))q"}) {
    auto r = Parse(ok);
    EXPECT_TRUE(r.ok()) << ok << ": " << r.status().message();
  }
  struct Bad {
    const char* text;
    size_t pos;
  };
  for (const Bad& b : {Bad{R"q(x{a=~"(?=b)"})q", 5}, Bad{R"q(x{a=~"(b)\\1"})q", 5},
                       Bad{R"q(x{a!~"(?P<a-b>c)"})q", 5}, Bad{R"q(x{a=~"b{2000}"})q", 5},
                       Bad{R"q(x{a=~"((((b{1000}){1000}){1000}){1000})"})q", 5},
                       Bad{R"q(label_replace(x, "d", "$1", "a", "(?<=b)"))q", 33}}) {
    ParseError e;
    auto r = Parse(b.text, &e);
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(e.pos, b.pos) << b.text;
    EXPECT_NE(e.message.find("invalid regular expression"), std::string::npos) << e.message;
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  }
  // A pattern past RE2's memory bound is a one-line error, in bounded time.
  std::string big = "x{a=~\"";
  for (int i = 0; i < 10; ++i) big += "\\pL{1000}";  // each letter class is many states
  big += "\"}";
  ParseError e;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(Parse(big, &e).ok());
  EXPECT_NE(e.message.find("invalid regular expression"), std::string::npos) << e.message;
  EXPECT_LT(e.message.size(), 400u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace slipway::promql
