#include "backup/retention.h"

#include <algorithm>
#include <ctime>

namespace slipway::backup {
namespace {

std::string Bucket(int64_t ms, const char* fmt) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

std::vector<RetentionDecision> ApplyRetention(std::vector<BackupRecord> backups,
                                              const RetentionPolicy& policy) {
  std::sort(backups.begin(), backups.end(), [](const BackupRecord& a, const BackupRecord& b) {
    return a.created_ms != b.created_ms ? a.created_ms > b.created_ms : a.id > b.id;
  });
  struct Rule {
    const char* name;
    const char* fmt;
    int count;
    std::string last;
  };
  std::vector<Rule> rules = {{"hourly", "%Y-%m-%d %H:00", policy.hourly, ""},
                             {"daily", "%Y-%m-%d", policy.daily, ""},
                             {"weekly", "%G-W%V", policy.weekly, ""},
                             {"monthly", "%Y-%m", policy.monthly, ""},
                             {"yearly", "%Y", policy.yearly, ""}};
  std::vector<RetentionDecision> out;
  bool verified_kept = false;
  int last_left = policy.keep_last;
  for (const BackupRecord& b : backups) {
    RetentionDecision d;
    d.backup = b;
    if (policy.Empty()) {
      d.keep = true;
      d.reasons.push_back("no retention policy");
    }
    if (last_left != 0) {
      d.keep = true;
      d.reasons.push_back("last " + std::to_string(policy.keep_last));
      if (last_left > 0) --last_left;
    }
    for (Rule& r : rules) {
      if (r.count == 0) continue;
      std::string bucket = Bucket(b.created_ms, r.fmt);
      if (bucket == r.last) continue;
      d.keep = true;
      d.reasons.push_back(std::string(r.name) + " " + bucket);
      r.last = bucket;
      if (r.count > 0) --r.count;
    }
    if (!verified_kept && b.Verified()) {
      verified_kept = true;
      if (!d.keep) {
        d.keep = true;
        d.reasons.push_back("newest verified backup");
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace slipway::backup
