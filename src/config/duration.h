// Compose durations ("1m30s", "1.5s", "500ms", "2h", "10us"): a sequence of
// decimal numbers, each with a unit (ns, us, µs, ms, s, m, h), as the
// compose specification defines them. A bare number other than "0" is
// rejected so `interval: 30` cannot silently mean 30 nanoseconds.
//
// Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace slipway::config {

// Milliseconds, rounded to the nearest; nullopt when `s` is not a duration.
std::optional<Duration> ParseDuration(std::string_view s);

// "1m30s", "500ms", "0s": the shortest form ParseDuration reads back.
std::string FormatDuration(Duration d);

// The expectation text used in duration errors.
inline constexpr std::string_view kDurationExpected =
    "a duration with a unit, e.g. 10s, 1m30s, 500ms";

}  // namespace slipway::config
