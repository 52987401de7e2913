// The command line's value checks: CLI11 validators that every option with a domain carries, so
// that a value outside it (malformed, negative, out of range, oversized, an unknown word) is
// refused while argv is parsed, before any command runs: no daemon started, no file written.
// cli::Main prints the refusal as one line, `slipway: FLAG: "VALUE" is not WHAT`, exit 2.
//
// Values the daemon also checks (the API is reachable without the CLI) keep being checked
// there; these are in addition. Each validator only reads the value (never changes it).
// Pure functions; any thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"

namespace slipway::cli {

// The most bytes of a path the CLI passes on (Linux's PATH_MAX, with its terminating NUL).
inline constexpr size_t kMaxPathBytes = 4095;

// `value` as an error message shows it: double-quoted, control bytes as \xNN, at most 64
// bytes of it (then "..." and its length), so a refusal stays one short line.
std::string Shown(std::string_view value);

// The longest PromQL expression or rule name the CLI sends: it travels percent-encoded in a
// request line, which the daemon reads up to 64 KiB.
inline constexpr size_t kMaxExpressionBytes = 16'384;

// A whole decimal number from `min` to `max` ("expected WHAT from MIN to MAX").
CLI::Validator Whole(int64_t min, int64_t max, std::string what);

// One of `words` (a closed set, as its help lists it).
CLI::Validator OneOf(std::vector<std::string> words);

// A compose duration (config/duration.h) from `min` to `max`.
CLI::Validator DurationIn(Duration min, Duration max);

// 1 to `max_bytes` bytes of [A-Za-z0-9_.-], not starting with '.' or '-': a service, profile,
// database or migration name ("WHAT" names which).
CLI::Validator Name(std::string what, size_t max_bytes = 255);

// Free text (a comment, a reason, a label): at most `max_bytes`, no control characters other
// than tab; with `lines_ok` (an expression, a query) also line breaks.
CLI::Validator Text(size_t max_bytes, bool lines_ok = false);

// A path: 1 to kMaxPathBytes bytes.
CLI::Validator Path();
// A path to an existing regular file / folder.
CLI::Validator ExistingFile();
CLI::Validator ExistingFolder();

// A check of our own: `check(value)` returns "" when the value is in its domain, else what is
// expected ("a host name (...)"); the refusal reads `"VALUE" is not EXPECTED`.
CLI::Validator Check(std::string description, std::function<std::string(const std::string&)> check);

}  // namespace slipway::cli
