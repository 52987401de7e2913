// Terminal output helpers for the CLI: aligned tables, colours (only on a TTY and without
// NO_COLOR), human durations, and checked reads of the daemon's JSON answers (an answer of
// another shape, from another version's daemon or something else on its port, is a one-line
// error with exit 2, never an exception). Stateless functions; any thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/fields.h"
#include "base/status.h"

namespace slipway::cli {

// `text` as one terminal line: control bytes (line breaks too) as \xNN, cut after `max_bytes`
// with "... (N bytes)" so a huge argument or message stays short.
std::string OneLine(std::string_view text, size_t max_bytes = std::string_view::npos);

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

// The daemon's answer `answer`, a JSON array of objects, as table rows: `row(fields)` reads one
// element through api::BodyFields (checked accessors, prefix "NAME[i]." where NAME is `name`,
// the array's place in the answer, "" for the whole answer); the first element that is not
// an object or has a field of the wrong type is the error (InvalidInput, one line).
template <typename RowFn>
Result<std::vector<std::vector<std::string>>> AnswerRows(const nlohmann::json& answer, RowFn row,
                                                         std::string_view name = "") {
  if (!answer.is_array()) {
    return InvalidInput((name.empty() ? "" : std::string(name) + ": ") + "expected an array, got " +
                        std::string(api::JsonTypeName(answer)));
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(answer.size());
  for (size_t i = 0; i < answer.size(); ++i) {
    const std::string element = std::string(name) + "[" + std::to_string(i) + "]";
    if (!answer[i].is_object()) {
      return InvalidInput(element + ": expected an object, got " +
                          std::string(api::JsonTypeName(answer[i])));
    }
    api::BodyFields fields(answer[i], element + ".");
    std::vector<std::string> cells = row(fields);
    RETURN_IF_ERROR(fields.status());
    rows.push_back(std::move(cells));
  }
  return rows;
}

// Prints "slipway: COMMAND: unexpected answer from the daemon: WHY" (one line) and returns 2.
int FailAnswer(const Status& why, std::string_view command);
// The same line as an InvalidInput status (exit 2), for commands that return a Status
// (CliContext::Fail prints an InvalidInput message as it is).
Status AnswerError(const Status& why, std::string_view command);

// 42s, 3m12s, 2h5m, 3d4h.
std::string HumanDuration(double seconds);

// "2026-11-22 03:00:00Z" for Unix milliseconds; "-" for 0 (never).
std::string Utc(int64_t ms);

}  // namespace slipway::cli
