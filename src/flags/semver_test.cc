#include "flags/semver.h"

#include <gtest/gtest.h>

namespace slipway::flags {
namespace {

// Plain MAJOR.MINOR.PATCH takes a one-pass fast path; these pin it to the general rules.
TEST(SemVer, PlainVersionsAndTheirEdges) {
  auto v = ParseSemVer("12.0.345");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 12u);
  EXPECT_EQ(v->minor, 0u);
  EXPECT_EQ(v->patch, 345u);
  EXPECT_TRUE(v->prerelease.empty());
  EXPECT_TRUE(ParseSemVer("0.0.0"));
  EXPECT_TRUE(ParseSemVer(" v1.2.3\t"));
  for (const char* bad : {"01.2.3", "1.02.3", "1.2.03", "1..3", "1.2.", ".1.2", "1.2.3.4", "1.2.a",
                          "18446744073709551616.0.0", "", "v", "1.2.3-", "1.2.3-01"}) {
    EXPECT_FALSE(ParseSemVer(bad)) << bad;
  }
  // Long numbers go through the general path and still parse when they fit.
  auto big = ParseSemVer("18446744073709551615.123456789012345678.0");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->major, 18446744073709551615ull);
  EXPECT_EQ(big->minor, 123456789012345678ull);
  auto pre = ParseSemVer("1.2.3-rc.1+b5");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->prerelease, (std::vector<std::string>{"rc", "1"}));
  auto partial = ParseSemVer("7.5");
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->major, 7u);
  EXPECT_EQ(partial->minor, 5u);
  EXPECT_EQ(partial->patch, 0u);
}

TEST(SemVer, ParsedOperatorsAgreeWithTheirNames) {
  const char* versions[] = {"1.2.3", "1.2.4", "1.3.0", "2.0.0", "1.2.3-alpha"};
  for (const char* op : {"=", "!=", "<", "<=", ">", ">=", "^", "~"}) {
    auto parsed = ParseSemVerOp(op);
    ASSERT_TRUE(parsed) << op;
    for (const char* a : versions) {
      for (const char* b : versions) {
        EXPECT_EQ(SemVerMatches(*ParseSemVer(a), *parsed, *ParseSemVer(b)),
                  *SemVerMatches(*ParseSemVer(a), op, *ParseSemVer(b)))
            << a << op << b;
      }
    }
  }
  EXPECT_FALSE(ParseSemVerOp("<>"));
  EXPECT_FALSE(SemVerMatches(*ParseSemVer("1.0.0"), "==", *ParseSemVer("1.0.0")));
}

// The plain-triple path a compiled rule takes must answer as the general one for every
// operator, and decline (not reject) anything that is not a plain X.Y.Z.
TEST(SemVer, PlainTriplesAgreeWithTheGeneralPath) {
  const char* versions[] = {"0.0.0", "1.2.3", "1.2.4", "1.3.0", "2.0.0", " v2.0.0 ", "10.20.30"};
  for (SemVerOp op : {SemVerOp::kEq, SemVerOp::kNe, SemVerOp::kLt, SemVerOp::kLe, SemVerOp::kGt,
                      SemVerOp::kGe, SemVerOp::kCaret, SemVerOp::kTilde}) {
    for (const char* a : versions) {
      for (const char* b : versions) {
        uint64_t x[3], y[3];
        ASSERT_TRUE(ParsePlainSemVer(a, x)) << a;
        ASSERT_TRUE(ParsePlainSemVer(b, y)) << b;
        EXPECT_EQ(PlainSemVerMatches(x, op, y), SemVerMatches(*ParseSemVer(a), op, *ParseSemVer(b)))
            << a << " op " << static_cast<int>(op) << " " << b;
      }
    }
  }
  uint64_t t[3];
  for (const char* other :
       {"1.2.3-rc.1", "1.2.3+b", "7.5", "7", "01.2.3", "", "1.2.3.4", "18446744073709551615.0.0"}) {
    EXPECT_FALSE(ParsePlainSemVer(other, t)) << other;
  }
}

}  // namespace
}  // namespace slipway::flags
