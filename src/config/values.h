// Typed readers over Node values: each returns the value, or an InvalidInput
// in the loader's one-line format naming the key path and what was expected.
// Numbers and booleans are accepted whether or not they were quoted, because
// interpolated values (`replicas: ${N}`) are strings.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/name_table.h"
#include "config/node.h"

namespace slipway::config {

Result<std::string> ReadString(const Node& n, const std::string& path);
Result<int> ReadInt(const Node& n, const std::string& path);
Result<double> ReadDouble(const Node& n, const std::string& path);
Result<bool> ReadBool(const Node& n, const std::string& path);
Result<Duration> ReadDuration(const Node& n, const std::string& path);
// A list of strings.
Result<std::vector<std::string>> ReadStringList(const Node& n, const std::string& path);
// A command: a string split into shell words, or a list of strings.
Result<std::vector<std::string>> ReadCommand(const Node& n, const std::string& path);
// One of `allowed`; the error lists them.
Result<std::string> ReadEnum(const Node& n, const std::string& path,
                             const std::vector<std::string>& allowed);
// One of the table's names (but not `except`, a value this key does not allow), as its enum;
// the error lists the names.
template <typename E, std::size_t N>
Result<E> ReadEnum(const Node& n, const std::string& path, const NameTable<E, N>& names,
                   std::optional<E> except = std::nullopt) {
  ASSIGN_OR_RETURN(std::string name, ReadEnum(n, path, names.Names(except)));
  return *names.Parse(name);  // ReadEnum admitted only the table's names
}
// Fails when `n` is not a mapping.
Status ExpectMap(const Node& n, const std::string& path, std::string_view expected);

// "SIGTERM", "TERM", "15" -> 15; nullopt when unknown.
std::optional<int> ParseSignal(std::string_view s);
// 15 -> "SIGTERM"; the number as text when unknown.
std::string SignalName(int sig);

// Strict decimal integer (optional leading '-'); nullopt otherwise.
std::optional<long long> ParseInteger(std::string_view s);

// A size: "1048576", "512KiB", "10MiB", "2GiB" (binary units), with at most `max_digits`
// digits; nullopt otherwise, and when the value does not fit 64 bits. Callers keep their
// own range and message.
std::optional<uint64_t> ParseByteSize(std::string_view text, size_t max_digits);

}  // namespace slipway::config
