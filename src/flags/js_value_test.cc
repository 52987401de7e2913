#include "flags/js_value.h"

#include <gtest/gtest.h>

#include <cmath>

namespace slipway::flags {
namespace {

TEST(JsValue, Truthiness) {
  for (const char* falsy : {"null", "false", "0", "0.0", "\"\"", "[]"}) {
    EXPECT_FALSE(Truthy(Json::parse(falsy))) << falsy;
  }
  for (const char* truthy : {"true", "1", "-1", "\"0\"", "\"false\"", "[0]", "{}"}) {
    EXPECT_TRUE(Truthy(Json::parse(truthy))) << truthy;
  }
}

TEST(JsValue, ToNumber) {
  EXPECT_EQ(ToNumber(Json::parse("null")), 0);
  EXPECT_EQ(ToNumber(Json::parse("true")), 1);
  EXPECT_EQ(ToNumber(Json::parse("\" 42 \"")), 42);
  EXPECT_EQ(ToNumber(Json::parse("\"\"")), 0);
  EXPECT_EQ(ToNumber(Json::parse("\"1e3\"")), 1000);
  EXPECT_TRUE(std::isnan(ToNumber(Json::parse("\"12px\""))));
  EXPECT_EQ(ToNumber(Json::parse("[]")), 0);
  EXPECT_EQ(ToNumber(Json::parse("[\"7\"]")), 7);
  EXPECT_TRUE(std::isnan(ToNumber(Json::parse("[1,2]"))));
  EXPECT_TRUE(std::isnan(ToNumber(Json::parse("{}"))));
}

TEST(JsValue, ToJsString) {
  EXPECT_EQ(ToJsString(Json(1.0)), "1");
  EXPECT_EQ(ToJsString(Json(1.5)), "1.5");
  EXPECT_EQ(ToJsString(Json(0.1)), "0.1");
  EXPECT_EQ(ToJsString(Json(-3)), "-3");
  EXPECT_EQ(ToJsString(Json(true)), "true");
  EXPECT_EQ(ToJsString(Json()), "null");
  EXPECT_EQ(ToJsString(Json::parse("[1,null,\"a\"]")), "1,,a");
  EXPECT_EQ(ToJsString(Json::parse("{\"a\":1}")), "[object Object]");
}

TEST(JsValue, LooseAndStrictEquality) {
  EXPECT_TRUE(LooseEquals(Json(1), Json("1")));
  EXPECT_TRUE(LooseEquals(Json(true), Json("1")));
  EXPECT_TRUE(LooseEquals(Json::parse("[1]"), Json(1)));
  EXPECT_FALSE(LooseEquals(Json(), Json(false)));
  EXPECT_FALSE(LooseEquals(Json::parse("[1]"), Json::parse("[1]")));
  EXPECT_FALSE(StrictEquals(Json(1), Json("1")));
  EXPECT_TRUE(StrictEquals(Json(2), Json(2.0)));
}

TEST(JsValue, Relational) {
  EXPECT_TRUE(LessThan(Json("a"), Json("b")));
  EXPECT_TRUE(LessThan(Json("2"), Json(10)));
  EXPECT_FALSE(LessThan(Json("2"), Json("10")));
  EXPECT_TRUE(LessOrEqual(Json(), Json(0)));
  EXPECT_FALSE(LessOrEqual(Json("x"), Json(0)));
}

}  // namespace
}  // namespace slipway::flags
