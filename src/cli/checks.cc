#include "cli/checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "config/duration.h"

namespace slipway::cli {

namespace {

// "" when `value` is in the domain, else the refusal (CLI11 puts the flag's name before it).
std::string Refusal(const std::string& value, std::string_view expected) {
  return fmt::format("{} is not {}", Shown(value), expected);
}

bool HasControl(std::string_view s, bool tab_ok) {
  return std::any_of(s.begin(), s.end(), [tab_ok](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f;
  });
}

}  // namespace

std::string Shown(std::string_view value) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (char ch : value.substr(0, kMax)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += c == '"'    ? std::string("\\\"")
             : c == '\\' ? std::string("\\\\")
                         : fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  out += '"';
  if (value.size() > kMax) out += fmt::format("... ({} bytes)", value.size());
  return out;
}

CLI::Validator Check(std::string description,
                     std::function<std::string(const std::string&)> check) {
  return CLI::Validator(
      [check = std::move(check)](std::string& value) -> std::string {
        std::string expected = check(value);
        return expected.empty() ? std::string() : Refusal(value, expected);
      },
      std::move(description));
}

CLI::Validator Whole(int64_t min, int64_t max, std::string what) {
  std::string expected = fmt::format("{} from {} to {}", what, min, max);
  return Check(fmt::format("{}..{}", min, max), [min, max, expected](const std::string& v) {
    int64_t n = 0;
    const char* end = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(v.data(), end, n);
    if (v.empty() || ec != std::errc() || ptr != end || n < min || n > max) return expected;
    return std::string();
  });
}

CLI::Validator OneOf(std::vector<std::string> words) {
  std::string expected;
  for (size_t i = 0; i < words.size(); ++i) {
    expected += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  }
  std::string description = "{" + expected + "}";
  expected = words.size() == 1 ? expected : "one of " + expected;
  return Check(description, [words = std::move(words), expected](const std::string& v) {
    return std::find(words.begin(), words.end(), v) != words.end() ? std::string() : expected;
  });
}

CLI::Validator DurationIn(Duration min, Duration max) {
  std::string expected =
      min.count() <= 0 ? fmt::format("a duration up to {} (e.g. 10s)", config::FormatDuration(max))
                       : fmt::format("a duration from {} to {} (e.g. 30s)",
                                     config::FormatDuration(min), config::FormatDuration(max));
  return Check("DURATION", [min, max, expected](const std::string& v) {
    std::optional<Duration> d = v.size() <= 64 ? config::ParseDuration(v) : std::nullopt;
    return d && *d >= min && *d <= max ? std::string() : expected;
  });
}

CLI::Validator Name(std::string what, size_t max_bytes) {
  std::string expected = fmt::format(
      "{} (1 to {} of letters, digits, '_', '.', '-'; not first '.' or '-')", what, max_bytes);
  return Check("NAME", [max_bytes, expected](const std::string& v) {
    auto word = [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.' || c == '-'; };
    const bool ok = !v.empty() && v.size() <= max_bytes && v[0] != '.' && v[0] != '-' &&
                    std::all_of(v.begin(), v.end(),
                                [&](char c) { return word(static_cast<unsigned char>(c)); });
    return ok ? std::string() : expected;
  });
}

CLI::Validator Text(size_t max_bytes, bool lines_ok) {
  std::string expected =
      fmt::format("text of at most {} bytes without control characters", max_bytes);
  return Check("TEXT", [max_bytes, lines_ok, expected](const std::string& v) {
    const bool control = std::any_of(v.begin(), v.end(), [lines_ok](char ch) {
      const auto c = static_cast<unsigned char>(ch);
      const bool allowed = c == '\t' || (lines_ok && (c == '\n' || c == '\r'));
      return (c < 0x20 && !allowed) || c == 0x7f;
    });
    return v.size() <= max_bytes && !control ? std::string() : expected;
  });
}

namespace {

std::string PathProblem(const std::string& v) {
  if (v.empty() || v.size() > kMaxPathBytes || HasControl(v, false)) {
    return fmt::format("a path (1 to {} bytes, no control characters)", kMaxPathBytes);
  }
  return "";
}

}  // namespace

CLI::Validator Path() { return Check("PATH", PathProblem); }

CLI::Validator ExistingFile() {
  return Check("FILE", [](const std::string& v) {
    std::string problem = PathProblem(v);
    if (!problem.empty()) return problem;
    std::error_code ec;
    return std::filesystem::is_regular_file(v, ec) ? std::string()
                                                   : std::string("an existing file");
  });
}

CLI::Validator ExistingFolder() {
  return Check("DIR", [](const std::string& v) {
    std::string problem = PathProblem(v);
    if (!problem.empty()) return problem;
    std::error_code ec;
    return std::filesystem::is_directory(v, ec) ? std::string() : std::string("an existing folder");
  });
}

}  // namespace slipway::cli
