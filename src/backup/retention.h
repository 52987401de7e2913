// Retention: which backups `backup prune` keeps, computed like restic's
// `forget` policy.
//
// Backups of one database are walked newest first. keep-last keeps the newest
// N. For each of hourly/daily/weekly/monthly/yearly with a count N > 0 (or -1
// for unlimited), a backup is kept when its calendar period (UTC hour, day,
// ISO week, month, year) differs from that of the last backup kept for that
// rule, until N periods are covered; i.e. the newest backup in each period.
// The newest verified backup is always kept. A policy with every count 0 keeps
// everything (an empty policy never deletes).
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/catalog.h"

namespace slipway::backup {

struct RetentionPolicy {
  int keep_last = 0;
  int hourly = 0;
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  int yearly = 0;
  bool Empty() const {
    return keep_last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 &&
           yearly == 0;
  }
};

struct RetentionDecision {
  BackupRecord backup;
  bool keep = false;
  std::vector<std::string> reasons;  // why it stays ("daily 2024-03-05", "last 2", ...)
};

// `backups` of ONE database, any order. Returns decisions newest first.
std::vector<RetentionDecision> ApplyRetention(std::vector<BackupRecord> backups,
                                              const RetentionPolicy& policy);

}  // namespace slipway::backup
