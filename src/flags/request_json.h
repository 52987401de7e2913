// ParseRequestJson: a fast path for parsing OFREP request bodies into nlohmann::json.
//
// An OFREP body is a small object of ASCII strings and numbers ({"context": {...}}), and the
// JSON library's general parser costs more than the rest of the request put together. This
// parser handles that common shape in one pass: objects, arrays, ASCII strings with the short
// escapes, numbers, true/false/null, up to kMaxFastDepth levels. On anything else (a \u escape,
// a non-ASCII byte, deeper nesting, or any syntax error) it hands the whole text to the JSON
// library, so the result is always exactly what Json::parse(text, nullptr, false) gives: the
// same values with the same number types (unsigned for non-negative integers, signed for
// negative ones, double otherwise; later duplicate keys win), or a discarded value on error.
// Pure function; any thread.
#pragma once

#include <string_view>

#include "flags/js_value.h"

namespace slipway::flags {

inline constexpr int kMaxFastDepth = 32;

// Same contract as Json::parse(text, nullptr, /*allow_exceptions=*/false).
Json ParseRequestJson(std::string_view text);

// The fast path alone: true and *out set when it handled the text completely; false means
// "ask the JSON library" (not necessarily invalid). For tests.
bool ParseRequestJsonFastForTest(std::string_view text, Json* out);

}  // namespace slipway::flags
