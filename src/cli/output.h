// Terminal output helpers for the CLI: aligned tables, colours (only on a TTY and without
// NO_COLOR), human durations. Stateless functions; any thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::cli {

// True when `stream` is a terminal and NO_COLOR is unset.
bool UseColor(FILE* stream);

// ANSI colour for the i-th service (cycles through a readable palette); "" without colour.
std::string ServiceColor(size_t i, bool color);
inline const char* kReset = "\033[0m";

// Prints rows under a header, columns separated by at least two spaces.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, FILE* out = stdout);

// A listing as `--format` asks: "json" prints one JSON array of to_json(item), anything else a
// table of to_row(item) under `header`.
template <typename Items, typename ToJson, typename ToRow>
void PrintListing(std::string_view format, const Items& items,
                  const std::vector<std::string>& header, ToJson to_json, ToRow to_row) {
  if (format == "json") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& item : items) rows.push_back(to_json(item));
    std::printf("%s\n", rows.dump().c_str());
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(items.size());
  for (const auto& item : items) rows.push_back(to_row(item));
  PrintTable(header, rows);
}

// 42s, 3m12s, 2h5m, 3d4h.
std::string HumanDuration(double seconds);

// "2026-11-22 03:00:00Z" for Unix milliseconds; "-" for 0 (never).
std::string Utc(int64_t ms);

}  // namespace slipway::cli
