#include "backup/retention.h"

#include <gtest/gtest.h>

#include <map>

#include "base/clock.h"

namespace slipway::backup {
namespace {

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;
// 2024-01-01 00:30 UTC, a Monday (ISO week 2024-W01).
constexpr int64_t kStart = 1704069000000;

// A synthetic calendar: one backup every 6 hours for 400 days, ids ascending.
std::vector<BackupRecord> Calendar(int days) {
  std::vector<BackupRecord> out;
  int64_t id = 1;
  for (int64_t t = kStart; t < kStart + days * kDay; t += 6 * kHour) {
    BackupRecord b;
    b.id = id++;
    b.database = "main";
    b.created_ms = t;
    out.push_back(b);
  }
  return out;
}

std::vector<int64_t> KeptIds(const std::vector<RetentionDecision>& ds) {
  std::vector<int64_t> out;
  for (const auto& d : ds) {
    if (d.keep) out.push_back(d.backup.id);
  }
  return out;
}

TEST(RetentionTest, KeepLastKeepsTheNewest) {
  RetentionPolicy p;
  p.keep_last = 3;
  auto ds = ApplyRetention(Calendar(2), p);
  ASSERT_EQ(ds.size(), 8u);
  EXPECT_EQ(KeptIds(ds), (std::vector<int64_t>{8, 7, 6}));
  EXPECT_EQ(ds[0].reasons, (std::vector<std::string>{"last 3"}));
}

TEST(RetentionTest, DailyKeepsNewestOfEachCalendarDay) {
  RetentionPolicy p;
  p.daily = 3;
  auto ds = ApplyRetention(Calendar(5), p);  // 20 backups, 4 per day, newest at 18:30
  // Newest of each of the last 3 days: ids 20, 16, 12.
  EXPECT_EQ(KeptIds(ds), (std::vector<int64_t>{20, 16, 12}));
  EXPECT_EQ(ds[0].reasons, (std::vector<std::string>{"daily 2024-01-05"}));
}

TEST(RetentionTest, WeeklyUsesIsoWeeksAndRulesCombine) {
  RetentionPolicy p;
  p.keep_last = 1;
  p.hourly = 2;
  p.daily = 2;
  p.weekly = 3;
  p.monthly = 2;
  p.yearly = 5;
  auto ds = ApplyRetention(Calendar(400), p);
  std::map<int64_t, std::vector<std::string>> kept;
  for (const auto& d : ds) {
    if (d.keep) kept[d.backup.created_ms] = d.reasons;
  }
  // Newest: 2025-02-03 18:30 (day 399 from 2024-01-01), a Monday of 2025-W06.
  int64_t newest = ds.front().backup.created_ms;
  EXPECT_EQ(kept[newest],
            (std::vector<std::string>{"last 1", "hourly 2025-02-03 18:00", "daily 2025-02-03",
                                      "weekly 2025-W06", "monthly 2025-02", "yearly 2025"}));
  // Weekly: the Sunday 18:30 backups end W05 and W04.
  EXPECT_EQ(kept[newest - kDay], (std::vector<std::string>{"daily 2025-02-02", "weekly 2025-W05"}));
  EXPECT_EQ(kept[newest - 8 * kDay], (std::vector<std::string>{"weekly 2025-W04"}));
  // Monthly: the last backup of January; yearly: the last one of 2024.
  EXPECT_EQ(kept[newest - 3 * kDay], (std::vector<std::string>{"monthly 2025-01"}));
  int64_t last_2024 = 1735669800000;  // 2024-12-31 18:30 UTC
  EXPECT_EQ(kept[last_2024], (std::vector<std::string>{"yearly 2024"}));
  // The newest, one more hourly (12:30 that day), Feb 2 (daily + weekly), Jan 31
  // (monthly), Jan 26 (weekly), Dec 31 2024 (yearly).
  EXPECT_EQ(kept.size(), 6u);
}

TEST(RetentionTest, IsoWeekAcrossTheYearBoundary) {
  // 2024-12-30 (Mon) and 2025-01-01 (Wed) are both in ISO week 2025-W01.
  std::vector<BackupRecord> bs(2);
  bs[0].id = 1;
  bs[0].created_ms = 1735560000000;  // 2024-12-30 12:00 UTC
  bs[1].id = 2;
  bs[1].created_ms = 1735732800000;  // 2025-01-01 12:00 UTC
  RetentionPolicy p;
  p.weekly = 5;
  EXPECT_EQ(KeptIds(ApplyRetention(bs, p)), (std::vector<int64_t>{2}));
}

TEST(RetentionTest, NewestVerifiedIsNeverDeleted) {
  auto bs = Calendar(3);
  bs[2].verified_ms = bs[2].created_ms + 1000;
  bs[2].verify_status = "ok";
  bs[5].verified_ms = 1;
  bs[5].verify_status = "failed: checksum";
  RetentionPolicy p;
  p.keep_last = 1;
  auto ds = ApplyRetention(bs, p);
  EXPECT_EQ(KeptIds(ds), (std::vector<int64_t>{12, 3}));
  for (const auto& d : ds) {
    if (d.backup.id == 3) {
      EXPECT_EQ(d.reasons, (std::vector<std::string>{"newest verified backup"}));
    }
  }
}

TEST(RetentionTest, EmptyPolicyKeepsEverythingAndUnlimitedCounts) {
  auto ds = ApplyRetention(Calendar(2), RetentionPolicy{});
  EXPECT_EQ(KeptIds(ds).size(), 8u);
  RetentionPolicy p;
  p.daily = -1;
  EXPECT_EQ(KeptIds(ApplyRetention(Calendar(10), p)).size(), 10u);
}

}  // namespace
}  // namespace slipway::backup
