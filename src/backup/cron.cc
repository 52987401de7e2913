#include "backup/cron.h"

#include <cctype>
#include <ctime>
#include <vector>

namespace slipway::backup {
namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

int NameValue(const std::string& s, bool month) {
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                  "jul", "aug", "sep", "oct", "nov", "dec"};
  static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::string l;
  for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (month) {
    for (int i = 0; i < 12; ++i) {
      if (l == kMonths[i]) return i + 1;
    }
  } else {
    for (int i = 0; i < 7; ++i) {
      if (l == kDays[i]) return i;
    }
  }
  if (l.empty() || l.size() > 4) return -1;
  for (char c : l) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  }
  return std::stoi(l);
}

// Parses one field into `bits` (indices lo..hi). Returns false on error.
bool ParseField(const std::string& f, int lo, int hi, bool month, bool dow, std::vector<bool>* bits,
                bool* star) {
  *star = f == "*";
  for (const std::string& part : Split(f, ',')) {
    std::vector<std::string> step = Split(part, '/');
    if (step.size() > 2) return false;
    int every = 1;
    if (step.size() == 2) {
      every = NameValue(step[1], false);
      if (every <= 0) return false;
    }
    int a, b;
    if (step[0] == "*") {
      a = lo;
      b = hi;
    } else {
      std::vector<std::string> range = Split(step[0], '-');
      if (range.size() > 2) return false;
      a = NameValue(range[0], month);
      b = range.size() == 2 ? NameValue(range[1], month) : (step.size() == 2 ? hi : a);
      if (dow && b == 7) b = 7;  // 7 is Sunday; mapped below
    }
    int max = dow ? 7 : hi;
    if (a < lo || b > max || a > b) return false;
    for (int v = a; v <= b; v += every) (*bits)[dow && v == 7 ? 0 : v] = true;
  }
  return true;
}

}  // namespace

Result<CronExpr> CronExpr::Parse(std::string_view text_in) {
  std::string text(text_in);
  static const std::pair<const char*, const char*> kShort[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  std::string expanded = text;
  for (const auto& [k, v] : kShort) {
    if (text == k) expanded = v;
  }
  std::vector<std::string> fields;
  std::string cur;
  for (char c : expanded) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  if (fields.size() != 5) {
    return InvalidInput("cron \"" + text +
                        "\": expected 5 fields (minute hour day-of-month month day-of-week)");
  }
  CronExpr e;
  e.text_ = text;
  struct Spec {
    const char* name;
    int lo, hi;
    bool month, dow;
  };
  const Spec specs[] = {{"minute", 0, 59, false, false},
                        {"hour", 0, 23, false, false},
                        {"day-of-month", 1, 31, false, false},
                        {"month", 1, 12, true, false},
                        {"day-of-week", 0, 6, false, true}};
  for (int i = 0; i < 5; ++i) {
    std::vector<bool> bits(64, false);
    bool star = false;
    if (!ParseField(fields[i], specs[i].lo, specs[i].hi, specs[i].month, specs[i].dow, &bits,
                    &star)) {
      return InvalidInput("cron \"" + text + "\": bad " + specs[i].name + " field \"" + fields[i] +
                          "\" (range " + std::to_string(specs[i].lo) + "-" +
                          std::to_string(specs[i].hi) + ")");
    }
    for (int v = 0; v < 64; ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0:
          e.minute_.set(v);
          break;
        case 1:
          e.hour_.set(v);
          break;
        case 2:
          e.dom_.set(v);
          break;
        case 3:
          e.month_.set(v);
          break;
        case 4:
          e.dow_.set(v);
          break;
      }
    }
    if (i == 2) e.dom_star_ = star;
    if (i == 4) e.dow_star_ = star;
  }
  return e;
}

bool CronExpr::Matches(int64_t ms) const {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (!minute_[tm.tm_min] || !hour_[tm.tm_hour] || !month_[tm.tm_mon + 1]) return false;
  bool dom = dom_[tm.tm_mday], dow = dow_[tm.tm_wday];
  if (dom_star_ || dow_star_) return dom && dow;
  return dom || dow;
}

int64_t CronExpr::Next(int64_t after_ms) const {
  int64_t m = (after_ms / 60000 + 1) * 60000;  // next whole minute
  const int64_t limit = m + int64_t{5} * 366 * 24 * 3600 * 1000;
  while (m < limit) {
    std::time_t t = static_cast<std::time_t>(m / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    bool day_ok = month_[tm.tm_mon + 1] &&
                  ((dom_star_ || dow_star_) ? (dom_[tm.tm_mday] && dow_[tm.tm_wday])
                                            : (dom_[tm.tm_mday] || dow_[tm.tm_wday]));
    if (!day_ok) {  // jump to the next midnight
      m += (int64_t{24} * 60 - (tm.tm_hour * 60 + tm.tm_min)) * 60000;
      continue;
    }
    if (!hour_[tm.tm_hour]) {
      m += int64_t{60 - tm.tm_min} * 60000;
      continue;
    }
    if (!minute_[tm.tm_min]) {
      m += 60000;
      continue;
    }
    return m;
  }
  return -1;
}

}  // namespace slipway::backup
