#include "flags/semver.h"

#include <charconv>

namespace slipway::flags {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A numeric identifier: digits, no leading zero unless it is "0".
std::optional<uint64_t> Numeric(std::string_view s) {
  if (!AllDigits(s) || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool ValidIdentifier(std::string_view s, bool prerelease) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) return false;
  }
  // Numeric prerelease identifiers must not have leading zeros.
  if (prerelease && AllDigits(s) && s.size() > 1 && s[0] == '0') return false;
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(
        s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

// Splits MAJOR.MINOR.PATCH without allocating; returns the number of parts, or 4 for "more
// than 3" (never a valid version core).
size_t SplitCore(std::string_view s, std::string_view (&parts)[3]) {
  size_t n = 0, start = 0;
  while (true) {
    size_t p = s.find('.', start);
    if (n == 3) return 4;
    parts[n++] = s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start);
    if (p == std::string_view::npos) return n;
    start = p + 1;
  }
}

}  // namespace

namespace {
std::string_view TrimVersion(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) text.remove_prefix(1);
  return text;
}

// One pass over digits and two dots; anything this path is unsure of answers false.
bool ParsePlainTrimmed(std::string_view text, uint64_t out[3]) {
  uint64_t nums[3] = {0, 0, 0};
  size_t part = 0, len = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if ((len == 1 && nums[part] == 0) || len >= 18) return false;  // leading zero, or too long
      nums[part] = nums[part] * 10 + static_cast<uint64_t>(c - '0');
      ++len;
    } else if (c == '.' && len > 0 && part < 2) {
      ++part;
      len = 0;
    } else {
      return false;
    }
  }
  if (part != 2 || len == 0) return false;
  out[0] = nums[0];
  out[1] = nums[1];
  out[2] = nums[2];
  return true;
}
}  // namespace

bool ParsePlainSemVer(std::string_view text, uint64_t out[3]) {
  return ParsePlainTrimmed(TrimVersion(text), out);
}

bool PlainSemVerMatches(const uint64_t a[3], SemVerOp op, const uint64_t b[3]) {
  int c = 0;
  for (int i = 0; i < 3 && c == 0; ++i) {
    if (a[i] != b[i]) c = a[i] < b[i] ? -1 : 1;
  }
  switch (op) {
    case SemVerOp::kEq:
      return c == 0;
    case SemVerOp::kNe:
      return c != 0;
    case SemVerOp::kLt:
      return c < 0;
    case SemVerOp::kLe:
      return c <= 0;
    case SemVerOp::kGt:
      return c > 0;
    case SemVerOp::kGe:
      return c >= 0;
    case SemVerOp::kCaret:
      return a[0] == b[0];
    case SemVerOp::kTilde:
      return a[0] == b[0] && a[1] == b[1];
  }
  return false;
}

std::optional<SemVer> ParseSemVer(std::string_view text) {
  text = TrimVersion(text);
  if (text.empty()) return std::nullopt;
  if (uint64_t nums[3]; ParsePlainTrimmed(text, nums)) {
    SemVer v;
    v.major = nums[0];
    v.minor = nums[1];
    v.patch = nums[2];
    return v;
  }

  std::string_view core = text;
  std::string_view pre, build;
  size_t plus = core.find('+');
  if (plus != std::string_view::npos) {
    build = core.substr(plus + 1);
    core = core.substr(0, plus);
    for (auto id : Split(build, '.')) {
      if (!ValidIdentifier(id, false)) return std::nullopt;
    }
  }
  size_t dash = core.find('-');
  bool has_pre = dash != std::string_view::npos;
  if (has_pre) {
    pre = core.substr(dash + 1);
    core = core.substr(0, dash);
  }
  std::string_view parts[3];
  const size_t nparts = SplitCore(core, parts);
  SemVer v;
  if (nparts == 3) {
    auto a = Numeric(parts[0]), b = Numeric(parts[1]), c = Numeric(parts[2]);
    if (!a || !b || !c) return std::nullopt;
    v.major = *a;
    v.minor = *b;
    v.patch = *c;
  } else if ((nparts == 1 || nparts == 2) && !has_pre && plus == std::string_view::npos) {
    // Partial versions are coerced: "1" -> 1.0.0, "1.2" -> 1.2.0 (digits only).
    uint64_t nums[2] = {0, 0};
    for (size_t i = 0; i < nparts; ++i) {
      if (!AllDigits(parts[i])) return std::nullopt;
      auto r = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), nums[i]);
      if (r.ec != std::errc()) return std::nullopt;
    }
    v.major = nums[0];
    v.minor = nums[1];
    return v;
  } else {
    return std::nullopt;
  }
  if (has_pre) {
    for (auto id : Split(pre, '.')) {
      if (!ValidIdentifier(id, true)) return std::nullopt;
      v.prerelease.emplace_back(id);
    }
  }
  return v;
}

int CompareSemVer(const SemVer& a, const SemVer& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  // A release ranks above any of its prereleases.
  if (a.prerelease.empty() || b.prerelease.empty()) {
    if (a.prerelease.empty() == b.prerelease.empty()) return 0;
    return a.prerelease.empty() ? 1 : -1;
  }
  size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < n; ++i) {
    const std::string& x = a.prerelease[i];
    const std::string& y = b.prerelease[i];
    bool xn = AllDigits(x), yn = AllDigits(y);
    if (xn && yn) {
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
      int c = x.compare(y);
      if (c != 0) return c < 0 ? -1 : 1;
    } else if (xn != yn) {
      return xn ? -1 : 1;  // numeric identifiers rank below alphanumeric ones
    } else {
      int c = x.compare(y);
      if (c != 0) return c < 0 ? -1 : 1;
    }
  }
  if (a.prerelease.size() == b.prerelease.size()) return 0;
  return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
}

std::optional<SemVerOp> ParseSemVerOp(std::string_view op) {
  if (op == "=") return SemVerOp::kEq;
  if (op == "!=") return SemVerOp::kNe;
  if (op == "<") return SemVerOp::kLt;
  if (op == "<=") return SemVerOp::kLe;
  if (op == ">") return SemVerOp::kGt;
  if (op == ">=") return SemVerOp::kGe;
  if (op == "^") return SemVerOp::kCaret;
  if (op == "~") return SemVerOp::kTilde;
  return std::nullopt;
}

bool SemVerMatches(const SemVer& a, SemVerOp op, const SemVer& b) {
  switch (op) {
    case SemVerOp::kEq:
      return CompareSemVer(a, b) == 0;
    case SemVerOp::kNe:
      return CompareSemVer(a, b) != 0;
    case SemVerOp::kLt:
      return CompareSemVer(a, b) < 0;
    case SemVerOp::kLe:
      return CompareSemVer(a, b) <= 0;
    case SemVerOp::kGt:
      return CompareSemVer(a, b) > 0;
    case SemVerOp::kGe:
      return CompareSemVer(a, b) >= 0;
    case SemVerOp::kCaret:
      return a.major == b.major;
    case SemVerOp::kTilde:
      return a.major == b.major && a.minor == b.minor;
  }
  return false;
}

std::optional<bool> SemVerMatches(const SemVer& a, std::string_view op, const SemVer& b) {
  auto o = ParseSemVerOp(op);
  if (!o) return std::nullopt;
  return SemVerMatches(a, *o, b);
}

}  // namespace slipway::flags
