#include "backup/cron.h"

#include <gtest/gtest.h>

namespace slipway::backup {
namespace {

// 2024-01-01 00:30:00 UTC, Monday.
constexpr int64_t kT = 1704069000000;
constexpr int64_t kMin = 60000;

int64_t Next(const std::string& e, int64_t after) {
  auto c = CronExpr::Parse(e);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? c->Next(after) : -2;
}

TEST(CronTest, BasicFields) {
  EXPECT_EQ(Next("* * * * *", kT), kT + kMin);
  EXPECT_EQ(Next("* * * * *", kT + 1), kT + kMin);
  EXPECT_EQ(Next("0 * * * *", kT), kT + 30 * kMin);
  EXPECT_EQ(Next("*/15 * * * *", kT), kT + 15 * kMin);
  EXPECT_EQ(Next("30 2 * * *", kT), kT + 2 * 60 * kMin);
  EXPECT_EQ(Next("@daily", kT), kT + (23 * 60 + 30) * kMin);
  EXPECT_EQ(Next("@hourly", kT), kT + 30 * kMin);
}

TEST(CronTest, DaysMonthsAndNames) {
  // Next Sunday 03:00 is 2024-01-07.
  EXPECT_EQ(Next("0 3 * * sun", kT), 1704596400000);
  EXPECT_EQ(Next("0 3 * * 7", kT), 1704596400000);
  // First of February at midnight.
  EXPECT_EQ(Next("0 0 1 feb *", kT), 1706745600000);
  // Day-of-month OR day-of-week when both are restricted: the 15th or a Friday
  // -> Friday 2024-01-05.
  EXPECT_EQ(Next("0 0 15 * 5", kT), 1704412800000);
  EXPECT_EQ(Next("0 9-17/4 * * mon-fri", kT), kT + (8 * 60 + 30) * kMin);
  EXPECT_EQ(Next("0 0 29 2 *", kT), 1709164800000);  // 2024-02-29
  EXPECT_EQ(Next("0 0 31 2 *", kT), -1);
}

TEST(CronTest, RejectsBadExpressions) {
  for (const char* bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                          "* * * * 8", "*/0 * * * *", "a * * * *", "5-1 * * * *"}) {
    auto c = CronExpr::Parse(bad);
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidInput);
    }
  }
  auto c = CronExpr::Parse("61 * * * *");
  EXPECT_NE(c.status().message().find("bad minute field"), std::string::npos);
}

}  // namespace
}  // namespace slipway::backup
