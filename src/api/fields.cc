#include "api/fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace slipway::api {

using nlohmann::json;

namespace {

// Deepest nesting of arrays/objects in `text`, stopping early past `limit`. Strings are
// skipped with their escapes so brackets inside them do not count.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view JsonTypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "something else";
  }
}

Result<json> ParseJsonObject(std::string_view text) {
  if (text.empty()) return json::object();
  if (NestingDepth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    return InvalidInput(fmt::format("request body: nested deeper than {} levels", kMaxJsonDepth));
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return InvalidInput("request body: not valid JSON (or not valid UTF-8)");
  }
  if (!j.is_object()) {
    return InvalidInput(
        fmt::format("request body: expected a JSON object, got {}", JsonTypeName(j)));
  }
  return j;
}

Result<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%') {
      int hi = i + 2 < s.size() ? HexDigit(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexDigit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return InvalidInput("bad percent-escape");
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '\0') return InvalidInput("NUL byte");
      out += d;
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// --- BodyFields ---

const json* BodyFields::Find(std::string_view key) const {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;  // null counts as absent
  return &*it;
}

bool BodyFields::Has(std::string_view key) const { return Find(key) != nullptr; }

Status BodyFields::Finish() const {
  if (!status_.ok() || !obj_.is_object()) return status_;
  for (const auto& [key, value] : obj_.items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string expected;
    for (const std::string& k : known_) expected += (expected.empty() ? "" : ", ") + k;
    return InvalidInput(fmt::format("{}: unknown field (expected {})", Path(key),
                                    expected.empty() ? "no fields" : "one of " + expected));
  }
  return status_;
}

void BodyFields::Fail(std::string_view key, std::string_view message) {
  if (status_.ok()) status_ = InvalidInput(fmt::format("{}: {}", Path(key), message));
}

void BodyFields::Expected(std::string_view key, std::string_view expected, const json& got) {
  Fail(key, fmt::format("expected {}, got {}", expected, JsonTypeName(got)));
}

std::string BodyFields::String(std::string_view key, std::string_view expected,
                               std::string fallback) {
  const json* v = Find(key);
  if (!v) return fallback;
  if (!v->is_string()) {
    Expected(key, expected, *v);
    return fallback;
  }
  return v->get_ref<const std::string&>();
}

std::string BodyFields::RequiredString(std::string_view key, std::string_view expected) {
  const json* v = Find(key);
  if (!v || (v->is_string() && v->get_ref<const std::string&>().empty())) {
    Fail(key, fmt::format("is missing (expected {})", expected));
    return {};
  }
  return String(key, expected);
}

bool BodyFields::Bool(std::string_view key, bool fallback) {
  const json* v = Find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    Expected(key, "true or false", *v);
    return fallback;
  }
  return v->get<bool>();
}

int64_t BodyFields::Int(std::string_view key, int64_t fallback, int64_t min, int64_t max,
                        std::string_view expected) {
  const json* v = Find(key);
  if (!v) return fallback;
  auto out_of_range = [&] {
    Fail(key, fmt::format("expected {} from {} to {}", expected, min, max));
    return fallback;
  };
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    int64_t n = v->get<int64_t>();
    return n < min || n > max ? out_of_range() : n;
  }
  if (v->is_number_unsigned()) {
    uint64_t n = v->get<uint64_t>();
    if (n > static_cast<uint64_t>(max)) return out_of_range();
    return static_cast<int64_t>(n) < min ? out_of_range() : static_cast<int64_t>(n);
  }
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d) {
      Fail(key, fmt::format("expected {}, got a fractional number", expected));
      return fallback;
    }
    if (d < static_cast<double>(min) || d > static_cast<double>(max)) return out_of_range();
    return static_cast<int64_t>(d);
  }
  Expected(key, expected, *v);
  return fallback;
}

std::vector<std::string> BodyFields::StringList(std::string_view key, std::string_view expected) {
  std::vector<std::string> out;
  const json* v = Find(key);
  if (!v) return out;
  if (!v->is_array()) {
    Expected(key, expected, *v);
    return out;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) {
      Fail(fmt::format("{}[{}]", key, i),
           fmt::format("expected a string, got {}", JsonTypeName(e)));
      return {};
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> BodyFields::StringMap(std::string_view key,
                                                         std::string_view expected) {
  std::map<std::string, std::string> out;
  const json* v = Find(key);
  if (!v) return out;
  if (!v->is_object()) {
    Expected(key, expected, *v);
    return out;
  }
  for (const auto& [k, e] : v->items()) {
    if (!e.is_string()) {
      Fail(fmt::format("{}.{}", key, k), fmt::format("expected a string, got {}", JsonTypeName(e)));
      return {};
    }
    out.emplace(k, e.get<std::string>());
  }
  return out;
}

const json* BodyFields::Raw(std::string_view key, bool required) {
  const json* v = Find(key);
  if (!v && required) Fail(key, "is missing");
  return v;
}

const json& BodyFields::Object(std::string_view key, std::string_view expected) {
  static const json kEmpty = json::object();
  const json* v = Find(key);
  if (!v) return kEmpty;
  if (!v->is_object()) {
    Expected(key, expected, *v);
    return kEmpty;
  }
  return *v;
}

// --- QueryFields ---

QueryFields::QueryFields(const http::Request& req) {
  std::string_view q = req.Query();
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key.ok() || !value.ok()) {
      Fail(pair.substr(0, eq), "bad percent-escape in the query string");
      continue;
    }
    values_.emplace(std::move(*key), std::move(*value));
  }
}

void QueryFields::Fail(std::string_view key, std::string_view message) {
  if (status_.ok()) status_ = InvalidInput(fmt::format("{}: {}", key, message));
}

std::optional<std::string> QueryFields::Get(std::string_view key) {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string QueryFields::String(std::string_view key, std::string fallback) {
  return Get(key).value_or(std::move(fallback));
}

int64_t QueryFields::Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  auto v = Get(key);
  if (!v) return fallback;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    Fail(key, fmt::format("expected an integer from {} to {}", min, max));
    return fallback;
  }
  return n;
}

bool QueryFields::Bool(std::string_view key, bool fallback) {
  auto v = Get(key);
  if (!v) return fallback;
  if (*v == "1" || *v == "true") return true;
  if (*v == "0" || *v == "false") return false;
  Fail(key, "expected 1, 0, true or false");
  return fallback;
}

std::vector<std::string> QueryFields::List(std::string_view key) {
  std::vector<std::string> out;
  std::string_view s;
  auto v = Get(key);
  if (!v) return out;
  s = *v;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace slipway::api
