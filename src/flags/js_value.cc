#include "flags/js_value.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace slipway::flags {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

double StringToNumber(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  if (b == e) return 0;
  std::string_view t(s.data() + b, e - b);
  if (t == "Infinity" || t == "+Infinity") return std::numeric_limits<double>::infinity();
  if (t == "-Infinity") return -std::numeric_limits<double>::infinity();
  // JavaScript accepts decimal literals only (plus 0x/0o/0b, rare in targeting rules).
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return kNaN;
    }
  }
  std::string tmp(t);
  char* end = nullptr;
  double d = std::strtod(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size()) return kNaN;
  return d;
}

// ToPrimitive for arrays/objects (their String()); primitives unchanged.
Json ToPrimitive(const Json& v) {
  if (v.is_array() || v.is_object()) return Json(ToJsString(v));
  return v;
}

}  // namespace

bool Truthy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      return false;
    case Json::value_t::boolean:
      return v.get<bool>();
    case Json::value_t::number_integer:
      return v.get<int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return v.get<uint64_t>() != 0;
    case Json::value_t::number_float: {
      double d = v.get<double>();
      return d != 0 && !std::isnan(d);
    }
    case Json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
      return !v.empty();
    default:
      return true;
  }
}

double ToNumber(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return 0;
    case Json::value_t::boolean:
      return v.get<bool>() ? 1 : 0;
    case Json::value_t::number_integer:
      return static_cast<double>(v.get<int64_t>());
    case Json::value_t::number_unsigned:
      return static_cast<double>(v.get<uint64_t>());
    case Json::value_t::number_float:
      return v.get<double>();
    case Json::value_t::string:
      return StringToNumber(v.get_ref<const std::string&>());
    case Json::value_t::array:
      if (v.empty()) return 0;
      if (v.size() == 1) return StringToNumber(ToJsString(v[0]));
      return kNaN;
    default:
      return kNaN;
  }
}

std::string NumberToJsString(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  if (std::fabs(d) < 1e21 && d == std::trunc(d)) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d));
    return std::string(buf, r.ptr);
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

void AppendJsString(const Json& v, std::string* out) {
  switch (v.type()) {
    case Json::value_t::null:
      *out += "null";
      break;
    case Json::value_t::boolean:
      *out += v.get<bool>() ? "true" : "false";
      break;
    case Json::value_t::number_integer:
      *out += std::to_string(v.get<int64_t>());
      break;
    case Json::value_t::number_unsigned:
      *out += std::to_string(v.get<uint64_t>());
      break;
    case Json::value_t::number_float:
      *out += NumberToJsString(v.get<double>());
      break;
    case Json::value_t::string:
      *out += v.get_ref<const std::string&>();
      break;
    case Json::value_t::array: {
      bool first = true;
      for (const Json& e : v) {
        if (!first) *out += ',';
        first = false;
        if (!e.is_null()) AppendJsString(e, out);
      }
      break;
    }
    case Json::value_t::object:
      *out += "[object Object]";
      break;
    default:
      break;
  }
}

std::string ToJsString(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string s;
  AppendJsString(v, &s);
  return s;
}

bool StrictEquals(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return ToNumber(a) == ToNumber(b);
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::boolean:
      return a.get<bool>() == b.get<bool>();
    case Json::value_t::string:
      return a.get_ref<const std::string&>() == b.get_ref<const std::string&>();
    default:
      return false;  // arrays and objects compare by identity in JavaScript
  }
}

bool LooseEquals(const Json& a, const Json& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.is_number() && b.is_number()) return ToNumber(a) == ToNumber(b);
  if (a.type() == b.type()) return StrictEquals(a, b);
  if (a.is_boolean()) return LooseEquals(Json(ToNumber(a)), b);
  if (b.is_boolean()) return LooseEquals(a, Json(ToNumber(b)));
  if (a.is_number() && b.is_string()) return ToNumber(a) == ToNumber(b);
  if (a.is_string() && b.is_number()) return ToNumber(a) == ToNumber(b);
  if ((a.is_array() || a.is_object()) && !(b.is_array() || b.is_object())) {
    return LooseEquals(ToPrimitive(a), b);
  }
  if ((b.is_array() || b.is_object()) && !(a.is_array() || a.is_object())) {
    return LooseEquals(a, ToPrimitive(b));
  }
  return false;
}

namespace {
// -1, 0, 1, or 2 for "undefined" (NaN involved).
int Compare(const Json& a0, const Json& b0) {
  const Json* a = &a0;
  const Json* b = &b0;
  Json pa, pb;
  if (a->is_array() || a->is_object()) a = &(pa = ToPrimitive(*a));
  if (b->is_array() || b->is_object()) b = &(pb = ToPrimitive(*b));
  if (a->is_string() && b->is_string()) {
    int c = a->get_ref<const std::string&>().compare(b->get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  double x = ToNumber(*a), y = ToNumber(*b);
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : (x > y ? 1 : 0);
}
}  // namespace

bool LessThan(const Json& a, const Json& b) { return Compare(a, b) == -1; }
bool LessOrEqual(const Json& a, const Json& b) {
  int c = Compare(a, b);
  return c == -1 || c == 0;
}

}  // namespace slipway::flags
