#include "cli/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "base/clock.h"

namespace slipway::cli {

std::string OneLine(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (char ch : text.substr(0, max_bytes)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  if (text.size() > max_bytes) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

Status AnswerError(const Status& why, std::string_view command) {
  return InvalidInput(
      fmt::format("slipway: {}: unexpected answer from the daemon: {}", command, why.message()));
}

int FailAnswer(const Status& why, std::string_view command) {
  std::fprintf(stderr, "%s\n", AnswerError(why, command).message().c_str());
  return 2;
}

bool UseColor(FILE* stream) {
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(fileno(stream)) && (no_color == nullptr || *no_color == '\0');
}

std::string ServiceColor(size_t i, bool color) {
  static const char* kPalette[] = {"\033[36m", "\033[33m", "\033[32m", "\033[35m",
                                   "\033[34m", "\033[96m", "\033[93m", "\033[92m"};
  return color ? kPalette[i % (sizeof kPalette / sizeof kPalette[0])] : "";
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, FILE* out) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string& cell = c < row.size() ? row[c] : "";
      line += cell;
      if (c + 1 < width.size()) line.append(width[c] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(out, "%s\n", line.c_str());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::string HumanDuration(double seconds) {
  auto s = static_cast<long long>(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{}h", s / 86400, (s % 86400) / 3600);
}

std::string Utc(int64_t ms) { return ms <= 0 ? "-" : FormatUtc(ms, "%Y-%m-%d %H:%M:%SZ"); }

}  // namespace slipway::cli
