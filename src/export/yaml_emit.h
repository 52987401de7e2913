// EmitYaml: writes a JSON value as a block-style YAML document, byte for byte
// the same for the same input, so exported manifests can be compared with
// golden files and diffed in review.
//
// Keys come out in the order the json object holds them (nlohmann::json sorts
// them). Strings are written plain only when YAML 1.1 and 1.2 readers both
// read them back as the same string (so "true", "1.0", "0755", "on", "~" and
// "a: b" are double-quoted); everything else is double-quoted with escapes.
// Stateless; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace slipway::exporter {

// One document, no leading "---", ending in a newline.
std::string EmitYaml(const nlohmann::json& doc);

// True when `s` may be written as a plain (unquoted) YAML scalar.
bool IsPlainSafe(std::string_view s);

// `s` as a double-quoted YAML scalar.
std::string DoubleQuoted(std::string_view s);

}  // namespace slipway::exporter
