// Checked reads of what a caller sent: a JSON request body (BodyFields) and the query string
// (QueryFields). The admin API's typed requests are built with these and nothing else.
//
// Each accessor returns a value (the fallback when the field is absent) and remembers the
// first mistake; status() then names it as one line for the caller:
//   to: expected an integer release number, got a string
// so a request type's Parse() reads every field it knows and ends with
// `RETURN_IF_ERROR(f.Finish())`, which also refuses fields it did not read (a typo such as
// "servces" is an error, not a request that silently means "every service"). Nothing here throws,
// whatever the input: wrong types, huge numbers, deep nesting, invalid UTF-8 (refused when
// parsing).
//
// Values; one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "http/message.h"

namespace slipway::api {

// Bodies nested deeper than this are refused before they are parsed.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as a JSON object; "" is {}. Refuses non-objects, invalid JSON or UTF-8 and
// nesting deeper than kMaxJsonDepth (InvalidInput, naming what is wrong).
Result<nlohmann::json> ParseJsonObject(std::string_view text);

class BodyFields {
 public:
  // `object` must outlive this; `prefix` names its place ("load." for a nested object).
  explicit BodyFields(const nlohmann::json& object, std::string prefix = "")
      : obj_(object), prefix_(std::move(prefix)) {}

  bool Has(std::string_view key) const;
  // `expected` completes "key: expected ...", e.g. "a service name".
  std::string String(std::string_view key, std::string_view expected, std::string fallback = "");
  std::string RequiredString(std::string_view key, std::string_view expected);
  bool Bool(std::string_view key, bool fallback);
  // An integer in [min, max]; JSON floats with no fraction count as integers.
  int64_t Int(std::string_view key, int64_t fallback, int64_t min, int64_t max,
              std::string_view expected);
  std::vector<std::string> StringList(std::string_view key, std::string_view expected);
  std::map<std::string, std::string> StringMap(std::string_view key, std::string_view expected);
  // Any JSON value (a flag definition, a document) for a parser further down; nullptr when
  // absent. `required` records an error when it is missing.
  const nlohmann::json* Raw(std::string_view key, bool required = false);
  // A nested object, read with the same checks (errors carry "key." as prefix). An empty
  // object when absent or after a type error.
  const nlohmann::json& Object(std::string_view key, std::string_view expected);

  const Status& status() const { return status_; }
  // status(), or a field of the object that no accessor asked for ("unknown field").
  Status Finish() const;
  std::string Path(std::string_view key) const { return prefix_ + std::string(key); }
  // Records `message` about `key` unless an earlier mistake is already recorded.
  void Fail(std::string_view key, std::string_view message);
  // Takes the first mistake of a nested object's fields (already prefixed) as this one's.
  void Merge(const BodyFields& nested) {
    if (status_.ok()) status_ = nested.Finish();
  }

 private:
  const nlohmann::json* Find(std::string_view key) const;
  void Expected(std::string_view key, std::string_view expected, const nlohmann::json& got);

  const nlohmann::json& obj_;
  std::string prefix_;
  Status status_;
  mutable std::vector<std::string> known_;  // every key asked for, found or not
};

// The query string, percent-decoded. Repeated keys: the first wins.
class QueryFields {
 public:
  explicit QueryFields(const http::Request& req);

  std::string String(std::string_view key, std::string fallback = "");
  int64_t Int(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  bool Bool(std::string_view key, bool fallback);
  // "a,b,c" → {a, b, c}; empty parts dropped.
  std::vector<std::string> List(std::string_view key);

  const Status& status() const { return status_; }

 private:
  std::optional<std::string> Get(std::string_view key);
  void Fail(std::string_view key, std::string_view message);

  std::map<std::string, std::string, std::less<>> values_;
  Status status_;
};

// A JSON type's name for messages: "a string", "an object", "null", ...
std::string_view JsonTypeName(const nlohmann::json& v);
// Percent-decoding of a query value or path segment ('+' is a space in queries only).
// Refuses truncated escapes and NUL bytes.
Result<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace slipway::api
