#include "flags/request_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace slipway::flags {
namespace {

// Same value, same number types all the way down (Json's == treats 1u and 1 as equal).
bool Identical(const Json& a, const Json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key() || !Identical(ia.value(), ib.value())) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!Identical(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_number_float()) {
    double x = a.get<double>(), y = b.get<double>();
    return std::signbit(x) == std::signbit(y) && (x == y || (std::isnan(x) && std::isnan(y)));
  }
  return a == b;
}

// Checks one text against the JSON library; returns whether the fast path took it.
bool Check(const std::string& text) {
  Json lib = Json::parse(text, nullptr, false);
  Json ours = ParseRequestJson(text);
  EXPECT_EQ(ours.is_discarded(), lib.is_discarded()) << text;
  if (!lib.is_discarded()) {
    EXPECT_TRUE(Identical(ours, lib))
        << text << " -> " << ours.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  Json fast;
  bool took = ParseRequestJsonFastForTest(text, &fast);
  if (took) {
    EXPECT_FALSE(lib.is_discarded()) << "fast path accepted invalid JSON: " << text;
    if (!lib.is_discarded()) {
      EXPECT_TRUE(Identical(fast, lib)) << text;
    }
  }
  return took;
}

TEST(RequestJson, TypicalBodiesTakeTheFastPath) {
  EXPECT_TRUE(Check(R"({"context": {"targetingKey": "user-6", "email": "u6@corp.io",
                        "tier": "free", "version": "3.0.0", "n": 5, "neg": -3, "f": 1.25,
                        "e": 2E+3, "ok": true, "no": false, "nil": null, "list": [1, "a", []],
                        "esc": "a\"b\\c\/d\b\f\n\r\t", "nested": {"a": {"b": {}}}}})"));
  EXPECT_TRUE(Check("{}"));
  EXPECT_TRUE(Check(" \n\t{ \"context\" : { } } \r\n"));
  EXPECT_TRUE(Check(R"({"a": 1, "a": 2})"));  // the later duplicate wins
  EXPECT_TRUE(Check("18446744073709551615"));
  EXPECT_TRUE(Check("-9223372036854775808"));
  EXPECT_TRUE(Check("[0, -0, 0.0, -0.0, 1e5, 1e-5, 123456789.987654321]"));
}

TEST(RequestJson, EverythingElseMatchesTheLibrary) {
  const char* texts[] = {
      "",
      " ",
      "{",
      "}",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\":1,}",
      "[1,]",
      "[,1]",
      "{,}",
      "01",
      "-",
      "-01",
      "1.",
      ".5",
      "1e",
      "1e+",
      "+1",
      "1 2",
      "{} {}",
      "nul",
      "truee",
      "tru",
      "\"abc",
      "\"a\\x\"",
      "\"\\u00e9\"",
      "\"\\ud83d\\ude00\"",
      "\"\\ud83d\"",
      "\"caf\xc3\xa9\"",
      "\"bad\xff\"",
      "\"tab\there\"",
      "\"del\x7f\"",
      "\xef\xbb\xbf{}",
      "18446744073709551616",
      "-9223372036854775809",
      "1e400",
      "-1e400",
      "1e-400",
      "4.9e-324",
      "2.2250738585072014e-308",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "{\"a\":{\"b\":{\"c\":[true,false,null]}}}",
      "[1e5,1E-5,-0e0]",
      "\"\\/\"",
  };
  for (const char* t : texts) Check(t);
  Check(std::string("{\"a\":\"x\0y\"}", 11));  // a raw NUL inside a string
}

// Random texts built from JSON fragments, many of them broken: whatever the fast path accepts
// must be exactly the library's value, and every verdict must be the library's.
TEST(RequestJson, RandomTextsAgreeWithTheLibrary) {
  std::mt19937 rng(12345);
  const std::vector<std::string> pieces = {"{",           "}",
                                           "[",           "]",
                                           ",",           ":",
                                           " ",           "\"k\"",
                                           "\"v\\n\"",    "\"\"",
                                           "1",           "-2",
                                           "0.5",         "1e3",
                                           "true",        "false",
                                           "null",        "\"a\\\"\"",
                                           "00",          "-",
                                           ".",           "e",
                                           "\"\\u0041\"", "\xc3\xa9",
                                           "\n",          "18446744073709551616",
                                           "-0",          "\"x\":",
                                           "{\"k\":",     "[1,"};
  int fast = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int j = 0; j < n; ++j) t += pieces[rng() % pieces.size()];
    fast += Check(t);
  }
  // Valid documents built on purpose, to exercise the fast path's acceptance broadly.
  for (int i = 0; i < 2000; ++i) {
    std::string t = "{";
    const int n = static_cast<int>(rng() % 6);
    for (int j = 0; j < n; ++j) {
      if (j) t += ",";
      t += "\"k" + std::to_string(rng() % 4) + "\":";
      switch (rng() % 5) {
        case 0:
          t += std::to_string(static_cast<int64_t>(rng()) - (1ll << 31));
          break;
        case 1:
          t += std::to_string(static_cast<double>(rng()) / 977.0);
          break;
        case 2:
          t += "\"s" + std::to_string(rng()) + "\\t\"";
          break;
        case 3:
          t += "[null,true,{\"x\":[]}]";
          break;
        default:
          t += "false";
          break;
      }
    }
    t += "}";
    EXPECT_TRUE(Check(t)) << t;
  }
  EXPECT_GT(fast, 100);
}

}  // namespace
}  // namespace slipway::flags
