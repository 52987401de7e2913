// Cron: five-field cron expressions (minute hour day-of-month month
// day-of-week) evaluated in UTC, for backup schedules.
//
// Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists
// `a,b`, month and weekday names (jan, mon), and 7 for Sunday. As in Vixie
// cron, when both day fields are restricted a day matches either. Shortcuts:
// @yearly @annually @monthly @weekly @daily @midnight @hourly.
//
// Immutable after Parse; any thread.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace slipway::backup {

class CronExpr {
 public:
  // InvalidInput naming the bad field.
  static Result<CronExpr> Parse(std::string_view text);

  // The first minute strictly after `after_ms` (Unix ms) that matches, in Unix
  // ms; -1 if none within ~5 years (e.g. "0 0 31 2 *").
  int64_t Next(int64_t after_ms) const;
  bool Matches(int64_t unix_minute_ms) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;    // 1..31
  std::bitset<13> month_;  // 1..12
  std::bitset<7> dow_;     // 0..6, Sunday 0
  bool dom_star_ = true;
  bool dow_star_ = true;
};

}  // namespace slipway::backup
