#include "config/duration.h"

#include <cmath>

namespace slipway::config {

std::optional<Duration> ParseDuration(std::string_view s) {
  if (s == "0") return Duration{0};
  if (s.empty()) return std::nullopt;
  long double total_ns = 0;
  size_t p = 0;
  while (p < s.size()) {
    size_t start = p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
    size_t int_end = p;
    size_t frac_end = p;
    if (p < s.size() && s[p] == '.') {
      ++p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
      frac_end = p;
    }
    // At least one digit before or after the point.
    if (int_end == start && frac_end <= int_end + 1) return std::nullopt;
    long double number =
        std::strtold(std::string(s.substr(start, frac_end - start)).c_str(), nullptr);
    size_t unit_start = p;
    while (p < s.size() && !(s[p] >= '0' && s[p] <= '9') && s[p] != '.') ++p;
    std::string_view unit = s.substr(unit_start, p - unit_start);
    long double scale;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else {
      return std::nullopt;  // missing or unknown unit
    }
    total_ns += number * scale;
    if (total_ns > 9.2e18L) return std::nullopt;
  }
  return Duration{static_cast<int64_t>(std::llround(static_cast<double>(total_ns / 1e6L)))};
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms < 1000) return out + std::to_string(ms) + "ms";
  int64_t h = ms / 3'600'000;
  ms %= 3'600'000;
  int64_t m = ms / 60'000;
  ms %= 60'000;
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (ms > 0) {
    if (ms % 1000 == 0) {
      out += std::to_string(ms / 1000) + "s";
    } else {
      // Seconds with a fraction, trailing zeros trimmed: 1.5s, 2.25s.
      std::string frac = std::to_string(1000 + ms % 1000).substr(1);
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
      out += std::to_string(ms / 1000) + "." + frac + "s";
    }
  }
  return out;
}

}  // namespace slipway::config
